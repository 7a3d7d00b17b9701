/**
 * Kafka message envelopes: what ingest publishes and processors consume.
 *
 * Message value: UTF-8 JSON of {@link SpanEnvelope} or {@link LogEnvelope}.
 * Message key: the trace id (hex) of the records, so one trace lands on one
 * partition; logs without a trace id are keyed by service name.
 * Headers: `vigil-tenant` (project id), `vigil-format` ('otlp' | 'native').
 *
 * One envelope holds the records of one (resource, scope, trace id) group for
 * OTLP, or records of one trace id for native input. The processors turn them
 * into rows (schemas/rows.ts).
 */
import type { OtlpLogRecord, OtlpResource, OtlpScope, OtlpSpan } from './otlp.js';
import type { NativeLog, NativeSpan } from './native.js';

export const ENVELOPE_VERSION = 1 as const;

interface EnvelopeBase {
  v: typeof ENVELOPE_VERSION;
  /** Tenant: the project id the API key belongs to. */
  tenant: string;
  /** When ingest accepted the request, epoch ms. */
  receivedAtMs: number;
}

export type SpanEnvelope =
  | (EnvelopeBase & { kind: 'spans'; format: 'otlp'; resource: OtlpResource; scope: OtlpScope; records: OtlpSpan[] })
  | (EnvelopeBase & { kind: 'spans'; format: 'native'; records: NativeSpan[] });

export type LogEnvelope =
  | (EnvelopeBase & { kind: 'logs'; format: 'otlp'; resource: OtlpResource; scope: OtlpScope; records: OtlpLogRecord[] })
  | (EnvelopeBase & { kind: 'logs'; format: 'native'; records: NativeLog[] });

export type Envelope = SpanEnvelope | LogEnvelope;

/**
 * Version 2 messages: the validated OTLP request forwarded as received.
 *
 * When every record of an OTLP/HTTP request was accepted and the (inflated)
 * body fits one Kafka message, ingest publishes the body itself — protobuf
 * `Export{Trace,Logs}ServiceRequest` bytes or OTLP/JSON — instead of
 * re-serialising it as JSON envelopes; the processors' worker threads decode
 * it. Partial successes and bodies larger than a message use version 1
 * envelopes (above), which hold only the accepted records and split by size.
 *
 * Headers (all UTF-8 strings):
 * - `vigil-v`: '2'
 * - `vigil-tenant`: project id
 * - `vigil-format`: 'otlp-proto' | 'otlp-json'
 * - `vigil-kind`: 'spans' | 'logs'
 * - `vigil-received-at`: epoch ms when ingest accepted the request
 * Key: the first record's trace id (hex), else the resource's service name.
 */
export const RAW_MESSAGE_VERSION = '2' as const;

/** Format of a version 2 message value. */
export type RawFormat = 'otlp-proto' | 'otlp-json';

/** The decoded headers of a version 2 message. */
export interface RawMessageMeta {
  tenant: string;
  format: RawFormat;
  kind: 'spans' | 'logs';
  receivedAtMs: number;
}

/** Headers of a version 2 message (see {@link RAW_MESSAGE_VERSION}). */
export function rawHeaders(meta: RawMessageMeta): Record<string, string> {
  return {
    'vigil-v': RAW_MESSAGE_VERSION,
    'vigil-tenant': meta.tenant,
    'vigil-format': meta.format,
    'vigil-kind': meta.kind,
    'vigil-received-at': String(meta.receivedAtMs),
  };
}

/**
 * Read version 2 headers from Kafka message headers (values Buffer or string).
 * @returns the meta, or null when the message is not version 2.
 * @throws Error naming the header when it is version 2 but malformed.
 */
export function parseRawHeaders(headers: Record<string, unknown> | undefined): RawMessageMeta | null {
  const h = (k: string): string | undefined => {
    const v = headers?.[k];
    if (v === undefined || v === null) return undefined;
    return Buffer.isBuffer(v) || v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : String(v);
  };
  if (h('vigil-v') !== RAW_MESSAGE_VERSION) return null;
  const tenant = h('vigil-tenant');
  const format = h('vigil-format');
  const kind = h('vigil-kind');
  const at = Number(h('vigil-received-at'));
  if (!tenant) throw new Error('header vigil-tenant is missing');
  if (format !== 'otlp-proto' && format !== 'otlp-json') throw new Error(`header vigil-format must be otlp-proto or otlp-json, got ${JSON.stringify(format)}`);
  if (kind !== 'spans' && kind !== 'logs') throw new Error(`header vigil-kind must be spans or logs, got ${JSON.stringify(kind)}`);
  if (!Number.isFinite(at)) throw new Error('header vigil-received-at must be epoch ms');
  return { tenant, format, kind, receivedAtMs: at };
}
