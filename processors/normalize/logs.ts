/**
 * Log records (OTLP or native) → LogRow (schemas/rows.ts, table `logs`).
 *
 * Severity follows the OTel logs data model (SeverityNumber ranges: 1–4 TRACE,
 * 5–8 DEBUG, 9–12 INFO, 13–16 WARN, 17–20 ERROR, 21–24 FATAL; short names
 * TRACE, TRACE2 … FATAL4). A missing severity text is derived from the number;
 * a missing number (0) is derived from a recognised text. Body AnyValue → string
 * (strings as-is, structured values as JSON, bytes base64) plus `body_type`
 * naming the AnyValue member, so the query API returns the body typed (a
 * kvlist as a JSON object). Attribute type codes (`*_types`, migration 0016),
 * flags, dropped counts, event name, scope version / attributes and schema
 * URLs in their own columns (0007); `eventName` is also kept as attribute `event.name`. Time: `timeUnixNano`, else
 * `observedTimeUnixNano`, else the envelope's receive time; observed time
 * likewise falls back to the receive time.
 *
 * @throws VigilError VIGIL_ERR_DECODE on unparsable timestamps.
 */
import type { OtlpLogRecord, OtlpResource, OtlpScope } from '../../schemas/otlp.js';
import type { NativeLog } from '../../schemas/native.js';
import type { LogRow } from '../../schemas/rows.js';
import { msToNs, nsToClickHouse } from '../../schemas/time.js';
import type { AnyValue } from '../../schemas/otlp.js';
import { anyValueToString, flattenKeyValuesTyped, flattenShared, flattenPlainTyped, keyValuesToPlain, normalizeId, setString, uint32 } from './attributes.js';
import { parseMs, parseNs } from './spans.js';

const RANGE_NAMES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;

/** SeverityNumber 1–24 → short name ('' for 0 / out of range). */
export function severityText(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > 24) return '';
  const name = RANGE_NAMES[Math.floor((n - 1) / 4)] ?? '';
  const step = (n - 1) % 4;
  return step === 0 ? name : `${name}${step + 1}`;
}

const TEXT_TO_NUMBER: Record<string, number> = {
  trace: 1, debug: 5, info: 9, information: 9, notice: 10, warn: 13, warning: 13,
  error: 17, err: 17, critical: 21, crit: 21, fatal: 21, alert: 22, emergency: 23, emerg: 23,
};

/** Severity text (any case, optional digit suffix like 'INFO2') → SeverityNumber (0 when unknown). */
export function severityNumber(text: string | undefined): number {
  if (!text) return 0;
  const m = /^([a-z]+)([234])?$/.exec(text.trim().toLowerCase());
  if (!m) return 0;
  const base = TEXT_TO_NUMBER[m[1] ?? ''];
  if (base === undefined) return 0;
  return m[2] ? Math.min(base - ((base - 1) % 4) + Number(m[2]) - 1, 24) : base;
}

function nonZeroNs(v: string | undefined, what: string): bigint | undefined {
  if (v === undefined || v === '' || v === '0') return undefined;
  const n = parseNs(v, what);
  return n === 0n ? undefined : n;
}

/** The `body_type` of an OTLP log body (see rows.ts LogRow.body_type). */
export function bodyType(v: AnyValue | undefined): string {
  if (v === undefined || v === null) return 'empty';
  if (v.stringValue !== undefined) return 'string';
  if (v.boolValue !== undefined) return 'bool';
  if (v.intValue !== undefined) return 'int';
  if (v.doubleValue !== undefined) return 'double';
  if (v.bytesValue !== undefined) return 'bytes';
  if (v.arrayValue !== undefined) return 'array';
  if (v.kvlistValue !== undefined) return 'kvlist';
  return 'empty';
}

/** One OTLP log record → LogRow. */
export function otlpLogToRow(
  tenant: string,
  resource: OtlpResource | undefined,
  scope: OtlpScope | undefined,
  rec: OtlpLogRecord,
  receivedAtMs: number,
): LogRow {
  const received = msToNs(receivedAtMs);
  const observed = nonZeroNs(rec.observedTimeUnixNano, 'observedTimeUnixNano');
  const time = nonZeroNs(rec.timeUnixNano, 'timeUnixNano') ?? observed ?? received;
  const res = flattenShared(resource);
  const attrs = flattenKeyValuesTyped(rec.attributes);
  const resourceAttributes = res.all;
  const attributes = attrs.all;
  if (rec.eventName) setString(attrs, 'event.name', rec.eventName);
  let num = Number.isInteger(rec.severityNumber) ? (rec.severityNumber as number) : 0;
  if (num < 0 || num > 24) num = 0;
  if (num === 0) num = severityNumber(rec.severityText);
  return {
    tenant,
    time: nsToClickHouse(time),
    observed_time: nsToClickHouse(observed ?? received),
    severity_number: num,
    severity_text: rec.severityText || severityText(num),
    body: anyValueToString(rec.body),
    service: resourceAttributes['service.name'] || 'unknown_service',
    trace_id: normalizeId(rec.traceId),
    span_id: normalizeId(rec.spanId),
    scope_name: scope?.name ?? '',
    resource_attributes: resourceAttributes,
    attributes,
    body_type: bodyType(rec.body),
    flags: uint32(rec.flags),
    dropped_attributes_count: uint32(rec.droppedAttributesCount),
    event_name: rec.eventName ?? '',
    scope_version: scope?.version ?? '',
    scope_attributes: JSON.stringify(keyValuesToPlain(scope?.attributes)),
    scope_dropped_attributes_count: uint32(scope?.droppedAttributesCount),
    scope_schema_url: scope?.schemaUrl ?? '',
    resource_dropped_attributes_count: uint32(resource?.droppedAttributesCount),
    resource_schema_url: resource?.schemaUrl ?? '',
    attributes_types: attrs.types,
    resource_attributes_types: res.types,
    attributes_format: 1,
  };
}

/** One native log (zod output of schemas/native.ts) → LogRow. */
export function nativeLogToRow(tenant: string, rec: NativeLog, receivedAtMs: number): LogRow {
  const num = severityNumber(rec.severity ?? 'info') || 9;
  const res = flattenPlainTyped(rec.resource);
  if (!res.all['service.name'] && rec.service) setString(res, 'service.name', rec.service);
  const attrs = flattenPlainTyped(rec.attributes);
  return {
    tenant,
    time: nsToClickHouse(parseMs(rec.time, 'time')),
    observed_time: nsToClickHouse(msToNs(receivedAtMs)),
    severity_number: num,
    severity_text: severityText(num),
    body: typeof rec.body === 'string' ? rec.body : JSON.stringify(rec.body ?? ''),
    service: rec.service || 'unknown_service',
    trace_id: normalizeId(rec.trace_id),
    span_id: normalizeId(rec.span_id),
    scope_name: '',
    resource_attributes: res.all,
    attributes: attrs.all,
    body_type: 'string',
    attributes_types: attrs.types,
    resource_attributes_types: res.types,
    attributes_format: 1,
  };
}
