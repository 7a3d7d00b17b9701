/**
 * Trace routes (authenticated, tenant-confined):
 * - GET /api/v1/traces          → { traces: TraceSummary[], next_cursor: string | null }
 * - GET /api/v1/traces/:traceId → { trace_id, span_count, spans: SpanNode[] } (roots, nested)
 *
 * Source: {db}.spans. Every value is a typed query parameter.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { ValidationError, VigilError } from '../../platform/errors.js';
import { nsToClickHouse } from '../../schemas/time.js';
import { tenantOf } from '../auth.js';
import { num, selectRows } from '../clickhouse.js';
import { decodeCursor, encodeCursor, type CursorKey } from '../cursor.js';
import { attributeFilters } from '../filters.js';
import { nsToIso, parseParams, resolveWindow, roundUsd } from '../params.js';
import { buildTree } from '../trace-tree.js';
import { typedAttributeColumns, typedAttributes } from '../typed-attributes.js';
import {
  TraceListQuery,
  TraceGetQuery,
  TraceParams,
  traceGetDoc,
  traceListDoc,
  type SpanNode,
  type TraceSummary,
} from './traces.schemas.js';

/** Most spans returned for one trace; larger traces are truncated (`truncated: true`). */
export const MAX_TRACE_SPANS = 10_000;

export interface TraceRoutesOptions {
  clickhouse: ClickHouseHandle;
}

interface SummaryRow {
  trace_id: string;
  start_ns: string;
  end_ns: string;
  span_count: unknown;
  error_count: unknown;
  services: string[];
  root_name: string;
  root_service: string;
  /** USD (rounded to 1e-9) or null: see TraceSummary.cost_usd. */
  cost: number | string | null;
  unpriced_n: unknown;
  input_n: unknown;
  output_n: unknown;
  cached_n: unknown;
  /** Sort key as a decimal string (see SORT_KEYS). */
  sk: string;
}

interface SpanDbRow {
  span_id: string;
  parent_span_id: string;
  name: string;
  kind: string;
  service: string;
  start_ns: string;
  end_ns: string;
  duration_ns: unknown;
  status_code: string;
  status_message: string;
  attributes: Record<string, string>;
  resource_attributes: Record<string, string>;
  events: string;
  model: string;
  provider: string;
  input_tokens: unknown;
  output_tokens: unknown;
  cached_tokens: unknown;
  cost_usd: number | null;
  unpriced: unknown;
  // Migration 0007 (issue 8): links, trace state, dropped counts, typed attribute maps (typed-attributes.ts).
  trace_state: string;
  flags: unknown;
  links: string;
  dropped_attributes_count: unknown;
  dropped_events_count: unknown;
  dropped_links_count: unknown;
  [typedColumn: string]: unknown;
}

/**
 * Build the WHERE conditions (beyond tenant and window) for the span filters.
 * @returns SQL fragments using only typed placeholders, and their values.
 */
function spanFilters(q: TraceListQuery): { sql: string[]; params: Record<string, unknown> } {
  // Attribute filters (query-api/filters.ts): typed placeholders only.
  const attr = attributeFilters(q.filter);
  const sql: string[] = [...attr.sql];
  const params: Record<string, unknown> = { ...attr.params };
  if (q.service !== undefined) (sql.push('service = {service:String}'), (params.service = q.service));
  if (q.operation !== undefined) (sql.push('name = {operation:String}'), (params.operation = q.operation));
  if (q.status !== undefined) (sql.push('status_code = {status:String}'), (params.status = q.status));
  // Durations are exact bigint ns (≤ 365 d), passed as decimal strings (beyond 2^53).
  if (q.min_duration_ms !== undefined) {
    sql.push('duration_ns >= {min_ns:UInt64}');
    params.min_ns = q.min_duration_ms.toString();
  }
  if (q.max_duration_ms !== undefined) {
    sql.push('duration_ns <= {max_ns:UInt64}');
    params.max_ns = q.max_duration_ms.toString();
  }
  return { sql, params };
}

/**
 * The list cursor: for the default order (start_time desc) the shared cursor
 * format of query-api/cursor.ts (sort key = start ns); for other orders the
 * same `[key, trace_id]` prefixed by the sort and order, so a cursor is only
 * accepted by the list order that made it.
 */
function encodeListCursor(key: CursorKey, sort: TraceListQuery['sort'], order: TraceListQuery['order']): string {
  if (sort === 'start_time' && order === 'desc') return encodeCursor(key);
  return `${sort}.${order}.${encodeCursor(key)}`;
}

/** @throws ValidationError (cursor) when it is malformed or from another sort / order. */
function decodeListCursor(cursor: string, sort: TraceListQuery['sort'], order: TraceListQuery['order']): CursorKey {
  if (sort === 'start_time' && order === 'desc') return decodeCursor(cursor, 'traces');
  const prefix = `${sort}.${order}.`;
  if (!cursor.startsWith(prefix)) {
    throw new ValidationError('cursor', `not a cursor of this list order (sort=${sort}, order=${order}); pass next_cursor from the previous page with the same sort and order`);
  }
  return decodeCursor(cursor.slice(prefix.length), 'traces');
}

const ns = (col: string): string => `toString(toUnixTimestamp64Nano(${col}))`;

/**
 * Sort keys of the trace list, each a non-negative Int64 per trace:
 * start_time = earliest span start (ns since epoch); duration = latest end −
 * earliest start (ns); cost = 2 + total cost in nano-USD, 1 for a trace
 * without LLM spans (cost 0), 0 for one whose LLM spans are all unpriced
 * (cost null: sorts as the cheapest).
 */
const SORT_KEYS: Record<TraceListQuery['sort'], string> = {
  start_time: 'toUnixTimestamp64Nano(min(start_time))',
  duration: 'toUnixTimestamp64Nano(max(end_time)) - toUnixTimestamp64Nano(min(start_time))',
  cost: 'if(countIf(cost_usd IS NOT NULL) > 0, 2 + toInt64(round(sum(cost_usd) * 1e9)), if(sum(unpriced) > 0, 0, 1))',
};

/**
 * Trace list SQL. The inner query finds trace ids with a matching span in the
 * window; the outer one summarises those traces over all their spans (any time),
 * keeps those strictly after the cursor in (sort key, trace_id) order, and
 * returns limit + 1 rows (the extra one says whether a next page exists).
 */
function listSql(filters: string[], withCursor: boolean, sort: TraceListQuery['sort'] = 'start_time', order: TraceListQuery['order'] = 'desc'): string {
  const sk = SORT_KEYS[sort];
  const dir = order === 'asc' ? 'ASC' : 'DESC';
  const where = ['tenant = {tenant:String}', "start_time >= {from:DateTime64(9, 'UTC')}", "start_time < {to:DateTime64(9, 'UTC')}", ...filters];
  return `
SELECT
  trace_id,
  ${ns('min(start_time)')} AS start_ns,
  ${ns('max(end_time)')} AS end_ns,
  count() AS span_count,
  countIf(status_code = 'error') AS error_count,
  arraySort(groupUniqArray(service)) AS services,
  if(countIf(parent_span_id = '') > 0, argMinIf(name, start_time, parent_span_id = ''), argMin(name, start_time)) AS root_name,
  if(countIf(parent_span_id = '') > 0, argMinIf(service, start_time, parent_span_id = ''), argMin(service, start_time)) AS root_service,
  if(countIf(cost_usd IS NOT NULL) > 0, round(sum(cost_usd), 9), if(sum(unpriced) > 0, NULL, 0)) AS cost,
  sum(unpriced) AS unpriced_n, sum(input_tokens) AS input_n, sum(output_tokens) AS output_n, sum(cached_tokens) AS cached_n,
  toString(${sk}) AS sk
FROM {db:Identifier}.spans
WHERE tenant = {tenant:String}
  AND trace_id IN (SELECT DISTINCT trace_id FROM {db:Identifier}.spans WHERE ${where.join(' AND ')})
GROUP BY trace_id
${withCursor ? `HAVING (${sk}, trace_id) ${order === 'asc' ? '>' : '<'} ({cursor_sk:Int64}, {cursor_trace:String})` : ''}
ORDER BY ${sk} ${dir}, trace_id ${dir}
LIMIT {limit_plus_one:UInt32}`;
}

const TRACE_SQL = `
SELECT span_id, parent_span_id, name, kind, service,
  ${ns('start_time')} AS start_ns, ${ns('end_time')} AS end_ns, duration_ns,
  status_code, status_message, attributes, resource_attributes, events,
  model, provider, input_tokens, output_tokens, cached_tokens, cost_usd, unpriced,
  trace_state, flags, links, dropped_attributes_count, dropped_events_count, dropped_links_count,
  ${typedAttributeColumns('attributes')}, ${typedAttributeColumns('resource_attributes')}
FROM {db:Identifier}.spans
WHERE tenant = {tenant:String} AND trace_id = {trace_id:String}
ORDER BY start_time, span_id
LIMIT {max_spans:UInt32}`;

function parseEvents(s: string): unknown[] {
  try {
    const v: unknown = JSON.parse(s);
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

function toSpanNode(r: SpanDbRow): SpanNode {
  const startNs = BigInt(r.start_ns);
  return {
    span_id: r.span_id,
    parent_span_id: r.parent_span_id,
    name: r.name,
    kind: r.kind,
    service: r.service,
    start: nsToIso(startNs),
    start_time_unix_nano: r.start_ns,
    end: nsToIso(BigInt(r.end_ns)),
    duration_ms: num(r.duration_ns) / 1e6,
    status: r.status_code,
    status_message: r.status_message,
    attributes: typedAttributes(r, 'attributes'),
    resource_attributes: typedAttributes(r, 'resource_attributes'),
    events: parseEvents(r.events),
    links: parseEvents(r.links ?? '[]'),
    trace_state: r.trace_state ?? '',
    flags: num(r.flags),
    dropped_attributes_count: num(r.dropped_attributes_count),
    dropped_events_count: num(r.dropped_events_count),
    dropped_links_count: num(r.dropped_links_count),
    model: r.model,
    provider: r.provider,
    input_tokens: num(r.input_tokens),
    output_tokens: num(r.output_tokens),
    cached_tokens: num(r.cached_tokens),
    cost_usd: r.cost_usd === null ? null : Number(r.cost_usd),
    unpriced: num(r.unpriced) === 1,
    children: [],
  };
}

/** Fastify plugin with the trace routes; expects an auth hook in an enclosing scope. */
export const traceRoutes: FastifyPluginAsync<TraceRoutesOptions> = async (app, opts) => {
  const ch = opts.clickhouse;

  app.get('/api/v1/traces', { schema: traceListDoc }, async (request) => {
    const tenant = tenantOf(request);
    const q = parseParams(TraceListQuery, request.query);
    const win = resolveWindow(q.from, q.to);
    const cursor = q.cursor === undefined ? undefined : decodeListCursor(q.cursor, q.sort, q.order);
    const f = spanFilters(q);
    const rows = await selectRows<SummaryRow>(ch, listSql(f.sql, cursor !== undefined, q.sort, q.order), {
      ...f.params,
      tenant,
      from: nsToClickHouse(win.from),
      to: nsToClickHouse(win.to),
      limit_plus_one: q.limit + 1,
      ...(cursor && { cursor_sk: cursor.ns.toString(), cursor_trace: cursor.tie }),
    });
    const page = rows.slice(0, q.limit);
    const traces: TraceSummary[] = page.map((r) => {
      const start = BigInt(r.start_ns);
      return {
        trace_id: r.trace_id,
        root_name: r.root_name,
        root_service: r.root_service,
        start: nsToIso(start),
        start_time_unix_nano: r.start_ns,
        duration_ms: Number(BigInt(r.end_ns) - start) / 1e6,
        span_count: num(r.span_count),
        error_count: num(r.error_count),
        services: r.services,
        cost_usd: r.cost === null ? null : roundUsd(Number(r.cost)),
        unpriced_spans: num(r.unpriced_n),
        input_tokens: num(r.input_n),
        output_tokens: num(r.output_n),
        cached_tokens: num(r.cached_n),
      };
    });
    const last = page[page.length - 1];
    const next_cursor =
      rows.length > q.limit && last ? encodeListCursor({ ns: BigInt(last.sk), tie: last.trace_id }, q.sort, q.order) : null;
    return { traces, next_cursor };
  });

  app.get('/api/v1/traces/:traceId', { schema: traceGetDoc }, async (request) => {
    const tenant = tenantOf(request);
    const { traceId } = parseParams(TraceParams, request.params);
    parseParams(TraceGetQuery, request.query);
    const rows = await selectRows<SpanDbRow>(ch, TRACE_SQL, {
      tenant,
      trace_id: traceId,
      max_spans: MAX_TRACE_SPANS,
    });
    if (rows.length === 0) {
      throw new VigilError('VIGIL_ERR_NOT_FOUND', `trace ${traceId} not found; check the id and the time retention`);
    }
    return {
      trace_id: traceId,
      span_count: rows.length,
      truncated: rows.length >= MAX_TRACE_SPANS,
      spans: buildTree(rows.map(toSpanNode)),
    };
  });
};

