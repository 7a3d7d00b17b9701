/**
 * Kafka → ClickHouse processor: a kafkajs consumer group over the spans and
 * logs topics, several partitions in flight (`partitionsConsumedConcurrently`),
 * each partition in offset order.
 *
 * Delivery: at-least-once from Kafka, made effectively-once in ClickHouse by
 * deterministic insert deduplication tokens (processors/writer.ts). Per fetched
 * batch, messages are cut into sub-batches of at most `subBatchSize`; for each:
 *
 *   1. intent: commit the sub-batch's first offset (the position is unchanged)
 *      with metadata `{"vigil":1,"first":F,"last":L}` (processors/intent.ts);
 *   2. store: pool → rows → inserts with tokens `${topic}-${partition}-${F}-${L}-${table}`,
 *      retryable failures retried with backoff until success or stop(); a
 *      permanent rejection is bisected down to the offending messages
 *      (processors/store.ts) so the rest of the sub-batch is stored;
 *   3. dead letters: messages the worker rejected (not JSON, bad envelope,
 *      unstorable record) and the isolated poison messages go to `<topic>.dlq`
 *      (processors/dlq.ts: bounded size, retried until acknowledged);
 *   4. `afterInsert` hook, resolveOffset(L), commit L+1, heartbeat().
 * An offset is never committed before its messages are stored or
 * dead-lettered (autoCommit off). If the DLQ cannot be written the partition
 * waits and retries; it is never skipped.
 *
 * Supervision: kafkajs restarts the member itself after retriable crashes;
 * after a non-retriable one (it would stay stopped) this module restarts it
 * with backoff (1 s doubling to 30 s). {@link Processor.health} reports the
 * state for /readyz: not ready while (re)starting, while inserts are failing
 * and being retried, or while dead letters cannot be written — with the reason.
 */
import { Partitioners, type Admin, type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage, type Producer } from 'kafkajs';
import { ensureTopics } from '../platform/kafka/topics.js';
import { VigilError } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import type { VigilMetrics } from '../platform/metrics.js';
import { createDeadLetterWriter, type DeadLetter, type DeadLetterWriter } from './dlq.js';
import { cutSubBatches, intentMetadata, parseIntent, type Intent } from './intent.js';
import type { WorkerPool } from './pool.js';
import { storeSubBatch, type OffsetItem } from './store.js';
import { parseRawHeaders, type RawMessageMeta } from '../schemas/envelope.js';
import type { ClickHouseWriter } from './writer.js';

export { DLQ_REASON_HEADER, DLQ_SOURCE_HEADER, DLQ_PAYLOAD_HEADER } from './dlq.js';
export { cutSubBatches } from './intent.js';
export { processEnvelopes } from './in-process.js';

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
  metrics?: VigilMetrics;
  /** DLQ topic name of a source topic (default `${topic}.dlq`). */
  dlqTopic?: (topic: string) => string;
  /** Replication factor of DLQ topics created at start (default 1). */
  dlqReplication?: number;
  /** Most messages per pool.run / insert (default 2,000). */
  subBatchSize?: number;
  /**
   * Most bytes of (decompressed) message values per sub-batch (default
   * 32 MiB: ~30,000 spans of OTLP protobuf). Bounds the memory of a sub-batch
   * in flight — its messages and their Native blocks (~2.3× the protobuf;
   * the worker keeps only one block's rows at a time) — while letting a
   * loaded processor insert tens of thousands of rows at a time: insert and
   * merge CPU per span row is ~70 µs at 3,000 rows per insert, ~42 at
   * 10,000 and ~13 at 30,000 (bench/README.md, "Fewer, larger inserts").
   */
  subBatchBytes?: number;
  /** Partitions processed at once (default 3). */
  concurrency?: number;
  /** Called after each sub-batch's offsets are committed, with its message count (platform/storage-backlog.ts). */
  onProcessed?: (messages: number) => void;
  /**
   * Fetch sizing. Bigger fetches make bigger sub-batches, hence fewer and
   * bigger ClickHouse inserts: measured (bench/README.md, "Insert size"),
   * each insert costs tens of ms of fixed CPU in chDB (parts, dedup, the
   * rollup materialized views), so 1,000-row inserts cost ~2.5× the CPU per
   * row of 20,000-row ones. `minBytes`: the broker holds a fetch until this
   * much data is there or `maxWaitMs` passed (adds at most `maxWaitMs` to
   * ack→queryable at low rates); `partitionBytes`: most bytes per partition
   * per fetch (kafkajs maxBytesPerPartition; the whole fetch is bounded by
   * partitionBytes × concurrency). Sizes are of the fetched (compressed)
   * record batches: OTLP compresses 5–17×, so 2 MiB per partition can hold
   * 10–35 MiB of messages. Defaults 1 MiB, 150 ms, 2 MiB: at 10,000 spans/s
   * a 400 ms wait made the fetch → insert cycle the largest part of
   * ack→queryable (p99 1.9–2.3 s; 150 ms: 1.3–1.4 s, for ~4 % more CPU per
   * span from smaller inserts; at 20,000 spans/s no difference in CPU or
   * stored spans/s; bench/README.md, "The typed-map copies dropped").
   */
  fetch?: { minBytes: number; maxWaitMs: number; partitionBytes: number };
  /** Largest dead letter, bytes (default 1 000 000). */
  maxMessageBytes?: number;
  /** Backoff of retryable insert and DLQ failures, ms (default 100 → 10 000). */
  retry?: { baseMs: number; maxMs: number };
  /** Backoff of member restarts after a crash, ms (default 1 000 → 30 000). */
  restart?: { baseMs: number; maxMs: number };
  /** Called after a sub-batch's inserts succeeded, before its offset is resolved/committed. */
  afterInsert?: (info: SubBatchInfo) => void | Promise<void>;
  /** Start from the earliest offset when the group has none (default true). */
  fromBeginning?: boolean;
  /** Fraction of traces to store per tenant (flag vigil.sampling.keep_ratio); default: all. */
  keepRatio?: (tenant: string) => Promise<number>;
}

/** How long one dead-letter publish attempt may retry before the partition is paused, ms. */
const DLQ_ATTEMPT_MS = 3_000;

/** Readiness of the processor. */
export interface ProcessorHealth {
  ok: boolean;
  state: 'idle' | 'starting' | 'running' | 'restarting' | 'stopped';
  /** Why not ok (or the last trouble), for /readyz. */
  reason?: string;
}

/** A running processor. */
export interface Processor {
  /** Connect, subscribe and start consuming. @throws VigilError VIGIL_ERR_KAFKA_UNAVAILABLE. */
  start(): Promise<void>;
  /** Stop fetching, finish the in-flight sub-batches (or abandon their retries), commit, disconnect. */
  stop(): Promise<void>;
  /** Current readiness (see module doc). */
  health(): ProcessorHealth;
  /**
   * How far the slowest partition is behind, ms: now minus the Kafka
   * timestamp of the last message processed on a partition that was behind
   * its high watermark then (0 when every partition had caught up). Grows
   * while a partition makes no progress.
   */
  lagMs(): number;
}

function errText(err: unknown): string {
  if (err instanceof VigilError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Create the processor (see module doc). Nothing connects before start().
 */
export function createProcessor(opts: ProcessorOptions): Processor {
  const size = opts.subBatchSize ?? 2_000;
  const backoff = opts.retry ?? { baseMs: 100, maxMs: 10_000 };
  const restartBackoff = opts.restart ?? { baseMs: 1_000, maxMs: 30_000 };
  const dlqOf = opts.dlqTopic ?? ((t: string) => `${t}.dlq`);
  const sourceTopics = [opts.topics.spans, opts.topics.logs];
  const log = opts.log;
  const metrics = opts.metrics;
  let consumer: Consumer | undefined;
  let producer: Producer | undefined;
  let admin: Admin | undefined;
  let dlq: DeadLetterWriter | undefined;
  let abort = new AbortController();
  let state: ProcessorHealth['state'] = 'idle';
  let crashReason: string | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let restarts = 0;
  /** Partitions whose inserts / dead letters are failing now → reason. */
  const insertFailing = new Map<string, string>();
  const dlqFailing = new Map<string, string>();
  /** Partitions paused because their dead letters could not be written → attempts. */
  const blocked = new Map<string, number>();
  /** `${topic}:${partition}` → Kafka timestamp (ms) of its last processed message, while it was behind its high watermark. */
  const behindSince = new Map<string, number>();
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

  /**
   * One sub-batch. `replay`: the messages lie inside an unfinished intent, whose
   * bounds then name the tokens (so ClickHouse drops what the original insert
   * already wrote, even if this fetch holds only part of the range).
   */
  async function processSub(payload: EachBatchPayload, msgs: KafkaMessage[], plog: Logger, replay: Intent | null): Promise<void> {
    const { topic, partition } = payload.batch;
    const key = `${topic}:${partition}`;
    const first = replay ? replay.first : msgs[0]!.offset;
    const last = replay ? replay.last : msgs[msgs.length - 1]!.offset;
    const lastHere = msgs[msgs.length - 1]!.offset;
    if (!replay) {
      await consumer!.commitOffsets([{ topic, partition, offset: first, metadata: intentMetadata({ first, last }) }]);
      // Should this sub-batch be fetched again (paused partition), replay it with these bounds.
      intents.set(key, { first, last });
    }
    const letters: DeadLetter[] = [];
    const items: OffsetItem[] = [];
    for (const m of msgs) {
      if (m.value === null) {
        letters.push({ message: m, reason: 'empty message value' });
        continue;
      }
      let meta: RawMessageMeta | null;
      try {
        meta = parseRawHeaders(m.headers);
      } catch (err) {
        letters.push({ message: m, reason: `bad version 2 message headers: ${(err as Error).message}` });
        continue;
      }
      // A view into the fetched batch: the pool copies it into a buffer of its own and transfers that (processors/pool.ts).
      if (meta !== null) items.push({ offset: m.offset, raw: m.value, meta });
      else items.push({ offset: m.offset, value: m.value.toString('utf8') });
    }
    let keepRatio: Record<string, number> | undefined;
    if (opts.keepRatio !== undefined && topic === opts.topics.spans) {
      const tenants = new Set<string>();
      for (const m of msgs) {
        const t = m.headers?.['vigil-tenant'];
        if (t !== undefined && t !== null) tenants.add(Buffer.isBuffer(t) ? t.toString('utf8') : String(t));
      }
      for (const t of tenants) {
        const r = await opts.keepRatio(t);
        if (r < 1) (keepRatio ??= {})[t] = r;
      }
    }
    const outcome = await storeSubBatch(
      {
        pool: opts.pool,
        writer: opts.writer,
        log: plog,
        metrics,
        backoff,
        signal: abort.signal,
        onInsertFailing: (err) => (err === null ? insertFailing.delete(key) : insertFailing.set(key, `ClickHouse inserts failing on ${key}: ${errText(err)}`)),
        heartbeat: () => payload.heartbeat(),
        keepRatio,
      },
      items,
      `${topic}-${partition}-${first}-${last}`,
    );
    for (const m of msgs) {
      const reason = outcome.poison.get(m.offset);
      if (reason !== undefined) letters.push({ message: m, reason });
    }
    if (letters.length > 0) {
      plog.warn({ count: letters.length, firstOffset: first, lastOffset: last, reason: letters[0]!.reason }, 'dead-lettering messages that cannot be stored');
      await dlq!.write(topic, partition, letters, abort.signal, DLQ_ATTEMPT_MS);
    }
    metrics?.processorMessages.inc({ topic, outcome: 'stored' }, msgs.length - letters.length);
    if (letters.length > 0) metrics?.processorMessages.inc({ topic, outcome: 'dead_lettered' }, letters.length);
    await opts.afterInsert?.({ topic, partition, firstOffset: msgs[0]!.offset, lastOffset: lastHere });
    payload.resolveOffset(lastHere);
    // Keep the intent while part of its range is still unprocessed.
    const open = replay !== null && BigInt(lastHere) < BigInt(replay.last);
    await consumer!.commitOffsets([{ topic, partition, offset: (BigInt(lastHere) + 1n).toString(), metadata: open ? intentMetadata(replay) : null }]);
    intents.set(key, open ? replay : null);
    opts.onProcessed?.(msgs.length);
    const behind = BigInt(payload.batch.highWatermark) - 1n - BigInt(lastHere);
    const lastMsg = msgs[msgs.length - 1]!;
    // Behind: the next message was created no earlier than the last one processed (producer CreateTime).
    if (behind > 0n) behindSince.set(key, Number(lastMsg.timestamp));
    else behindSince.delete(key);
    if (metrics !== undefined) {
      metrics.lagMessages.set({ topic, partition: String(partition) }, Number(behind > 0n ? behind : 0n));
      metrics.lagSeconds.set({ topic, partition: String(partition) }, behind > 0n ? Math.max(0, (Date.now() - Number(lastMsg.timestamp)) / 1000) : 0);
    }
    await payload.heartbeat();
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    const plog = log.child({ topic: batch.topic, partition: batch.partition });
    const intent = await readIntent(batch.topic, batch.partition);
    const replayable = intent !== null && BigInt(batch.messages[0]!.offset) <= BigInt(intent.last);
    if (replayable) plog.info({ firstOffset: intent.first, lastOffset: intent.last }, 'replaying an unfinished sub-batch with its original boundaries');
    const subs = cutSubBatches(batch.messages, size, replayable ? intent.last : undefined, opts.subBatchBytes ?? 32 * 1024 * 1024);
    const key = `${batch.topic}:${batch.partition}`;
    for (let i = 0; i < subs.length; i++) {
      if (!payload.isRunning() || payload.isStale()) break;
      try {
        await processSub(payload, subs[i]!, plog, replayable && i === 0 ? intent : null);
        blocked.delete(key);
      } catch (err) {
        if (err instanceof VigilError && err.code === 'VIGIL_ERR_SHUTTING_DOWN') return;
        if (err instanceof VigilError && err.code === 'VIGIL_ERR_DEADLINE') {
          // The DLQ is not writable: hold this partition (nothing resolved or
          // committed past the sub-batch), let the others move, come back later.
          const attempt = (blocked.get(key) ?? 0) + 1;
          blocked.set(key, attempt);
          const delay = Math.min(restartBackoff.maxMs, 250 * 2 ** Math.min(attempt - 1, 10));
          plog.warn({ err, retryInMs: delay }, 'partition paused: its dead letters cannot be written yet');
          const resume = payload.pause();
          setTimeout(resume, delay).unref();
          return;
        }
        throw err;
      }
    }
  }

  /** Create and run a consumer group member. */
  async function runMember(): Promise<void> {
    const fetch = opts.fetch ?? { minBytes: 1024 * 1024, maxWaitMs: 150, partitionBytes: 2 * 1024 * 1024 };
    const c = opts.kafka.consumer({
      groupId: opts.groupId,
      allowAutoTopicCreation: false,
      minBytes: fetch.minBytes,
      maxWaitTimeInMs: fetch.maxWaitMs,
      maxBytesPerPartition: fetch.partitionBytes,
      maxBytes: fetch.partitionBytes * (opts.concurrency ?? 3),
    });
    consumer = c;
    c.on(c.events.GROUP_JOIN, (e) => {
      intents.clear();
      behindSince.clear();
      log.info({ memberAssignment: e.payload.memberAssignment }, 'joined consumer group');
    });
    c.on(c.events.CRASH, (e) => {
      crashReason = `consumer crashed: ${errText(e.payload.error)}`;
      metrics?.processorUp.set(0);
      if (e.payload.restart) {
        // kafkajs restarts the member itself.
        state = 'restarting';
        metrics?.processorRestarts.inc();
        log.warn({ err: e.payload.error }, 'consumer crashed; kafkajs restarts it');
        return;
      }
      scheduleRestart(e.payload.error);
    });
    c.on(c.events.FETCH_START, () => {
      if (state === 'restarting' || state === 'starting') {
        state = 'running';
        crashReason = undefined;
        restarts = 0;
        metrics?.processorUp.set(1);
      }
    });
    await c.connect();
    await c.subscribe({ topics: sourceTopics, fromBeginning: opts.fromBeginning ?? true });
    await c.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch, partitionsConsumedConcurrently: opts.concurrency ?? 3 });
  }

  function scheduleRestart(err: unknown): void {
    if (abort.signal.aborted) return;
    state = 'restarting';
    restarts += 1;
    metrics?.processorRestarts.inc();
    const delay = Math.min(restartBackoff.maxMs, restartBackoff.baseMs * 2 ** Math.min(restarts - 1, 20));
    log.error({ err, restartInMs: delay, attempt: restarts }, 'consumer stopped after a non-retriable error; restarting it');
    clearTimeout(restartTimer);
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (abort.signal.aborted) return;
      const old = consumer;
      intents.clear();
      void (async () => {
        await old?.disconnect().catch(() => undefined);
        await runMember();
      })().catch((e: unknown) => {
        crashReason = `consumer restart failed: ${errText(e)}`;
        scheduleRestart(e);
      });
    }, delay);
    restartTimer.unref();
  }

  return {
    async start() {
      abort = new AbortController();
      intents.clear();
      state = 'starting';
      try {
        await ensureTopics(opts.kafka, { topics: sourceTopics.map(dlqOf), partitions: 1, replication: opts.dlqReplication ?? 1 });
        admin = opts.kafka.admin();
        // Fail fast inside kafkajs: the dead-letter writer retries with its own backoff and reports the failure.
        producer = opts.kafka.producer({
          allowAutoTopicCreation: false,
          createPartitioner: Partitioners.DefaultPartitioner,
          retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
        });
        await Promise.all([admin.connect(), producer.connect()]);
        dlq = createDeadLetterWriter({
          producer,
          dlqOf,
          maxMessageBytes: opts.maxMessageBytes ?? 1_000_000,
          log,
          metrics,
          backoff,
          onFailing: (err) => (err === null ? dlqFailing.clear() : dlqFailing.set('dlq', `dead-letter topic not writable: ${errText(err)}`)),
        });
        await runMember();
        state = 'running';
        metrics?.processorUp.set(1);
      } catch (err) {
        state = 'stopped';
        if (err instanceof VigilError) throw err;
        throw new VigilError('VIGIL_ERR_KAFKA_UNAVAILABLE', `processor could not start: ${(err as Error).message}`, { cause: err });
      }
    },
    async stop() {
      abort.abort();
      clearTimeout(restartTimer);
      state = 'stopped';
      metrics?.processorUp.set(0);
      // consumer.disconnect() stops fetching and waits for the running batches.
      await consumer?.disconnect().catch((err: unknown) => log.warn({ err }, 'consumer disconnect failed'));
      await Promise.all([producer?.disconnect(), admin?.disconnect()].map((p) => p?.catch(() => undefined)));
      consumer = producer = admin = undefined;
    },
    lagMs() {
      let oldest = Number.POSITIVE_INFINITY;
      for (const ts of behindSince.values()) oldest = Math.min(oldest, ts);
      return oldest === Number.POSITIVE_INFINITY ? 0 : Math.max(0, Date.now() - oldest);
    },
    health() {
      if (state !== 'running') return { ok: false, state, reason: crashReason ?? `processor is ${state}` };
      const trouble = [...insertFailing.values(), ...dlqFailing.values()];
      if (trouble.length > 0) return { ok: false, state, reason: trouble.join('; ') };
      return { ok: true, state };
    },
  };
}
