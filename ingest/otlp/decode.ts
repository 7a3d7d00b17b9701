/**
 * OTLP request decoding: binary protobuf (ingest/otlp/wire.ts, protobufjs's
 * Reader over the vendored definitions' field numbers) and OTLP/JSON both map into the shapes of schemas/otlp.ts — the OTLP JSON
 * encoding (OTLP spec, "JSON Protobuf Encoding"): ids lowercase hex, 64-bit
 * integers (timestamps in ns since the Unix epoch, intValue) as decimal
 * strings, enums as numbers, bytesValue as base64.
 *
 * Decoding checks structure only. Record-level problems (bad ids, missing
 * times or names) are left in the output for ingest/otlp/validate.ts, which
 * rejects single records (partial success) instead of the whole request:
 * missing ids decode to '', missing times to '0'.
 *
 * AnyValue nesting (arrayValue / kvlistValue) deeper than MAX_VALUE_DEPTH
 * (schemas/limits.ts) fails the request with 400 naming the path and the limit.
 */
import { VigilError } from '../../platform/errors.js';
import type { AnyValue, KeyValue, OtlpLogRecord, OtlpResource, OtlpScope, OtlpSpan, OtlpSpanEvent, OtlpSpanLink } from '../../schemas/otlp.js';
import { MAX_VALUE_DEPTH } from '../../schemas/limits.js';
import { WireDepthError } from './wire.js';
import { readLogs, readTraces } from './wire-records.js';

/** A decoded ExportTraceServiceRequest (records not yet validated). */
export interface DecodedTraces {
  resourceSpans: Array<{ resource: OtlpResource; scopeSpans: Array<{ scope: OtlpScope; spans: OtlpSpan[] }> }>;
}

/** A decoded ExportLogsServiceRequest (records not yet validated). */
export interface DecodedLogs {
  resourceLogs: Array<{ resource: OtlpResource; scopeLogs: Array<{ scope: OtlpScope; logRecords: OtlpLogRecord[] }> }>;
}

/** 400: the body is not a decodable OTLP message. */
export class DecodeError extends VigilError {
  constructor(message: string, cause?: unknown) {
    super('VIGIL_ERR_DECODE', message, cause === undefined ? {} : { cause });
    this.name = 'DecodeError';
  }
}

// ---------------------------------------------------------------- protobuf

function wireError(type: string, err: unknown): DecodeError {
  if (err instanceof WireDepthError && err.message.startsWith('attribute value:')) return new DecodeError(err.message, err);
  return new DecodeError(`body is not a valid protobuf ${type}: ${(err as Error).message}`, err);
}

/**
 * Decode a binary-protobuf ExportTraceServiceRequest (ingest/otlp/wire.ts).
 * @throws DecodeError (400) when the bytes are not a valid message.
 */
export function decodeTracesProtobuf(body: Uint8Array): DecodedTraces {
  try {
    return readTraces(body);
  } catch (err) {
    throw wireError('ExportTraceServiceRequest', err);
  }
}

/**
 * Decode a binary-protobuf ExportLogsServiceRequest (ingest/otlp/wire.ts).
 * @throws DecodeError (400) when the bytes are not a valid message.
 */
export function decodeLogsProtobuf(body: Uint8Array): DecodedLogs {
  try {
    return readLogs(body);
  } catch (err) {
    throw wireError('ExportLogsServiceRequest', err);
  }
}

// ---------------------------------------------------------------- JSON

type Obj = Record<string, unknown>;

function tooDeep(path: string): never {
  throw new DecodeError(`${path}: AnyValue nested deeper than ${MAX_VALUE_DEPTH} levels (arrayValue/kvlistValue); flatten the attribute`);
}

function bad(path: string, what: string): never {
  throw new DecodeError(`${path}: ${what}`);
}
function obj(v: unknown, path: string): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) bad(path, 'must be an object');
  return v as Obj;
}
function arr(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) bad(path, 'must be an array');
  return v;
}
function str(v: unknown, path: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') bad(path, 'must be a string');
  return v;
}
function num(v: unknown, path: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  bad(path, 'must be an integer (OTLP/JSON encodes enums as integers)');
}
/** int64/fixed64 as JSON number or decimal string → canonical decimal string. */
function int64Json(v: unknown, path: string, unsigned: boolean): string {
  if (v === undefined || v === null) return '0';
  let n: bigint | undefined;
  if (typeof v === 'number' && Number.isInteger(v) && (!unsigned || v >= 0)) n = BigInt(v);
  else if (typeof v === 'string' && (unsigned ? /^\d+$/ : /^-?\d+$/).test(v)) n = BigInt(v);
  // The protobuf types are (u)int64/fixed64: a value outside their range is not a valid OTLP value.
  if (n !== undefined && n <= (unsigned ? UINT64_MAX : INT64_MAX) && n >= (unsigned ? 0n : INT64_MIN)) return n.toString();
  bad(path, `must be ${unsigned ? 'a non-negative' : 'an'} integer within the ${unsigned ? 'uint64' : 'int64'} range (decimal string or number)`);
}
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
/** Hex id (case-insensitive per spec) → lowercase; '' when absent. Length/zero checks are validation's job. */
function hexJson(v: unknown, path: string): string {
  const s = str(v, path);
  if (s === undefined) return '';
  if (!/^[0-9a-fA-F]*$/.test(s)) bad(path, 'must be a hex string');
  return s.toLowerCase();
}

function jsonAnyValue(v: unknown, path: string, depth = 0): AnyValue {
  if (depth > MAX_VALUE_DEPTH) tooDeep(path);
  const o = obj(v, path);
  if (o['stringValue'] !== undefined) return { stringValue: str(o['stringValue'], `${path}.stringValue`) ?? '' };
  if (o['boolValue'] !== undefined) {
    if (typeof o['boolValue'] !== 'boolean') bad(`${path}.boolValue`, 'must be a boolean');
    return { boolValue: o['boolValue'] };
  }
  if (o['intValue'] !== undefined) return { intValue: int64Json(o['intValue'], `${path}.intValue`, false) };
  if (o['doubleValue'] !== undefined) {
    const d = o['doubleValue'];
    const n = typeof d === 'number' ? d : typeof d === 'string' ? Number(d) : Number.NaN;
    if (typeof d !== 'number' && !(typeof d === 'string' && (d === 'NaN' || !Number.isNaN(n)))) bad(`${path}.doubleValue`, 'must be a number');
    return { doubleValue: n };
  }
  if (o['bytesValue'] !== undefined) return { bytesValue: str(o['bytesValue'], `${path}.bytesValue`) ?? '' };
  if (o['arrayValue'] !== undefined) {
    const values = arr(obj(o['arrayValue'], `${path}.arrayValue`)['values'], `${path}.arrayValue.values`);
    return { arrayValue: { values: values.map((x, i) => jsonAnyValue(x, `${path}.arrayValue.values[${i}]`, depth + 1)) } };
  }
  if (o['kvlistValue'] !== undefined) {
    return { kvlistValue: { values: jsonAttrs(obj(o['kvlistValue'], `${path}.kvlistValue`)['values'], `${path}.kvlistValue.values`, depth + 1) } };
  }
  return {};
}

function jsonAttrs(v: unknown, path: string, depth = 0): KeyValue[] {
  return arr(v, path).map((kv, i) => {
    const o = obj(kv, `${path}[${i}]`);
    return { key: str(o['key'], `${path}[${i}].key`) ?? '', value: jsonAnyValue(o['value'], `${path}[${i}].value`, depth) };
  });
}

/** Resource of the ResourceSpans / ResourceLogs object `parent` at `p` (with its schemaUrl, a count of entityRefs). */
function jsonResource(parent: Obj, p: string): OtlpResource {
  const path = `${p}.resource`;
  const o = obj(parent['resource'], path);
  const out: OtlpResource = { attributes: jsonAttrs(o['attributes'], `${path}.attributes`) };
  const dropped = num(o['droppedAttributesCount'], `${path}.droppedAttributesCount`);
  if (dropped) out.droppedAttributesCount = dropped;
  const refs = arr(o['entityRefs'], `${path}.entityRefs`);
  if (refs.length > 0) out.entityRefsCount = refs.length;
  const schemaUrl = str(parent['schemaUrl'], `${p}.schemaUrl`);
  if (schemaUrl) out.schemaUrl = schemaUrl;
  return out;
}

/** Scope of the ScopeSpans / ScopeLogs object `parent` at `p` (with its schemaUrl). */
function jsonScope(parent: Obj, p: string): OtlpScope {
  const path = `${p}.scope`;
  const o = obj(parent['scope'], path);
  const out: OtlpScope = {};
  const name = str(o['name'], `${path}.name`);
  const version = str(o['version'], `${path}.version`);
  if (name) out.name = name;
  if (version) out.version = version;
  const attrs = jsonAttrs(o['attributes'], `${path}.attributes`);
  if (attrs.length > 0) out.attributes = attrs;
  const dropped = num(o['droppedAttributesCount'], `${path}.droppedAttributesCount`);
  if (dropped) out.droppedAttributesCount = dropped;
  const schemaUrl = str(parent['schemaUrl'], `${p}.schemaUrl`);
  if (schemaUrl) out.schemaUrl = schemaUrl;
  return out;
}

/** Set `out[field]` from the optional integer `o[field]` when non-zero. */
function optInt<T extends object>(out: T, field: keyof T & string, o: Obj, p: string): void {
  const n = num(o[field], `${p}.${field}`);
  if (n) (out as Record<string, unknown>)[field] = n;
}

function jsonSpan(v: unknown, p: string): OtlpSpan {
  const o = obj(v, p);
  const out: OtlpSpan = {
    traceId: hexJson(o['traceId'], `${p}.traceId`),
    spanId: hexJson(o['spanId'], `${p}.spanId`),
    name: str(o['name'], `${p}.name`) ?? '',
    kind: num(o['kind'], `${p}.kind`) ?? 0,
    startTimeUnixNano: int64Json(o['startTimeUnixNano'], `${p}.startTimeUnixNano`, true),
    endTimeUnixNano: int64Json(o['endTimeUnixNano'], `${p}.endTimeUnixNano`, true),
    attributes: jsonAttrs(o['attributes'], `${p}.attributes`),
  };
  const parent = hexJson(o['parentSpanId'], `${p}.parentSpanId`);
  if (parent !== '') out.parentSpanId = parent;
  const ts = str(o['traceState'], `${p}.traceState`);
  if (ts) out.traceState = ts;
  optInt(out, 'flags', o, p);
  optInt(out, 'droppedAttributesCount', o, p);
  optInt(out, 'droppedEventsCount', o, p);
  optInt(out, 'droppedLinksCount', o, p);
  const events = arr(o['events'], `${p}.events`).map((e, i) => {
    const ep = `${p}.events[${i}]`;
    const eo = obj(e, ep);
    const ev: OtlpSpanEvent = {
      timeUnixNano: int64Json(eo['timeUnixNano'], `${ep}.timeUnixNano`, true),
      name: str(eo['name'], `${ep}.name`) ?? '',
      attributes: jsonAttrs(eo['attributes'], `${ep}.attributes`),
    };
    optInt(ev, 'droppedAttributesCount', eo, ep);
    return ev;
  });
  if (events.length > 0) out.events = events;
  const links = arr(o['links'], `${p}.links`).map((l, i) => {
    const lp = `${p}.links[${i}]`;
    const lo = obj(l, lp);
    const link: OtlpSpanLink = {
      traceId: hexJson(lo['traceId'], `${lp}.traceId`),
      spanId: hexJson(lo['spanId'], `${lp}.spanId`),
      attributes: jsonAttrs(lo['attributes'], `${lp}.attributes`),
    };
    const lts = str(lo['traceState'], `${lp}.traceState`);
    if (lts) link.traceState = lts;
    optInt(link, 'droppedAttributesCount', lo, lp);
    optInt(link, 'flags', lo, lp);
    return link;
  });
  if (links.length > 0) out.links = links;
  if (o['status'] !== undefined && o['status'] !== null) {
    const so = obj(o['status'], `${p}.status`);
    const message = str(so['message'], `${p}.status.message`);
    out.status = { code: num(so['code'], `${p}.status.code`) ?? 0, ...(message ? { message } : {}) };
  }
  return out;
}

function jsonLog(v: unknown, p: string): OtlpLogRecord {
  const o = obj(v, p);
  const out: OtlpLogRecord = {
    timeUnixNano: int64Json(o['timeUnixNano'], `${p}.timeUnixNano`, true),
    observedTimeUnixNano: int64Json(o['observedTimeUnixNano'], `${p}.observedTimeUnixNano`, true),
    severityNumber: num(o['severityNumber'], `${p}.severityNumber`) ?? 0,
    attributes: jsonAttrs(o['attributes'], `${p}.attributes`),
  };
  optInt(out, 'droppedAttributesCount', o, p);
  const sevText = str(o['severityText'], `${p}.severityText`);
  if (sevText) out.severityText = sevText;
  if (o['body'] !== undefined && o['body'] !== null) out.body = jsonAnyValue(o['body'], `${p}.body`);
  const traceId = hexJson(o['traceId'], `${p}.traceId`);
  const spanId = hexJson(o['spanId'], `${p}.spanId`);
  if (traceId !== '') out.traceId = traceId;
  if (spanId !== '') out.spanId = spanId;
  const flags = num(o['flags'], `${p}.flags`);
  if (flags) out.flags = flags;
  const eventName = str(o['eventName'], `${p}.eventName`);
  if (eventName) out.eventName = eventName;
  return out;
}

function parseJson(body: Uint8Array): Obj {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch (err) {
    throw new DecodeError(`body is not valid JSON: ${(err as Error).message}`, err);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DecodeError('body must be a JSON object (an OTLP Export*ServiceRequest)');
  return v as Obj;
}

/**
 * Decode an OTLP/JSON ExportTraceServiceRequest (UTF-8 bytes).
 * Unknown fields are ignored (spec: receivers MUST ignore unknown names).
 * @throws DecodeError (400) for invalid JSON or wrongly typed fields, naming the path.
 */
export function decodeTracesJson(body: Uint8Array): DecodedTraces {
  const root = parseJson(body);
  return {
    resourceSpans: arr(root['resourceSpans'], 'resourceSpans').map((rs, i) => {
      const p = `resourceSpans[${i}]`;
      const o = obj(rs, p);
      return {
        resource: jsonResource(o, p),
        scopeSpans: arr(o['scopeSpans'], `${p}.scopeSpans`).map((ss, j) => {
          const so = obj(ss, `${p}.scopeSpans[${j}]`);
          return {
            scope: jsonScope(so, `${p}.scopeSpans[${j}]`),
            spans: arr(so['spans'], `${p}.scopeSpans[${j}].spans`).map((s, k) => jsonSpan(s, `${p}.scopeSpans[${j}].spans[${k}]`)),
          };
        }),
      };
    }),
  };
}

/**
 * Decode an OTLP/JSON ExportLogsServiceRequest (UTF-8 bytes).
 * @throws DecodeError (400) for invalid JSON or wrongly typed fields, naming the path.
 */
export function decodeLogsJson(body: Uint8Array): DecodedLogs {
  const root = parseJson(body);
  return {
    resourceLogs: arr(root['resourceLogs'], 'resourceLogs').map((rl, i) => {
      const p = `resourceLogs[${i}]`;
      const o = obj(rl, p);
      return {
        resource: jsonResource(o, p),
        scopeLogs: arr(o['scopeLogs'], `${p}.scopeLogs`).map((sl, j) => {
          const so = obj(sl, `${p}.scopeLogs[${j}]`);
          return {
            scope: jsonScope(so, `${p}.scopeLogs[${j}]`),
            logRecords: arr(so['logRecords'], `${p}.scopeLogs[${j}].logRecords`).map((r, k) => jsonLog(r, `${p}.scopeLogs[${j}].logRecords[${k}]`)),
          };
        }),
      };
    }),
  };
}
