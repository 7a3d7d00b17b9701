/**
 * SQL of the trace list (GET /api/v1/traces, query-api/routes/traces.ts).
 *
 * A trace is listed when one of its spans starts in the window [from, to) and
 * matches every span filter; its summary (start, duration, counts, services,
 * root, cost, tokens) covers **all** its spans, any time. Rows come back in
 * (sort key, trace_id) order, strictly after the cursor, limit + 1 of them
 * (the extra one says whether a next page exists).
 *
 * Two ways to the same rows:
 * - {@link singleQueryRows}: one query, `trace_id IN (every matching trace of
 *   the window)` over every span of the tenant. Exact for every sort, but it
 *   reads the trace_id column of the whole tenant (4.8 s at 100M spans).
 * - {@link listTraceRows}: for sort=start_time desc (the default), a bounded
 *   candidate search near the end of the window, then the summaries of only
 *   those candidates (from the trace_summary projection, migration 0020),
 *   with a proof that they hold the true first page; when the proof does not
 *   go through it widens the search, and falls back to the single query.
 *   Other sorts and orders use the single query (see listTraceRows).
 */
import type { ClickHouseHandle } from '../platform/clickhouse.js';
import { nsToClickHouse } from '../schemas/time.js';
import { selectRows } from './clickhouse.js';
import type { CursorKey } from './cursor.js';
import { attributeFilters } from './filters.js';
import type { TraceListQuery } from './routes/traces.schemas.js';

/** One trace summary row as ClickHouse returns it (JSONEachRow). */
export interface SummaryRow {
  trace_id: string;
  /** Earliest / latest span start / end, ns since epoch as decimal strings. */
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

/** What a list request asks for: tenant, parsed query, window (ns, [from, to)) and the decoded cursor. */
export interface TraceListArgs {
  tenant: string;
  q: TraceListQuery;
  from: bigint;
  to: bigint;
  cursor?: CursorKey;
}

/** How a list answer was found (for tests and the benchmark). */
export interface TraceListPlan {
  /** 'candidates': the bounded search proved its page; 'single': the single query answered. */
  method: 'candidates' | 'single';
  /** Candidate queries run (0 for the single query path). */
  rounds: number;
}

/**
 * WHERE conditions (beyond tenant and window) for the span filters.
 * @returns SQL fragments using only typed placeholders, and their values.
 */
export function spanFilters(q: TraceListQuery): { sql: string[]; params: Record<string, unknown> } {
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

const WINDOW = ["start_time >= {from:DateTime64(9, 'UTC')}", "start_time < {to:DateTime64(9, 'UTC')}"];

/**
 * Summaries of the traces `traceSet` selects (an SQL set: a subquery or a
 * typed array placeholder), over all their spans (any time), strictly after
 * the cursor in (sort key, trace_id) order, limit + 1 rows. Reads only
 * columns of the `trace_summary` projection (migration 0020), so that
 * ClickHouse answers it from the projection, sorted by trace id, instead of
 * the table's granules (tests/query-api/trace-list.test.ts checks the plan).
 * Placeholders: db, tenant, limit_plus_one, and cursor_sk / cursor_trace with
 * a cursor, plus those of `traceSet`.
 */
export function summarySql(traceSet: string, withCursor: boolean, sort: TraceListQuery['sort'], order: TraceListQuery['order']): string {
  const sk = SORT_KEYS[sort];
  const dir = order === 'asc' ? 'ASC' : 'DESC';
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
  AND trace_id IN ${traceSet}
GROUP BY trace_id
${withCursor ? `HAVING (${sk}, trace_id) ${order === 'asc' ? '>' : '<'} ({cursor_sk:Int64}, {cursor_trace:String})` : ''}
ORDER BY ${sk} ${dir}, trace_id ${dir}
LIMIT {limit_plus_one:UInt32}`;
}

/** Parameters every list query shares: filters, tenant, window, limit + 1, cursor. */
function baseParams(a: TraceListArgs, filterParams: Record<string, unknown>): Record<string, unknown> {
  return {
    ...filterParams,
    tenant: a.tenant,
    from: nsToClickHouse(a.from),
    to: nsToClickHouse(a.to),
    limit_plus_one: a.q.limit + 1,
    ...(a.cursor && { cursor_sk: a.cursor.ns.toString(), cursor_trace: a.cursor.tie }),
  };
}

/**
 * The list in one query (the API's answer before the candidate search, and
 * its fallback): every trace with a matching span in the window, summarised
 * over all its spans. Any sort and order.
 * @returns up to limit + 1 summary rows in list order.
 */
export async function singleQueryRows(ch: ClickHouseHandle, a: TraceListArgs): Promise<SummaryRow[]> {
  const f = spanFilters(a.q);
  const where = ['tenant = {tenant:String}', ...WINDOW, ...f.sql].join(' AND ');
  const sql = summarySql(`(SELECT DISTINCT trace_id FROM {db:Identifier}.spans WHERE ${where})`, a.cursor !== undefined, a.q.sort, a.q.order);
  return selectRows<SummaryRow>(ch, sql, baseParams(a, f.params));
}

/** First candidate sub-window, ns before min(to, cursor start): one minute. */
const FIRST_SPAN_NS = 60_000_000_000n;
/** Sub-window growth when it held too few candidates. */
const SPAN_GROWTH = 8n;
/** Candidates beyond limit + 1 asked for in the first round (traces that began before the sub-window, ties). */
const EXTRA_CANDIDATES = 8;
/** Candidate queries before giving up on the bound and asking the single query. */
const MAX_ROUNDS = 6;
/** Most candidates summarised by id (beyond, the single query is about as cheap). */
const MAX_CANDIDATES = 2_000;

/**
 * Candidate query: the traces with a matching span in [lo, to) — and, with a
 * cursor, also a span of any kind in [lo, cursor start] — each with
 * x = the earliest start of its spans in [lo, to) that the query saw
 * (matching ones without a cursor, all with one), newest x first, k rows.
 */
function candidateSql(filters: string[], withCursor: boolean): string {
  const lo = "start_time >= {lo:DateTime64(9, 'UTC')}";
  const to = "start_time < {to:DateTime64(9, 'UTC')}";
  if (!withCursor) {
    return `
SELECT trace_id, ${ns('min(start_time)')} AS x
FROM {db:Identifier}.spans
WHERE ${['tenant = {tenant:String}', lo, to, ...filters].join(' AND ')}
GROUP BY trace_id
ORDER BY min(start_time) DESC, trace_id DESC
LIMIT {k:UInt32}`;
  }
  const match = filters.length > 0 ? `countIf(${filters.join(' AND ')}) > 0 AND ` : '';
  return `
SELECT trace_id, ${ns('min(start_time)')} AS x
FROM {db:Identifier}.spans
WHERE ${['tenant = {tenant:String}', lo, to].join(' AND ')}
GROUP BY trace_id
HAVING ${match}countIf(start_time <= {cursor_start:DateTime64(9, 'UTC')}) > 0
ORDER BY min(start_time) DESC, trace_id DESC
LIMIT {k:UInt32}`;
}

/**
 * The trace list rows (limit + 1, in list order), the same as
 * {@link singleQueryRows} returns, and how they were found.
 *
 * sort=start_time, order=desc — candidate search. Notation: T = the traces
 * the page may hold (a matching span in [from, to), key (S, trace_id) below
 * the cursor c = (cs, cid)), S(t) = a trace's true start (earliest span, any
 * time), N = limit + 1. Round r picks lo ≥ from and runs {@link candidateSql}
 * over [lo, to): A = traces with a matching span in [lo, to) and (with a
 * cursor) any span in [lo, cs]; C = the top k of A by (x, trace_id). Then the
 * summaries of C (all spans, any time) are ranked by (S, trace_id) after the
 * cursor, N rows. Claim: every t ∈ T \ C has S(t) ≤ b, where b = x of the
 * k-th candidate when k rows came back, else lo − 1 ns. Proof: (1) t ∈ T \ A:
 * either t has no matching span in [lo, to) — its matching span lies in
 * [from, lo), so S(t) < lo — or (cursor) no span in [lo, cs], while S(t) ≤ cs
 * (t is below the cursor), so S(t) < lo. (2) t ∈ A \ C: x(t) ≤ x_k, and x(t)
 * is the start of one of t's spans, so S(t) ≤ x(t) ≤ x_k. Hence when the
 * N-th summary row has S > b, no trace outside C can enter the page (ties on
 * S included, as S > b is strict) and the rows equal the single query's. Also
 * exact without a cursor when lo = from and fewer than k came back: then
 * A = C = every trace with a matching span in the window. Otherwise widen:
 * k ×4 when k rows came back (b was x_k), else lo moves back ×8 further; at
 * lo = from with a cursor (traces that began before the window and whose
 * window spans all lie after cs stay unseen), after MAX_ROUNDS, or beyond
 * MAX_CANDIDATES, the single query answers.
 *
 * Other sorts and order=asc use the single query: for asc, a trace that began
 * before the window ranks first, and nothing bounds how early it began short
 * of reading every earlier span; duration and cost have no bound from a time
 * range at all.
 *
 * Cost (100M spans/day, bench:query, bench/README.md): a candidate query
 * reads about one granule per (service, operation) near `to` (~45 ms); the
 * summaries read a granule of 256 rows per candidate and part from the
 * trace_summary projection (~35–80 ms for 59 ids; 110–130 ms when they read
 * the table's granules of 8,192 rows through trace_lookup); the page 60–100 ms
 * through the API, against ~5.7 s for the single query.
 */
export async function listTraceRows(ch: ClickHouseHandle, a: TraceListArgs): Promise<{ rows: SummaryRow[]; plan: TraceListPlan }> {
  if (a.q.sort !== 'start_time' || a.q.order !== 'desc') return { rows: await singleQueryRows(ch, a), plan: { method: 'single', rounds: 0 } };
  const n = a.q.limit + 1;
  const f = spanFilters(a.q);
  const params = baseParams(a, f.params);
  const withCursor = a.cursor !== undefined;
  const top = withCursor && a.cursor!.ns < a.to ? a.cursor!.ns : a.to;
  let span = FIRST_SPAN_NS;
  let k = n + EXTRA_CANDIDATES;
  const candSql = candidateSql(f.sql, withCursor);
  const sumSql = summarySql('{ids:Array(String)}', withCursor, 'start_time', 'desc');
  let round = 0;
  while (round < MAX_ROUNDS && k <= MAX_CANDIDATES) {
    round++;
    const lo = top - span > a.from ? top - span : a.from;
    const cands = await selectRows<{ trace_id: string; x: string }>(ch, candSql, {
      ...params,
      lo: nsToClickHouse(lo),
      k,
      ...(withCursor && { cursor_start: nsToClickHouse(a.cursor!.ns) }),
    });
    const full = cands.length === k;
    const all = !withCursor && lo === a.from && !full;
    if (cands.length >= n || all) {
      const rows = cands.length === 0 ? [] : await selectRows<SummaryRow>(ch, sumSql, { ...params, ids: cands.map((c) => c.trace_id) });
      const b = full ? BigInt(cands[k - 1]!.x) : lo - 1n;
      if (all || (rows.length === n && BigInt(rows[n - 1]!.start_ns) > b)) return { rows, plan: { method: 'candidates', rounds: round } };
    }
    if (full) k *= 4;
    else if (lo > a.from) span *= SPAN_GROWTH;
    else break; // lo = from with a cursor: traces begun before the window may be unseen
  }
  return { rows: await singleQueryRows(ch, a), plan: { method: 'single', rounds: round } };
}
