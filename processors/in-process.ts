/**
 * Embedded mode without Kafka: ingest hands envelopes straight to the pool
 * and the ClickHouse writer (processors/store.ts does the work).
 */
import type { Logger } from '../platform/logger.js';
import { pino } from 'pino';
import type { WorkerPool } from './pool.js';
import type { Rejected } from './worker.js';
import { storeSubBatch } from './store.js';
import type { ClickHouseWriter } from './writer.js';

const silent: Logger = pino({ level: 'silent' });

/**
 * Normalise envelopes in the pool and insert them with tokens `${tokenPrefix}-${table}`.
 * @param envelopes parsed envelopes or raw JSON strings.
 * @returns the envelopes that could not be stored (by index, with reason; there is
 *   no DLQ without Kafka, the caller logs and counts them) and row counts.
 * @throws VigilError VIGIL_ERR_DEADLINE (ClickHouse still unavailable after ~30 s).
 */
export async function processEnvelopes(
  envelopes: readonly unknown[],
  opts: { pool: WorkerPool; writer: ClickHouseWriter; tokenPrefix: string; log?: Logger },
): Promise<{ rejected: Rejected[]; spans: number; logs: number; metrics: number }> {
  const items = envelopes.map((e, i) => ({ offset: String(i), value: typeof e === 'string' ? e : JSON.stringify(e) }));
  const out = await storeSubBatch(
    { pool: opts.pool, writer: opts.writer, log: opts.log ?? silent, backoff: { baseMs: 100, maxMs: 5_000 }, deadlineMs: 30_000 },
    items,
    opts.tokenPrefix,
  );
  return {
    rejected: [...out.poison].map(([offset, reason]) => ({ offset, reason })),
    spans: out.rows.spans,
    logs: out.rows.logs,
    metrics: out.rows.span_metrics_1m,
  };
}
