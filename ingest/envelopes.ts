/**
 * Kafka message encoding of envelopes (contract: schemas/envelope.ts).
 *
 * Key: the records' trace id (hex); logs without one are keyed by service name
 * (OTLP: resource `service.name`; native: the record's `service`).
 * Value: UTF-8 JSON of the envelope. Headers: `vigil-tenant`, `vigil-format`.
 */
import type { Envelope } from '../schemas/envelope.js';
import { serviceName } from './otlp/validate.js';

/** One Kafka message ready for kafkajs `send`. */
export interface EnvelopeMessage {
  key: string;
  value: string;
  headers: { 'vigil-tenant': string; 'vigil-format': string };
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
