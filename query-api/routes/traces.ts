/**
 * Trace routes (authenticated, tenant-confined):
 * - GET /api/v1/traces          → { traces: TraceSummary[], next_cursor: string | null }
 * - GET /api/v1/traces/:traceId → { trace_id, span_count, spans: SpanNode[] } (roots, nested)
 *
 * Source: {db}.spans. Every value is a typed query parameter. The list's SQL
 * (a bounded candidate search, proved exact, or one query) is in ../trace-list.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { ValidationError, VigilError } from '../../platform/errors.js';
import { tenantOf } from '../auth.js';
import { num, selectRows, TRACE_LOOKUP_SETTINGS } from '../clickhouse.js';
import { decodeCursor, encodeCursor, type CursorKey } from '../cursor.js';
import { nsToIso, parseParams, resolveWindow, roundUsd } from '../params.js';
import { listTraceRows } from '../trace-list.js';
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
    const { rows } = await listTraceRows(ch, { tenant, q, from: win.from, to: win.to, ...(cursor && { cursor }) });
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
    }, TRACE_LOOKUP_SETTINGS);
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

