/**
 * Spans and log records read from the protobuf wire (see ingest/otlp/wire.ts
 * for the approach and the semantics, which are protobufjs 8's generated
 * decoders'). Field numbers: opentelemetry-proto v1 trace.proto, logs.proto.
 */
import protobuf from 'protobufjs';
import type { AnyValue, KeyValue, OtlpLogRecord, OtlpSpan, OtlpSpanEvent, OtlpSpanLink } from '../../schemas/otlp.js';
import type { DecodedLogs, DecodedTraces } from './decode.js';
import {
  anyValue, attributeInto, fixed64String, hexOf, mergeAnyValue, message, readerOf, resourceContainer, scopeContainer, str,
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

function span(r: Reader, view: Buffer, depth: number): OtlpSpan {
  let traceId = '';
  let spanId = '';
  let traceState = '';
  let parent = '';
  let flags = 0;
  let name = '';
  let kind = 0;
  let start = '0';
  let end = '0';
  const attributes: KeyValue[] = [];
  let droppedAttributes = 0;
  const events: OtlpSpanEvent[] = [];
  let droppedEvents = 0;
  const links: OtlpSpanLink[] = [];
  let droppedLinks = 0;
  let status: { code: number; message: string } | undefined;
  message(r, depth, false, (no, wire) => {
    switch (no) {
      case 1: if (wire !== WIRE_LEN) return false; traceId = hexOf(r, view); return true;
      case 2: if (wire !== WIRE_LEN) return false; spanId = hexOf(r, view); return true;
      case 3: if (wire !== WIRE_LEN) return false; traceState = str(r, view); return true;
      case 4: if (wire !== WIRE_LEN) return false; parent = hexOf(r, view); return true;
      case 16: if (wire !== WIRE_FIXED32) return false; flags = r.fixed32(); return true;
      case 5: if (wire !== WIRE_LEN) return false; name = str(r, view); return true;
      case 6: if (wire !== WIRE_VARINT) return false; kind = r.int32(); return true;
      case 7: if (wire !== WIRE_FIXED64) return false; start = fixed64String(r); return true;
      case 8: if (wire !== WIRE_FIXED64) return false; end = fixed64String(r); return true;
      case 9: if (wire !== WIRE_LEN) return false; attributesList(r, view, depth, attributes); return true;
      case 10: if (wire !== WIRE_VARINT) return false; droppedAttributes = r.uint32(); return true;
      case 11: if (wire !== WIRE_LEN) return false; events.push(event(r, view, depth + 1)); return true;
      case 12: if (wire !== WIRE_VARINT) return false; droppedEvents = r.uint32(); return true;
      case 13: if (wire !== WIRE_LEN) return false; links.push(link(r, view, depth + 1)); return true;
      case 14: if (wire !== WIRE_VARINT) return false; droppedLinks = r.uint32(); return true;
      case 15: {
        if (wire !== WIRE_LEN) return false;
        const st = (status ??= { code: 0, message: '' });
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
  const out: OtlpSpan = { traceId, spanId, name, kind, startTimeUnixNano: start, endTimeUnixNano: end, attributes };
  if (parent !== '') out.parentSpanId = parent;
  if (traceState) out.traceState = traceState;
  if (flags) out.flags = flags;
  if (droppedAttributes) out.droppedAttributesCount = droppedAttributes;
  if (droppedEvents) out.droppedEventsCount = droppedEvents;
  if (droppedLinks) out.droppedLinksCount = droppedLinks;
  if (events.length > 0) out.events = events;
  if (links.length > 0) out.links = links;
  if (status !== undefined) out.status = { code: status.code, ...(status.message ? { message: status.message } : {}) };
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
