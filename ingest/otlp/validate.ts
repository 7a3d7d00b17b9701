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
 * Fidelity (issue 8): accepted records are stored with everything the OTLP
 * data model carries, except what is counted in `unstored` and named in the
 * partial_success `error_message` (a warning when nothing was rejected, as the
 * OTLP spec allows): `Resource.entity_refs` (development status, not stored)
 * and duplicate attribute keys (the data model requires unique keys; the last
 * value is stored).
 *
 * Grouping: one envelope per (resource, scope, trace id) — key = trace id, so
 * a trace lands on one partition. Log records without a trace id are grouped
 * per (resource, scope) and keyed by the resource's `service.name`.
 */
import { ENVELOPE_VERSION, type LogEnvelope, type SpanEnvelope } from '../../schemas/envelope.js';
import type { KeyValue, OtlpLogRecord, OtlpResource, OtlpScope, OtlpSpan } from '../../schemas/otlp.js';
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
  /** Values of accepted records that Vigil does not store (see module doc). */
  unstored: number;
  /** First {@link MAX_NAMED_PROBLEMS} of them, each `path.field: what`. */
  unstoredProblems: string[];
}

/** Duplicate keys in an attribute list: how many, and the first. */
function duplicates(kvs: KeyValue[] | undefined): [number, string] {
  if (kvs === undefined || kvs.length < 2) return [0, ''];
  const seen = new Set<string>();
  let n = 0;
  let first = '';
  for (const kv of kvs) {
    if (seen.has(kv.key)) {
      if (n === 0) first = kv.key;
      n++;
    } else seen.add(kv.key);
  }
  return [n, first];
}

function noteUnstored(out: Validated<unknown>, n: number, path: string, what: string): void {
  if (n <= 0) return;
  out.unstored += n;
  if (out.unstoredProblems.length < MAX_NAMED_PROBLEMS) out.unstoredProblems.push(`${path}: ${what}`);
}

function noteDuplicates(out: Validated<unknown>, kvs: KeyValue[] | undefined, path: string): void {
  const [n, first] = duplicates(kvs);
  if (n > 0) noteUnstored(out, n, path, `${n} duplicate attribute key${n === 1 ? '' : 's'} (first '${first}'); only the last value of a key is stored`);
}

/** Count what of a resource and scope Vigil does not store (`p`: path of the Resource*, `q`: of the Scope*). */
function checkContainer(out: Validated<unknown>, resource: OtlpResource, scope: OtlpScope, p: string, q: string, firstScope: boolean): void {
  if (firstScope) {
    noteUnstored(out, resource.entityRefsCount ?? 0, `${p}.resource.entityRefs`, `${resource.entityRefsCount} entity references are not stored (development-status field)`);
    noteDuplicates(out, resource.attributes, `${p}.resource.attributes`);
  }
  noteDuplicates(out, scope.attributes, `${q}.scope.attributes`);
}

/** Count what of an accepted span Vigil does not store. */
function checkSpan(out: Validated<unknown>, s: OtlpSpan, p: string): void {
  noteDuplicates(out, s.attributes, `${p}.attributes`);
  if (s.events !== undefined) s.events.forEach((e, i) => noteDuplicates(out, e.attributes, `${p}.events[${i}].attributes`));
  if (s.links !== undefined) s.links.forEach((l, i) => noteDuplicates(out, l.attributes, `${p}.links[${i}].attributes`));
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
  const out: Validated<SpanEnvelope> = { envelopes: [], accepted: 0, rejected: 0, problems: [], unstored: 0, unstoredProblems: [] };
  req.resourceSpans.forEach((rs, i) => {
    rs.scopeSpans.forEach((ss, j) => {
      const byTrace = new Map<string, OtlpSpan[]>();
      if (ss.spans.length > 0) checkContainer(out, rs.resource, ss.scope, `resourceSpans[${i}]`, `resourceSpans[${i}].scopeSpans[${j}]`, j === 0);
      ss.spans.forEach((span, k) => {
        const problem = spanProblem(span, window);
        if (problem !== null) {
          out.rejected++;
          if (out.problems.length < MAX_NAMED_PROBLEMS) out.problems.push(`resourceSpans[${i}].scopeSpans[${j}].spans[${k}].${problem[0]}: ${problem[1]}`);
          return;
        }
        out.accepted++;
        checkSpan(out, span, `resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`);
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
  const out: Validated<LogEnvelope> = { envelopes: [], accepted: 0, rejected: 0, problems: [], unstored: 0, unstoredProblems: [] };
  req.resourceLogs.forEach((rl, i) => {
    rl.scopeLogs.forEach((sl, j) => {
      const byKey = new Map<string, OtlpLogRecord[]>();
      if (sl.logRecords.length > 0) checkContainer(out, rl.resource, sl.scope, `resourceLogs[${i}]`, `resourceLogs[${i}].scopeLogs[${j}]`, j === 0);
      sl.logRecords.forEach((rec, k) => {
        const problem = logProblem(rec, window);
        if (problem !== null) {
          out.rejected++;
          if (out.problems.length < MAX_NAMED_PROBLEMS) out.problems.push(`resourceLogs[${i}].scopeLogs[${j}].logRecords[${k}].${problem[0]}: ${problem[1]}`);
          return;
        }
        out.accepted++;
        noteDuplicates(out, rec.attributes, `resourceLogs[${i}].scopeLogs[${j}].logRecords[${k}].attributes`);
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

/**
 * The partial-success `error_message`: the named rejections plus a count of
 * the rest, then (when any) what of the accepted records is not stored:
 * `N values not stored: path: what; …`.
 */
export function problemsMessage(v: Validated<unknown>): string {
  const more = v.rejected - v.problems.length;
  const rejected = v.problems.join('; ') + (more > 0 ? `; and ${more} more rejected` : '');
  if (!v.unstored) return rejected;
  const unstored = `${v.unstored} value${v.unstored === 1 ? '' : 's'} of accepted records not stored: ${v.unstoredProblems.join('; ')}`;
  return rejected === '' ? unstored : `${rejected}; ${unstored}`;
}
