/**
 * Per-record validation of decoded OTLP requests and grouping of the accepted
 * records into Kafka envelopes (schemas/envelope.ts).
 *
 * Spans (trace.proto field comments, OTLP spec "Partial Success"): traceId 16
 * bytes not all zero, spanId 8 bytes not all zero, parentSpanId empty or 8
 * bytes, name non-empty, start and end time non-zero, end ≥ start.
 * Log records: traceId / spanId, when present, 16 / 8 bytes not all zero.
 * Times (span start/end, log time/observed time when set) must lie in the
 * acceptance window (schemas/limits.ts): storable and inside the retention.
 * Invalid records are rejected one by one; the rest are accepted.
 *
 * Grouping: one envelope per (resource, scope, trace id) — key = trace id, so
 * a trace lands on one partition. Log records without a trace id are grouped
 * per (resource, scope) and keyed by the resource's `service.name`.
 */
import { ENVELOPE_VERSION, type LogEnvelope, type SpanEnvelope } from '../../schemas/envelope.js';
import type { OtlpLogRecord, OtlpResource, OtlpSpan } from '../../schemas/otlp.js';
import { parseNsString, STORABLE_WINDOW, timeProblem, type TimeWindow } from '../../schemas/limits.js';
import type { DecodedLogs, DecodedTraces } from './decode.js';

/** How many problems `errorMessage` names before summarising. */
export const MAX_NAMED_PROBLEMS = 5;

/** Outcome of validating one request. */
export interface Validated<E> {
  envelopes: E[];
  accepted: number;
  rejected: number;
  /** First {@link MAX_NAMED_PROBLEMS} problems, each `path.field: reason`. */
  problems: string[];
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ZERO = /^0+$/;
const TRACE_MSG = 'must be 16 bytes, not all zero';
const SPAN_MSG = 'must be 8 bytes, not all zero';

function validTraceId(id: string): boolean {
  return TRACE_ID.test(id) && !ZERO.test(id);
}
function validSpanId(id: string): boolean {
  return SPAN_ID.test(id) && !ZERO.test(id);
}

/** The first problem of a span as `[field, reason]`, or null when valid. `w`: acceptance window (default: what storage holds). */
export function spanProblem(s: OtlpSpan, w: TimeWindow = STORABLE_WINDOW): [string, string] | null {
  if (!validTraceId(s.traceId)) return ['traceId', TRACE_MSG];
  if (!validSpanId(s.spanId)) return ['spanId', SPAN_MSG];
  if (s.parentSpanId !== undefined && s.parentSpanId !== '' && !validSpanId(s.parentSpanId)) return ['parentSpanId', `${SPAN_MSG} (or empty for a root span)`];
  if (!s.name) return ['name', 'must be a non-empty string'];
  if (s.startTimeUnixNano === '0') return ['startTimeUnixNano', 'must be set (ns since the Unix epoch)'];
  if (s.endTimeUnixNano === '0') return ['endTimeUnixNano', 'must be set (ns since the Unix epoch)'];
  const start = parseNsString(s.startTimeUnixNano);
  const end = parseNsString(s.endTimeUnixNano);
  if (start === null) return ['startTimeUnixNano', 'must be ns since the Unix epoch'];
  if (end === null) return ['endTimeUnixNano', 'must be ns since the Unix epoch'];
  if (end < start) return ['endTimeUnixNano', 'must not be before startTimeUnixNano'];
  const early = timeProblem(start, w);
  if (early !== null) return ['startTimeUnixNano', early];
  const late = timeProblem(end, w);
  if (late !== null) return ['endTimeUnixNano', late];
  return null;
}

/** The first problem of a log record as `[field, reason]`, or null when valid. `w`: acceptance window. */
export function logProblem(r: OtlpLogRecord, w: TimeWindow = STORABLE_WINDOW): [string, string] | null {
  if (r.traceId !== undefined && r.traceId !== '' && !validTraceId(r.traceId)) return ['traceId', `${TRACE_MSG} (or absent)`];
  if (r.spanId !== undefined && r.spanId !== '' && !validSpanId(r.spanId)) return ['spanId', `${SPAN_MSG} (or absent)`];
  for (const field of ['timeUnixNano', 'observedTimeUnixNano'] as const) {
    const v = r[field];
    if (v === undefined || v === '' || v === '0') continue; // unset: falls back (processors/normalize/logs.ts)
    const ns = parseNsString(v);
    if (ns === null) return [field, 'must be ns since the Unix epoch'];
    const problem = timeProblem(ns, w);
    if (problem !== null) return [field, problem];
  }
  return null;
}

/** `service.name` of a resource, or 'unknown_service' (the OTel SDK default). */
export function serviceName(resource: OtlpResource): string {
  const kv = resource.attributes?.find((a) => a.key === 'service.name');
  return kv?.value?.stringValue || 'unknown_service';
}

/**
 * Validate a decoded traces request and group accepted spans into envelopes.
 * @param tenant project id (request.tenant); receivedAtMs epoch ms.
 * @param window acceptance window of span times (default: what storage holds).
 */
export function validateTraces(req: DecodedTraces, tenant: string, receivedAtMs: number, window: TimeWindow = STORABLE_WINDOW): Validated<SpanEnvelope> {
  const out: Validated<SpanEnvelope> = { envelopes: [], accepted: 0, rejected: 0, problems: [] };
  req.resourceSpans.forEach((rs, i) => {
    rs.scopeSpans.forEach((ss, j) => {
      const byTrace = new Map<string, OtlpSpan[]>();
      ss.spans.forEach((span, k) => {
        const problem = spanProblem(span, window);
        if (problem !== null) {
          out.rejected++;
          if (out.problems.length < MAX_NAMED_PROBLEMS) out.problems.push(`resourceSpans[${i}].scopeSpans[${j}].spans[${k}].${problem[0]}: ${problem[1]}`);
          return;
        }
        out.accepted++;
        const list = byTrace.get(span.traceId);
        if (list === undefined) byTrace.set(span.traceId, [span]);
        else list.push(span);
      });
      for (const records of byTrace.values()) {
        out.envelopes.push({ v: ENVELOPE_VERSION, kind: 'spans', format: 'otlp', tenant, receivedAtMs, resource: rs.resource, scope: ss.scope, records });
      }
    });
  });
  return out;
}

/**
 * Validate a decoded logs request and group accepted records into envelopes
 * (per resource, scope and trace id; records without trace id together).
 */
export function validateLogs(req: DecodedLogs, tenant: string, receivedAtMs: number, window: TimeWindow = STORABLE_WINDOW): Validated<LogEnvelope> {
  const out: Validated<LogEnvelope> = { envelopes: [], accepted: 0, rejected: 0, problems: [] };
  req.resourceLogs.forEach((rl, i) => {
    rl.scopeLogs.forEach((sl, j) => {
      const byKey = new Map<string, OtlpLogRecord[]>();
      sl.logRecords.forEach((rec, k) => {
        const problem = logProblem(rec, window);
        if (problem !== null) {
          out.rejected++;
          if (out.problems.length < MAX_NAMED_PROBLEMS) out.problems.push(`resourceLogs[${i}].scopeLogs[${j}].logRecords[${k}].${problem[0]}: ${problem[1]}`);
          return;
        }
        out.accepted++;
        const key = rec.traceId ?? '';
        const list = byKey.get(key);
        if (list === undefined) byKey.set(key, [rec]);
        else list.push(rec);
      });
      for (const records of byKey.values()) {
        out.envelopes.push({ v: ENVELOPE_VERSION, kind: 'logs', format: 'otlp', tenant, receivedAtMs, resource: rl.resource, scope: sl.scope, records });
      }
    });
  });
  return out;
}

/** The partial-success `error_message`: the named problems plus a count of the rest. */
export function problemsMessage(v: Validated<unknown>): string {
  const more = v.rejected - v.problems.length;
  return v.problems.join('; ') + (more > 0 ? `; and ${more} more rejected` : '');
}
