/**
 * One OTLP export, whatever the transport: decode → validate → publish →
 * partial-success answer. Shared by OTLP/HTTP (ingest/otlp/routes.ts) and
 * OTLP/gRPC (ingest/grpc/server.ts), so both accept exactly the same records,
 * publish them the same way and answer with the same partial success.
 *
 * Publishing: when every record was accepted and the (inflated) body fits one
 * Kafka message, the request bytes are forwarded as received (version 2
 * message, schemas/envelope.ts); otherwise the accepted records go as JSON
 * envelopes (version 1), split by size. Binary trace requests are first
 * scanned (ingest/otlp/scan.ts): one proved plainly valid is forwarded
 * without being decoded here at all.
 *
 * OTLP specification, "Partial Success": `rejected_<signal>` and
 * `error_message` when some records were rejected, or `error_message` alone as
 * a warning (values of accepted records not stored, ingest/otlp/validate.ts);
 * nothing accepted → an error ("Bad Data": HTTP 400 / gRPC INVALID_ARGUMENT).
 */
import type protobuf from 'protobufjs';
import { requireLogsAccepted } from '../intake.js';
import { VigilError } from '../../platform/errors.js';
import type { VigilMetrics } from '../../platform/metrics.js';
import type { Envelope, RawFormat } from '../../schemas/envelope.js';
import { acceptanceWindow, type TimePolicy, type TimeWindow } from '../../schemas/limits.js';
import { envelopeKey } from '../envelopes.js';
import type { EnvelopeKind, Publisher } from '../publisher.js';
import type { ProjectLimits } from '../limits-per-project.js';
import { decodeLogsJson, decodeLogsProtobuf, decodeTracesJson, decodeTracesProtobuf } from './decode.js';
import { otlpProto } from './proto.js';
import { scanTraces } from './scan.js';
import { problemsMessage, validateLogs, validateTraces, type Validated } from './validate.js';

/** What one OTLP export needs besides the request. */
export interface ExportContext {
  publisher: Publisher;
  /** Acceptance window of record times; default retention 30 days. */
  timePolicy?: TimePolicy;
  metrics?: VigilMetrics;
  /** Whether a project's logs are accepted (flag vigil.ingest.logs, flags/switches.ts); default always. */
  logsAccepted?: (tenant: string) => Promise<boolean>;
  /** Per-project rate limits and retention (ingest/limits-per-project.ts); default none (unlimited, `timePolicy`). */
  projectLimits?: ProjectLimits;
}

/** An OTLP signal Vigil stores. */
export interface OtlpSignal {
  kind: EnvelopeKind;
  decodeProtobuf(body: Uint8Array): unknown;
  decodeJson(body: Uint8Array): unknown;
  validate(decoded: unknown, tenant: string, now: number, window: TimeWindow): Validated<Envelope>;
  /** Export*ServiceResponse type. */
  response: () => protobuf.Type;
  rejectedField: 'rejectedSpans' | 'rejectedLogRecords';
  noun: string;
}

export const TRACES: OtlpSignal = {
  kind: 'spans',
  decodeProtobuf: decodeTracesProtobuf,
  decodeJson: decodeTracesJson,
  validate: (d, t, n, w) => validateTraces(d as ReturnType<typeof decodeTracesJson>, t, n, w),
  response: () => otlpProto().ExportTraceServiceResponse,
  rejectedField: 'rejectedSpans',
  noun: 'spans',
};

export const LOGS: OtlpSignal = {
  kind: 'logs',
  decodeProtobuf: decodeLogsProtobuf,
  decodeJson: decodeLogsJson,
  validate: (d, t, n, w) => validateLogs(d as ReturnType<typeof decodeLogsJson>, t, n, w),
  response: () => otlpProto().ExportLogsServiceResponse,
  rejectedField: 'rejectedLogRecords',
  noun: 'log records',
};

/** Outcome of an accepted export. */
export interface ExportOutcome {
  accepted: number;
  rejected: number;
  /** partial_success.error_message; '' on full success without warnings. */
  errorMessage: string;
}

/**
 * Decode, validate and publish one OTLP export request.
 * @param body the (inflated) request body: a binary Export*ServiceRequest ('otlp-proto') or OTLP/JSON ('otlp-json').
 * @param tenant project id of the authenticated key.
 * @returns counts and the partial-success message once Kafka acknowledged every message.
 * @throws DecodeError (VIGIL_ERR_DECODE, 400) for an undecodable body; VigilError
 *   VIGIL_ERR_VALIDATION (400) when every record was rejected;
 *   VIGIL_ERR_PROJECT_RATE_LIMITED (429) over the project's rate limit; the publisher's
 *   OverloadedError (429) / KafkaUnavailableError (503) / VIGIL_ERR_PAYLOAD_TOO_LARGE (413).
 */
export async function exportOtlp(ctx: ExportContext, signal: OtlpSignal, body: Buffer, format: RawFormat, tenant: string): Promise<ExportOutcome> {
  if (signal.kind === 'logs') await requireLogsAccepted(ctx.logsAccepted, tenant);
  const now = Date.now();
  const window = acceptanceWindow(ctx.projectLimits?.timePolicy(tenant, ctx.timePolicy) ?? ctx.timePolicy ?? { retentionDays: 30 }, now);
  const publishRaw = ctx.publisher.publishRaw;
  const fitsOneMessage = publishRaw !== undefined && body.length <= (ctx.publisher.maxMessageBytes ?? 0);
  /** Forward the request as received (version 2 message), keyed by `key`. */
  const forward = (key: string): Promise<void> => publishRaw!.call(ctx.publisher, { tenant, format, kind: signal.kind, receivedAtMs: now }, key, body);
  if (signal.kind === 'spans' && format === 'otlp-proto' && fitsOneMessage) {
    // Fast path: a request proved plainly valid without decoding it (ingest/otlp/scan.ts).
    const scan = scanTraces(body, window);
    if (scan !== null) {
      ctx.projectLimits?.take(tenant, signal.kind, scan.spans);
      await forward(scan.key);
      ctx.metrics?.ingestRecords.inc({ signal: signal.kind, outcome: 'accepted' }, scan.spans);
      return { accepted: scan.spans, rejected: 0, errorMessage: '' };
    }
  }
  const decoded = format === 'otlp-proto' ? signal.decodeProtobuf(body) : signal.decodeJson(body);
  const result = signal.validate(decoded, tenant, now, window);
  if (result.rejected > 0) ctx.metrics?.ingestRecords.inc({ signal: signal.kind, outcome: 'rejected' }, result.rejected);
  if (result.accepted === 0 && result.rejected > 0) {
    throw new VigilError('VIGIL_ERR_VALIDATION', `all ${result.rejected} ${signal.noun} were rejected: ${problemsMessage(result)}`);
  }
  ctx.projectLimits?.take(tenant, signal.kind, result.accepted); // 429 before anything is published
  if (result.rejected === 0 && fitsOneMessage && result.envelopes.length > 0) {
    // Everything accepted and it fits one message: forward the request as received.
    await forward(envelopeKey(result.envelopes[0]!));
  } else {
    await ctx.publisher.publish(signal.kind, result.envelopes);
  }
  ctx.metrics?.ingestRecords.inc({ signal: signal.kind, outcome: 'accepted' }, result.accepted);
  const errorMessage = result.rejected > 0 || result.unstored > 0 ? problemsMessage(result) : '';
  return { accepted: result.accepted, rejected: result.rejected, errorMessage };
}

/**
 * The Export*ServiceResponse of an outcome as a plain object for protobufjs
 * `fromObject` (`{}` on full success: "the server MUST leave partial_success unset").
 */
export function responseObject(signal: OtlpSignal, o: ExportOutcome): Record<string, unknown> {
  if (o.rejected === 0 && o.errorMessage === '') return {};
  return { partialSuccess: { [signal.rejectedField]: o.rejected, errorMessage: o.errorMessage } };
}

/** The binary Export*ServiceResponse of an outcome. */
export function encodeResponse(signal: OtlpSignal, o: ExportOutcome): Buffer {
  const type = signal.response();
  return Buffer.from(type.encode(type.fromObject(responseObject(signal, o))).finish());
}

/** The OTLP/JSON Export*ServiceResponse of an outcome (proto3 JSON: int64 as a decimal string). */
export function jsonResponse(signal: OtlpSignal, o: ExportOutcome): Record<string, unknown> {
  if (o.rejected === 0 && o.errorMessage === '') return {};
  return { partialSuccess: { [signal.rejectedField]: String(o.rejected), errorMessage: o.errorMessage } };
}
