/**
 * ClickHouse access for the query API: JSONEachRow reads with typed query
 * parameters only. `db` is always bound to the handle's database
 * (`FROM {db:Identifier}.spans`).
 */
import type { ClickHouseHandle } from '../platform/clickhouse.js';
import { VigilError } from '../platform/errors.js';

/** Server-side time limit of one API query, seconds (ClickHouse max_execution_time). */
export const QUERY_TIMEOUT_SECONDS = 30;

/**
 * Run a SELECT and return its rows (at most {@link QUERY_TIMEOUT_SECONDS} of server time).
 * @param ch the ClickHouse handle.
 * @param query SQL with `{name:Type}` placeholders (and `{db:Identifier}`).
 * @param params values for the placeholders (db is added).
 * @throws VigilError VIGIL_ERR_CLICKHOUSE_REJECTED when ClickHouse rejects the query,
 *   VIGIL_ERR_CLICKHOUSE_UNAVAILABLE (503, retryable) when it cannot be reached.
 */
export async function selectRows<T>(
  ch: ClickHouseHandle,
  query: string,
  params: Record<string, unknown>,
): Promise<T[]> {
  try {
    const rs = await ch.client.query({
      query,
      format: 'JSONEachRow',
      query_params: { db: ch.database, ...params },
      clickhouse_settings: { max_execution_time: QUERY_TIMEOUT_SECONDS },
    });
    return await rs.json<T>();
  } catch (err) {
    const e = err as { code?: unknown; type?: unknown };
    if (typeof e.type === 'string' || (typeof e.code === 'string' && /^\d+$/.test(e.code))) {
      throw new VigilError('VIGIL_ERR_CLICKHOUSE_REJECTED', 'ClickHouse rejected the query', { cause: err });
    }
    throw new VigilError('VIGIL_ERR_CLICKHOUSE_UNAVAILABLE', 'ClickHouse is unavailable; retry later', {
      cause: err,
      retryAfterSeconds: 5,
    });
  }
}

/** A 64-bit integer that may arrive as a number (chDB) or string (HTTP) → number. */
export function num(v: unknown): number {
  return v === null || v === undefined ? 0 : Number(v);
}
