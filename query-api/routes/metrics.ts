/**
 * Metrics routes (authenticated, tenant-confined), read from
 * {db}.span_metrics_1m only — never from raw spans:
 * - GET /api/v1/metrics/latency → { from, to, step, group_by, points: LatencyPoint[] }
 * - GET /api/v1/metrics/cost    → { from, to, step, group_by, points: CostPoint[] }
 *
 * Buckets are aligned to multiples of `step` seconds since the epoch (UTC);
 * partial rows of a bucket and group are merged with sum / sumMap, and latency
 * quantiles are read from the merged DDSketch bins (processors/sketch.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { ValidationError } from '../../platform/errors.js';
import { tenantOf } from '../auth.js';
import { num, selectRows } from '../clickhouse.js';
import { parseParams, resolveWindow } from '../params.js';
import { sketchFromBins } from '../../processors/sketch.js';
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

export interface MetricRoutesOptions {
  clickhouse: ClickHouseHandle;
}

type Common = LatencyQuery | CostQuery;

/** Aligned window in epoch seconds plus WHERE fragments and params shared by both routes. */
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
  const conds = [
    'tenant = {tenant:String}',
    "minute >= toDateTime({from_s:UInt32}, 'UTC')",
    "minute < toDateTime({to_s:UInt32}, 'UTC')",
  ];
  const params: Record<string, unknown> = { tenant, from_s: fromSec, to_s: toSec, step: q.step, max_points_plus_one: MAX_POINTS + 1 };
  if (q.service !== undefined) (conds.push('service = {service:String}'), (params.service = q.service));
  if (q.operation !== undefined) (conds.push('operation = {operation:String}'), (params.operation = q.operation));
  if (q.model !== undefined) (conds.push('model = {model:String}'), (params.model = q.model));
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
  return { conds, params, groupExpr, meta };
}

/** SELECT … GROUP BY bucket, group over span_metrics_1m with the given aggregate columns. */
function metricsSql(aggs: string, conds: string[], groupExpr: string): string {
  return `
SELECT toUInt32(intDiv(toUInt32(minute), {step:UInt32}) * {step:UInt32}) AS t_s, ${groupExpr} AS grp, ${aggs}
FROM {db:Identifier}.span_metrics_1m
WHERE ${conds.join(' AND ')}
GROUP BY t_s, grp
HAVING sum(count) > 0
ORDER BY t_s, grp
LIMIT {max_points_plus_one:UInt32}`;
}

interface LatencyRow {
  t_s: unknown;
  grp: string;
  n: unknown;
  bins: Record<string, number | string>;
  zero: unknown;
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
}

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

/** Fastify plugin with the metrics routes; expects an auth hook in an enclosing scope. */
export const metricRoutes: FastifyPluginAsync<MetricRoutesOptions> = async (app, opts) => {
  const ch = opts.clickhouse;

  app.get('/api/v1/metrics/latency', { schema: latencyDoc }, async (request) => {
    const q = parseParams(LatencyQuery, request.query);
    const { conds, params, groupExpr, meta } = prepare(tenantOf(request), q);
    const sql = metricsSql('sum(count) AS n, sumMap(sketch_bins) AS bins, sum(sketch_zero) AS zero', conds, groupExpr);
    const rows = await selectRows<LatencyRow>(ch, sql, params);
    checkPoints(rows, q);
    const points: LatencyPoint[] = rows.map((r) => {
      const sketch = sketchFromBins(r.bins, num(r.zero));
      const at = (q: number): number | null => (sketch.count === 0 ? null : sketch.getValueAtQuantile(q));
      return {
        t: iso(r.t_s),
        group: q.group_by === undefined ? null : r.grp,
        count: num(r.n),
        p50_ms: at(0.5),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
      };
    });
    return { ...meta, points };
  });

  app.get('/api/v1/metrics/cost', { schema: costDoc }, async (request) => {
    const q = parseParams(CostQuery, request.query);
    const { conds, params, groupExpr, meta } = prepare(tenantOf(request), q);
    const sql = metricsSql(
      'sum(cost_usd) AS cost, sum(input_tokens) AS input, sum(output_tokens) AS output, ' +
        'sum(cached_tokens) AS cached, sum(unpriced_count) AS unpriced, sum(count) AS n',
      conds,
      groupExpr,
    );
    const rows = await selectRows<CostRow>(ch, sql, params);
    checkPoints(rows, q);
    const points: CostPoint[] = rows.map((r) => ({
      t: iso(r.t_s),
      group: q.group_by === undefined ? null : r.grp,
      cost_usd: num(r.cost),
      input_tokens: num(r.input),
      output_tokens: num(r.output),
      cached_tokens: num(r.cached),
      unpriced_spans: num(r.unpriced),
      spans: num(r.n),
    }));
    return { ...meta, points };
  });
};
