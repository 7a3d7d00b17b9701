/**
 * Publishers: where accepted envelopes go.
 *
 * {@link createKafkaPublisher}: a kafkajs producer with acks = -1 (all in-sync
 * replicas), GZIP compression and linger batching — `publish` calls arriving
 * within `lingerMs` share one `producer.sendBatch`; each call's promise settles
 * only when the batch holding its messages was acknowledged (or failed). The
 * queue is bounded (messages and bytes, counted until acknowledged); a full
 * queue throws OverloadedError (429). Any Kafka failure rejects with
 * KafkaUnavailableError (503, retryable). A failed connect is forgotten, so the
 * next publish connects again: the publisher recovers when the broker returns.
 *
 * Sizes: envelopes are encoded by {@link encodeEnvelopes} into messages of at
 * most `maxMessageBytes` (a record that alone exceeds it → 413, before anything
 * is queued), and one `sendBatch` carries at most `maxMessageBytes` of values,
 * so no per-partition record batch can exceed the broker's message size limit
 * (kafkajs does not split batches by size). Chunks of one flush are sent
 * concurrently. A lone publish larger than the queue bound is still admitted
 * when the queue is empty (otherwise it could never pass: 429 forever).
 *
 * Each batch is sent once: the producer does not retry. kafkajs' idempotent
 * producer needs maxInFlightRequests = 1 and goes fatal on out-of-order
 * sequence numbers after a timeout, so it is off; without it a retried produce
 * request whose first attempt timed out but was appended (a paused broker
 * reads both) writes the messages twice. With one attempt, an acknowledged
 * message is in the log exactly once and a failed one at most once; the
 * failure is a 503 and the OTLP client retries ("Retrying" in the OTLP spec),
 * which is its own, at-least-once, copy.
 *
 * {@link createInProcessPublisher}: hands envelopes to a function (embedded
 * mode without Kafka).
 */
import { CompressionTypes, Partitioners, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { KafkaUnavailableError, OverloadedError, VigilError } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import { rawHeaders, type Envelope, type RawMessageMeta } from '../schemas/envelope.js';
import { DEFAULT_MAX_MESSAGE_BYTES, encodeEnvelopes } from './envelopes.js';

export type EnvelopeKind = 'spans' | 'logs';

/** Destination of accepted envelopes. */
export interface Publisher {
  /**
   * Durably hand over `envelopes` (all of one kind).
   * Resolves once every message is acknowledged, each written once; nothing is
   * partially accepted from the caller's point of view (after a rejection some
   * messages may still be in the log, once).
   * @throws OverloadedError (429) when the queue is full;
   *   KafkaUnavailableError (503) when Kafka did not acknowledge.
   */
  publish(kind: EnvelopeKind, envelopes: Envelope[]): Promise<void>;
  /**
   * Durably hand over one validated OTLP request as it was received (version 2
   * message, schemas/envelope.ts). Optional: publishers without it get envelopes.
   * @param body the (inflated) request body, at most {@link maxMessageBytes}.
   * @throws as {@link publish}; VIGIL_ERR_PAYLOAD_TOO_LARGE when `body` is over the limit.
   */
  publishRaw?(meta: RawMessageMeta, key: string, body: Buffer): Promise<void>;
  /** Largest body {@link publishRaw} takes, bytes. */
  readonly maxMessageBytes?: number;
  /** Flush what is queued, then disconnect. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link createKafkaPublisher}. */
export interface KafkaPublisherOptions {
  kafka: Kafka;
  topics: { spans: string; logs: string };
  /** How long to collect publishes before one sendBatch, ms (0 = next tick). */
  lingerMs: number;
  log: Logger;
  /** Queue bound in messages (queued + in flight). Default 50 000. */
  maxQueuedMessages?: number;
  /** Queue bound in bytes of message values (queued + in flight). Default 64 MiB. */
  maxQueuedBytes?: number;
  /** Broker ack timeout per sendBatch, ms. Default 10 000. */
  ackTimeoutMs?: number;
  /** Retry-After hint on KafkaUnavailableError, seconds. Default 5. */
  retryAfterSeconds?: number;
  /**
   * How long a publish waits for the producer to connect, ms. Default 5 000.
   * The connect attempt itself continues (kafkajs client retry policy); a
   * later publish joins it, or starts a new one once it failed.
   */
  connectTimeoutMs?: number;
  /** Largest message value and largest sendBatch, bytes (default {@link DEFAULT_MAX_MESSAGE_BYTES}). */
  maxMessageBytes?: number;
  /** Called after every flush with the outcome (metrics). */
  onFlush?: (outcome: { ok: boolean; messages: number; bytes: number; ms: number }) => void;
}

interface Pending {
  kind: EnvelopeKind;
  messages: Message[];
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Create the Kafka publisher. Connects lazily on the first publish; `connect()`
 * may be awaited at start-up to fail fast (it rejects with kafkajs' error).
 */
export function createKafkaPublisher(opts: KafkaPublisherOptions): Publisher & { connect(): Promise<void> } {
  const log = opts.log.child({ component: 'publisher' });
  const maxMessages = opts.maxQueuedMessages ?? 50_000;
  const maxBytes = opts.maxQueuedBytes ?? 64 * 1024 * 1024;
  const ackTimeout = opts.ackTimeoutMs ?? 10_000;
  const retryAfter = opts.retryAfterSeconds ?? 5;
  const connectTimeout = opts.connectTimeoutMs ?? 5_000;
  const maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const producer: Producer = opts.kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    idempotent: false,
    // One attempt (see module doc): a retry after a timeout can duplicate what
    // the broker already appended. The HTTP client retries on 503 instead.
    retry: { retries: 0 },
  });

  let connecting: Promise<void> | null = null;
  let queue: Pending[] = [];
  let timer: NodeJS.Timeout | null = null;
  let queuedMessages = 0;
  let queuedBytes = 0;
  let closed = false;
  const inFlight = new Set<Promise<void>>();

  producer.on(producer.events.DISCONNECT, () => {
    connecting = null;
  });

  function connect(): Promise<void> {
    connecting ??= producer.connect().catch((err: unknown) => {
      connecting = null; // forget the failure: the next publish tries again
      throw err;
    });
    return connecting;
  }

  /** {@link connect}, but give up waiting after `connectTimeout` ms. */
  function connected(): Promise<void> {
    const attempt = connect();
    attempt.catch(() => undefined); // observed below or by a later caller
    return withDeadline(attempt, connectTimeout, `not connected to Kafka within ${connectTimeout} ms`);
  }

  function unavailable(err: unknown): VigilError {
    if (err instanceof VigilError) return err;
    return new KafkaUnavailableError(`Kafka did not acknowledge the batch: ${(err as Error).message}`, err, retryAfter);
  }

  async function flush(): Promise<void> {
    timer = null;
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    const chunks = chunkBySize(batch, opts.topics, maxMessageBytes);
    const t0 = Date.now();
    const messages = batch.reduce((n, p) => n + p.messages.length, 0);
    const bytes = batch.reduce((n, p) => n + p.bytes, 0);
    try {
      await connected();
      // kafkajs retries metadata and reconnects under the client's retry policy
      // (minutes when a broker is gone), so bound the wait: callers get 503 and
      // retry. A send that still succeeds later was never acknowledged to the
      // client, whose retry may then duplicate it (OTLP is at-least-once).
      const sends = chunks.map((topicMessages) => {
        const send = producer.sendBatch({ topicMessages, acks: -1, timeout: ackTimeout, compression: CompressionTypes.GZIP });
        send.catch(() => undefined);
        return send;
      });
      await withDeadline(Promise.all(sends), ackTimeout, `Kafka did not acknowledge within ${ackTimeout} ms`);
      for (const p of batch) p.resolve();
      opts.onFlush?.({ ok: true, messages, bytes, ms: Date.now() - t0 });
    } catch (err) {
      const mapped = unavailable(err);
      log.warn({ err, messages }, 'Kafka batch failed');
      for (const p of batch) p.reject(mapped);
      opts.onFlush?.({ ok: false, messages, bytes, ms: Date.now() - t0 });
    } finally {
      for (const p of batch) {
        queuedMessages -= p.messages.length;
        queuedBytes -= p.bytes;
      }
    }
  }

  /** Queue messages for the next flush; resolves when Kafka acknowledged them (see module doc for the bounds). */
  function enqueue(kind: EnvelopeKind, messages: Message[], bytes: number): Promise<void> {
    const lone = queuedMessages === 0 && queuedBytes === 0;
    if (!lone && (queuedMessages + messages.length > maxMessages || queuedBytes + bytes > maxBytes)) {
      return Promise.reject(new OverloadedError(`Kafka publish queue is full (${queuedMessages} messages, ${queuedBytes} bytes queued); retry later`));
    }
    queuedMessages += messages.length;
    queuedBytes += bytes;
    return new Promise<void>((resolve, reject) => {
      queue.push({ kind, messages, bytes, resolve, reject });
      schedule();
    });
  }

  function schedule(): void {
    if (timer !== null) return;
    timer = setTimeout(() => {
      const run = flush();
      inFlight.add(run);
      void run.finally(() => inFlight.delete(run));
    }, opts.lingerMs);
  }

  return {
    connect,
    maxMessageBytes,
    publishRaw(meta, key, body) {
      if (closed) return Promise.reject(new VigilError('VIGIL_ERR_SHUTTING_DOWN', 'ingest is shutting down', { retryAfterSeconds: 5 }));
      if (body.length > maxMessageBytes) {
        return Promise.reject(new VigilError('VIGIL_ERR_PAYLOAD_TOO_LARGE', `body of ${body.length} bytes is over the message limit of ${maxMessageBytes} bytes; publish envelopes instead`));
      }
      const message = { key, value: body, headers: rawHeaders(meta), bytes: body.length } as Message;
      return enqueue(meta.kind, [message], body.length);
    },
    publish(kind, envelopes) {
      if (closed) return Promise.reject(new VigilError('VIGIL_ERR_SHUTTING_DOWN', 'ingest is shutting down', { retryAfterSeconds: 5 }));
      if (envelopes.length === 0) return Promise.resolve();
      let messages: Message[];
      try {
        messages = encodeEnvelopes(envelopes, maxMessageBytes);
      } catch (err) {
        return Promise.reject(err);
      }
      const bytes = messages.reduce((n, m) => n + ((m as { bytes?: number }).bytes ?? Buffer.byteLength(m.value as string)), 0);
      return enqueue(kind, messages, bytes);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer !== null) {
        clearTimeout(timer);
        await flush();
      }
      await Promise.allSettled([...inFlight]);
      await producer.disconnect().catch((err: unknown) => log.warn({ err }, 'producer disconnect failed'));
    },
  };
}

/**
 * A publisher calling `handler` directly (embedded mode, no Kafka). Errors of
 * the handler propagate to the caller unchanged.
 */
export function createInProcessPublisher(handler: (kind: EnvelopeKind, envelopes: Envelope[]) => Promise<void>): Publisher {
  let closed = false;
  return {
    async publish(kind, envelopes) {
      if (closed) throw new VigilError('VIGIL_ERR_SHUTTING_DOWN', 'ingest is shutting down', { retryAfterSeconds: 5 });
      if (envelopes.length > 0) await handler(kind, envelopes);
    },
    async close() {
      closed = true;
    },
  };
}

/**
 * Group the messages of a flush by topic into sendBatch payloads of at most
 * `maxBytes` of values each (a single larger message gets a chunk of its own).
 */
function chunkBySize(batch: readonly Pending[], topics: { spans: string; logs: string }, maxBytes: number): TopicMessages[][] {
  const chunks: TopicMessages[][] = [];
  let current = new Map<string, Message[]>();
  let size = 0;
  const close = (): void => {
    if (current.size > 0) chunks.push([...current].map(([topic, messages]) => ({ topic, messages })));
    current = new Map();
    size = 0;
  };
  for (const p of batch) {
    const topic = topics[p.kind];
    for (const m of p.messages) {
      const b = (m as { bytes?: number }).bytes ?? Buffer.byteLength(m.value as string);
      if (size > 0 && size + b > maxBytes) close();
      const list = current.get(topic);
      if (list === undefined) current.set(topic, [m]);
      else list.push(m);
      size += b;
    }
  }
  close();
  return chunks;
}

/** Resolve as `p` does, or reject with Error(`message`) after `ms` milliseconds. */
function withDeadline<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}
