/**
 * Native JSON ingest schemas (`POST /api/v1/ingest/spans`, `/api/v1/ingest/logs`).
 *
 * Fields cover the legacy spans table (seed 001: span_type, status, timing,
 * tokens, cost inputs, model, provider, error) and the execution trace of the
 * monitoring API (seed 004). Times are ISO-8601 strings or epoch milliseconds;
 * durations are milliseconds. Ids are hex (OTel: 32-char trace, 16-char span)
 * or UUIDs (dashes are stripped, giving 32 hex chars).
 */
import { z } from 'zod';

const hexId = (len: number, what: string) =>
  z
    .string()
    .transform((s) => s.replace(/-/g, '').toLowerCase())
    .refine((s) => s.length === len && /^[0-9a-f]+$/.test(s) && !/^0+$/.test(s), {
      message: `${what} must be ${len} hex characters (or a UUID), not all zero`,
    });

/** Trace id: 32 hex chars or a UUID. */
export const TraceId = hexId(32, 'trace id');
/** Span id: 16 hex chars (a UUID is accepted and its first 16 hex chars kept). */
export const SpanId = z
  .string()
  .transform((s) => s.replace(/-/g, '').toLowerCase().slice(0, 16))
  .refine((s) => s.length === 16 && /^[0-9a-f]+$/.test(s) && !/^0+$/.test(s), {
    message: 'span id must be 16 hex characters (or a UUID), not all zero',
  });

/** A timestamp: ISO-8601 string or epoch milliseconds. Output: epoch ms (number, may be fractional). */
export const Timestamp = z.union([
  z.number().finite().nonnegative(),
  z.string().refine((s) => !Number.isNaN(Date.parse(s)), {
    message: 'must be an ISO-8601 timestamp (e.g. 2026-11-21T10:00:00.123Z) or epoch milliseconds',
  }),
]).transform((v) => (typeof v === 'number' ? v : Date.parse(v)));

/** Attribute values: scalars or arrays of scalars; nested objects are JSON-encoded when stored. */
export const Attributes = z.record(z.string(), z.unknown()).default({});

export const NativeStatus = z.enum(['ok', 'error', 'unset', 'completed', 'failed', 'running', 'pending', 'partial']);

/** One native span. Either end_time or duration_ms is required. */
export const NativeSpan = z
  .object({
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: SpanId.nullish(),
    name: z.string().min(1, 'name must be a non-empty string (the operation)').max(1024),
    kind: z.enum(['internal', 'server', 'client', 'producer', 'consumer', 'unspecified']).default('internal'),
    span_type: z.string().max(50).optional(),
    service: z.string().min(1, 'service must be a non-empty string (the emitting service name)').max(256),
    start_time: Timestamp,
    end_time: Timestamp.optional(),
    duration_ms: z.number().finite().nonnegative().optional(),
    status: NativeStatus.default('unset'),
    error: z.string().nullish(),
    error_type: z.string().nullish(),
    attributes: Attributes,
    resource: Attributes,
    model: z.string().max(256).nullish(),
    provider: z.string().max(100).nullish(),
    input_tokens: z.number().int().nonnegative().nullish(),
    output_tokens: z.number().int().nonnegative().nullish(),
    cached_tokens: z.number().int().nonnegative().nullish(),
    user_id: z.string().max(256).nullish(),
  })
  .refine((s) => s.end_time !== undefined || s.duration_ms !== undefined, {
    message: 'either end_time or duration_ms is required',
    path: ['end_time'],
  })
  .refine((s) => s.end_time === undefined || s.end_time >= s.start_time, {
    message: 'end_time must not be before start_time',
    path: ['end_time'],
  });
export type NativeSpan = z.output<typeof NativeSpan>;

export const Severity = z.enum(['trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal', 'critical']);

/** One native log record. */
export const NativeLog = z.object({
  time: Timestamp,
  severity: Severity.default('info'),
  body: z.string().max(1_048_576, 'body must be at most 1 MiB'),
  service: z.string().min(1, 'service must be a non-empty string').max(256),
  trace_id: TraceId.nullish(),
  span_id: SpanId.nullish(),
  attributes: Attributes,
  resource: Attributes,
});
export type NativeLog = z.output<typeof NativeLog>;

/** Request bodies: a JSON array (at most 10 000 records). */
export const NativeSpanBatch = z.array(z.unknown()).min(1, 'send at least one span').max(10_000, 'send at most 10 000 spans per request');
export const NativeLogBatch = z.array(z.unknown()).min(1, 'send at least one log record').max(10_000, 'send at most 10 000 log records per request');
