/**
 * Kafka message encoding of envelopes (contract: schemas/envelope.ts).
 *
 * Key: the records' trace id (hex); logs without one are keyed by service name
 * (OTLP: resource `service.name`; native: the record's `service`).
 * Value: UTF-8 JSON of the envelope. Headers: `vigil-tenant`, `vigil-format`.
 *
 * Size: every message value is at most `maxMessageBytes` (uncompressed, so it
 * fits the broker's `message.max.bytes` whatever the compression ratio). An
 * envelope that encodes larger is split by records (halving until each part
 * fits), so any request under the body limit can be published; a single
 * record that alone exceeds the limit can never be published and fails the
 * request with 413 naming it.
 */
import { VigilError } from '../platform/errors.js';
import type { Envelope } from '../schemas/envelope.js';
import { serviceName } from './otlp/validate.js';

/** One Kafka message ready for kafkajs `send`; `bytes` = UTF-8 length of `value`. */
export interface EnvelopeMessage {
  key: string;
  value: string;
  headers: { 'vigil-tenant': string; 'vigil-format': string };
  bytes?: number;
}

/** Default cap of one message value, bytes: under Kafka's default message.max.bytes (1 048 588) with room for headers. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_000_000;

/** Name one record for a 413 message. */
function describeRecord(env: Envelope): string {
  const r = env.records[0] as unknown as Record<string, unknown> | undefined;
  if (r === undefined) return 'an empty envelope';
  const id = (k: string): string => (typeof r[k] === 'string' && r[k] !== '' ? `${k} ${r[k] as string}` : '');
  const ids = [id('traceId') || id('trace_id'), id('spanId') || id('span_id')].filter(Boolean).join(', ');
  const name = typeof r['name'] === 'string' ? ` '${r['name'] as string}'` : '';
  return `${env.kind === 'spans' ? 'span' : 'log record'}${name}${ids ? ` (${ids})` : ''}`;
}

/**
 * Encode envelopes as messages of at most `maxMessageBytes` each (see module doc).
 * @returns messages in input order (split parts adjacent, same key).
 * @throws VigilError 413 VIGIL_ERR_PAYLOAD_TOO_LARGE when one record alone encodes larger.
 */
export function encodeEnvelopes(envelopes: readonly Envelope[], maxMessageBytes: number): EnvelopeMessage[] {
  const out: EnvelopeMessage[] = [];
  const add = (env: Envelope): void => {
    const m = envelopeMessage(env);
    const bytes = Buffer.byteLength(m.value);
    if (bytes <= maxMessageBytes) {
      m.bytes = bytes;
      out.push(m);
      return;
    }
    if (env.records.length <= 1) {
      throw new VigilError(
        'VIGIL_ERR_PAYLOAD_TOO_LARGE',
        `${describeRecord(env)} encodes to ${bytes} bytes, over the per-record limit of ${maxMessageBytes} bytes (VIGIL_KAFKA_MAX_MESSAGE_BYTES); drop or truncate its attributes, events or body`,
      );
    }
    const half = Math.ceil(env.records.length / 2);
    add({ ...env, records: env.records.slice(0, half) } as Envelope);
    add({ ...env, records: env.records.slice(half) } as Envelope);
  };
  for (const env of envelopes) add(env);
  return out;
}

/** The partition key of an envelope (see module doc). */
export function envelopeKey(env: Envelope): string {
  if (env.format === 'otlp') {
    const first = env.records[0];
    const traceId = first?.traceId;
    if (traceId) return traceId;
    return serviceName(env.resource);
  }
  if (env.kind === 'spans') return env.records[0]?.trace_id ?? '';
  const first = env.records[0];
  return first?.trace_id ?? first?.service ?? '';
}

/** Encode an envelope as a Kafka message. */
export function envelopeMessage(env: Envelope): EnvelopeMessage {
  return {
    key: envelopeKey(env),
    value: JSON.stringify(env),
    headers: { 'vigil-tenant': env.tenant, 'vigil-format': env.format },
  };
}
