/**
 * Every ClickHouse query of alerting, in one place (so an aggregate schema
 * change is adapted here only).
 *
 * Source: `span_metrics_1m` (migrations/clickhouse/0004): partial rows per
 * (tenant, minute, service, operation, model, provider) with counts, errors,
 * tokens, cost (USD) and DDSketch bins of durations in ms (1 % relative
 * accuracy; Masson, Rim, Lee, "DDSketch", PVLDB 12(12), 2019). Rows are always
 * merged with sum / sumMap, so partial rows of one key add up; latency
 * percentiles come from the merged bins, never from rescanning spans.
 *
 * Windows are [fromSec, toSec) in epoch seconds on whole minutes.
 */
import type { ClickHouseHandle } from '../platform/clickhouse.js';
import { num, selectRows } from '../query-api/clickhouse.js';
import { mergeBins, quantileFromBins, type SketchBins } from '../processors/sketch.js';
import { DIMENSIONS, RATIO_SIGNALS, type Condition, type Dimension, type Signal } from './rule-schema.js';
import { readAnomalyScores } from '../anomaly/alert-signal.js';

/** Merged aggregates of one series over a window (or one minute). Cost in USD. */
export interface SeriesAggregate {
  /** Group labels, e.g. { service: 'checkout' } ({} without group_by). */
  labels: Record<string, string>;
  count: number;
  errors: number;
  costUsd: number;
  /** input + output tokens (input includes cached tokens, GenAI conventions). */
  tokens: number;
  /** Highest anomaly score 0–1 (anomaly_score only; from anomaly_scores, not span_metrics_1m). */
  score?: number;
  /** DDSketch bins (latency signals only). */
  bins?: SketchBins;
  zero?: number;
}

const LATENCY_Q: Partial<Record<Signal, number>> = { latency_p50_ms: 0.5, latency_p95_ms: 0.95, latency_p99_ms: 0.99 };

/** True for the signals that read sketches. */
export function needsSketch(signal: Signal): boolean {
  return LATENCY_Q[signal] !== undefined;
}

interface Row {
  service?: string;
  operation?: string;
  model?: string;
  provider?: string;
  minute_s?: unknown;
  n: unknown;
  errors: unknown;
  cost: unknown;
  tokens: unknown;
  bins?: Record<string, number | string>;
  zero?: unknown;
}

/** SELECT/WHERE/GROUP BY parts shared by both queries. Group columns come from the closed DIMENSIONS enum. */
function parts(tenant: string, cond: Condition, fromSec: number, toSec: number) {
  const where = ['tenant = {tenant:String}', "minute >= toDateTime({from_s:UInt32}, 'UTC')", "minute < toDateTime({to_s:UInt32}, 'UTC')"];
  const params: Record<string, unknown> = { tenant, from_s: fromSec, to_s: toSec };
  for (const d of DIMENSIONS) {
    const v = cond.filters[d];
    if (v !== undefined) {
      where.push(`${d} = {f_${d}:String}`);
      params[`f_${d}`] = v;
    }
  }
  const groups = cond.group_by.filter((g): g is Dimension => (DIMENSIONS as readonly string[]).includes(g));
  const aggs = [
    'sum(count) AS n',
    'sum(error_count) AS errors',
    'sum(cost_usd) AS cost',
    'sum(input_tokens) + sum(output_tokens) AS tokens',
    ...(needsSketch(cond.signal) ? ['sumMap(sketch_bins) AS bins', 'sum(sketch_zero) AS zero'] : []),
  ];
  return { where, params, groups, aggs };
}

function toAggregate(r: Row, groups: readonly Dimension[]): SeriesAggregate {
  const labels: Record<string, string> = {};
  for (const g of groups) labels[g] = String(r[g] ?? '');
  const out: SeriesAggregate = { labels, count: num(r.n), errors: num(r.errors), costUsd: Number(r.cost ?? 0), tokens: num(r.tokens) };
  if (r.bins !== undefined) {
    const bins: SketchBins = {};
    for (const [k, v] of Object.entries(r.bins)) bins[k] = Number(v);
    out.bins = bins;
    out.zero = num(r.zero);
  }
  return out;
}

/**
 * Aggregates per series of the rule over one window.
 * @returns one entry per group (series with at least one stored row), in no particular order.
 * @throws VigilError as classified by query-api/clickhouse.ts (VIGIL_ERR_CLICKHOUSE_UNAVAILABLE when unreachable).
 */
export async function readWindow(ch: ClickHouseHandle, tenant: string, cond: Condition, fromSec: number, toSec: number): Promise<SeriesAggregate[]> {
  if (cond.signal === 'anomaly_score') {
    return (await readAnomalyScores(ch, tenant, cond, fromSec, toSec, false)).map((a) => ({ labels: a.labels, count: 1, errors: 0, costUsd: 0, tokens: 0, score: a.score }));
  }
  const { where, params, groups, aggs } = parts(tenant, cond, fromSec, toSec);
  const select = [...groups, ...aggs].join(', ');
  const groupBy = groups.length > 0 ? `GROUP BY ${groups.join(', ')}` : '';
  const sql = `SELECT ${select} FROM {db:Identifier}.span_metrics_1m WHERE ${where.join(' AND ')} ${groupBy} LIMIT 10001`;
  const rows = await selectRows<Row>(ch, sql, params);
  // Without group_by an empty table still yields one row of zeros: that is "no data".
  return rows.map((r) => toAggregate(r, groups)).filter((a) => a.count > 0 || groups.length > 0);
}

/** Per-minute aggregates of one series (for previews). */
export interface MinuteAggregate extends SeriesAggregate {
  /** Minute start, epoch s. */
  minuteS: number;
}

/**
 * Per-minute aggregates per series over [fromSec, toSec) (rule previews).
 * @returns rows ordered by minute; at most 200,000.
 * @throws VigilError as {@link readWindow}.
 */
export async function readMinutes(ch: ClickHouseHandle, tenant: string, cond: Condition, fromSec: number, toSec: number): Promise<MinuteAggregate[]> {
  if (cond.signal === 'anomaly_score') {
    const rows = await readAnomalyScores(ch, tenant, cond, fromSec, toSec, true);
    return rows.map((a) => ({ labels: a.labels, count: 1, errors: 0, costUsd: 0, tokens: 0, score: a.score, minuteS: a.minuteS })).sort((x, y) => x.minuteS - y.minuteS);
  }
  const { where, params, groups, aggs } = parts(tenant, cond, fromSec, toSec);
  const keys = ['toUInt32(minute) AS minute_s', ...groups];
  const sql = `SELECT ${[...keys, ...aggs].join(', ')} FROM {db:Identifier}.span_metrics_1m WHERE ${where.join(' AND ')}
    GROUP BY ${['minute_s', ...groups].join(', ')} ORDER BY minute_s LIMIT 200000`;
  const rows = await selectRows<Row>(ch, sql, params);
  return rows.map((r) => ({ ...toAggregate(r, groups), minuteS: num(r.minute_s) }));
}

/** Sum several aggregates of one series (same labels) into one. */
export function mergeAggregates(labels: Record<string, string>, parts: readonly SeriesAggregate[]): SeriesAggregate {
  const out: SeriesAggregate = { labels, count: 0, errors: 0, costUsd: 0, tokens: 0 };
  const bins: SketchBins[] = [];
  for (const p of parts) {
    out.count += p.count;
    out.errors += p.errors;
    out.costUsd += p.costUsd;
    out.tokens += p.tokens;
    if (p.score !== undefined) out.score = Math.max(out.score ?? 0, p.score);
    if (p.bins !== undefined) {
      bins.push(p.bins);
      out.zero = (out.zero ?? 0) + (p.zero ?? 0);
    }
  }
  if (bins.length > 0) out.bins = mergeBins(...bins);
  return out;
}

/** What one series' aggregate says about the rule. */
export interface SignalResult {
  /** The signal's value (null when it cannot be computed: no spans for a ratio or percentile). */
  value: number | null;
  /** Enough spans to judge (min_count reached for ratios and percentiles; always true otherwise). */
  judged: boolean;
}

/**
 * The signal value of an aggregate.
 * Units: error_rate fraction 0..1; latency ms; cost_usd USD; tokens; request_rate
 * spans per minute (count / window minutes); error_count and absence spans.
 */
export function signalValue(cond: Condition, agg: SeriesAggregate): SignalResult {
  const judged = !RATIO_SIGNALS.has(cond.signal) || (agg.count > 0 && agg.count >= cond.min_count);
  switch (cond.signal) {
    case 'error_rate':
      return { value: agg.count > 0 ? agg.errors / agg.count : null, judged };
    case 'error_count':
      return { value: agg.errors, judged };
    case 'request_rate':
      return { value: agg.count / (cond.window_s / 60), judged };
    case 'cost_usd':
      return { value: agg.costUsd, judged };
    case 'tokens':
      return { value: agg.tokens, judged };
    case 'absence':
      return { value: agg.count, judged };
    case 'anomaly_score':
      return { value: agg.score ?? null, judged: agg.score !== undefined };
    default: {
      const q = LATENCY_Q[cond.signal]!;
      const v = agg.bins === undefined ? null : quantileFromBins(agg.bins, agg.zero ?? 0, q);
      return { value: v, judged: judged && v !== null };
    }
  }
}

/** Compare a value with the threshold using the rule's operator. */
export function compare(value: number, operator: Condition['operator'], threshold: number): boolean {
  switch (operator) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}
