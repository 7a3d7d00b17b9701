/**
 * ClickHouse access for the query API: JSONEachRow reads with typed query
 * parameters only. `db` is always bound to the handle's database
 * (`FROM {db:Identifier}.spans`).
 *
 * Errors are classified so that a failure caused by the client's input is
 * never a 5xx (see {@link classifyClickHouseError}).
 */
import type { ClickHouseHandle } from '../platform/clickhouse.js';
import { ValidationError, VigilError } from '../platform/errors.js';

/** Server-side time limit of one API query, seconds (ClickHouse max_execution_time). */
export const QUERY_TIMEOUT_SECONDS = 30;

/**
 * Settings for a lookup of one trace's spans (`WHERE tenant = … AND trace_id = …`).
 *
 * The `trace_summary` projection (migration 0020) carries `_part_offset`, so
 * ClickHouse uses it as an index into the spans table while reading
 * ("projection index", ClickHouse ≥ 25.11). By default it does so only for
 * parts of at least `min_table_rows_to_use_projection_index` = 1,000,000
 * rows, and reads every smaller part whole: at 100M spans a day, one part of
 * 569,174 rows made a lookup read 643,000 rows for the trace's 74,000
 * (9 granules). With 0 every part is narrowed to the granules holding the
 * trace; see bench/README.md, "Trace by id: small parts read whole".
 */
export const TRACE_LOOKUP_SETTINGS: Readonly<Record<string, number>> = Object.freeze({
  min_table_rows_to_use_projection_index: 0,
});

/** ClickHouse error types caused by a parameter value storage cannot take (→ 400 naming it). */
const VALUE_REJECTED = new Set([
  'BAD_QUERY_PARAMETER',
  'DECIMAL_OVERFLOW',
  'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
  'ARGUMENT_OUT_OF_BOUND',
  'CANNOT_PARSE_TEXT',
  'CANNOT_PARSE_NUMBER',
  'CANNOT_PARSE_DATE',
  'CANNOT_PARSE_DATETIME',
  'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
  'CANNOT_PARSE_ESCAPE_SEQUENCE',
  'CANNOT_PARSE_QUOTED_STRING',
  'CANNOT_CONVERT_TYPE',
  'TOO_LARGE_STRING_SIZE',
  'INCORRECT_DATA',
]);

/** Error types meaning the query asked for too much work (→ 400, narrow the query). */
const TOO_EXPENSIVE = new Set(['TIMEOUT_EXCEEDED', 'TOO_MANY_ROWS', 'TOO_MANY_BYTES', 'TOO_MANY_ROWS_OR_BYTES', 'TOO_SLOW']);

/** Error types meaning the server is busy or going away (→ 503, retry). */
const SERVER_BUSY = new Set([
  'TOO_MANY_SIMULTANEOUS_QUERIES',
  'NETWORK_ERROR',
  'SOCKET_TIMEOUT',
  'ALL_CONNECTION_TRIES_FAILED',
  'ABORTED',
  'QUERY_WAS_CANCELLED',
  'TABLE_IS_READ_ONLY',
  'NOT_ENOUGH_SPACE',
]);

/** Internal placeholder names → the public parameter they come from. */
const PARAM_NAMES: Record<string, string> = {
  from: 'from',
  from_s: 'from',
  to: 'to',
  to_s: 'to',
  min_ns: 'min_duration_ms',
  max_ns: 'max_duration_ms',
  cursor_time: 'cursor',
  cursor_key: 'cursor',
  cursor_start: 'cursor',
  cursor_trace: 'cursor',
  limit_plus_one: 'limit',
  max_points_plus_one: 'step',
  step: 'step',
  trace_id: 'trace_id',
  severity: 'severity',
};

/** Network-level failures of the HTTP client (server unreachable or too slow to answer). */
const NETWORK_CODES = /^(ECONNREFUSED|ECONNRESET|ECONNABORTED|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_\w+)$/;

/**
 * Map an error thrown by `client.query()` to the VigilError the API answers with.
 * @returns
 *  - VIGIL_ERR_VALIDATION (400) naming the parameter (when ClickHouse names its
 *    placeholder) for values storage cannot take (parse errors, overflow, out of range);
 *  - VIGIL_ERR_QUERY_TOO_EXPENSIVE (400) when the query hit the time or row limits, or
 *    the per-query memory limit;
 *  - VIGIL_ERR_CLICKHOUSE_UNAVAILABLE (503, Retry-After 5) when ClickHouse cannot be
 *    reached, is overloaded (total memory, too many queries) or is shutting down;
 *  - VIGIL_ERR_CLICKHOUSE_REJECTED (500) for other ClickHouse errors (a bug in Vigil's SQL);
 *  - VIGIL_ERR_INTERNAL (500) for anything else thrown before the query left the process.
 */
export function classifyClickHouseError(err: unknown): VigilError {
  if (err instanceof VigilError) return err;
  const e = (err ?? {}) as { code?: unknown; type?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : '';
  const type = typeof e.type === 'string' ? e.type : undefined;
  if (type !== undefined || (typeof e.code === 'string' && /^\d+$/.test(e.code))) {
    const t = type ?? '';
    if (VALUE_REJECTED.has(t)) {
      const placeholder = /query parameter '([A-Za-z_]\w*)'/.exec(message)?.[1];
      const field = (placeholder !== undefined ? PARAM_NAMES[placeholder] ?? placeholder : undefined) ?? 'query';
      return new ValidationError(field, `value not accepted by storage (${t}); check the parameter's accepted form in /openapi.json`);
    }
    if (TOO_EXPENSIVE.has(t) || (t === 'MEMORY_LIMIT_EXCEEDED' && /for query/i.test(message))) {
      return new VigilError(
        'VIGIL_ERR_QUERY_TOO_EXPENSIVE',
        `the query needs more than the per-query limits (${QUERY_TIMEOUT_SECONDS} s); narrow from/to, add filters or use a larger step`,
        { cause: err },
      );
    }
    if (SERVER_BUSY.has(t) || t === 'MEMORY_LIMIT_EXCEEDED') {
      return new VigilError('VIGIL_ERR_CLICKHOUSE_UNAVAILABLE', 'ClickHouse is busy or unavailable; retry later', { cause: err, retryAfterSeconds: 5 });
    }
    return new VigilError('VIGIL_ERR_CLICKHOUSE_REJECTED', 'ClickHouse rejected the query', { cause: err });
  }
  if ((typeof e.code === 'string' && NETWORK_CODES.test(e.code)) || /timeout|socket hang up|ECONN|connect/i.test(message)) {
    return new VigilError('VIGIL_ERR_CLICKHOUSE_UNAVAILABLE', 'ClickHouse is unavailable; retry later', { cause: err, retryAfterSeconds: 5 });
  }
  return new VigilError('VIGIL_ERR_INTERNAL', 'internal error while querying; see server logs', { cause: err });
}

/**
 * Run a SELECT and return its rows (at most {@link QUERY_TIMEOUT_SECONDS} of server time).
 * @param ch the ClickHouse handle.
 * @param query SQL with `{name:Type}` placeholders (and `{db:Identifier}`).
 * @param params values for the placeholders (db is added); integers beyond 2^53 as strings.
 * @param settings extra ClickHouse settings for this query (e.g. {@link TRACE_LOOKUP_SETTINGS}).
 * @throws VigilError as classified by {@link classifyClickHouseError}.
 */
export async function selectRows<T>(
  ch: ClickHouseHandle,
  query: string,
  params: Record<string, unknown>,
  settings: Readonly<Record<string, number | string>> = {},
): Promise<T[]> {
  try {
    const rs = await ch.client.query({
      query,
      format: 'JSONEachRow',
      query_params: { db: ch.database, ...params },
      clickhouse_settings: { ...settings, max_execution_time: QUERY_TIMEOUT_SECONDS },
    });
    return await rs.json<T>();
  } catch (err) {
    throw classifyClickHouseError(err);
  }
}

/** A 64-bit integer that may arrive as a number (chDB) or string (HTTP) → number. */
export function num(v: unknown): number {
  return v === null || v === undefined ? 0 : Number(v);
}
