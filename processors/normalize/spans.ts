/**
 * Spans (OTLP or native) → SpanRow (schemas/rows.ts, table `spans`).
 *
 * OTLP: attributes flattened (normalize/attributes.ts); service from resource
 * `service.name` ('unknown_service' when absent, per the OTel resource
 * semconv default); SpanKind enum → name; status code 0/1/2 → 'unset'/'ok'/'error';
 * events → JSON `[{time_unix_nano, name, attributes, dropped_attributes_count?}]`,
 * links → JSON `[{trace_id, span_id, trace_state, attributes, dropped_attributes_count?, flags?}]`
 * (attribute values typed JSON: numbers, booleans, strings, arrays, objects;
 * int64 beyond 2^53 and bytes as strings); the attribute type codes
 * (`*_types`, migration 0016), dropped counts, trace state, flags, schema URLs
 * and scope attributes in their own columns (0007). Native spans get type
 * codes from their JSON types.
 * Native: times in epoch ms (or ISO strings) → ns; end from start + duration_ms
 * when end_time is absent; status completed/ok → 'ok', failed/error → 'error',
 * anything else 'unset'; `error` → status_message, `error_type` → attribute
 * `error.type`, `span_type` → attribute `vigil.span_type`.
 * Both: GenAI facts (processors/genai.ts) and cost (processors/cost.ts).
 *
 * @throws VigilError VIGIL_ERR_DECODE when a record lacks ids or has unparsable times.
 */
import { VigilError } from '../../platform/errors.js';
import type { OtlpResource, OtlpScope, OtlpSpan, OtlpSpanEvent, OtlpSpanLink } from '../../schemas/otlp.js';
import type { NativeSpan } from '../../schemas/native.js';
import type { SpanRow } from '../../schemas/rows.js';
import { msToNs, nsToClickHouse } from '../../schemas/time.js';
import { STORABLE_WINDOW, timeProblem } from '../../schemas/limits.js';
import { priceCall } from '../cost.js';
import { genAiInfo } from '../genai.js';
import { flattenKeyValuesTyped, flattenShared, flattenPlainTyped, keyValuesToPlain, normalizeId, setString, uint32 } from './attributes.js';

/** SpanKind enum values (trace.proto) → the `kind` column's names. */
export const KIND_NAMES = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'] as const;
/** Status.code enum values (trace.proto) → the `status_code` column's names. */
export const STATUS_NAMES = ['unset', 'ok', 'error'] as const;
const NATIVE_KINDS = new Set<string>(KIND_NAMES);

/** Parse an OTLP ns timestamp (decimal string or number). */
export function parseNs(v: string | number | undefined, what: string): bigint {
  if (v === undefined || v === null || v === '') throw new VigilError('VIGIL_ERR_DECODE', `${what} is missing`);
  let n: bigint;
  try {
    n = BigInt(typeof v === 'number' ? Math.trunc(v) : v);
    if (n < 0n) throw new RangeError('negative');
  } catch {
    throw new VigilError('VIGIL_ERR_DECODE', `${what} must be ns since the epoch as a decimal string, got ${JSON.stringify(v)}`);
  }
  return storable(n, what);
}

/** `ns` when ClickHouse can store it (schemas/limits.ts STORABLE_WINDOW), else VIGIL_ERR_DECODE naming `what`. */
function storable(ns: bigint, what: string): bigint {
  const problem = timeProblem(ns, STORABLE_WINDOW);
  if (problem !== null) throw new VigilError('VIGIL_ERR_DECODE', `${what}: ${problem}`);
  return ns;
}

/** Parse a native timestamp (epoch ms number, or ISO string) to ns. */
export function parseMs(v: number | string | undefined | null, what: string): bigint {
  const ms = typeof v === 'string' ? Date.parse(v) : v;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw new VigilError('VIGIL_ERR_DECODE', `${what} must be epoch milliseconds or an ISO-8601 string, got ${JSON.stringify(v)}`);
  }
  return storable(msToNs(ms), what);
}

function requireId(id: string | undefined | null, what: string): string {
  const s = normalizeId(id);
  if (!s) throw new VigilError('VIGIL_ERR_DECODE', `${what} is missing or all zeros`);
  return s;
}

const scopeJson = new WeakMap<object, string>();
/** JSON of a scope's attributes (the `scope_attributes` column; '{}' when none), once per decoded scope object. */
export function scopeAttributesJson(scope: OtlpScope | undefined): string {
  if (scope === undefined || scope === null) return '{}';
  let j = scopeJson.get(scope);
  if (j === undefined) {
    j = JSON.stringify(keyValuesToPlain(scope.attributes));
    scopeJson.set(scope, j);
  }
  return j;
}

/** Fill the GenAI and cost columns of a row from its attributes (+ native explicit fields). */
function withGenAi(
  base: Omit<SpanRow, 'model' | 'provider' | 'user_id' | 'input_tokens' | 'output_tokens' | 'cached_tokens' | 'cost_usd' | 'unpriced'> & Partial<SpanRow>,
  startNs: bigint,
  explicit?: Parameters<typeof genAiInfo>[1],
): SpanRow {
  const g = genAiInfo(base.attributes, explicit);
  const cost = priceCall({ ...g, atMs: Number(startNs / 1_000_000n) });
  // Filled in place: copying a ~40-field row per span showed in the worker's profile.
  const row = base as SpanRow;
  row.model = g.model;
  row.provider = g.provider;
  row.user_id = g.userId;
  row.input_tokens = g.inputTokens;
  row.output_tokens = g.outputTokens;
  row.cached_tokens = g.cachedTokens;
  row.cost_usd = cost.cost_usd;
  row.unpriced = cost.unpriced;
  return row;
}

/**
 * The `events` column of a span: JSON `[{time_unix_nano, name, attributes, dropped_attributes_count?}]`
 * (attribute values typed, {@link keyValuesToPlain}); '[]' when none.
 */
export function eventsJson(events: readonly OtlpSpanEvent[] | undefined): string {
  if (events === undefined || events.length === 0) return '[]';
  return JSON.stringify(events.map((e) => {
    const out: Record<string, unknown> = { time_unix_nano: e.timeUnixNano ?? '0', name: e.name ?? '', attributes: keyValuesToPlain(e.attributes) };
    if (uint32(e.droppedAttributesCount) > 0) out['dropped_attributes_count'] = uint32(e.droppedAttributesCount);
    return out;
  }));
}

/**
 * The `links` column of a span: JSON `[{trace_id, span_id, trace_state, attributes, dropped_attributes_count?, flags?}]`; '[]' when none.
 */
export function linksJson(links: readonly OtlpSpanLink[] | undefined): string {
  if (links === undefined || links.length === 0) return '[]';
  return JSON.stringify(links.map((l) => {
    const out: Record<string, unknown> = {
      trace_id: normalizeId(l.traceId),
      span_id: normalizeId(l.spanId),
      trace_state: l.traceState ?? '',
      attributes: keyValuesToPlain(l.attributes),
    };
    if (uint32(l.droppedAttributesCount) > 0) out['dropped_attributes_count'] = uint32(l.droppedAttributesCount);
    if (uint32(l.flags) > 0) out['flags'] = uint32(l.flags);
    return out;
  }));
}

/**
 * One OTLP span → SpanRow.
 * @param tenant project id from the envelope.
 */
export function otlpSpanToRow(tenant: string, resource: OtlpResource | undefined, scope: OtlpScope | undefined, span: OtlpSpan): SpanRow {
  const res = flattenShared(resource);
  const attrs = flattenKeyValuesTyped(span.attributes);
  const resourceAttributes = res.all;
  const attributes = attrs.all;
  const startNs = parseNs(span.startTimeUnixNano, 'startTimeUnixNano');
  const endNs = parseNs(span.endTimeUnixNano, 'endTimeUnixNano');
  const events = eventsJson(span.events);
  const links = linksJson(span.links);
  return withGenAi(
    {
      tenant,
      trace_id: requireId(span.traceId, 'traceId'),
      span_id: requireId(span.spanId, 'spanId'),
      parent_span_id: normalizeId(span.parentSpanId),
      name: span.name ?? '',
      kind: KIND_NAMES[span.kind ?? 0] ?? 'unspecified',
      service: resourceAttributes['service.name'] || 'unknown_service',
      start_time: nsToClickHouse(startNs),
      end_time: nsToClickHouse(endNs),
      duration_ns: endNs > startNs ? Number(endNs - startNs) : 0,
      status_code: STATUS_NAMES[span.status?.code ?? 0] ?? 'unset',
      status_message: span.status?.message ?? '',
      scope_name: scope?.name ?? '',
      scope_version: scope?.version ?? '',
      resource_attributes: resourceAttributes,
      attributes,
      events,
      trace_state: span.traceState ?? '',
      flags: uint32(span.flags),
      dropped_attributes_count: uint32(span.droppedAttributesCount),
      dropped_events_count: uint32(span.droppedEventsCount),
      dropped_links_count: uint32(span.droppedLinksCount),
      links,
      attributes_types: attrs.types,
      resource_attributes_types: res.types,
      attributes_format: 1,
      resource_dropped_attributes_count: uint32(resource?.droppedAttributesCount),
      resource_schema_url: resource?.schemaUrl ?? '',
      scope_attributes: scopeAttributesJson(scope),
      scope_dropped_attributes_count: uint32(scope?.droppedAttributesCount),
      scope_schema_url: scope?.schemaUrl ?? '',
    },
    startNs,
  );
}

/** Native status → 'ok' | 'error' | 'unset'. */
export function nativeStatus(s: string | undefined): 'ok' | 'error' | 'unset' {
  if (s === 'completed' || s === 'ok') return 'ok';
  if (s === 'failed' || s === 'error') return 'error';
  return 'unset';
}

/** One native span (zod output of schemas/native.ts) → SpanRow. */
export function nativeSpanToRow(tenant: string, span: NativeSpan): SpanRow {
  const startNs = parseMs(span.start_time, 'start_time');
  let endNs: bigint;
  if (span.end_time !== undefined && span.end_time !== null) endNs = parseMs(span.end_time, 'end_time');
  else if (typeof span.duration_ms === 'number' && Number.isFinite(span.duration_ms)) endNs = startNs + msToNs(span.duration_ms);
  else throw new VigilError('VIGIL_ERR_DECODE', 'either end_time or duration_ms is required');
  const attrs = flattenPlainTyped(span.attributes);
  if (span.error_type) setString(attrs, 'error.type', span.error_type);
  if (span.span_type) setString(attrs, 'vigil.span_type', span.span_type);
  const res = flattenPlainTyped(span.resource);
  if (!res.all['service.name'] && span.service) setString(res, 'service.name', span.service);
  const attributes = attrs.all;
  const resourceAttributes = res.all;
  return withGenAi(
    {
      tenant,
      trace_id: requireId(span.trace_id, 'trace_id'),
      span_id: requireId(span.span_id, 'span_id'),
      parent_span_id: normalizeId(span.parent_span_id),
      name: span.name,
      kind: NATIVE_KINDS.has(span.kind) ? span.kind : 'internal',
      service: span.service || resourceAttributes['service.name'] || 'unknown_service',
      start_time: nsToClickHouse(startNs),
      end_time: nsToClickHouse(endNs),
      duration_ns: endNs > startNs ? Number(endNs - startNs) : 0,
      status_code: nativeStatus(span.status),
      status_message: span.error ?? '',
      scope_name: '',
      scope_version: '',
      resource_attributes: resourceAttributes,
      attributes,
      events: '[]',
      attributes_types: attrs.types,
      resource_attributes_types: res.types,
      attributes_format: 1,
    },
    startNs,
    {
      model: span.model,
      provider: span.provider,
      userId: span.user_id,
      inputTokens: span.input_tokens,
      outputTokens: span.output_tokens,
      cachedTokens: span.cached_tokens,
    },
  );
}
