/**
 * Spans and log records read from the protobuf wire (see ingest/otlp/wire.ts
 * for the approach and the semantics, which are protobufjs 8's generated
 * decoders'). Field numbers: opentelemetry-proto v1 trace.proto, logs.proto.
 */
import protobuf from 'protobufjs';
import type { AnyValue, KeyValue, OtlpLogRecord, OtlpSpan, OtlpSpanEvent, OtlpSpanLink } from '../../schemas/otlp.js';
import type { DecodedLogs, DecodedTraces } from './decode.js';
import {
  anyValue, attributeInto, fixed64String, hexOf, mergeAnyValue, message, readerOf, resourceContainer, scopeContainer, str, uint64String,
  WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT,
} from './wire.js';

type Reader = protobuf.Reader;

function attributesList(r: Reader, view: Buffer, depth: number, into: KeyValue[]): void {
  attributeInto(into, r, view, depth + 1);
}

/** One Span.Event message at the reader's position. @throws as wire.ts's anyValue. */
export function event(r: Reader, view: Buffer, depth: number): OtlpSpanEvent {
  let time = '0';
  let name = '';
  const attributes: KeyValue[] = [];
  let dropped = 0;
  message(r, depth, false, (no, wire) => {
    if (no === 1 && wire === WIRE_FIXED64) time = fixed64String(r);
    else if (no === 2 && wire === WIRE_LEN) name = str(r, view);
    else if (no === 3 && wire === WIRE_LEN) attributesList(r, view, depth, attributes);
    else if (no === 4 && wire === WIRE_VARINT) dropped = r.uint32();
    else return false;
    return true;
  });
  const ev: OtlpSpanEvent = { timeUnixNano: time, name, attributes };
  if (dropped) ev.droppedAttributesCount = dropped;
  return ev;
}

/** One Span.Link message at the reader's position. @throws as wire.ts's anyValue. */
export function link(r: Reader, view: Buffer, depth: number): OtlpSpanLink {
  let traceId = '';
  let spanId = '';
  let traceState = '';
  const attributes: KeyValue[] = [];
  let dropped = 0;
  let flags = 0;
  message(r, depth, false, (no, wire) => {
    if (no === 1 && wire === WIRE_LEN) traceId = hexOf(r, view);
    else if (no === 2 && wire === WIRE_LEN) spanId = hexOf(r, view);
    else if (no === 3 && wire === WIRE_LEN) traceState = str(r, view);
    else if (no === 4 && wire === WIRE_LEN) attributesList(r, view, depth, attributes);
    else if (no === 5 && wire === WIRE_VARINT) dropped = r.uint32();
    else if (no === 6 && wire === WIRE_FIXED32) flags = r.fixed32();
    else return false;
    return true;
  });
  const out: OtlpSpanLink = { traceId, spanId, attributes };
  if (traceState) out.traceState = traceState;
  if (dropped) out.droppedAttributesCount = dropped;
  if (flags) out.flags = flags;
  return out;
}

/**
 * The fields of one Span message (trace.proto) but its attributes, which
 * the caller reads: {@link readSpanFields}.
 */
export interface SpanFields {
  traceId: string;
  spanId: string;
  traceState: string;
  parentSpanId: string;
  flags: number;
  name: string;
  kind: number;
  /** fixed64 halves of the start and end times (ns since the epoch), unsigned. */
  startLo: number;
  startHi: number;
  endLo: number;
  endHi: number;
  droppedAttributes: number;
  events: OtlpSpanEvent[];
  droppedEvents: number;
  links: OtlpSpanLink[];
  droppedLinks: number;
  /** Present when the span had a status field (repeated ones merge). */
  status: { code: number; message: string } | undefined;
}

/**
 * Read one Span message at the reader's position: every field into the
 * result, except attributes (field 9), for each of which `attribute(depth)`
 * is called with the reader at the KeyValue (its length first). Shared by
 * the OTLP-shape decoder below and the processors' columnar reader
 * (processors/span-wire.ts), so both read the wire alike.
 * @throws as {@link readTraces}.
 */
export function readSpanFields(r: Reader, view: Buffer, depth: number, attribute: (depth: number) => void): SpanFields {
  const f: SpanFields = {
    traceId: '', spanId: '', traceState: '', parentSpanId: '', flags: 0, name: '', kind: 0,
    startLo: 0, startHi: 0, endLo: 0, endHi: 0, droppedAttributes: 0, events: [], droppedEvents: 0, links: [], droppedLinks: 0, status: undefined,
  };
  message(r, depth, false, (no, wire) => {
    switch (no) {
      case 1: if (wire !== WIRE_LEN) return false; f.traceId = hexOf(r, view); return true;
      case 2: if (wire !== WIRE_LEN) return false; f.spanId = hexOf(r, view); return true;
      case 3: if (wire !== WIRE_LEN) return false; f.traceState = str(r, view); return true;
      case 4: if (wire !== WIRE_LEN) return false; f.parentSpanId = hexOf(r, view); return true;
      case 16: if (wire !== WIRE_FIXED32) return false; f.flags = r.fixed32(); return true;
      case 5: if (wire !== WIRE_LEN) return false; f.name = str(r, view); return true;
      case 6: if (wire !== WIRE_VARINT) return false; f.kind = r.int32(); return true;
      case 7: if (wire !== WIRE_FIXED64) return false; f.startLo = r.fixed32() >>> 0; f.startHi = r.fixed32() >>> 0; return true;
      case 8: if (wire !== WIRE_FIXED64) return false; f.endLo = r.fixed32() >>> 0; f.endHi = r.fixed32() >>> 0; return true;
      case 9: if (wire !== WIRE_LEN) return false; attribute(depth + 1); return true;
      case 10: if (wire !== WIRE_VARINT) return false; f.droppedAttributes = r.uint32(); return true;
      case 11: if (wire !== WIRE_LEN) return false; f.events.push(event(r, view, depth + 1)); return true;
      case 12: if (wire !== WIRE_VARINT) return false; f.droppedEvents = r.uint32(); return true;
      case 13: if (wire !== WIRE_LEN) return false; f.links.push(link(r, view, depth + 1)); return true;
      case 14: if (wire !== WIRE_VARINT) return false; f.droppedLinks = r.uint32(); return true;
      case 15: {
        if (wire !== WIRE_LEN) return false;
        const st = (f.status ??= { code: 0, message: '' });
        message(r, depth + 1, false, (n, w) => {
          if (n === 2 && w === WIRE_LEN) st.message = str(r, view);
          else if (n === 3 && w === WIRE_VARINT) st.code = r.int32();
          else return false;
          return true;
        });
        return true;
      }
      default: return false;
    }
  });
  return f;
}

function span(r: Reader, view: Buffer, depth: number): OtlpSpan {
  const attributes: KeyValue[] = [];
  const f = readSpanFields(r, view, depth, (d) => attributeInto(attributes, r, view, d));
  const out: OtlpSpan = {
    traceId: f.traceId, spanId: f.spanId, name: f.name, kind: f.kind,
    startTimeUnixNano: uint64String(f.startLo, f.startHi), endTimeUnixNano: uint64String(f.endLo, f.endHi), attributes,
  };
  if (f.parentSpanId !== '') out.parentSpanId = f.parentSpanId;
  if (f.traceState) out.traceState = f.traceState;
  if (f.flags) out.flags = f.flags;
  if (f.droppedAttributes) out.droppedAttributesCount = f.droppedAttributes;
  if (f.droppedEvents) out.droppedEventsCount = f.droppedEvents;
  if (f.droppedLinks) out.droppedLinksCount = f.droppedLinks;
  if (f.events.length > 0) out.events = f.events;
  if (f.links.length > 0) out.links = f.links;
  if (f.status !== undefined) out.status = { code: f.status.code, ...(f.status.message ? { message: f.status.message } : {}) };
  return out;
}

function logRecord(r: Reader, view: Buffer, depth: number): OtlpLogRecord {
  let time = '0';
  let observed = '0';
  let severityNumber = 0;
  let severityText = '';
  let body: AnyValue | undefined;
  const attributes: KeyValue[] = [];
  let dropped = 0;
  let flags = 0;
  let traceId = '';
  let spanId = '';
  let eventName = '';
  message(r, depth, false, (no, wire) => {
    switch (no) {
      case 1: if (wire !== WIRE_FIXED64) return false; time = fixed64String(r); return true;
      case 11: if (wire !== WIRE_FIXED64) return false; observed = fixed64String(r); return true;
      case 2: if (wire !== WIRE_VARINT) return false; severityNumber = r.int32(); return true;
      case 3: if (wire !== WIRE_LEN) return false; severityText = str(r, view); return true;
      case 5: if (wire !== WIRE_LEN) return false; body = mergeAnyValue(body, anyValue(r, view, depth + 1, 0)); return true;
      case 6: if (wire !== WIRE_LEN) return false; attributesList(r, view, depth, attributes); return true;
      case 7: if (wire !== WIRE_VARINT) return false; dropped = r.uint32(); return true;
      case 8: if (wire !== WIRE_FIXED32) return false; flags = r.fixed32(); return true;
      case 9: if (wire !== WIRE_LEN) return false; traceId = hexOf(r, view); return true;
      case 10: if (wire !== WIRE_LEN) return false; spanId = hexOf(r, view); return true;
      case 12: if (wire !== WIRE_LEN) return false; eventName = str(r, view); return true;
      default: return false;
    }
  });
  const out: OtlpLogRecord = { timeUnixNano: time, observedTimeUnixNano: observed, severityNumber, attributes };
  if (dropped) out.droppedAttributesCount = dropped;
  if (severityText) out.severityText = severityText;
  if (body !== undefined) out.body = body;
  if (traceId !== '') out.traceId = traceId;
  if (spanId !== '') out.spanId = spanId;
  if (flags) out.flags = flags;
  if (eventName) out.eventName = eventName;
  return out;
}

/**
 * ExportTraceServiceRequest → {@link DecodedTraces}.
 * @throws WireDepthError (too deep), RangeError / Error from protobufjs's Reader (truncated, bad wire type, invalid UTF-8).
 */
export function readTraces(body: Uint8Array): DecodedTraces {
  const [r, view] = readerOf(body);
  const out: DecodedTraces = { resourceSpans: [] };
  message(r, 0, true, (no, wire) => {
    if (no !== 1 || wire !== WIRE_LEN) return false;
    const rs = resourceContainer(r, view, 1, (d) => scopeContainer(r, view, d, (d2) => span(r, view, d2)));
    out.resourceSpans.push({ resource: rs.resource, scopeSpans: rs.scopes.map((s) => ({ scope: s.scope, spans: s.records })) });
    return true;
  });
  return out;
}

/**
 * ExportLogsServiceRequest → {@link DecodedLogs}.
 * @throws as {@link readTraces}.
 */
export function readLogs(body: Uint8Array): DecodedLogs {
  const [r, view] = readerOf(body);
  const out: DecodedLogs = { resourceLogs: [] };
  message(r, 0, true, (no, wire) => {
    if (no !== 1 || wire !== WIRE_LEN) return false;
    const rl = resourceContainer(r, view, 1, (d) => scopeContainer(r, view, d, (d2) => logRecord(r, view, d2)));
    out.resourceLogs.push({ resource: rl.resource, scopeLogs: rl.scopes.map((s) => ({ scope: s.scope, logRecords: s.records })) });
    return true;
  });
  return out;
}
