/**
 * Per-minute span aggregates (table span_metrics_1m, row shape SpanMetricRow).
 *
 * Key: (tenant, minute of start time UTC, service, operation = span name,
 * model, provider, user_id). Per key: count, error_count (status 'error'),
 * duration_sum_ns, input/output/cached token sums, cost_usd (sum over priced
 * spans only), unpriced_count, and a DDSketch (α = 1 %, processors/sketch.ts)
 * of durations in ms as sketch_bins (+ sketch_zero for durations ≤ 0).
 *
 * The rows are partial: ClickHouse sums rows of one key (SimpleAggregateFunction
 * sum / sumMap), so aggregates of different batches merge exactly. Output order
 * is deterministic for a given input order (first appearance of each key), so a
 * replayed batch yields identical insert blocks (insert deduplication).
 */
import type { SpanMetricRow, SpanRow } from '../schemas/rows.js';
import { clickHouseToNs, nsToMinute } from '../schemas/time.js';
import { SketchAccumulator } from './sketch.js';

interface Acc {
  row: Omit<SpanMetricRow, 'sketch_bins' | 'sketch_zero'>;
  sketch: SketchAccumulator;
}

/**
 * Aggregate span rows per minute and series.
 * @param spans normalised spans (start_time as DateTime64(9) literal, duration_ns in ns).
 * @returns one partial SpanMetricRow per (tenant, minute, service, operation, model, provider, user).
 */
export function aggregateSpans(spans: readonly SpanRow[]): SpanMetricRow[] {
  const groups = new Map<string, Acc>();
  for (const s of spans) {
    const minute = nsToMinute(clickHouseToNs(s.start_time));
    const key = JSON.stringify([s.tenant, minute, s.service, s.name, s.model, s.provider, s.user_id]);
    let acc = groups.get(key);
    if (!acc) {
      acc = {
        row: {
          tenant: s.tenant, minute, service: s.service, operation: s.name,
          model: s.model, provider: s.provider, user_id: s.user_id,
          count: 0, error_count: 0, duration_sum_ns: 0,
          input_tokens: 0, output_tokens: 0, cached_tokens: 0,
          cost_usd: 0, unpriced_count: 0,
        },
        sketch: new SketchAccumulator(),
      };
      groups.set(key, acc);
    }
    const r = acc.row;
    r.count += 1;
    if (s.status_code === 'error') r.error_count += 1;
    r.duration_sum_ns += s.duration_ns;
    r.input_tokens += s.input_tokens;
    r.output_tokens += s.output_tokens;
    r.cached_tokens += s.cached_tokens;
    if (s.cost_usd !== null) r.cost_usd += s.cost_usd;
    r.unpriced_count += s.unpriced;
    acc.sketch.add(s.duration_ns / 1e6);
  }
  return [...groups.values()].map(({ row, sketch }) => ({ ...row, sketch_bins: sketch.toBins(), sketch_zero: sketch.zero }));
}
