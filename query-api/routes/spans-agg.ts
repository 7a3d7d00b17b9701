/**
 * Raw-span aggregation by any attribute (issue 8, "Any attribute"):
 * GET /api/v1/metrics/spans → { from, to, group_by, order_by, order, groups: SpanGroup[] }
 *
 * Source: {db}.spans in [from, to) (span start), narrowed by service,
 * operation, status and `filter` expressions (query-api/filters.ts), grouped
 * by up to 3 keys — built-in columns (service, operation, status, model,
 * provider, user_id) or attribute names (`resource.` first for resource
 * attributes; the attribute's value as text, '' when absent) — and the top
 * `limit` groups by `order_by` returned.
 *
 * Per group: count, error_count, error_rate (0 … 1), avg_ms, p50_ms / p95_ms /
 * p99_ms of span durations (ClickHouse `quantiles`: exact interpolated
 * quantiles up to 8192 spans per group, a uniform reservoir sample of 8192
 * beyond), cost_usd (sum over priced spans, rounded to 1e-9 USD; null when the
 * group's LLM spans are all unpriced, 0 without LLM spans), unpriced_spans and
 * token sums. Attribute names and values are typed query parameters, never
 * spliced into SQL.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { nsToClickHouse } from '../../schemas/time.js';
import { tenantOf } from '../auth.js';
import { num, selectRows } from '../clickhouse.js';
import { attributeFilters, FILTER_DOC, MAX_FILTER_CHARS, MAX_FILTERS, MAX_KEY_CHARS } from '../filters.js';
import { docSchema, limitParam, parseParams, repeatedParam, resolveWindow, roundUsd, show, stringFilter, timeParam } from '../params.js';

/** Built-in group keys → spans column. */
const BUILTIN: Record<string, string> = {
  service: 'service',
  operation: 'name',
  status: 'status_code',
  model: 'model',
  provider: 'provider',
  user_id: 'user_id',
};

/** Most group_by keys. */
export const MAX_GROUP_KEYS = 3;

const groupByParam = z
  .string()
  .transform((s, ctx) => {
    const keys = s.split(',').map((k) => k.trim());
    const fail = (m: string): never => {
      ctx.addIssue({ code: 'custom', message: m });
      return z.NEVER;
    };
    if (keys.length > MAX_GROUP_KEYS) return fail(`at most ${MAX_GROUP_KEYS} keys, got ${keys.length}`);
    for (const k of keys) {
      if (k === '' || k.length > MAX_KEY_CHARS + 'resource.'.length || /[\s"]/.test(k)) {
        return fail(`expected comma-separated keys: ${Object.keys(BUILTIN).join(', ')} or attribute names (resource.<key> for resource attributes), got ${show(s)}`);
      }
    }
    if (new Set(keys).size !== keys.length) return fail(`each key at most once, got ${show(s)}`);
    return keys;
  })
  .meta({ description: `up to ${MAX_GROUP_KEYS} comma-separated keys: ${Object.keys(BUILTIN).join(', ')} or attribute names (resource.<key> for resource attributes), e.g. customer.tier,model` });

const ORDER_BY = ['count', 'error_rate', 'avg_ms', 'p50_ms', 'p95_ms', 'p99_ms', 'cost_usd', 'tokens'] as const;

/** Query of GET /api/v1/metrics/spans. */
export const SpansAggQuery = z.strictObject({
  from: timeParam.optional().meta({ description: 'window start (span start, inclusive; ISO-8601, epoch ms or now-15m); default to − 1 h' }),
  to: timeParam.optional().meta({ description: 'window end (exclusive); default now' }),
  service: stringFilter.optional().meta({ description: 'service.name (exact)' }),
  operation: stringFilter.optional().meta({ description: 'span name (exact)' }),
  status: z.enum(['ok', 'error', 'unset']).optional(),
  filter: repeatedParam(MAX_FILTERS, MAX_FILTER_CHARS, 'filters').meta({ description: FILTER_DOC }),
  group_by: groupByParam.optional(),
  order_by: z.enum(ORDER_BY).optional().transform((o) => o ?? 'count').meta({ description: `${ORDER_BY.join(' | ')}; default count` }),
  order: z.enum(['desc', 'asc']).optional().transform((o) => o ?? 'desc'),
  limit: limitParam(20, 1000).meta({ description: 'top N groups, 1 … 1000; default 20' }),
});
export type SpansAggQuery = z.output<typeof SpansAggQuery>;

/** One group of spans. Durations in ms; cost in USD. */
export interface SpanGroup {
  /** Key → value (text; '' when the attribute is absent); null without group_by. */
  group: Record<string, string> | null;
  count: number;
  error_count: number;
  error_rate: number;
  avg_ms: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  cost_usd: number | null;
  unpriced_spans: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
}

export const spansAggDoc = {
  summary: 'Aggregate raw spans by any attribute: counts, error rate, latency quantiles, cost and tokens, top N groups',
  description:
    'Scans spans in [from, to) matching service / operation / status and every filter; groups by up to 3 keys (built-in columns or ' +
    'span / resource attributes); returns the top `limit` groups by order_by. Quantiles: ClickHouse `quantiles` (exact up to 8192 spans per ' +
    'group, a reservoir sample beyond). cost_usd: sum over priced spans (1e-9 USD), null when every LLM span of the group is unpriced. ' +
    'Errors: 400 VIGIL_ERR_VALIDATION, 400 VIGIL_ERR_QUERY_TOO_EXPENSIVE (narrow from/to), 401 VIGIL_ERR_UNAUTHORIZED.',
  tags: ['metrics'],
  security: [{ bearer: [] }],
  querystring: docSchema(SpansAggQuery),
};

const ORDER_SQL: Record<(typeof ORDER_BY)[number], string> = {
  count: 'n',
  error_rate: 'errors / n',
  avg_ms: 'avg_ns',
  p50_ms: 'qs[1]',
  p95_ms: 'qs[2]',
  p99_ms: 'qs[3]',
  cost_usd: 'ifNull(cost, -1)',
  tokens: 'input + output',
};

interface Row {
  grp: string[];
  n: unknown;
  errors: unknown;
  avg_ns: unknown;
  qs: unknown[];
  cost: number | string | null;
  unpriced_n: unknown;
  input: unknown;
  output: unknown;
  cached: unknown;
}

export interface SpansAggRoutesOptions {
  clickhouse: ClickHouseHandle;
}

/** Fastify plugin with GET /api/v1/metrics/spans; expects an auth hook in an enclosing scope. */
export const spansAggRoutes: FastifyPluginAsync<SpansAggRoutesOptions> = async (app, opts) => {
  const ch = opts.clickhouse;

  app.get('/api/v1/metrics/spans', { schema: spansAggDoc }, async (request) => {
    const q = parseParams(SpansAggQuery, request.query);
    const win = resolveWindow(q.from, q.to);
    const attr = attributeFilters(q.filter);
    const where = ['tenant = {tenant:String}', "start_time >= {from:DateTime64(9, 'UTC')}", "start_time < {to:DateTime64(9, 'UTC')}", ...attr.sql];
    const params: Record<string, unknown> = {
      ...attr.params,
      tenant: tenantOf(request),
      from: nsToClickHouse(win.from),
      to: nsToClickHouse(win.to),
      limit: q.limit,
    };
    if (q.service !== undefined) (where.push('service = {service:String}'), (params.service = q.service));
    if (q.operation !== undefined) (where.push('name = {operation:String}'), (params.operation = q.operation));
    if (q.status !== undefined) (where.push('status_code = {status:String}'), (params.status = q.status));
    const keys = q.group_by ?? [];
    const exprs = keys.map((k, i) => {
      const col = BUILTIN[k];
      if (col !== undefined) return `toString(${col})`;
      const resource = k.startsWith('resource.') && k.length > 'resource.'.length;
      params[`g${i}`] = resource ? k.slice('resource.'.length) : k;
      return `${resource ? 'resource_attributes' : 'attributes'}[{g${i}:String}]`;
    });
    const dir = q.order === 'asc' ? 'ASC' : 'DESC';
    const sql = `
SELECT [${exprs.join(', ')}]::Array(String) AS grp,
  count() AS n, countIf(status_code = 'error') AS errors, avg(duration_ns) AS avg_ns,
  quantiles(0.5, 0.95, 0.99)(duration_ns) AS qs,
  if(countIf(cost_usd IS NOT NULL) > 0, round(sum(cost_usd), 9), if(sum(unpriced) > 0, NULL, 0)) AS cost,
  sum(unpriced) AS unpriced_n, sum(input_tokens) AS input, sum(output_tokens) AS output, sum(cached_tokens) AS cached
FROM {db:Identifier}.spans
WHERE ${where.join(' AND ')}
GROUP BY grp
ORDER BY ${ORDER_SQL[q.order_by]} ${dir}, grp
LIMIT {limit:UInt32}`;
    const rows = await selectRows<Row>(ch, sql, params);
    const groups: SpanGroup[] = rows.map((r) => {
      const n = num(r.n);
      const errors = num(r.errors);
      const group: Record<string, string> = {};
      keys.forEach((k, i) => (group[k] = r.grp[i] ?? ''));
      return {
        group: keys.length === 0 ? null : group,
        count: n,
        error_count: errors,
        error_rate: n > 0 ? errors / n : 0,
        avg_ms: num(r.avg_ns) / 1e6,
        p50_ms: num(r.qs[0]) / 1e6,
        p95_ms: num(r.qs[1]) / 1e6,
        p99_ms: num(r.qs[2]) / 1e6,
        cost_usd: r.cost === null ? null : roundUsd(Number(r.cost)),
        unpriced_spans: num(r.unpriced_n),
        input_tokens: num(r.input),
        output_tokens: num(r.output),
        cached_tokens: num(r.cached),
      };
    });
    return {
      from: nsToIsoMs(win.from),
      to: nsToIsoMs(win.to),
      group_by: keys.length === 0 ? null : keys,
      order_by: q.order_by,
      order: q.order,
      groups,
    };
  });
};

const nsToIsoMs = (ns: bigint): string => new Date(Number(ns / 1_000_000n)).toISOString();
