/**
 * Executions: seed 004's monitoring view over Vigil's traces (issue 8).
 *
 * - GET /api/v1/executions?hours=24&status=&user_id=&conversation_id=&limit=50&offset=0
 *     → { total, offset, limit, time_range_hours, executions: Execution[] } (newest first)
 * - GET /api/v1/executions/:id → Execution & { execution_trace: ExecutionNode[] }
 * - GET /api/v1/conversations/:id/executions?hours=&limit=&offset= → as the list, one conversation
 * - GET /api/v1/executions/stats?hours=24 → ExecutionStats
 *
 * Mapping (a trace is an execution; its root span, the span without a
 * parent, is the execution itself; every other span is a node):
 * | field            | source |
 * |------------------|--------|
 * | id               | trace id (32 hex) |
 * | conversation_id  | first span attribute of `gen_ai.conversation.id`, `conversation.id`, `session.id` (in that order) on any span of the trace; null when none |
 * | user_id          | the spans' user (enduser.id / user.id, processors/normalize); null when none |
 * | request_message  | root span attribute `request.message`, else `input.value`, else `gen_ai.prompt`; null when none |
 * | response_message | root span attribute `response.message`, else `output.value`, else `gen_ai.completion`; null when none |
 * | status           | `running`: no root span stored yet (nodes arrived, the root has not ended); `failed`: root span status ERROR; `partial`: root not ERROR but a node is; `completed`: no span with status ERROR |
 * | started_at / completed_at / total_duration_ms | root span start / end / duration (running: earliest node start, completed_at and duration null) |
 * | failed_nodes     | names of the nodes with status ERROR in start order (distinct); the root's name when only the root failed |
 * | error_summary    | status message of the first failed node (or of the root); null when empty |
 * | root_name, root_service, span_count | the root span's name and service, spans in the trace |
 * A node in execution_trace: node (span name), span_id, parent_span_id, service, status
 * (`failed` for ERROR, else `completed`), execution_time_ms, started_at, timestamp (its end), error
 * (status message, failed nodes only), depth (1 = child of the root).
 *
 * Window: executions with a span starting in the last `hours` (1 … 720; default 24).
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { VigilError } from '../../platform/errors.js';
import { nsToClickHouse } from '../../schemas/time.js';
import { tenantOf } from '../auth.js';
import { num, selectRows, TRACE_LOOKUP_SETTINGS } from '../clickhouse.js';
import { docSchema, intParam, limitParam, nsToIso, parseParams, stringFilter, traceIdParam } from '../params.js';

const STATUSES = ['running', 'completed', 'failed', 'partial'] as const;
const CONVERSATION_KEYS = ['gen_ai.conversation.id', 'conversation.id', 'session.id'] as const;
const REQUEST_KEYS = ['request.message', 'input.value', 'gen_ai.prompt'] as const;
const RESPONSE_KEYS = ['response.message', 'output.value', 'gen_ai.completion'] as const;
/** Most failed nodes listed per execution. */
const MAX_FAILED_NODES = 100;
/** Most nodes in one execution_trace. */
export const MAX_EXECUTION_NODES = 10_000;

const hoursParam = intParam(1, 720, 'hours back from now')
  .optional()
  .transform((h) => h ?? 24)
  .meta({ description: 'executions with a span starting in the last N hours, 1 … 720; default 24' });
const offsetParam = intParam(0, 10_000, 'an offset into the list')
  .optional()
  .transform((o) => o ?? 0)
  .meta({ description: 'skip this many executions, 0 … 10000; default 0' });

/** Query of GET /api/v1/executions. */
export const ExecutionListQuery = z.strictObject({
  hours: hoursParam,
  status: z.enum(STATUSES).optional(),
  user_id: stringFilter.optional(),
  conversation_id: stringFilter.optional(),
  limit: limitParam(50, 200),
  offset: offsetParam,
});
/** Query of GET /api/v1/conversations/:id/executions. */
export const ConversationQuery = z.strictObject({ hours: hoursParam, limit: limitParam(20, 200), offset: offsetParam });
/** Query of GET /api/v1/executions/stats. */
export const StatsQuery = z.strictObject({ hours: hoursParam });
const ExecParams = z.strictObject({ id: traceIdParam });
const ConvParams = z.strictObject({ id: stringFilter });

/** One execution (see the module doc for the mapping). Times ISO-8601 UTC with ns; durations ms. */
export interface Execution {
  id: string;
  conversation_id: string | null;
  user_id: string | null;
  request_message: string | null;
  response_message: string | null;
  status: (typeof STATUSES)[number];
  started_at: string;
  completed_at: string | null;
  total_duration_ms: number | null;
  failed_nodes: string[];
  error_summary: string | null;
  root_name: string;
  root_service: string;
  span_count: number;
}

interface Row {
  trace_id: string;
  status: Execution['status'];
  start_ns: string;
  end_ns: string;
  root_name: string;
  root_service: string;
  root_message: string;
  span_count: unknown;
  user: string;
  conv: string[];
  req: string[];
  resp: string[];
  failed: Array<[string, string, string]>;
}

const firstNonEmptyArgs = (keys: readonly string[], cond: string): string =>
  `[${keys.map((k) => `argMinIf(attributes['${k}'], start_time, ${cond} AND attributes['${k}'] != '')`).join(', ')}]`;

/**
 * Per-trace execution rows of the traces with a span in the window (and the
 * optional conversation / user filter), summarised over all their spans.
 * Attribute names in the SQL are the constants above; every value is a typed parameter.
 */
function baseSql(extra: string[]): string {
  const where = ['tenant = {tenant:String}', "start_time >= {from:DateTime64(9, 'UTC')}", ...extra];
  return `
SELECT trace_id,
  multiIf(countIf(parent_span_id = '') = 0, 'running',
          argMinIf(status_code, start_time, parent_span_id = '') = 'error', 'failed',
          countIf(status_code = 'error') > 0, 'partial', 'completed') AS status,
  toString(toUnixTimestamp64Nano(if(countIf(parent_span_id = '') > 0, minIf(start_time, parent_span_id = ''), min(start_time)))) AS start_ns,
  toString(toUnixTimestamp64Nano(if(countIf(parent_span_id = '') > 0, maxIf(end_time, parent_span_id = ''), min(start_time)))) AS end_ns,
  argMinIf(name, start_time, parent_span_id = '') AS root_name,
  argMinIf(service, start_time, parent_span_id = '') AS root_service,
  argMinIf(status_message, start_time, parent_span_id = '') AS root_message,
  count() AS span_count,
  anyIf(user_id, user_id != '') AS user,
  ${firstNonEmptyArgs(CONVERSATION_KEYS, '1')} AS conv,
  ${firstNonEmptyArgs(REQUEST_KEYS, "parent_span_id = ''")} AS req,
  ${firstNonEmptyArgs(RESPONSE_KEYS, "parent_span_id = ''")} AS resp,
  arraySort(x -> x.1, groupArrayIf(${MAX_FAILED_NODES})((toString(toUnixTimestamp64Nano(start_time)), name, status_message), status_code = 'error' AND parent_span_id != '')) AS failed
FROM {db:Identifier}.spans
WHERE tenant = {tenant:String}
  AND trace_id IN (SELECT DISTINCT trace_id FROM {db:Identifier}.spans WHERE ${where.join(' AND ')})
GROUP BY trace_id`;
}

/** The conversation filter: any span of the trace carries the id under one of CONVERSATION_KEYS. */
const CONVERSATION_FILTER = `(${CONVERSATION_KEYS.map((k) => `attributes['${k}'] = {conversation:String}`).join(' OR ')})`;

const nullIfEmpty = (s: string | undefined): string | null => (s === undefined || s === '' ? null : s);

function toExecution(r: Row): Execution {
  const running = r.status === 'running';
  const start = BigInt(r.start_ns);
  const failedNames: string[] = [];
  for (const [, name] of r.failed) if (!failedNames.includes(name)) failedNames.push(name);
  let errorSummary = nullIfEmpty(r.failed[0]?.[2]);
  if (r.status === 'failed' && failedNames.length === 0) {
    failedNames.push(r.root_name);
    errorSummary = nullIfEmpty(r.root_message);
  }
  return {
    id: r.trace_id,
    conversation_id: nullIfEmpty(r.conv.find((v) => v !== '')),
    user_id: nullIfEmpty(r.user),
    request_message: nullIfEmpty(r.req.find((v) => v !== '')),
    response_message: nullIfEmpty(r.resp.find((v) => v !== '')),
    status: r.status,
    started_at: nsToIso(start),
    completed_at: running ? null : nsToIso(BigInt(r.end_ns)),
    total_duration_ms: running ? null : Number(BigInt(r.end_ns) - start) / 1e6,
    failed_nodes: failedNames,
    error_summary: errorSummary ?? (r.status === 'failed' ? nullIfEmpty(r.root_message) : null),
    root_name: r.root_name,
    root_service: r.root_service,
    span_count: num(r.span_count),
  };
}

const tags = ['executions'];
const security = [{ bearer: [] }];
const MAPPING_DOC =
  'A trace is an execution, its root span the execution itself, other spans its nodes. conversation_id: gen_ai.conversation.id, conversation.id or session.id ' +
  '(any span); request_message: root attribute request.message | input.value | gen_ai.prompt; response_message: response.message | output.value | gen_ai.completion; ' +
  'status: running (no root span yet), failed (root ERROR), partial (a node ERROR), completed; failed_nodes: ERROR nodes in start order; error_summary: the first one\'s status message.';

/** Fastify plugin with the execution routes; expects an auth hook in an enclosing scope. */
export const executionRoutes: FastifyPluginAsync<{ clickhouse: ClickHouseHandle }> = async (app, opts) => {
  const ch = opts.clickhouse;

  const list = async (tenant: string, q: { hours: number; status?: string; user_id?: string; conversation_id?: string; limit: number; offset: number }) => {
    const extra: string[] = [];
    const params: Record<string, unknown> = {
      tenant,
      from: nsToClickHouse(BigInt(Date.now() - q.hours * 3_600_000) * 1_000_000n),
      limit: q.limit,
      offset: q.offset,
    };
    if (q.conversation_id !== undefined) (extra.push(CONVERSATION_FILTER), (params.conversation = q.conversation_id));
    if (q.user_id !== undefined) (extra.push('user_id = {user:String}'), (params.user = q.user_id));
    const statusCond = q.status === undefined ? '' : 'WHERE status = {status:String}';
    if (q.status !== undefined) params.status = q.status;
    const [rows, total] = await Promise.all([
      selectRows<Row>(ch, `SELECT * FROM (${baseSql(extra)}) ${statusCond} ORDER BY start_ns DESC, trace_id DESC LIMIT {limit:UInt32} OFFSET {offset:UInt32}`, params),
      selectRows<{ n: unknown }>(ch, `SELECT count() AS n FROM (${baseSql(extra)}) ${statusCond}`, params),
    ]);
    return { total: num(total[0]?.n), offset: q.offset, limit: q.limit, time_range_hours: q.hours, executions: rows.map(toExecution) };
  };

  app.get(
    '/api/v1/executions',
    { schema: { summary: 'List executions (root spans of traces), newest first', description: MAPPING_DOC, tags, security, querystring: docSchema(ExecutionListQuery) } },
    async (request) => list(tenantOf(request), parseParams(ExecutionListQuery, request.query)),
  );

  app.get(
    '/api/v1/conversations/:id/executions',
    { schema: { summary: 'Executions of one conversation, newest first', description: MAPPING_DOC, tags, security, params: docSchema(ConvParams), querystring: docSchema(ConversationQuery) } },
    async (request) => {
      const { id } = parseParams(ConvParams, request.params);
      return list(tenantOf(request), { ...parseParams(ConversationQuery, request.query), conversation_id: id });
    },
  );

  app.get(
    '/api/v1/executions/stats',
    {
      schema: {
        summary: 'Execution statistics: totals, by status, success rate, mean duration, failed-node breakdown',
        description:
          'success_rate: completed / total × 100 (percent; null without executions); avg_duration_ms over executions with a root span; ' +
          'failed_nodes_breakdown: executions per failed node name (top 50). ' + MAPPING_DOC,
        tags,
        security,
        querystring: docSchema(StatsQuery),
      },
    },
    async (request) => {
      const q = parseParams(StatsQuery, request.query);
      const params = { tenant: tenantOf(request), from: nsToClickHouse(BigInt(Date.now() - q.hours * 3_600_000) * 1_000_000n) };
      const base = baseSql([]);
      const [totals, nodes] = await Promise.all([
        selectRows<{ status: string; n: unknown; dur_sum_ns: unknown; with_root: unknown }>(
          ch,
          `SELECT status, count() AS n, sumIf(toInt64(end_ns) - toInt64(start_ns), status != 'running') AS dur_sum_ns, countIf(status != 'running') AS with_root FROM (${base}) GROUP BY status`,
          params,
        ),
        selectRows<{ node: string; n: unknown }>(
          ch,
          `SELECT node, count() AS n FROM (SELECT trace_id, arrayDistinct(arrayMap(x -> x.2, failed)) AS nodes, status, root_name FROM (${base}))
           ARRAY JOIN if(empty(nodes) AND status = 'failed', [root_name], nodes) AS node
           GROUP BY node ORDER BY n DESC, node LIMIT 50`,
          params,
        ),
      ]);
      const byStatus: Record<string, number> = { completed: 0, failed: 0, partial: 0, running: 0 };
      let total = 0;
      let durSum = 0;
      let withRoot = 0;
      for (const r of totals) {
        byStatus[r.status] = num(r.n);
        total += num(r.n);
        durSum += num(r.dur_sum_ns);
        withRoot += num(r.with_root);
      }
      const breakdown: Record<string, number> = {};
      for (const r of nodes) breakdown[r.node] = num(r.n);
      return {
        time_range_hours: q.hours,
        total_executions: total,
        by_status: byStatus,
        success_rate: total === 0 ? null : Math.round((byStatus.completed! / total) * 100 * 100) / 100,
        avg_duration_ms: withRoot === 0 ? null : durSum / withRoot / 1e6,
        failed_nodes_breakdown: breakdown,
      };
    },
  );

  app.get(
    '/api/v1/executions/:id',
    {
      schema: {
        summary: 'One execution with its ordered node trace',
        description: 'execution_trace: every node (non-root span) in start order with status, time and error. 404 VIGIL_ERR_NOT_FOUND when the trace does not exist. ' + MAPPING_DOC,
        tags,
        security,
        params: docSchema(ExecParams),
      },
    },
    async (request) => {
      const { id } = parseParams(ExecParams, request.params);
      const tenant = tenantOf(request);
      const summary = await selectRows<Row>(
        ch,
        baseSql(['trace_id = {trace_id:String}']),
        { tenant, trace_id: id, from: nsToClickHouse(0n) },
        TRACE_LOOKUP_SETTINGS,
      );
      if (summary.length === 0) throw new VigilError('VIGIL_ERR_NOT_FOUND', `execution ${id} not found; check the id and the time retention`);
      const spans = await selectRows<{ span_id: string; parent_span_id: string; name: string; service: string; status_code: string; status_message: string; start_ns: string; end_ns: string; duration_ns: unknown }>(
        ch,
        `SELECT span_id, parent_span_id, name, service, status_code, status_message,
           toString(toUnixTimestamp64Nano(start_time)) AS start_ns, toString(toUnixTimestamp64Nano(end_time)) AS end_ns, duration_ns
         FROM {db:Identifier}.spans WHERE tenant = {tenant:String} AND trace_id = {trace_id:String}
         ORDER BY start_time, span_id LIMIT {max:UInt32}`,
        { tenant, trace_id: id, max: MAX_EXECUTION_NODES },
        TRACE_LOOKUP_SETTINGS,
      );
      const parentOf = new Map(spans.map((s) => [s.span_id, s.parent_span_id]));
      const depth = (s: { parent_span_id: string }): number => {
        let d = 0;
        let p = s.parent_span_id;
        while (p !== '' && d < 1000) {
          d += 1;
          p = parentOf.get(p) ?? '';
        }
        return d;
      };
      const execution_trace = spans
        .filter((s) => s.parent_span_id !== '')
        .map((s) => ({
          node: s.name,
          span_id: s.span_id,
          parent_span_id: s.parent_span_id,
          service: s.service,
          status: s.status_code === 'error' ? ('failed' as const) : ('completed' as const),
          execution_time_ms: num(s.duration_ns) / 1e6,
          started_at: nsToIso(BigInt(s.start_ns)),
          timestamp: nsToIso(BigInt(s.end_ns)),
          ...(s.status_code === 'error' ? { error: s.status_message } : {}),
          depth: depth(s),
        }));
      return { ...toExecution(summary[0]!), execution_trace, truncated: spans.length >= MAX_EXECUTION_NODES };
    },
  );
};
