/**
 * RED series (rate, errors, duration) from the stored aggregates (issue 8):
 * GET /api/v1/metrics/requests → { from, to, step, group_by, fill, points: RequestPoint[] }
 *
 * Source: span_metrics_1m, and span_metrics_1h for the whole hours of the
 * window when step is a multiple of 3600 s (./metrics.sources.ts planTiers;
 * the same answer as minutes alone). Never rescans spans.
 *
 * Per bucket (aligned to multiples of `step` seconds since the epoch, UTC,
 * starting with the bucket containing `from`) and group:
 * - count: spans; rate_per_s: count / step (s);
 * - error_count: spans with status error; error_rate: error_count / count;
 * - duration_avg_ms: mean span duration, ms (duration_sum_ns / count / 1e6).
 *
 * `status` (error | ok, where ok is any status but error: OTel OK or UNSET) is
 * derived from the aggregates' error_count, which is not split by duration:
 * points filtered or grouped by status have duration_avg_ms null.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { ValidationError } from '../../platform/errors.js';
import { tenantOf } from '../auth.js';
import { num, selectRows } from '../clickhouse.js';
import {
  alignWindow,
  docSchema,
  fillParam,
  fillParams,
  fillSql,
  parseParams,
  resolveWindow,
  show,
  stepParam,
  stringFilter,
  timeParam,
} from '../params.js';
import { aggregateSql, planTiers, rangeParams } from './metrics.sources.js';

/** Most points (buckets × groups) one answer may hold. */
export const MAX_REQUEST_POINTS = 50_000;

/** Dimensions of the aggregates a request can be grouped by (status is derived, see module doc). */
const DIMENSIONS = ['service', 'operation', 'model', 'provider', 'status'] as const;
type Dimension = (typeof DIMENSIONS)[number];

const groupByParam = z
  .string()
  .transform((s, ctx) => {
    const dims = s.split(',').map((d) => d.trim());
    for (const d of dims) {
      if (!(DIMENSIONS as readonly string[]).includes(d)) {
        ctx.addIssue({ code: 'custom', message: `expected a comma-separated list of ${DIMENSIONS.join(', ')}, got ${show(s)}` });
        return z.NEVER;
      }
    }
    if (new Set(dims).size !== dims.length) {
      ctx.addIssue({ code: 'custom', message: `each dimension at most once, got ${show(s)}` });
      return z.NEVER;
    }
    return dims as Dimension[];
  })
  .meta({ description: `comma-separated dimensions: ${DIMENSIONS.join(', ')} (e.g. service,status)` });

/** Query of GET /api/v1/metrics/requests. */
export const RequestsQuery = z.strictObject({
  from: timeParam.optional().meta({ description: 'window start (ISO-8601, epoch ms or now-15m); default to − 1 h; aligned down to step' }),
  to: timeParam.optional().meta({ description: 'window end (exclusive); default now; aligned up to the minute' }),
  step: stepParam,
  fill: fillParam,
  group_by: groupByParam.optional(),
  service: stringFilter.optional().meta({ description: 'service.name (exact)' }),
  operation: stringFilter.optional().meta({ description: 'span name (exact)' }),
  model: stringFilter.optional().meta({ description: 'gen_ai model (exact)' }),
  provider: stringFilter.optional().meta({ description: 'gen_ai provider (exact)' }),
  status: z.enum(['error', 'ok']).optional().meta({ description: 'error, or ok = any status but error' }),
});
export type RequestsQuery = z.output<typeof RequestsQuery>;

/**
 * One RED point. `group` maps each group_by dimension to its value (null
 * without group_by). Filled buckets (fill=zero): counts and rates 0, ratios
 * and averages null; fill=null: every number null.
 */
export interface RequestPoint {
  t: string;
  group: Record<string, string> | null;
  count: number | null;
  rate_per_s: number | null;
  error_count: number | null;
  /** error_count / count, 0 … 1; null when count is 0. */
  error_rate: number | null;
  /** Mean duration in ms; null when count is 0 or the point is split by status. */
  duration_avg_ms: number | null;
}

export const requestsDoc = {
  summary: 'RED series: request count, rate, errors and mean duration per time bucket',
  description:
    'From span_metrics_1m / span_metrics_1h (whole hours when step is a multiple of 3600). Buckets aligned to multiples of step since ' +
    'the epoch (UTC), the first containing `from`. group_by takes up to 5 dimensions (service, operation, model, provider, status); ' +
    'status = error | ok (ok: any status but error); points split or filtered by status have duration_avg_ms null (the aggregates do ' +
    'not split durations by status). fill=zero|null fills empty buckets of every group present (ClickHouse WITH FILL); by default only ' +
    `buckets with spans are returned. Ordered by t then group. Errors: 400 VIGIL_ERR_VALIDATION (bad parameter, more than 1440 buckets or ${MAX_REQUEST_POINTS} points), ` +
    '400 VIGIL_ERR_QUERY_TOO_EXPENSIVE, 401 VIGIL_ERR_UNAUTHORIZED.',
  tags: ['metrics'],
  security: [{ bearer: [] }],
  querystring: docSchema(RequestsQuery),
};

interface Row {
  t_s: unknown;
  grp: string[];
  n: unknown;
  errors: unknown;
  dur: unknown;
  present?: unknown;
}

export interface RequestRoutesOptions {
  clickhouse: ClickHouseHandle;
}

/** Fastify plugin with GET /api/v1/metrics/requests; expects an auth hook in an enclosing scope. */
export const requestRoutes: FastifyPluginAsync<RequestRoutesOptions> = async (app, opts) => {
  const ch = opts.clickhouse;

  app.get('/api/v1/metrics/requests', { schema: requestsDoc }, async (request) => {
    const q = parseParams(RequestsQuery, request.query);
    const win = resolveWindow(q.from, q.to);
    const { fromSec, toSec } = alignWindow(win.from, win.to, q.step);
    const dims = q.group_by ?? [];
    const columnDims = dims.filter((d): d is Exclude<Dimension, 'status'> => d !== 'status');
    const filters: string[] = [];
    const params: Record<string, unknown> = { tenant: tenantOf(request), step: q.step, max_points_plus_one: MAX_REQUEST_POINTS + 1 };
    for (const c of ['service', 'operation', 'model', 'provider'] as const) {
      const v = q[c];
      if (v !== undefined) (filters.push(`${c} = {f_${c}:String}`), (params[`f_${c}`] = v));
    }
    columnDims.forEach((d, i) => (params[`g${i}`] = d));
    const groupExpr = `[${columnDims.map((_, i) => `toString({g${i}:Identifier})`).join(', ')}]::Array(String)`;
    const ranges = planTiers(fromSec, toSec, q.step);
    let rows: Row[] = [];
    if (ranges.length > 0) {
      const inner = aggregateSql(
        'series',
        ranges,
        ['count', 'error_count', 'duration_sum_ns'],
        'sum(count) AS n, sum(error_count) AS errors, sum(duration_sum_ns) AS dur',
        filters,
        groupExpr,
      );
      rows = await selectRows<Row>(ch, fillSql(inner, q.fill), {
        ...params,
        ...rangeParams(ranges),
        ...fillParams(fromSec, toSec, q.step, MAX_REQUEST_POINTS + 1),
      });
    }
    const splitStatus = dims.includes('status') || q.status !== undefined;
    const points: RequestPoint[] = [];
    for (const r of rows) {
      const filled = r.present !== undefined && num(r.present) === 0;
      const t = new Date(num(r.t_s) * 1000).toISOString();
      const base: Record<string, string> = {};
      columnDims.forEach((d, i) => (base[d] = r.grp[i] ?? ''));
      const n = num(r.n);
      const errors = num(r.errors);
      const variants: Array<{ status?: 'error' | 'ok'; count: number; errors: number }> = !splitStatus
        ? [{ count: n, errors }]
        : (['error', 'ok'] as const)
            .filter((s) => q.status === undefined || q.status === s)
            .map((s) => ({ status: s, count: s === 'error' ? errors : n - errors, errors: s === 'error' ? errors : 0 }));
      for (const v of variants) {
        if (q.fill === 'none' && v.count === 0) continue;
        const group = dims.length === 0 ? null : { ...base, ...(dims.includes('status') ? { status: v.status! } : {}) };
        if (filled && q.fill === 'null') {
          points.push({ t, group, count: null, rate_per_s: null, error_count: null, error_rate: null, duration_avg_ms: null });
          continue;
        }
        points.push({
          t,
          group,
          count: v.count,
          rate_per_s: v.count / q.step,
          error_count: v.errors,
          error_rate: v.count > 0 ? v.errors / v.count : null,
          duration_avg_ms: v.count > 0 && !splitStatus ? num(r.dur) / v.count / 1e6 : null,
        });
      }
    }
    if (rows.length > MAX_REQUEST_POINTS || points.length > MAX_REQUEST_POINTS) {
      throw new ValidationError(
        dims.length === 0 ? 'step' : 'group_by',
        `more than ${MAX_REQUEST_POINTS} points (buckets × groups); use a larger step, a narrower from/to or a filter (service, operation, model, provider)`,
      );
    }
    return {
      from: new Date(fromSec * 1000).toISOString(),
      to: new Date(toSec * 1000).toISOString(),
      step: q.step,
      group_by: dims.length === 0 ? null : dims,
      fill: q.fill,
      points,
    };
  });
};
