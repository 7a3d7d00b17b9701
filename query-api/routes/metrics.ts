/**
 * Metrics routes (authenticated, tenant-confined), read from the stored
 * aggregates — never by rescanning spans for latency:
 * - GET /api/v1/metrics/latency → { from, to, step, group_by, points: LatencyPoint[] }
 *   from span_metrics_1m / _5m / _1h (sketches per service, operation,
 *   model, provider);
 * - GET /api/v1/metrics/cost    → { from, to, step, group_by, points: CostPoint[] }
 *   from the same tables, or with group_by=user from span_user_costs_1m /
 *   span_user_costs_1h (from raw spans when also filtered by operation, which
 *   the user tables do not hold).
 *
 * Buckets are aligned to multiples of `step` seconds since the epoch (UTC);
 * partial rows of a bucket and group are merged with sum / sumMap, and latency
 * quantiles are read from the merged DDSketch bins (processors/sketch.ts;
 * Masson, Rim, Lee, "DDSketch", PVLDB 12(12), 2019). Rollups answer the
 * whole hours (step a multiple of 3600 s) and whole 5-minute blocks (step a
 * multiple of 300 s) of a window, with the same answer as minutes alone
 * (./metrics.sources.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { ValidationError } from '../../platform/errors.js';
import { tenantOf } from '../auth.js';
import { num, selectRows } from '../clickhouse.js';
import { fillParams, fillSql, parseParams, resolveWindow, roundUsd } from '../params.js';
import { quantileFromKey, quantileKeysSql } from '../../processors/sketch.js';
import {
  CostQuery,
  GROUP_COLUMNS,
  LatencyQuery,
  MAX_BUCKETS,
  MAX_POINTS,
  MAX_STEP_SECONDS,
  costDoc,
  latencyDoc,
  type CostPoint,
  type LatencyPoint,
} from './metrics.schemas.js';
import { attachAnomalyScores } from './anomalies.scores.js';
import { aggregateSql, planTiers, rangeParams, userCostFromSpansSql, type Family } from './metrics.sources.js';

export interface MetricRoutesOptions {
  clickhouse: ClickHouseHandle;
}

type Common = LatencyQuery | CostQuery;

/**
 * Aligned window in epoch seconds, filters and params shared by both routes.
 * @returns fromSec (aligned down to step), toSec (aligned up to the minute),
 *   filter fragments over the aggregate columns with their params, the group
 *   expression, and the answer's meta fields.
 * @throws ValidationError (step) when the window holds more than MAX_BUCKETS buckets.
 */
function prepare(tenant: string, q: Common) {
  const win = resolveWindow(q.from, q.to);
  const rawFrom = Number(win.from / 1_000_000_000n);
  const toSec = Math.ceil(Number((win.to + 999_999_999n) / 1_000_000_000n) / 60) * 60;
  const bucketsFor = (step: number): number => Math.ceil((toSec - Math.floor(rawFrom / step) * step) / step);
  const fromSec = Math.floor(rawFrom / q.step) * q.step;
  const buckets = bucketsFor(q.step);
  if (buckets > MAX_BUCKETS) {
    let minStep = Math.ceil((toSec - rawFrom) / MAX_BUCKETS / 60) * 60;
    while (minStep <= MAX_STEP_SECONDS && bucketsFor(minStep) > MAX_BUCKETS) minStep += 60;
    const fix =
      minStep <= MAX_STEP_SECONDS
        ? `use step=${minStep} or larger, or narrow from/to`
        : `narrow from/to to at most ${Math.floor((MAX_BUCKETS - 1) * (MAX_STEP_SECONDS / 86_400))} days (step ≤ ${MAX_STEP_SECONDS})`;
    throw new ValidationError('step', `${buckets} buckets exceed the limit of ${MAX_BUCKETS}; ${fix}`);
  }
  const filters: string[] = [];
  const params: Record<string, unknown> = { tenant, step: q.step, max_points_plus_one: MAX_POINTS + 1 };
  if (q.service !== undefined) (filters.push('service = {service:String}'), (params.service = q.service));
  if (q.operation !== undefined) (filters.push('operation = {operation:String}'), (params.operation = q.operation));
  if (q.model !== undefined) (filters.push('model = {model:String}'), (params.model = q.model));
  let groupExpr = "''";
  if (q.group_by !== undefined) {
    groupExpr = '{group_col:Identifier}';
    params.group_col = GROUP_COLUMNS[q.group_by];
  }
  const meta = {
    from: new Date(fromSec * 1000).toISOString(),
    to: new Date(toSec * 1000).toISOString(),
    step: q.step,
    group_by: q.group_by ?? null,
  };
  return { fromSec, toSec, filters, params, groupExpr, meta, fill: q.fill };
}

/**
 * Rows of one aggregate query over the tiers planned for the window.
 * @returns [] for an empty window (no query is sent).
 */
async function readAggregates<T>(
  ch: ClickHouseHandle,
  family: Family,
  p: ReturnType<typeof prepare>,
  step: number,
  columns: readonly string[],
  aggs: string,
  outer?: string,
): Promise<T[]> {
  const ranges = planTiers(p.fromSec, p.toSec, step, family);
  if (ranges.length === 0) return [];
  // fill=zero|null: empty buckets added by WITH FILL (rows with present = 0; query-api/params.ts fillSql).
  return selectRows<T>(ch, fillSql(aggregateSql(family, ranges, columns, aggs, p.filters, p.groupExpr, outer), p.fill), {
    ...p.params,
    ...rangeParams(ranges),
    ...fillParams(p.fromSec, p.toSec, step, MAX_POINTS + 1),
  });
}

/** Quantiles of a latency point, in the order of the `keys` array. */
const QUANTILES = [0.5, 0.95, 0.99] as const;

interface LatencyRow {
  t_s: unknown;
  grp: string;
  n: unknown;
  errors: unknown;
  /** zero + Σ bin counts of the merged sketch. */
  total: unknown;
  /** Bin key per quantile of QUANTILES (null: zero bucket or empty). */
  keys: (number | string | null)[];
  /** 0 for a bucket added by fill (fillSql), 1 otherwise; absent with fill=none. */
  present?: unknown;
}

interface CostRow {
  t_s: unknown;
  grp: string;
  cost: unknown;
  input: unknown;
  output: unknown;
  cached: unknown;
  unpriced: unknown;
  n: unknown;
  /** Spans with a price (LLM spans not unpriced); cost_usd is null when 0 while some are unpriced. */
  priced: unknown;
  present?: unknown;
}

/** True for a bucket filled with fill=null (every value null). */
const nullFilled = (r: { present?: unknown }, fill: string): boolean => fill === 'null' && r.present !== undefined && num(r.present) === 0;

const iso = (sec: unknown): string => new Date(num(sec) * 1000).toISOString();

/**
 * Refuse answers with more than {@link MAX_POINTS} points (many groups × buckets).
 * @throws ValidationError naming group_by (or step without grouping) with the fix.
 */
function checkPoints(rows: unknown[], q: Common): void {
  if (rows.length <= MAX_POINTS) return;
  throw new ValidationError(
    q.group_by === undefined ? 'step' : 'group_by',
    `more than ${MAX_POINTS} points (buckets × groups); use a larger step, a narrower from/to or a filter (service, operation, model)`,
  );
}

const COST_COLUMNS = ['count', 'input_tokens', 'output_tokens', 'cached_tokens', 'cost_usd', 'unpriced_count', 'model'] as const;
const COST_AGGS =
  'sum(cost_usd) AS cost, sum(input_tokens) AS input, sum(output_tokens) AS output, ' +
  "sum(cached_tokens) AS cached, sum(unpriced_count) AS unpriced, sum(count) AS n, sumIf(count - unpriced_count, model != '') AS priced";

/** Fastify plugin with the metrics routes; expects an auth hook in an enclosing scope. */
export const metricRoutes: FastifyPluginAsync<MetricRoutesOptions> = async (app, opts) => {
  const ch = opts.clickhouse;

  app.get('/api/v1/metrics/latency', { schema: latencyDoc }, async (request) => {
    const q = parseParams(LatencyQuery, request.query);
    const p = prepare(tenantOf(request), q);
    const rows = await readAggregates<LatencyRow>(
      ch,
      'series',
      p,
      q.step,
      ['count', 'error_count', 'sketch_bins', 'sketch_zero'],
      'sum(count) AS n, sum(error_count) AS errors, sumMap(sketch_bins) AS bins, sum(sketch_zero) AS zero',
      // Merged bins stay in ClickHouse: only the quantiles' bin keys come back.
      `n, errors, zero + arraySum(mapValues(bins)) AS total, ${quantileKeysSql('bins', 'zero', 'total', QUANTILES)} AS keys`,
    );
    checkPoints(rows, q);
    const points: LatencyPoint[] = rows.map((r) => {
      if (nullFilled(r, p.fill)) {
        return { t: iso(r.t_s), group: q.group_by === undefined ? null : r.grp, count: null, error_count: null, p50_ms: null, p95_ms: null, p99_ms: null };
      }
      const total = num(r.total);
      const at = (i: number): number | null => quantileFromKey(total, r.keys[i] === null || r.keys[i] === undefined ? null : Number(r.keys[i]));
      return {
        t: iso(r.t_s),
        group: q.group_by === undefined ? null : r.grp,
        count: num(r.n),
        error_count: num(r.errors),
        p50_ms: at(0),
        p95_ms: at(1),
        p99_ms: at(2),
      };
    });
    if (q.anomaly === 'true') await attachAnomalyScores(ch, tenantOf(request), 'latency_p99_ms', { fromSec: p.fromSec, toSec: p.toSec, step: q.step }, q, points);
    return { ...p.meta, points };
  });

  app.get('/api/v1/metrics/cost', { schema: costDoc }, async (request) => {
    const q = parseParams(CostQuery, request.query);
    const p = prepare(tenantOf(request), q);
    let rows: CostRow[];
    if (q.group_by === 'user' && q.operation !== undefined) {
      // The user tables have no operation column: sum the spans themselves.
      const filters = p.filters.map((f) => (f.startsWith('operation ') ? 'name = {operation:String}' : f));
      const { group_col: _unused, ...params } = p.params;
      rows = p.toSec <= p.fromSec ? [] : await selectRows<CostRow>(ch, userCostFromSpansSql(filters), { ...params, from_s: p.fromSec, to_s: p.toSec });
    } else {
      rows = await readAggregates<CostRow>(ch, q.group_by === 'user' ? 'users' : 'series', p, q.step, COST_COLUMNS, COST_AGGS);
    }
    checkPoints(rows, q);
    const points: CostPoint[] = rows.map((r) => nullFilled(r, p.fill) ? {
      t: iso(r.t_s),
      group: q.group_by === undefined ? null : r.grp,
      cost_usd: null, input_tokens: null, output_tokens: null, cached_tokens: null, unpriced_spans: null, spans: null,
    } : ({
      t: iso(r.t_s),
      group: q.group_by === undefined ? null : r.grp,
      // null (not 0) when the bucket's LLM spans are all unpriced; rounded to 1e-9 USD.
      cost_usd: num(r.unpriced) > 0 && num(r.priced) === 0 ? null : roundUsd(num(r.cost)),
      input_tokens: num(r.input),
      output_tokens: num(r.output),
      cached_tokens: num(r.cached),
      unpriced_spans: num(r.unpriced),
      spans: num(r.n),
    }));
    if (q.anomaly === 'true') await attachAnomalyScores(ch, tenantOf(request), 'cost_usd', { fromSec: p.fromSec, toSec: p.toSec, step: q.step }, q, points);
    return { ...p.meta, points };
  });
};
