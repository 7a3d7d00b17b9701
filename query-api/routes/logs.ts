/**
 * Log route (authenticated, tenant-confined):
 * GET /api/v1/logs → { logs: LogRecord[], next_cursor: string | null }
 *
 * Source: {db}.logs. Order: time DESC, then a row hash DESC as tie-breaker
 * (cityHash64 of service, trace/span ids, body, observed time), which the cursor
 * carries; byte-identical records share a hash and may be split across pages only
 * if they straddle a page boundary (then the later copies are skipped).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { nsToClickHouse } from '../../schemas/time.js';
import { tenantOf } from '../auth.js';
import { num, selectRows } from '../clickhouse.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { attributeFilters } from '../filters.js';
import { nsToIso, parseParams, resolveWindow } from '../params.js';
import { LogListQuery, logListDoc, type LogRecord } from './logs.schemas.js';
import { typedAttributeColumns, typedAttributes, typedBody } from '../typed-attributes.js';

export interface LogRoutesOptions {
  clickhouse: ClickHouseHandle;
}

interface LogDbRow {
  time_ns: string;
  row_key: string;
  severity_text: string;
  severity_number: unknown;
  body: string;
  service: string;
  trace_id: string;
  span_id: string;
  attributes: Record<string, string>;
  resource_attributes: Record<string, string>;
  // Migration 0007 (issue 8): body type, flags, event name, dropped count, typed attribute maps (typed-attributes.ts).
  body_type: string;
  flags: unknown;
  event_name: string;
  dropped_attributes_count: unknown;
  [typedColumn: string]: unknown;
}

const ROW_KEY = 'cityHash64(service, trace_id, span_id, body, observed_time)';

/** SQL for one page; `conds` are fixed fragments with typed placeholders only. */
function listSql(conds: string[]): string {
  return `
SELECT toString(toUnixTimestamp64Nano(time)) AS time_ns, toString(${ROW_KEY}) AS row_key,
  severity_text, severity_number, body, service, trace_id, span_id, attributes, resource_attributes,
  body_type, flags, event_name, dropped_attributes_count,
  ${typedAttributeColumns('attributes')}, ${typedAttributeColumns('resource_attributes')}
FROM {db:Identifier}.logs
WHERE ${conds.join(' AND ')}
ORDER BY time DESC, ${ROW_KEY} DESC
LIMIT {limit_plus_one:UInt32}`;
}

/** Fastify plugin with the log route; expects an auth hook in an enclosing scope. */
export const logRoutes: FastifyPluginAsync<LogRoutesOptions> = async (app, opts) => {
  const ch = opts.clickhouse;

  app.get('/api/v1/logs', { schema: logListDoc }, async (request) => {
    const tenant = tenantOf(request);
    const q = parseParams(LogListQuery, request.query);
    const win = resolveWindow(q.from, q.to);
    const cursor = q.cursor === undefined ? undefined : decodeCursor(q.cursor, 'logs');
    const conds = [
      'tenant = {tenant:String}',
      "time >= {from:DateTime64(9, 'UTC')}",
      "time < {to:DateTime64(9, 'UTC')}",
    ];
    const params: Record<string, unknown> = {
      tenant,
      from: nsToClickHouse(win.from),
      to: nsToClickHouse(win.to),
      limit_plus_one: q.limit + 1,
    };
    if (q.severity !== undefined) (conds.push('severity_number >= {severity:UInt8}'), (params.severity = q.severity));
    if (q.service !== undefined) (conds.push('service = {service:String}'), (params.service = q.service));
    if (q.trace_id !== undefined) (conds.push('trace_id = {trace_id:String}'), (params.trace_id = q.trace_id));
    if (q.q !== undefined) (conds.push('positionCaseInsensitiveUTF8(body, {q:String}) > 0'), (params.q = q.q));
    // Attribute filters (query-api/filters.ts): typed placeholders only.
    const attr = attributeFilters(q.filter, 'af', 'logs'); // qualified: the SELECT list aliases the typed maps
    conds.push(...attr.sql);
    Object.assign(params, attr.params);
    if (cursor !== undefined) {
      conds.push(`(time, ${ROW_KEY}) < ({cursor_time:DateTime64(9, 'UTC')}, {cursor_key:UInt64})`);
      params.cursor_time = nsToClickHouse(cursor.ns);
      params.cursor_key = cursor.tie;
    }
    const rows = await selectRows<LogDbRow>(ch, listSql(conds), params);
    const page = rows.slice(0, q.limit);
    const logs: LogRecord[] = page.map((r) => ({
      time: nsToIso(BigInt(r.time_ns)),
      time_unix_nano: r.time_ns,
      severity_text: r.severity_text,
      severity_number: num(r.severity_number),
      body: typedBody(r.body, r.body_type),
      body_type: r.body_type ?? 'string',
      service: r.service,
      trace_id: r.trace_id,
      span_id: r.span_id,
      attributes: typedAttributes(r, 'attributes'),
      resource_attributes: typedAttributes(r, 'resource_attributes'),
      event_name: r.event_name ?? '',
      flags: num(r.flags),
      dropped_attributes_count: num(r.dropped_attributes_count),
    }));
    const last = page[page.length - 1];
    const next_cursor =
      rows.length > q.limit && last ? encodeCursor({ ns: BigInt(last.time_ns), tie: last.row_key }) : null;
    return { logs, next_cursor };
  });
};
