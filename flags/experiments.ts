/**
 * Experiment results: a flag's variants compared on the telemetry they
 * produced, read from the per-minute aggregate `flag_variant_metrics_1m`
 * (migration 0015) that the processors fill (processors/flag-variants.ts).
 *
 * Which spans count: those that record an evaluation of the flag, per the
 * OpenTelemetry semantic conventions for feature flags — a span event
 * `feature_flag.evaluation` with `feature_flag.key` = the flag and
 * `feature_flag.result.variant` (what @openfeature/core's
 * createEvaluationEvent and the OpenFeature OTel hooks add to the active span),
 * or span attributes `feature_flag.key` + `feature_flag.result.variant`
 * (older `feature_flag.variant` too). Each such span is one request of its
 * variant: its duration is the latency, status `error` an error, and the
 * span's OWN LLM cost (USD; 0 when it has none or is unpriced) its cost. The
 * processors see one batch at a time, never a whole trace, so the cost of
 * other spans of the request's trace is not included: to compare LLM cost,
 * record the evaluation on the priced LLM span (the demo does). Spans that
 * evaluate without a variant are ignored.
 *
 * Time range: whole minutes, the aggregate's resolution — `from` is rounded
 * down and `to` up to a minute; the result's from/to are the minutes read.
 *
 * Per variant: requests, errors, error rate; latency (ms) mean and sample
 * standard deviation from Σ duration and Σ duration²; p50 / p95 / p99 from the
 * merged DDSketch bins (processors/sketch.ts quantileKeysSql: within 1 % of
 * the sample quantile at rank q·(n − 1)); cost (USD) total, mean per request
 * and its sample standard deviation from Σ cost and Σ cost². Against the
 * control: flags/stats.ts (two-proportion z-test for the error rate, Welch's
 * t-test for mean latency and mean cost per request).
 */
import type { ClickHouseHandle } from '../platform/clickhouse.js';
import { quantileFromKey, quantileKeysSql } from '../processors/sketch.js';
import { nsToMinute } from '../schemas/time.js';
import { num, selectRows } from '../query-api/clickhouse.js';
import { twoProportionZTest, welchTTest, type Comparison } from './stats.js';

/** One variant's figures. Latency in ms, cost in USD. */
export interface VariantStats {
  variant: string;
  requests: number;
  errors: number;
  error_rate: number;
  latency_ms: { mean: number; stddev: number; p50: number; p95: number; p99: number };
  cost_usd: { total: number; per_request: number; stddev: number };
}

/** The comparison of one variant with the control. */
export interface VariantComparison {
  variant: string;
  control: string;
  error_rate: Comparison;
  latency_mean_ms: Comparison;
  cost_per_request_usd: Comparison;
}

export interface ExperimentResults {
  flag: string;
  /** ISO-8601 range [from, to) read: the requested range widened to whole minutes. */
  from: string;
  to: string;
  control: string;
  confidence: number;
  variants: VariantStats[];
  comparisons: VariantComparison[];
  /** Plain-language remarks: missing control, variants without traffic, small samples. */
  notes: string[];
}

export interface ExperimentQuery {
  tenant: string;
  flag: string;
  /** ns since the epoch. */
  from: bigint;
  to: bigint;
  control: string;
  /** Variants the flag defines (listed even without traffic). */
  knownVariants?: readonly string[];
  service?: string;
  confidence?: number;
}


/** Merged sums of one variant (UInt64 sums may arrive as strings). */
interface Row {
  variant: string;
  n: number | string;
  errors: number | string;
  /** Σ duration, ns. */
  dur_ns: number | string;
  /** Σ duration², ms². */
  dur_sq: number;
  /** Σ cost, USD. */
  cost: number;
  /** Σ cost², USD². */
  cost_sq: number;
  /** Values in the merged sketch. */
  total: number | string;
  /** DDSketch bin keys of p50, p95, p99 (null: the zero bucket). */
  keys: Array<number | string | null>;
}

const MINUTE_NS = 60_000_000_000n;
const QUANTILES = [0.5, 0.95, 0.99] as const;

const SQL = (withService: boolean) => `
SELECT variant, n, errors, dur_ns, dur_sq, cost, cost_sq,
  zero + arraySum(mapValues(bins)) AS total,
  ${quantileKeysSql('bins', 'zero', 'total', QUANTILES)} AS keys
FROM (
  SELECT variant,
    sum(count) AS n, sum(error_count) AS errors,
    sum(duration_sum_ns) AS dur_ns, sum(duration_sq_sum_ms2) AS dur_sq,
    sum(cost_usd) AS cost, sum(cost_sq_sum_usd2) AS cost_sq,
    sumMap(sketch_bins) AS bins, sum(sketch_zero) AS zero
  FROM {db:Identifier}.flag_variant_metrics_1m
  WHERE tenant = {tenant:String} AND flag = {flag:String}
    AND minute >= {from:DateTime('UTC')} AND minute < {to:DateTime('UTC')}
    ${withService ? 'AND service = {service:String}' : ''}
  GROUP BY variant
)
WHERE n > 0
ORDER BY variant`;

const finite = (v: number | null | undefined): number => (v === null || v === undefined || !Number.isFinite(v) ? 0 : v);

/**
 * Sample variance (n − 1 denominator) from n, Σx and Σx² (units of x²); 0
 * with fewer than two samples or when rounding makes it negative.
 */
export function varianceFromSums(n: number, sum: number, sumSq: number): number {
  if (n < 2) return 0;
  const v = (sumSq - (sum * sum) / n) / (n - 1);
  return v > 0 && Number.isFinite(v) ? v : 0;
}

/** ns since the epoch rounded down (up = false) or up to a whole minute. */
export function alignToMinute(ns: bigint, up: boolean): bigint {
  const r = ((ns % MINUTE_NS) + MINUTE_NS) % MINUTE_NS;
  return r === 0n ? ns : ns - r + (up ? MINUTE_NS : 0n);
}

/**
 * Compute an experiment's results (see module doc).
 * @param q tenant, flag, range in ns (widened to whole minutes), control variant.
 * @throws VigilError as classified by query-api/clickhouse.ts (400 too expensive, 503 unavailable).
 */
export async function experimentResults(ch: ClickHouseHandle, q: ExperimentQuery): Promise<ExperimentResults> {
  const confidence = q.confidence ?? 0.95;
  const from = alignToMinute(q.from, false);
  const to = alignToMinute(q.to, true);
  const rows = await selectRows<Row>(ch, SQL(q.service !== undefined), {
    tenant: q.tenant,
    flag: q.flag,
    from: nsToMinute(from),
    to: nsToMinute(to),
    ...(q.service === undefined ? {} : { service: q.service }),
  });
  const stats = new Map<string, VariantStats & { var_ms: number; cost_var: number }>();
  for (const r of rows) {
    const requests = num(r.n);
    const errors = num(r.errors);
    const total = num(r.total);
    const sumMs = num(r.dur_ns) / 1e6;
    const varMs = varianceFromSums(requests, sumMs, finite(r.dur_sq));
    const costVar = varianceFromSums(requests, finite(r.cost), finite(r.cost_sq));
    const p = (i: number) => finite(quantileFromKey(total, r.keys[i] === null || r.keys[i] === undefined ? null : Number(r.keys[i])));
    stats.set(r.variant, {
      variant: r.variant,
      requests,
      errors,
      error_rate: requests === 0 ? 0 : errors / requests,
      latency_ms: { mean: requests === 0 ? 0 : sumMs / requests, stddev: Math.sqrt(varMs), p50: p(0), p95: p(1), p99: p(2) },
      cost_usd: { total: finite(r.cost), per_request: requests === 0 ? 0 : finite(r.cost) / requests, stddev: Math.sqrt(costVar) },
      var_ms: varMs,
      cost_var: costVar,
    });
  }
  const notes: string[] = [];
  for (const v of q.knownVariants ?? []) {
    if (!stats.has(v)) {
      notes.push(`variant ${v} has no requests in this range`);
      stats.set(v, {
        variant: v, requests: 0, errors: 0, error_rate: 0,
        latency_ms: { mean: 0, stddev: 0, p50: 0, p95: 0, p99: 0 }, cost_usd: { total: 0, per_request: 0, stddev: 0 }, var_ms: 0, cost_var: 0,
      });
    }
  }
  const control = stats.get(q.control);
  const comparisons: VariantComparison[] = [];
  if (control === undefined || control.requests === 0) {
    notes.push(`the control variant ${q.control} has no requests in this range: nothing to compare with`);
  }
  for (const s of [...stats.values()].sort((a, b) => a.variant.localeCompare(b.variant))) {
    if (control === undefined || s.variant === q.control) continue;
    const c = control;
    const cmp: VariantComparison = {
      variant: s.variant,
      control: q.control,
      error_rate: twoProportionZTest(c.errors, c.requests, s.errors, s.requests, confidence),
      latency_mean_ms: welchTTest(c.latency_ms.mean, c.var_ms, c.requests, s.latency_ms.mean, s.var_ms, s.requests, confidence),
      cost_per_request_usd: welchTTest(c.cost_usd.per_request, c.cost_var, c.requests, s.cost_usd.per_request, s.cost_var, s.requests, confidence),
    };
    comparisons.push(cmp);
    if (cmp.latency_mean_ms.sample === 'too_small') notes.push(`${s.variant} vs ${q.control}: ${cmp.latency_mean_ms.note}`);
  }
  return {
    flag: q.flag,
    from: new Date(Number(from / 1_000_000n)).toISOString(),
    to: new Date(Number(to / 1_000_000n)).toISOString(),
    control: q.control,
    confidence,
    variants: [...stats.values()]
      .sort((a, b) => (a.variant === q.control ? -1 : b.variant === q.control ? 1 : a.variant.localeCompare(b.variant)))
      .map(({ var_ms: _v, cost_var: _c, ...rest }) => rest),
    comparisons,
    notes,
  };
}
