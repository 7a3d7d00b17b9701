/**
 * Per-minute span aggregates of one processor batch, for two tables
 * (migrations/clickhouse/0004_span_metrics_by_series.sql):
 *
 * - span_metrics_1m (row shape SpanMetricRow), key (tenant, minute of start
 *   time UTC, service, operation = span name, model, provider). Per key: count,
 *   error_count (status 'error'), duration_sum_ns, input/output/cached token
 *   sums, cost_usd (sum over priced spans only), unpriced_count, and a DDSketch
 *   (α = 1 %, processors/sketch.ts; Masson, Rim, Lee, "DDSketch", PVLDB 12(12),
 *   2019) of durations in ms as sketch_bins (+ sketch_zero for durations ≤ 0).
 * - span_user_costs_1m (row shape SpanUserCostRow), key (tenant, minute,
 *   service, model, provider, user_id). Per key: count, token sums, cost_usd,
 *   unpriced_count; no sketch, so the number of users does not multiply the
 *   sketches stored.
 *
 * The rows are partial: ClickHouse sums rows of one key (SimpleAggregateFunction
 * sum / sumMap), so aggregates of different batches merge exactly; hourly
 * rollups are derived from these rows by materialized views (migration 0005).
 * Output order is deterministic for a given input order (first appearance of
 * each key), so a replayed batch yields identical insert blocks (insert
 * deduplication).
 */
import type { SpanMetricRow, SpanRow, SpanUserCostRow } from '../schemas/rows.js';
import { clickHouseToNs, nsToMinute } from '../schemas/time.js';
import { SketchAccumulator } from './sketch.js';

/** Both aggregates of a batch. */
export interface SpanAggregates {
  /** One partial row per (tenant, minute, service, operation, model, provider), in order of first appearance. */
  metrics: SpanMetricRow[];
  /** One partial row per (tenant, minute, service, model, provider, user_id), in order of first appearance. */
  userCosts: SpanUserCostRow[];
}

/** The fields of a span the aggregates read (a SpanRow, or the worker's columnar path's facts). */
export type AggregatedSpan = Pick<
  SpanRow,
  'tenant' | 'start_time' | 'service' | 'name' | 'model' | 'provider' | 'user_id' | 'status_code' | 'duration_ns'
  | 'input_tokens' | 'output_tokens' | 'cached_tokens' | 'cost_usd' | 'unpriced'
>;

interface MetricAcc {
  row: Omit<SpanMetricRow, 'sketch_bins' | 'sketch_zero'>;
  sketch: SketchAccumulator;
}

/** 'YYYY-MM-DD hh:mm:ss…' as written by nsToClickHouse (schemas/time.ts). */
const CANONICAL_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/;

/**
 * Minute bucket 'YYYY-MM-DD hh:mm:00' of a DateTime64(9) UTC literal. The
 * canonical form (every normalised span) is cut textually; anything else goes
 * through the ns conversion.
 */
export function minuteOf(startTime: string): string {
  return CANONICAL_TIME.test(startTime) ? `${startTime.slice(0, 16)}:00` : nsToMinute(clickHouseToNs(startTime));
}

/**
 * Unambiguous map key of a tuple of strings (length-prefixed parts, so
 * ('a:b', 'c') and ('a', 'b:c') differ).
 * @param parts the key's fields, in order.
 * @returns e.g. `3:a:b1:c` for ['a:b', 'c'].
 */
export function keyOf(parts: readonly string[]): string {
  let k = '';
  for (const p of parts) k += `${p.length}:${p}`;
  return k;
}

/**
 * Accumulates the aggregates of a batch given in parts ({@link add} per
 * chunk of spans, then {@link finish}); the result is the same as one
 * {@link aggregateBatch} over the concatenated parts, in the same order.
 */
export class SpanAggregator {
  private readonly series = new Map<string, MetricAcc>();
  private readonly users = new Map<string, SpanUserCostRow>();

  /**
   * Add spans (start_time as DateTime64(9) UTC literal, duration_ns in ns,
   * cost_usd in USD or null when unpriced).
   * @throws RangeError when a start_time is not a DateTime64 literal.
   */
  add(spans: readonly AggregatedSpan[]): this {
    const { series, users } = this;
    for (const s of spans) {
      const minute = minuteOf(s.start_time);
      const cost = s.cost_usd ?? 0;

      const sk = keyOf([s.tenant, minute, s.service, s.name, s.model, s.provider]);
      let acc = series.get(sk);
      if (!acc) {
        acc = {
          row: {
            tenant: s.tenant, minute, service: s.service, operation: s.name, model: s.model, provider: s.provider,
            count: 0, error_count: 0, duration_sum_ns: 0,
            input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0, unpriced_count: 0,
          },
          sketch: new SketchAccumulator(),
        };
        series.set(sk, acc);
      }
      const r = acc.row;
      r.count += 1;
      if (s.status_code === 'error') r.error_count += 1;
      r.duration_sum_ns += s.duration_ns;
      r.input_tokens += s.input_tokens;
      r.output_tokens += s.output_tokens;
      r.cached_tokens += s.cached_tokens;
      r.cost_usd += cost;
      r.unpriced_count += s.unpriced;
      acc.sketch.add(s.duration_ns / 1e6);

      const uk = keyOf([s.tenant, minute, s.service, s.model, s.provider, s.user_id]);
      let u = users.get(uk);
      if (!u) {
        u = {
          tenant: s.tenant, minute, service: s.service, model: s.model, provider: s.provider, user_id: s.user_id,
          count: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0, unpriced_count: 0,
        };
        users.set(uk, u);
      }
      u.count += 1;
      u.input_tokens += s.input_tokens;
      u.output_tokens += s.output_tokens;
      u.cached_tokens += s.cached_tokens;
      u.cost_usd += cost;
      u.unpriced_count += s.unpriced;
    }
    return this;
  }

  /** The partial rows for span_metrics_1m and span_user_costs_1m, in order of first appearance. */
  finish(): SpanAggregates {
    const metrics: SpanMetricRow[] = [];
    for (const { row, sketch } of this.series.values()) metrics.push({ ...row, sketch_bins: sketch.toBins(), sketch_zero: sketch.zero });
    return { metrics, userCosts: [...this.users.values()] };
  }
}

/**
 * Aggregate span rows per minute and series, and per minute and user.
 * @param spans normalised spans (start_time as DateTime64(9) UTC literal,
 *   duration_ns in ns, cost_usd in USD or null when unpriced).
 * @returns partial rows for span_metrics_1m and span_user_costs_1m.
 * @throws RangeError when a start_time is not a DateTime64 literal.
 */
export function aggregateBatch(spans: readonly AggregatedSpan[]): SpanAggregates {
  return new SpanAggregator().add(spans).finish();
}

/**
 * The span_metrics_1m rows of {@link aggregateBatch} only.
 * @returns one partial SpanMetricRow per (tenant, minute, service, operation, model, provider).
 */
export function aggregateSpans(spans: readonly AggregatedSpan[]): SpanMetricRow[] {
  return aggregateBatch(spans).metrics;
}
