/**
 * Experiment results: a flag's variants compared on the telemetry they
 * produced, read from ClickHouse `spans`.
 *
 * Which spans: those that record an evaluation of the flag, per the
 * OpenTelemetry semantic conventions for feature flags — a span event
 * `feature_flag.evaluation` with `feature_flag.key` = the flag and
 * `feature_flag.result.variant` (what @openfeature/core's
 * createEvaluationEvent and the OpenFeature OTel hooks add to the active span),
 * or span attributes `feature_flag.key` + `feature_flag.result.variant`
 * (older `feature_flag.variant` too). Each such span is one request of its
 * variant: its duration (ms) is the latency, status `error` an error, and the
 * LLM cost of its whole trace (USD, spans of the trace ± 1 h around the range)
 * its cost. Spans that evaluate without a variant are ignored.
 *
 * Per variant: requests, errors, error rate, mean / p50 / p95 / p99 latency
 * (exact quantiles over the spans, ms), mean and total cost. Against the
 * control: flags/stats.ts (two-proportion z-test for the error rate, Welch's
 * t-test for mean latency and mean cost per request).
 */
import type { ClickHouseHandle } from '../platform/clickhouse.js';
import { nsToClickHouse } from '../schemas/time.js';
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
  /** ISO-8601 range [from, to). */
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

interface Row {
  variant: string;
  requests: number | string;
  errors: number | string;
  mean_ms: number | null;
  var_ms: number | null;
  q: Array<number | null>;
  cost_total: number | null;
  cost_mean: number | null;
  cost_var: number | null;
}

const HOUR_NS = 3_600_000_000_000n;

const SQL = (withService: boolean) => `
WITH flagged AS (
  SELECT trace_id, duration_ns, status_code = 'error' AS is_error,
    if(attributes['feature_flag.key'] = {flag:String},
       if(attributes['feature_flag.result.variant'] != '', attributes['feature_flag.result.variant'], attributes['feature_flag.variant']),
       JSONExtractString(
         arrayFirst(e -> JSONExtractString(e, 'name') = 'feature_flag.evaluation'
                      AND JSONExtractString(e, 'attributes', 'feature_flag.key') = {flag:String},
                    JSONExtractArrayRaw(events)),
         'attributes', 'feature_flag.result.variant')) AS variant
  FROM {db:Identifier}.spans
  WHERE tenant = {tenant:String}
    AND start_time >= {from:DateTime64(9)} AND start_time < {to:DateTime64(9)}
    AND (attributes['feature_flag.key'] = {flag:String} OR position(events, {flag:String}) > 0)
    ${withService ? 'AND service = {service:String}' : ''}
),
costs AS (
  SELECT trace_id, sum(ifNull(cost_usd, 0)) AS cost
  FROM {db:Identifier}.spans
  WHERE tenant = {tenant:String}
    AND start_time >= {cfrom:DateTime64(9)} AND start_time < {cto:DateTime64(9)}
    AND trace_id IN (SELECT trace_id FROM flagged WHERE variant != '')
  GROUP BY trace_id
)
SELECT variant,
  count() AS requests,
  countIf(is_error) AS errors,
  avg(duration_ns) / 1e6 AS mean_ms,
  varSamp(duration_ns / 1e6) AS var_ms,
  arrayMap(x -> x / 1e6, quantilesExact(0.5, 0.95, 0.99)(duration_ns)) AS q,
  sum(cost) AS cost_total,
  avg(cost) AS cost_mean,
  varSamp(cost) AS cost_var
FROM flagged LEFT JOIN costs USING (trace_id)
WHERE variant != ''
GROUP BY variant
ORDER BY variant`;

const finite = (v: number | null | undefined): number => (v === null || v === undefined || !Number.isFinite(v) ? 0 : v);

/**
 * Compute an experiment's results.
 * @throws VigilError as classified by query-api/clickhouse.ts (400 too expensive, 503 unavailable).
 */
export async function experimentResults(ch: ClickHouseHandle, q: ExperimentQuery): Promise<ExperimentResults> {
  const confidence = q.confidence ?? 0.95;
  const rows = await selectRows<Row>(ch, SQL(q.service !== undefined), {
    tenant: q.tenant,
    flag: q.flag,
    from: nsToClickHouse(q.from),
    to: nsToClickHouse(q.to),
    cfrom: nsToClickHouse(q.from > HOUR_NS ? q.from - HOUR_NS : 0n),
    cto: nsToClickHouse(q.to + HOUR_NS),
    ...(q.service === undefined ? {} : { service: q.service }),
  });
  const stats = new Map<string, VariantStats & { var_ms: number; cost_var: number }>();
  for (const r of rows) {
    const requests = num(r.requests);
    const errors = num(r.errors);
    const varMs = finite(r.var_ms);
    const costVar = finite(r.cost_var);
    stats.set(r.variant, {
      variant: r.variant,
      requests,
      errors,
      error_rate: requests === 0 ? 0 : errors / requests,
      latency_ms: { mean: finite(r.mean_ms), stddev: Math.sqrt(varMs), p50: finite(r.q[0]), p95: finite(r.q[1]), p99: finite(r.q[2]) },
      cost_usd: { total: finite(r.cost_total), per_request: finite(r.cost_mean), stddev: Math.sqrt(costVar) },
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
    from: new Date(Number(q.from / 1_000_000n)).toISOString(),
    to: new Date(Number(q.to / 1_000_000n)).toISOString(),
    control: q.control,
    confidence,
    variants: [...stats.values()]
      .sort((a, b) => (a.variant === q.control ? -1 : b.variant === q.control ? 1 : a.variant.localeCompare(b.variant)))
      .map(({ var_ms: _v, cost_var: _c, ...rest }) => rest),
    comparisons,
    notes,
  };
}
