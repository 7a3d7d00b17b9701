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

/** Field names a native span accepts (the keys of {@link NativeSpan}). */
export const NATIVE_SPAN_FIELDS: readonly string[] = Object.keys(NativeSpan.shape);
/** Field names a native log record accepts (the keys of {@link NativeLog}). */
export const NATIVE_LOG_FIELDS: readonly string[] = Object.keys(NativeLog.shape);

const TOKENS_HINT = 'did you mean input_tokens / output_tokens?';
const COST_HINT = 'cost is computed by Vigil from model, provider and the token counts: send model, input_tokens and output_tokens';

/** Names other tools use for native span fields → the hint given when one is sent. */
const SPAN_ALIASES: Record<string, string> = {
  started_at: 'start_time', start: 'start_time', start_ts: 'start_time', start_timestamp: 'start_time', timestamp: 'start_time', begin_time: 'start_time',
  ended_at: 'end_time', end: 'end_time', end_ts: 'end_time', end_timestamp: 'end_time', finish_time: 'end_time', finished_at: 'end_time',
  duration: 'duration_ms', latency: 'duration_ms', latency_ms: 'duration_ms', elapsed_ms: 'duration_ms',
  parent_id: 'parent_span_id', parent: 'parent_span_id',
  service_name: 'service', operation: 'name', operation_name: 'name', span_name: 'name', type: 'span_type',
  error_message: 'error', exception: 'error', tags: 'attributes', attrs: 'attributes', metadata: 'attributes',
  prompt_tokens: 'input_tokens', completion_tokens: 'output_tokens', cache_read_tokens: 'cached_tokens',
  model_name: 'model', user: 'user_id',
};
/** Names other tools use for native log fields → the field they mean. */
const LOG_ALIASES: Record<string, string> = {
  timestamp: 'time', ts: 'time', created_at: 'time', logged_at: 'time', time_unix_nano: 'time',
  level: 'severity', log_level: 'severity', severity_text: 'severity', lvl: 'severity',
  message: 'body', msg: 'body', text: 'body', service_name: 'service',
  tags: 'attributes', attrs: 'attributes', metadata: 'attributes', context: 'attributes',
};

/** Edit distance of two short strings (optimal string alignment: a swap of neighbours costs 1). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The hint for an unknown native field, e.g. "did you mean start_time?".
 * Tries, in order: the names other tools use (started_at → start_time, message → body),
 * camelCase → snake_case (traceId → trace_id), then the closest accepted name
 * within an edit distance of ⅓ of its length (at most 3).
 * @returns the hint sentence, or undefined when nothing is close.
 */
export function suggestField(kind: 'spans' | 'logs', key: string): string | undefined {
  const fields = kind === 'spans' ? NATIVE_SPAN_FIELDS : NATIVE_LOG_FIELDS;
  const lower = key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[-\s]/g, '_').toLowerCase();
  if (kind === 'spans') {
    if (['cost', 'cost_usd', 'price', 'total_cost', 'usd'].includes(lower)) return COST_HINT;
    if (['tokens', 'total_tokens', 'token_count', 'usage'].includes(lower)) return TOKENS_HINT;
  }
  if (fields.includes(lower)) return `did you mean ${lower}?`;
  const alias = (kind === 'spans' ? SPAN_ALIASES : LOG_ALIASES)[lower];
  if (alias !== undefined) return `did you mean ${alias}?`;
  let best: { field: string; d: number } | undefined;
  for (const f of fields) {
    const d = editDistance(lower, f);
    if (best === undefined || d < best.d) best = { field: f, d };
  }
  if (best !== undefined && best.d <= Math.min(3, Math.floor(Math.max(lower.length, best.field.length) / 3))) {
    return `did you mean ${best.field}?`;
  }
  return undefined;
}

/**
 * Keys of a native record that its schema does not know (they are ignored),
 * each with a hint when one is close (see {@link suggestField}).
 * @param record one element of the request array (non-objects have none).
 * @returns `[{ key, message }]`, message like "unknown field (ignored); did you mean start_time?".
 */
export function unknownFields(kind: 'spans' | 'logs', record: unknown): Array<{ key: string; message: string }> {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return [];
  const fields = kind === 'spans' ? NATIVE_SPAN_FIELDS : NATIVE_LOG_FIELDS;
  return Object.keys(record)
    .filter((k) => !fields.includes(k))
    .map((key) => {
      const hint = suggestField(kind, key);
      return { key, message: hint === undefined ? 'unknown field (ignored)' : `unknown field (ignored); ${hint}` };
    });
}
