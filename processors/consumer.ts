/**
 * Kafka → ClickHouse processor: a kafkajs consumer group over the spans and
 * logs topics.
 *
 * Delivery: at-least-once from Kafka, made effectively-once in ClickHouse by
 * deterministic insert deduplication tokens (processors/writer.ts). Per fetched
 * batch, messages are cut into sub-batches of at most `subBatchSize`; for each:
 *
 *   1. intent: commit the sub-batch's first offset (the position is unchanged)
 *      with metadata `{"vigil":1,"first":F,"last":L}` — a write-ahead record of
 *      the sub-batch boundaries, kept by Kafka with the group's offsets;
 *   2. pool.run → rows; insert spans, span_metrics_1m, logs, each with token
 *      `${topic}-${partition}-${F}-${L}-${table}`; retryable failures are
 *      retried with backoff (platform/retry.ts) until success or stop();
 *   3. rejected messages (malformed JSON, bad envelope or record) and, on a
 *      permanently rejected insert, every message of the sub-batch, go to the
 *      dead-letter topic `<topic>.dlq` (header `vigil-dlq-reason`);
 *   4. `afterInsert` hook (a test/observability seam), resolveOffset(L), commit
 *      L+1 with empty metadata, heartbeat().
 *
 * Cost: two offset commits per sub-batch (intent + done).
 *
 * Why the intent: the token names exact offsets, but a replay after a crash
 * between step 2 and 4 may fetch a batch that ends elsewhere (more data arrived),
 * which would cut different sub-batches and defeat deduplication. On the first
 * batch of a partition after (re)assignment the processor reads the committed
 * offset and its metadata (admin.fetchOffsets); when the committed offset lies
 * inside an intent's range the first sub-batch is cut at exactly its `last` and
 * named by the intent's bounds, so the replayed inserts carry the same tokens
 * and ClickHouse drops them. (Should a fetch hold only part of the range, the
 * commit keeps the intent until its `last` is passed.) (The same
 * technique as ClickHouse Kafka Connect's exactly-once state, kept here in the
 * offset commit metadata instead of KeeperMap.)
 *
 * Offsets are committed only by this code (autoCommit off), so an offset is
 * never committed before the inserts of its messages succeeded.
 * DLQ publishing is at-least-once (a replay may publish a dead letter again).
 */
import { Partitioners, type Admin, type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage, type Producer } from 'kafkajs';
import { ensureTopics } from '../platform/kafka/topics.js';
import { VigilError } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import { retry } from '../platform/retry.js';
import type { WorkerPool } from './pool.js';
import type { Rejected, WorkerItem, WorkerResult } from './worker.js';
import { type ClickHouseWriter, type ProcessorTable, type TableRows } from './writer.js';

/** Where a sub-batch came from; offsets are decimal strings. */
export interface SubBatchInfo {
  topic: string;
  partition: number;
  firstOffset: string;
  lastOffset: string;
}

/** Options of {@link createProcessor}. */
export interface ProcessorOptions {
  kafka: Kafka;
  topics: { spans: string; logs: string };
  groupId: string;
  pool: WorkerPool;
  writer: ClickHouseWriter;
  log: Logger;
  /** DLQ topic name of a source topic (default `${topic}.dlq`). */
  dlqTopic?: (topic: string) => string;
  /** Replication factor of DLQ topics created at start (default 1). */
  dlqReplication?: number;
  /** Most messages per pool.run / insert (default 500). */
  subBatchSize?: number;
  /** Backoff of retryable insert failures, ms (default 100 → 10 000). */
  retry?: { baseMs: number; maxMs: number };
  /** Called after a sub-batch's inserts succeeded, before its offset is resolved/committed. */
  afterInsert?: (info: SubBatchInfo) => void | Promise<void>;
  /** Start from the earliest offset when the group has none (default true). */
  fromBeginning?: boolean;
}

/** A running processor. */
export interface Processor {
  /** Connect, subscribe and start consuming. @throws VigilError VIGIL_ERR_KAFKA_UNAVAILABLE. */
  start(): Promise<void>;
  /** Stop fetching, finish the in-flight sub-batch (or abandon its retries), commit, disconnect. */
  stop(): Promise<void>;
}

const INTENT_VERSION = 1;
/** Header carrying the dead-letter reason. */
export const DLQ_REASON_HEADER = 'vigil-dlq-reason';

interface Intent {
  first: string;
  last: string;
}

function parseIntent(metadata: string | null | undefined): Intent | null {
  if (!metadata) return null;
  try {
    const m = JSON.parse(metadata) as { vigil?: unknown; first?: unknown; last?: unknown };
    if (m.vigil === INTENT_VERSION && typeof m.first === 'string' && typeof m.last === 'string') return { first: m.first, last: m.last };
  } catch {
    // Metadata written by someone else: no intent.
  }
  return null;
}

/** Cut messages into sub-batches; the first ends at `firstLast` when given (intent replay). */
export function cutSubBatches(messages: KafkaMessage[], size: number, firstLast?: string): KafkaMessage[][] {
  const out: KafkaMessage[][] = [];
  let i = 0;
  if (firstLast !== undefined) {
    const end = BigInt(firstLast);
    const head: KafkaMessage[] = [];
    while (i < messages.length && BigInt(messages[i]!.offset) <= end) head.push(messages[i++]!);
    if (head.length > 0) out.push(head);
  }
  for (; i < messages.length; i += size) out.push(messages.slice(i, i + size));
  return out;
}

/**
 * Insert a worker result with tokens `${prefix}-${table}`; retryable failures
 * are retried until success or `signal` aborts.
 * @returns null when everything was inserted, else the permanent VigilError.
 * @throws VigilError VIGIL_ERR_SHUTTING_DOWN when aborted while retrying.
 */
async function insertAll(
  writer: ClickHouseWriter,
  result: WorkerResult,
  tokenPrefix: string,
  opts: { baseMs: number; maxMs: number; signal?: AbortSignal; log?: Logger; deadlineMs?: number },
): Promise<VigilError | null> {
  const parts: { [K in ProcessorTable]: readonly TableRows[K][] } = {
    spans: result.spans,
    span_metrics_1m: result.metrics,
    logs: result.logs,
  };
  for (const table of ['spans', 'span_metrics_1m', 'logs'] as const) {
    const rows = parts[table];
    if (rows.length === 0) continue;
    const token = `${tokenPrefix}-${table}`;
    try {
      await retry(
        async () => {
          const r = await writer.insert(table, rows as never, token);
          if (!r.ok) throw r.error;
        },
        {
          baseMs: opts.baseMs,
          maxMs: opts.maxMs,
          signal: opts.signal,
          deadlineMs: opts.deadlineMs,
          onRetry: (err, attempt, delayMs) => opts.log?.warn({ err, table, attempt, delayMs: Math.round(delayMs) }, 'retrying ClickHouse insert'),
        },
      );
    } catch (err) {
      if (err instanceof VigilError && err.code === 'VIGIL_ERR_CLICKHOUSE_REJECTED') return err;
      throw err;
    }
  }
  return null;
}

/**
 * Embedded (no-Kafka) mode: normalise envelopes in the pool and insert them
 * with tokens `${tokenPrefix}-${table}`.
 * @param envelopes parsed envelopes or raw JSON strings.
 * @returns the rejected envelopes (by index) and row counts.
 * @throws VigilError VIGIL_ERR_CLICKHOUSE_REJECTED (permanent) or
 *   VIGIL_ERR_DEADLINE (ClickHouse still unavailable after ~30 s).
 */
export async function processEnvelopes(
  envelopes: readonly unknown[],
  opts: { pool: WorkerPool; writer: ClickHouseWriter; tokenPrefix: string },
): Promise<{ rejected: Rejected[]; spans: number; logs: number; metrics: number }> {
  const result = await opts.pool.run(envelopes as WorkerItem[]);
  const err = await insertAll(opts.writer, result, opts.tokenPrefix, { baseMs: 100, maxMs: 5_000, deadlineMs: 30_000 });
  if (err) throw err;
  return { rejected: result.rejected, spans: result.spans.length, logs: result.logs.length, metrics: result.metrics.length };
}

/**
 * Create the processor (see module doc). Nothing connects before start().
 */
export function createProcessor(opts: ProcessorOptions): Processor {
  const size = opts.subBatchSize ?? 500;
  const backoff = opts.retry ?? { baseMs: 100, maxMs: 10_000 };
  const dlqOf = opts.dlqTopic ?? ((t: string) => `${t}.dlq`);
  const sourceTopics = [opts.topics.spans, opts.topics.logs];
  const log = opts.log;
  let consumer: Consumer | undefined;
  let producer: Producer | undefined;
  let admin: Admin | undefined;
  let abort = new AbortController();
  /** `${topic}:${partition}` → pending intent (null: none); absent = not read since assignment. */
  const intents = new Map<string, Intent | null>();

  async function readIntent(topic: string, partition: number): Promise<Intent | null> {
    const key = `${topic}:${partition}`;
    if (intents.has(key)) return intents.get(key) ?? null;
    const offsets = await admin!.fetchOffsets({ groupId: opts.groupId, topics: [topic] });
    const p = offsets.find((t) => t.topic === topic)?.partitions.find((x) => x.partition === partition);
    const intent = p ? parseIntent(p.metadata) : null;
    // Valid while the committed position is inside the recorded range.
    const valid = intent && p && BigInt(intent.first) <= BigInt(p.offset) && BigInt(p.offset) <= BigInt(intent.last) ? intent : null;
    intents.set(key, valid);
    return valid;
  }

  async function deadLetter(topic: string, partition: number, messages: KafkaMessage[], reasons: Map<string, string>): Promise<void> {
    if (messages.length === 0) return;
    await producer!.send({
      topic: dlqOf(topic),
      messages: messages.map((m) => ({
        key: m.key,
        value: m.value,
        headers: {
          ...m.headers,
          [DLQ_REASON_HEADER]: reasons.get(m.offset) ?? 'rejected',
          'vigil-dlq-source': `${topic}/${partition}/${m.offset}`,
        },
      })),
    });
  }

  /**
   * One sub-batch. `replay`: the messages lie inside an unfinished intent, whose
   * bounds then name the tokens (so ClickHouse drops what the original insert
   * already wrote, even if this fetch holds only part of the range).
   */
  async function processSub(payload: EachBatchPayload, msgs: KafkaMessage[], plog: Logger, replay: Intent | null): Promise<void> {
    const { topic, partition } = payload.batch;
    const first = replay ? replay.first : msgs[0]!.offset;
    const last = replay ? replay.last : msgs[msgs.length - 1]!.offset;
    const lastHere = msgs[msgs.length - 1]!.offset;
    if (!replay) {
      await consumer!.commitOffsets([{ topic, partition, offset: first, metadata: JSON.stringify({ vigil: INTENT_VERSION, first, last }) }]);
    }
    const items: WorkerItem[] = [];
    const reasons = new Map<string, string>();
    const dead: KafkaMessage[] = [];
    for (const m of msgs) {
      if (m.value === null) {
        reasons.set(m.offset, 'empty message value');
        dead.push(m);
      } else items.push({ offset: m.offset, value: m.value.toString('utf8') });
    }
    const result = await opts.pool.run(items);
    for (const r of result.rejected) reasons.set(r.offset, r.reason);
    const rejectedOffsets = new Set(result.rejected.map((r) => r.offset));
    dead.push(...msgs.filter((m) => rejectedOffsets.has(m.offset)));
    // Tokens: `${tokenPrefix}-${table}` = dedupToken(topic, partition, first, last, table).
    const tokenPrefix = `${topic}-${partition}-${first}-${last}`;
    const permanent = await insertAll(opts.writer, result, tokenPrefix, { ...backoff, signal: abort.signal, log: plog });
    if (permanent) {
      plog.error({ err: permanent, firstOffset: first, lastOffset: last }, 'insert permanently rejected: dead-lettering the sub-batch');
      for (const m of msgs) if (!reasons.has(m.offset)) reasons.set(m.offset, `${permanent.code}: ${permanent.message}`);
      await deadLetter(topic, partition, msgs, reasons);
    } else {
      if (dead.length > 0) plog.warn({ count: dead.length, firstOffset: first, lastOffset: last }, 'dead-lettering rejected messages');
      await deadLetter(topic, partition, dead, reasons);
    }
    await opts.afterInsert?.({ topic, partition, firstOffset: msgs[0]!.offset, lastOffset: lastHere });
    payload.resolveOffset(lastHere);
    // Keep the intent while part of its range is still unprocessed.
    const open = replay !== null && BigInt(lastHere) < BigInt(replay.last);
    const metadata = open ? JSON.stringify({ vigil: INTENT_VERSION, first: replay.first, last: replay.last }) : null;
    await consumer!.commitOffsets([{ topic, partition, offset: (BigInt(lastHere) + 1n).toString(), metadata }]);
    intents.set(`${topic}:${partition}`, open ? replay : null);
    await payload.heartbeat();
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    const plog = log.child({ topic: batch.topic, partition: batch.partition });
    const intent = await readIntent(batch.topic, batch.partition);
    const replayable = intent !== null && BigInt(batch.messages[0]!.offset) <= BigInt(intent.last);
    if (replayable) plog.info({ firstOffset: intent.first, lastOffset: intent.last }, 'replaying an unfinished sub-batch with its original boundaries');
    const subs = cutSubBatches(batch.messages, size, replayable ? intent.last : undefined);
    for (let i = 0; i < subs.length; i++) {
      if (!payload.isRunning() || payload.isStale()) break;
      try {
        await processSub(payload, subs[i]!, plog, replayable && i === 0 ? intent : null);
      } catch (err) {
        if (err instanceof VigilError && err.code === 'VIGIL_ERR_SHUTTING_DOWN') return;
        throw err;
      }
    }
  }

  return {
    async start() {
      abort = new AbortController();
      intents.clear();
      try {
        await ensureTopics(opts.kafka, { topics: sourceTopics.map(dlqOf), partitions: 1, replication: opts.dlqReplication ?? 1 });
        admin = opts.kafka.admin();
        producer = opts.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
        consumer = opts.kafka.consumer({ groupId: opts.groupId, allowAutoTopicCreation: false });
        consumer.on(consumer.events.GROUP_JOIN, (e) => {
          intents.clear();
          log.info({ memberAssignment: e.payload.memberAssignment }, 'joined consumer group');
        });
        await Promise.all([admin.connect(), producer.connect(), consumer.connect()]);
        await consumer.subscribe({ topics: sourceTopics, fromBeginning: opts.fromBeginning ?? true });
        await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch });
      } catch (err) {
        if (err instanceof VigilError) throw err;
        throw new VigilError('VIGIL_ERR_KAFKA_UNAVAILABLE', `processor could not start: ${(err as Error).message}`, { cause: err });
      }
    },
    async stop() {
      abort.abort();
      // consumer.disconnect() stops fetching and waits for the running eachBatch.
      await consumer?.disconnect();
      await Promise.all([producer?.disconnect(), admin?.disconnect()]);
      consumer = producer = admin = undefined;
    },
  };
}
