/**
 * Store one sub-batch in ClickHouse, isolating poison messages.
 *
 * The worker pool turns the sub-batch's messages into rows; each table's rows
 * are inserted with the token `${tokenBase}-${table}` (processors/writer.ts),
 * tables in the order spans → span_metrics_1m → span_user_costs_1m →
 * flag_variant_metrics_1m → logs. Retryable failures are
 * retried with backoff until success or shutdown (platform/retry.ts).
 *
 * A permanent rejection (VIGIL_ERR_CLICKHOUSE_REJECTED: a value ClickHouse
 * cannot store) is bisected: the messages are split in halves, each half is
 * re-run through the pool and inserted from the failing table on, with
 * tokens `${tokenBase}.0` / `${tokenBase}.1` (recursively), until the
 * offending single messages are found. Only those are returned as poison (for
 * the DLQ); every other message of the sub-batch is stored. Tables before the
 * failing one were already inserted for the whole set and are not repeated,
 * so nothing is stored twice. The split is a pure function of the messages
 * and of ClickHouse's (deterministic) answers, so a replay after a crash cuts
 * the same halves and repeats the same tokens: exactly-once still holds.
 *
 * Cost: a poison message among n adds about 2·log2(n) inserts; none without.
 */
import { VigilError } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import type { VigilMetrics } from '../platform/metrics.js';
import { retry } from '../platform/retry.js';
import type { WorkerPool } from './pool.js';
import { removeSpoolFiles } from '../platform/clickhouse.js';
import type { EncodedBody, EncodedResult, RawItem } from './worker.js';
import type { ClickHouseWriter, ProcessorTable } from './writer.js';

/** Insert order of the tables. */
export const TABLE_ORDER: readonly ProcessorTable[] = ['spans', 'span_metrics_1m', 'span_user_costs_1m', 'flag_variant_metrics_1m', 'logs'];

/** A message for the pool: Kafka offset (decimal string) and UTF-8 value (v1), or a version 2 request body with its headers. */
export type OffsetItem = { offset: string; value: string } | RawItem;

/** What {@link storeSubBatch} needs. */
export interface StoreContext {
  pool: WorkerPool;
  writer: ClickHouseWriter;
  log: Logger;
  metrics?: VigilMetrics;
  /** Backoff of retryable insert failures, ms. */
  backoff: { baseMs: number; maxMs: number };
  /** Aborts retries at shutdown (→ VIGIL_ERR_SHUTTING_DOWN). */
  signal?: AbortSignal;
  /** Give up retrying after this long, ms (→ VIGIL_ERR_DEADLINE); default never. */
  deadlineMs?: number;
  /** Reports a retryable insert failure (err) and recovery (null), for readiness. */
  onInsertFailing?: (err: unknown) => void;
  /** Head sampling per tenant for this sub-batch (processors/sampling.ts). */
  keepRatio?: Readonly<Record<string, number>>;
  /** Called while retrying so a long outage does not cost the group membership (kafkajs heartbeat). */
  heartbeat?: () => Promise<void>;
}

/** Outcome: poison messages by offset (reason), and rows stored per table. */
export interface StoreOutcome {
  poison: Map<string, string>;
  rows: Record<ProcessorTable, number>;
}

/**
 * Insert one table's `body` (`count` rows, encoded by a worker thread) into
 * `table`, retrying retryable failures.
 * @returns null on success, the permanent VigilError otherwise.
 * @throws VigilError VIGIL_ERR_SHUTTING_DOWN / VIGIL_ERR_DEADLINE from the retry.
 */
async function insertTable(ctx: StoreContext, table: ProcessorTable, body: EncodedBody, count: number, token: string): Promise<VigilError | null> {
  let failing = false;
  try {
    await retry(
      async () => {
        const t0 = performance.now();
        const r = await ctx.writer.insertEncoded(table, body, token);
        if (!r.ok) {
          ctx.metrics?.insertFailures.inc({ table, kind: r.retryable ? 'retryable' : 'permanent' });
          throw r.error;
        }
        ctx.metrics?.insertDuration.observe({ table }, (performance.now() - t0) / 1000);
        ctx.metrics?.insertRows.inc({ table }, count);
      },
      {
        ...ctx.backoff,
        signal: ctx.signal,
        deadlineMs: ctx.deadlineMs,
        onRetry: (err, attempt, delayMs) => {
          failing = true;
          ctx.onInsertFailing?.(err);
          ctx.heartbeat?.().catch(() => undefined);
          ctx.log.warn({ err, table, attempt, delayMs: Math.round(delayMs) }, 'retrying ClickHouse insert');
        },
      },
    );
    if (failing) ctx.log.info({ table }, 'ClickHouse insert succeeded again');
    ctx.onInsertFailing?.(null);
    return null;
  } catch (err) {
    if (err instanceof VigilError && err.code === 'VIGIL_ERR_CLICKHOUSE_REJECTED') {
      ctx.onInsertFailing?.(null);
      return err;
    }
    throw err;
  }
}

/**
 * Store the messages (see module doc).
 * @param items messages with their offsets, in offset order.
 * @param tokenBase e.g. `${topic}-${partition}-${first}-${last}`.
 * @param fromTable index in {@link TABLE_ORDER} to start at (bisection).
 * @throws VigilError VIGIL_ERR_SHUTTING_DOWN (stop while retrying), VIGIL_ERR_DEADLINE,
 *   VIGIL_ERR_INTERNAL (worker failure), VIGIL_ERR_OVERLOADED (pool queue full).
 */
export async function storeSubBatch(ctx: StoreContext, items: readonly OffsetItem[], tokenBase: string, fromTable = 0): Promise<StoreOutcome> {
  const out: StoreOutcome = { poison: new Map(), rows: { spans: 0, span_metrics_1m: 0, span_user_costs_1m: 0, flag_variant_metrics_1m: 0, logs: 0 } };
  if (items.length === 0) return out;
  // The worker threads build and encode the rows (chDB: into spool files); the main thread only hands them over.
  const result = await ctx.pool.runEncoded(items, ctx.keepRatio === undefined ? undefined : { keepRatio: ctx.keepRatio });
  try {
    return await insertResult(ctx, items, tokenBase, fromTable, result, out);
  } finally {
    await removeSpoolFiles(result.bodies);
  }
}

/** The inserts of one pool result, from table `fromTable` on (see {@link storeSubBatch}). */
async function insertResult(ctx: StoreContext, items: readonly OffsetItem[], tokenBase: string, fromTable: number, result: EncodedResult, out: StoreOutcome): Promise<StoreOutcome> {
  for (const r of result.rejected) out.poison.set(r.offset, r.reason);
  for (let t = fromTable; t < TABLE_ORDER.length; t++) {
    const table = TABLE_ORDER[t]!;
    const count = result.counts[table];
    if (count === 0) continue;
    const err = await insertTable(ctx, table, result.bodies[table], count, `${tokenBase}-${table}`);
    if (err === null) {
      out.rows[table] += count;
      continue;
    }
    const good = items.filter((i) => !out.poison.has(i.offset));
    if (good.length <= 1) {
      for (const i of good) out.poison.set(i.offset, `${err.code} (table ${table}): ${err.message}`);
      return out;
    }
    ctx.metrics?.bisections.inc();
    ctx.log.warn({ err, table, messages: good.length, tokenBase }, 'insert permanently rejected: bisecting to isolate the offending messages');
    const half = Math.ceil(good.length / 2);
    const parts = [good.slice(0, half), good.slice(half)];
    for (let p = 0; p < parts.length; p++) {
      const sub = await storeSubBatch(ctx, parts[p]!, `${tokenBase}.${p}`, t);
      for (const [o, reason] of sub.poison) out.poison.set(o, reason);
      for (const k of TABLE_ORDER) out.rows[k] += sub.rows[k];
    }
    return out;
  }
  return out;
}
