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
