/**
 * ClickHouse writer for processor output: one idempotent insert per (table,
 * sub-batch), of rows the worker threads encoded (Native or JSONEachRow).
 *
 * Idempotency: every insert carries `insert_deduplication_token`; the tables set
 * `non_replicated_deduplication_window` (migrations/clickhouse), so a second
 * insert with the same token (a replay after a crash between insert and offset
 * commit) is dropped by ClickHouse. Tokens are deterministic — see
 * {@link dedupToken}.
 *
 * Errors are classified by code, never by message text ({@link classifyClickHouseError}).
 */
import type { ClickHouseHandle, InsertBody } from '../platform/clickhouse.js';
import { VigilError } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import type { FlagVariantMetricRow, LogRow, SpanMetricRow, SpanRow, SpanUserCostRow } from '../schemas/rows.js';

/** Tables the processors write. */
export type ProcessorTable = 'spans' | 'logs' | 'span_metrics_1m' | 'span_user_costs_1m' | 'flag_variant_metrics_1m';

/** Row type per table. */
export interface TableRows {
  spans: SpanRow;
  logs: LogRow;
  span_metrics_1m: SpanMetricRow;
  span_user_costs_1m: SpanUserCostRow;
  flag_variant_metrics_1m: FlagVariantMetricRow;
}

/** Outcome of one insert. `retryable`: the same insert may succeed later. */
export type WriteResult = { ok: true } | { ok: false; retryable: boolean; error: VigilError };

/** The writer. */
export interface ClickHouseWriter {
  /**
   * Insert rows into `{database}.{table}` (JSONEachRow) with a dedup token.
   * Empty `rows` succeed without a round trip. Never throws.
   */
  insert<T extends ProcessorTable>(table: T, rows: readonly TableRows[T][], dedupToken: string): Promise<WriteResult>;
  /**
   * Insert rows already encoded by the worker threads (a Native block or
   * JSONEachRow text, platform/clickhouse.ts InsertBody) with a dedup token;
   * the main thread only hands the bytes over (insertRaw). An empty body
   * succeeds without a round trip. Never throws.
   */
  insertEncoded(table: ProcessorTable, body: InsertBody, dedupToken: string): Promise<WriteResult>;
}

/**
 * Deterministic insert deduplication token of a Kafka sub-batch:
 * `${topic}-${partition}-${firstOffset}-${lastOffset}-${table}`.
 */
export function dedupToken(topic: string, partition: number, firstOffset: string, lastOffset: string, table: ProcessorTable): string {
  return `${topic}-${partition}-${firstOffset}-${lastOffset}-${table}`;
}

/**
 * ClickHouse server error codes (src/Common/ErrorCodes.cpp) after which the
 * same insert can succeed later: overload, timeouts, network, read-only or
 * memory pressure, merges behind (TOO_MANY_PARTS), unknown insert status.
 */
export const RETRYABLE_CLICKHOUSE_CODES: ReadonlySet<number> = new Set([
  159, // TIMEOUT_EXCEEDED
  160, // TOO_SLOW
  164, // READONLY
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  203, // NO_FREE_CONNECTION
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  225, // NO_ZOOKEEPER
  236, // ABORTED
  241, // MEMORY_LIMIT_EXCEEDED
  242, // TABLE_IS_READ_ONLY
  252, // TOO_MANY_PARTS
  285, // TOO_FEW_LIVE_REPLICAS
  319, // UNKNOWN_STATUS_OF_INSERT
  394, // QUERY_WAS_CANCELLED
  425, // SYSTEM_ERROR
  439, // CANNOT_SCHEDULE_TASK
  473, // DEADLOCK_AVOIDED
  999, // KEEPER_EXCEPTION
  1000, // POCO_EXCEPTION (network layer)
]);

/**
 * Classify an error from @clickhouse/client or chDB (which maps its errors to
 * the client's ClickHouseError with the same numeric `code`).
 * - numeric `code` (ClickHouse server code): retryable iff in
 *   {@link RETRYABLE_CLICKHOUSE_CODES}; otherwise permanent (syntax, type,
 *   parse, unknown table...) → VIGIL_ERR_CLICKHOUSE_REJECTED;
 * - a Node system / undici error code (ECONNREFUSED, ECONNRESET, ETIMEDOUT,
 *   EPIPE, UND_ERR_*...) → retryable VIGIL_ERR_CLICKHOUSE_UNAVAILABLE;
 * - no code at all (e.g. the client's request timeout) → retryable: a transport
 *   failure whose outcome is unknown; the dedup token makes the retry safe.
 */
export function classifyClickHouseError(err: unknown): { retryable: boolean; error: VigilError } {
  if (err instanceof VigilError) return { retryable: err.retryable, error: err };
  const code = (err as { code?: unknown } | null)?.code;
  const type = (err as { type?: unknown } | null)?.type;
  const numeric = typeof code === 'string' && /^\d+$/.test(code) ? Number(code) : typeof code === 'number' ? code : undefined;
  if (numeric !== undefined) {
    const name = typeof type === 'string' ? ` ${type}` : '';
    if (RETRYABLE_CLICKHOUSE_CODES.has(numeric)) {
      return { retryable: true, error: new VigilError('VIGIL_ERR_CLICKHOUSE_UNAVAILABLE', `ClickHouse insert failed temporarily (code ${numeric}${name})`, { cause: err }) };
    }
    return { retryable: false, error: new VigilError('VIGIL_ERR_CLICKHOUSE_REJECTED', `ClickHouse rejected the insert (code ${numeric}${name})`, { cause: err }) };
  }
  const what = typeof code === 'string' ? ` (${code})` : '';
  return { retryable: true, error: new VigilError('VIGIL_ERR_CLICKHOUSE_UNAVAILABLE', `ClickHouse unreachable${what}`, { cause: err }) };
}

/** Options of {@link createClickHouseWriter}. */
export interface WriterOptions {
  clickhouse: ClickHouseHandle;
  log: Logger;
}

/** Create the writer over a ClickHouse handle (chDB or HTTP). */
export function createClickHouseWriter(opts: WriterOptions): ClickHouseWriter {
  const { client, database } = opts.clickhouse;
  const log = opts.log.child({ component: 'clickhouse-writer' });
  return {
    async insertEncoded(table, body, token) {
      if ((body.format === 'NativeFiles' ? body.bytes : body.data.length) === 0) return { ok: true };
      try {
        await opts.clickhouse.insertRaw(table, body, { insert_deduplicate: 1, insert_deduplication_token: token });
        return { ok: true };
      } catch (err) {
        const c = classifyClickHouseError(err);
        log.debug({ err, table, token, retryable: c.retryable }, 'insert failed');
        return { ok: false, ...c };
      }
    },
    async insert(table, rows, token) {
      if (rows.length === 0) return { ok: true };
      try {
        await client.insert({
          table: `${database}.${table}`,
          values: rows as unknown[],
          format: 'JSONEachRow',
          clickhouse_settings: { insert_deduplicate: 1, insert_deduplication_token: token },
        });
        return { ok: true };
      } catch (err) {
        const c = classifyClickHouseError(err);
        log.debug({ err, table, token, retryable: c.retryable }, 'insert failed');
        return { ok: false, ...c };
      }
    },
  };
}
