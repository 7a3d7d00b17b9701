/**
 * Test oracle: the binary OTLP decoder Vigil used before ingest/otlp/wire.ts
 * — protobufjs's generated `Type.decode` into message objects, then mapped
 * to the OTLP JSON shapes. tests/ingest/otlp-wire.test.ts checks the wire
 * reader against it, output for output and error for error.
 */
import protobuf from 'protobufjs';
import { DecodeError, type DecodedLogs, type DecodedTraces } from '../../ingest/otlp/decode.js';
import { otlpProto } from '../../ingest/otlp/proto.js';
import { MAX_VALUE_DEPTH } from '../../schemas/limits.js';
import type { AnyValue, KeyValue, OtlpLogRecord, OtlpResource, OtlpScope, OtlpSpan, OtlpSpanEvent, OtlpSpanLink } from '../../schemas/otlp.js';


type Msg = Record<string, unknown> & { $type?: protobuf.Type };

function hex(b: unknown): string {
  if (!(b instanceof Uint8Array) || b.length === 0) return '';
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** 64-bit value (Long, number or {low, high}) → decimal string. */
function int64(v: unknown, unsigned: boolean): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && 'low' in v && 'high' in v) {
    const l = v as { low: number; high: number };
    const bits = (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
    return (unsigned ? BigInt.asUintN(64, bits) : BigInt.asIntN(64, bits)).toString();
  }
  return '0';
}

function tooDeep(path: string): never {
  throw new DecodeError(`${path}: AnyValue nested deeper than ${MAX_VALUE_DEPTH} levels (arrayValue/kvlistValue); flatten the attribute`);
}

function pbAnyValue(v: Msg | null | undefined, depth = 0): AnyValue {
  if (!v) return {};
  if (depth > MAX_VALUE_DEPTH) tooDeep('attribute value');
  switch (v['value']) {
    case 'stringValue': return { stringValue: v['stringValue'] as string };
    case 'boolValue': return { boolValue: v['boolValue'] as boolean };
    case 'intValue': return { intValue: int64(v['intValue'], false) };
    case 'doubleValue': return { doubleValue: v['doubleValue'] as number };
    case 'bytesValue': return { bytesValue: Buffer.from(v['bytesValue'] as Uint8Array).toString('base64') };
    case 'arrayValue': return { arrayValue: { values: ((v['arrayValue'] as Msg)['values'] as Msg[]).map((x) => pbAnyValue(x, depth + 1)) } };
    case 'kvlistValue': return { kvlistValue: { values: pbAttrs((v['kvlistValue'] as Msg)['values'], depth + 1) } };
    default: return {};
  }
}

function pbAttrs(list: unknown, depth = 0): KeyValue[] {
  return ((list as Msg[] | undefined) ?? []).map((kv) => ({ key: kv['key'] as string, value: pbAnyValue(kv['value'] as Msg | null, depth) }));
}

/** Resource of a ResourceSpans / ResourceLogs `rs` (with its schema_url and a count of entity_refs). */
function pbResource(rs: Msg): OtlpResource {
  const r = rs['resource'] as Msg | null | undefined;
  const out: OtlpResource = { attributes: r ? pbAttrs(r['attributes']) : [] };
  if (r?.['droppedAttributesCount']) out.droppedAttributesCount = r['droppedAttributesCount'] as number;
  const refs = r?.['entityRefs'] as unknown[] | undefined;
  if (refs !== undefined && refs.length > 0) out.entityRefsCount = refs.length;
  if (rs['schemaUrl']) out.schemaUrl = rs['schemaUrl'] as string;
  return out;
}

/** Scope of a ScopeSpans / ScopeLogs `ss` (with its schema_url). */
function pbScope(ss: Msg): OtlpScope {
  const s = ss['scope'] as Msg | null | undefined;
  const out: OtlpScope = {};
  if (ss['schemaUrl']) out.schemaUrl = ss['schemaUrl'] as string;
  if (!s) return out;
  if (s['name']) out.name = s['name'] as string;
  if (s['version']) out.version = s['version'] as string;
  const attrs = pbAttrs(s['attributes']);
  if (attrs.length > 0) out.attributes = attrs;
  if (s['droppedAttributesCount']) out.droppedAttributesCount = s['droppedAttributesCount'] as number;
  return out;
}

function pbSpan(s: Msg): OtlpSpan {
  const out: OtlpSpan = {
    traceId: hex(s['traceId']),
    spanId: hex(s['spanId']),
    name: s['name'] as string,
    kind: s['kind'] as number,
    startTimeUnixNano: int64(s['startTimeUnixNano'], true),
    endTimeUnixNano: int64(s['endTimeUnixNano'], true),
    attributes: pbAttrs(s['attributes']),
  };
  const parent = hex(s['parentSpanId']);
  if (parent !== '') out.parentSpanId = parent;
  if (s['traceState']) out.traceState = s['traceState'] as string;
  if (s['flags']) out.flags = s['flags'] as number;
  if (s['droppedAttributesCount']) out.droppedAttributesCount = s['droppedAttributesCount'] as number;
  if (s['droppedEventsCount']) out.droppedEventsCount = s['droppedEventsCount'] as number;
  if (s['droppedLinksCount']) out.droppedLinksCount = s['droppedLinksCount'] as number;
  const events = (s['events'] as Msg[]).map((e) => {
    const ev: OtlpSpanEvent = { timeUnixNano: int64(e['timeUnixNano'], true), name: e['name'] as string, attributes: pbAttrs(e['attributes']) };
    if (e['droppedAttributesCount']) ev.droppedAttributesCount = e['droppedAttributesCount'] as number;
    return ev;
  });
  if (events.length > 0) out.events = events;
  const links = (s['links'] as Msg[]).map((l) => {
    const link: OtlpSpanLink = { traceId: hex(l['traceId']), spanId: hex(l['spanId']), attributes: pbAttrs(l['attributes']) };
    if (l['traceState']) link.traceState = l['traceState'] as string;
    if (l['droppedAttributesCount']) link.droppedAttributesCount = l['droppedAttributesCount'] as number;
    if (l['flags']) link.flags = l['flags'] as number;
    return link;
  });
  if (links.length > 0) out.links = links;
  const st = s['status'] as Msg | null | undefined;
  if (st) out.status = { code: st['code'] as number, ...(st['message'] ? { message: st['message'] as string } : {}) };
  return out;
}

function pbLog(r: Msg): OtlpLogRecord {
  const out: OtlpLogRecord = {
    timeUnixNano: int64(r['timeUnixNano'], true),
    observedTimeUnixNano: int64(r['observedTimeUnixNano'], true),
    severityNumber: r['severityNumber'] as number,
    attributes: pbAttrs(r['attributes']),
  };
  if (r['droppedAttributesCount']) out.droppedAttributesCount = r['droppedAttributesCount'] as number;
  if (r['severityText']) out.severityText = r['severityText'] as string;
  if (r['body']) out.body = pbAnyValue(r['body'] as Msg);
  const traceId = hex(r['traceId']);
  const spanId = hex(r['spanId']);
  if (traceId !== '') out.traceId = traceId;
  if (spanId !== '') out.spanId = spanId;
  if (r['flags']) out.flags = r['flags'] as number;
  if (r['eventName']) out.eventName = r['eventName'] as string;
  return out;
}

function pbDecode(type: protobuf.Type, body: Uint8Array): Msg {
  try {
    return type.decode(body) as unknown as Msg;
  } catch (err) {
    throw new DecodeError(`body is not a valid protobuf ${type.name}: ${(err as Error).message}`, err);
  }
}

/**
 * Decode a binary-protobuf ExportTraceServiceRequest.
 * @throws DecodeError (400) when the bytes are not a valid message.
 */
export function oracleTraces(body: Uint8Array): DecodedTraces {
  const msg = pbDecode(otlpProto().ExportTraceServiceRequest, body);
  return {
    resourceSpans: (msg['resourceSpans'] as Msg[]).map((rs) => ({
      resource: pbResource(rs),
      scopeSpans: (rs['scopeSpans'] as Msg[]).map((ss) => ({ scope: pbScope(ss), spans: (ss['spans'] as Msg[]).map(pbSpan) })),
    })),
  };
}

/**
 * Decode a binary-protobuf ExportLogsServiceRequest.
 * @throws DecodeError (400) when the bytes are not a valid message.
 */
export function oracleLogs(body: Uint8Array): DecodedLogs {
  const msg = pbDecode(otlpProto().ExportLogsServiceRequest, body);
  return {
    resourceLogs: (msg['resourceLogs'] as Msg[]).map((rl) => ({
      resource: pbResource(rl),
      scopeLogs: (rl['scopeLogs'] as Msg[]).map((sl) => ({ scope: pbScope(sl), logRecords: (sl['logRecords'] as Msg[]).map(pbLog) })),
    })),
  };
}

