/**
 * Dead-letter writer of the processors: messages that cannot be stored go to
 * `<topic>.dlq` with their reason, and the consumer commits past them only
 * once the dead-letter topic acknowledged.
 *
 * Dead letter = the source message's key, value and headers plus
 *   `vigil-dlq-reason`  why (error code and sentence, at most 1 000 bytes),
 *   `vigil-dlq-source`  `<topic>/<partition>/<offset>` of the original.
 * Size: a dead letter never exceeds `maxMessageBytes`; when the original value
 * would (e.g. a message written by an older producer), the value is left out
 * and `vigil-dlq-payload: reference` says to read it from the source
 * coordinates (the source topic keeps it for its retention). Sends are gzip
 * compressed and chunked to at most `maxMessageBytes` of values per request.
 *
 * Failure: a publish that fails is retried with backoff and jitter, for at
 * most `deadlineMs`; the consumer then pauses that partition (its offset is
 * not committed past the letters), comes back after a backoff and tries again
 * — so other partitions keep moving — and `onFailing` reports the state for
 * readiness until a publish succeeds.
 */
import { CompressionTypes, type IHeaders, type KafkaMessage, type Message, type Producer } from 'kafkajs';
import type { Logger } from '../platform/logger.js';
import type { VigilMetrics } from '../platform/metrics.js';
import { retry } from '../platform/retry.js';

/** Header carrying the dead-letter reason. */
export const DLQ_REASON_HEADER = 'vigil-dlq-reason';
/** Header carrying `<topic>/<partition>/<offset>` of the original message. */
export const DLQ_SOURCE_HEADER = 'vigil-dlq-source';
/** Header set to `reference` when the value was left out (see module doc). */
export const DLQ_PAYLOAD_HEADER = 'vigil-dlq-payload';

const MAX_REASON_BYTES = 1000;

/** One message to dead-letter. */
export interface DeadLetter {
  message: KafkaMessage;
  reason: string;
}

/** Options of {@link createDeadLetterWriter}. */
export interface DeadLetterOptions {
  producer: Producer;
  /** DLQ topic of a source topic. */
  dlqOf: (topic: string) => string;
  /** Largest dead letter and largest send, bytes. */
  maxMessageBytes: number;
  log: Logger;
  metrics?: VigilMetrics;
  /** Backoff between failed publishes, ms. */
  backoff: { baseMs: number; maxMs: number };
  /** Called with the error while publishes fail, and with null once one succeeds again. */
  onFailing?: (err: unknown) => void;
}

/** The writer. */
export interface DeadLetterWriter {
  /**
   * Publish dead letters of one source partition; resolves once acknowledged.
   * @param deadlineMs stop retrying after this long (→ VIGIL_ERR_DEADLINE); default never.
   * @throws VigilError VIGIL_ERR_SHUTTING_DOWN when `signal` aborts while retrying;
   *   VIGIL_ERR_DEADLINE when `deadlineMs` passed (the caller pauses the partition and comes back).
   */
  write(topic: string, partition: number, letters: readonly DeadLetter[], signal: AbortSignal, deadlineMs?: number): Promise<void>;
}

function truncate(s: string, max: number): string {
  const b = Buffer.from(s, 'utf8');
  return b.length <= max ? s : `${b.subarray(0, max - 3).toString('utf8')}...`;
}

function headerBytes(h: IHeaders): number {
  let n = 0;
  for (const [k, v] of Object.entries(h)) {
    n += k.length;
    if (Array.isArray(v)) for (const x of v) n += Buffer.byteLength(x as string | Buffer);
    else if (v !== undefined) n += Buffer.byteLength(v as string | Buffer);
  }
  return n;
}

/** Build the bounded dead-letter message of one letter (see module doc). */
export function deadLetterMessage(topic: string, partition: number, letter: DeadLetter, maxBytes: number): Message & { size: number } {
  const m = letter.message;
  const headers: IHeaders = {
    ...m.headers,
    [DLQ_REASON_HEADER]: truncate(letter.reason, MAX_REASON_BYTES),
    [DLQ_SOURCE_HEADER]: `${topic}/${partition}/${m.offset}`,
  };
  const key = m.key ?? null;
  const fixed = headerBytes(headers) + (key?.length ?? 0) + 64;
  const valueBytes = m.value?.length ?? 0;
  if (fixed + valueBytes <= maxBytes) return { key, value: m.value, headers, size: fixed + valueBytes };
  headers[DLQ_PAYLOAD_HEADER] = 'reference';
  return { key, value: null, headers, size: fixed };
}

/** Create the writer (the producer must be connected by the caller). */
export function createDeadLetterWriter(opts: DeadLetterOptions): DeadLetterWriter {
  return {
    async write(topic, partition, letters, signal, deadlineMs) {
      if (letters.length === 0) return;
      const dlq = opts.dlqOf(topic);
      const messages = letters.map((l) => deadLetterMessage(topic, partition, l, opts.maxMessageBytes));
      const chunks: Message[][] = [];
      let chunk: Message[] = [];
      let size = 0;
      for (const m of messages) {
        if (chunk.length > 0 && size + m.size > opts.maxMessageBytes) {
          chunks.push(chunk);
          chunk = [];
          size = 0;
        }
        chunk.push({ key: m.key, value: m.value, headers: m.headers });
        size += m.size;
      }
      if (chunk.length > 0) chunks.push(chunk);
      let failed = false;
      await retry(
        async () => {
          // Chunks already acknowledged are not re-sent within this write.
          while (chunks.length > 0) {
            await opts.producer.send({ topic: dlq, messages: chunks[0]!, acks: -1, compression: CompressionTypes.GZIP });
            chunks.shift();
          }
        },
        {
          ...opts.backoff,
          signal,
          deadlineMs,
          shouldRetry: () => true,
          onRetry: (err, attempt, delayMs) => {
            failed = true;
            opts.metrics?.dlqFailures.inc();
            opts.onFailing?.(err);
            opts.log.warn({ err, dlq, attempt, delayMs: Math.round(delayMs) }, 'dead-letter publish failed; partition holds its offset and retries');
          },
        },
      );
      if (failed) opts.log.info({ dlq }, 'dead-letter publish succeeded again');
      opts.onFailing?.(null);
      opts.metrics?.dlqMessages.inc({ topic: dlq }, letters.length);
    },
  };
}
