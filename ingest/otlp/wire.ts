/**
 * Binary OTLP (ExportTraceServiceRequest / ExportLogsServiceRequest) read
 * straight from the protobuf wire format into the OTLP JSON shapes of
 * schemas/otlp.ts, with protobufjs's `Reader` (the library's own varint,
 * string and skip primitives). This module: the primitives and the shared
 * messages (AnyValue, KeyValue, Resource, InstrumentationScope and their
 * containers); ingest/otlp/wire-records.ts: spans and log records.
 *
 * Why not `Type.decode` + a mapping: that builds every message twice (the
 * protobufjs message objects, with a `Long` per 64-bit field and a copy per
 * `bytes` field, then the OTLP shapes), and the request is decoded both at
 * ingest (validation) and in the processors (rows). Profiled, decoding was the
 * largest single cost of both (bench/README.md, "Processor worker").
 *
 * Semantics are protobufjs 8's generated decoders', field for field
 * (differential test: tests/ingest/otlp-wire.test.ts): proto3 last-value-wins
 * for scalars, singular message fields merged when repeated, a field with an
 * unexpected wire type skipped as unknown, unknown fields skipped, strings
 * rejected when not valid UTF-8 (`Reader#stringVerify`), a nested length
 * that overruns its parent or a message nested deeper than protobufjs's
 * `Reader.recursionLimit` rejected. Field numbers: opentelemetry-proto v1
 * (schemas/otlp-proto): common.proto, resource.proto, trace.proto, logs.proto.
 * AnyValue nesting deeper than MAX_VALUE_DEPTH fails with the same message as
 * the OTLP/JSON path.
 */
import protobuf from 'protobufjs';
import type { AnyValue, KeyValue, OtlpResource, OtlpScope } from '../../schemas/otlp.js';
import { MAX_VALUE_DEPTH } from '../../schemas/limits.js';

type Reader = protobuf.Reader;

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

/** A nested-message or AnyValue-depth violation, mapped to DecodeError by the caller. */
export class WireDepthError extends Error {}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The bounds of a length-delimited field's bytes at the reader's position
 * (the length varint first); the reader moves past them. No copy.
 * @returns [start, end) offsets into the request.
 * @throws RangeError when the length overruns the enclosing message.
 */
export function bytesAt(r: Reader): [number, number] {
  const len = r.size();
  const start = r.pos;
  const end = start + len;
  if (end > r.len) throw new RangeError(`index out of range: ${start} + ${len} > ${r.len}`);
  r.pos = end;
  return [start, end];
}

/**
 * Check that view[start, end) is valid UTF-8, as protobufjs's
 * `Reader#stringVerify` does (the WHATWG decoder in fatal mode rejects the
 * same sequences: overlong forms, surrogates, truncation).
 * @returns the text when it had to be decoded (not pure ASCII), else undefined.
 * @throws Error on invalid UTF-8.
 */
export function checkUtf8(view: Buffer, start: number, end: number): string | undefined {
  let k = start;
  while (k < end && view[k]! < 0x80) k++;
  if (k === end) return undefined;
  try {
    return strictUtf8.decode(view.subarray(start, end));
  } catch {
    throw new Error(`invalid UTF-8 in a string field at offset ${start}`);
  }
}

/**
 * A string field: valid UTF-8 only (see {@link checkUtf8}); ASCII, the
 * common case, is copied as is.
 * @throws Error on invalid UTF-8; RangeError when the length overruns.
 */
export function str(r: Reader, view: Buffer): string {
  const [start, end] = bytesAt(r);
  return start === end ? '' : textAt(view, start, end);
}

/** view[start, end) as text: checked UTF-8 ({@link checkUtf8}), ASCII copied as is. @throws Error on invalid UTF-8. */
function textAt(view: Buffer, start: number, end: number): string {
  return checkUtf8(view, start, end) ?? view.toString('latin1', start, end);
}

/** Slots of the attribute-key table (a power of two); keys longer than {@link KEY_MAX} bytes are not kept. */
const KEY_SLOTS = 4096;
const KEY_MAX = 64;
const keySlots: (string | undefined)[] = new Array<string | undefined>(KEY_SLOTS).fill(undefined);

/**
 * An attribute key (KeyValue field 1) at the reader's position: the same
 * string as {@link str}, but ASCII keys of up to {@link KEY_MAX} bytes come
 * from a fixed table of {@link KEY_SLOTS} strings (FNV-1a of the bytes picks
 * the slot, the bytes are compared; a slot holds the last key seen there).
 * Keys repeat from span to span, so most are found: no string is made, and
 * the one returned is internalized, which the normalisers' keyed stores into
 * the attribute maps would otherwise do again per key and per span (with
 * the flattening changes, 15–20 % less worker CPU per span; bench/README.md,
 * "Where the CPU and the memory go"). Bounded: ≤ 4,096 strings of ≤ 64 B.
 * @param view the request bytes the reader reads.
 * @throws Error on invalid UTF-8; RangeError when the length overruns.
 */
export function keyStr(r: Reader, view: Buffer): string {
  const [start, end] = bytesAt(r);
  const len = end - start;
  if (len === 0) return '';
  if (len > KEY_MAX) return textAt(view, start, end);
  let h = 0x811c9dc5;
  let ascii = 0;
  for (let k = start; k < end; k++) {
    const c = view[k]!;
    ascii |= c;
    h = Math.imul(h ^ c, 0x01000193);
  }
  if (ascii >= 0x80) return checkUtf8(view, start, end)!;
  const slot = (h ^ (h >>> 16)) & (KEY_SLOTS - 1);
  const cached = keySlots[slot];
  if (cached !== undefined && cached.length === len) {
    let k = 0;
    while (k < len && cached.charCodeAt(k) === view[start + k]) k++;
    if (k === len) return cached;
  }
  // Object.keys answers the internalized copy of a property name.
  const key = Object.keys({ [view.toString('latin1', start, end)]: 0 })[0]!;
  keySlots[slot] = key;
  return key;
}

/** Bytes as lowercase hex ('' when empty), without copying them. @throws RangeError on overrun. */
export function hexOf(r: Reader, view: Buffer): string {
  const [start, end] = bytesAt(r);
  return start === end ? '' : view.toString('hex', start, end);
}

/** fixed64 as an exact unsigned decimal string, without BigInt or Long. */
export function fixed64String(r: Reader): string {
  const lo = r.fixed32();
  const hi = r.fixed32();
  return uint64String(lo, hi);
}

/** An unsigned 64-bit integer given as its 32-bit halves (each 0 … 2^32−1), as an exact decimal string. */
export function uint64String(lo: number, hi: number): string {
  if (hi < 0x200000) return String(hi * 4294967296 + lo);
  // hi·2^32 + lo = (hi·4294)·10^6 + (hi·967296 + lo), both terms exact in a double.
  let high = hi * 4294;
  let low = hi * 967296 + lo;
  high += Math.floor(low / 1e6);
  low %= 1e6;
  return `${high}${String(low).padStart(6, '0')}`;
}

/** int64 (varint, two's complement) as a signed decimal string. */
function int64String(r: Reader): string {
  const v = r.int64() as unknown as { low: number; high: number } | number;
  if (typeof v === 'number') return String(v);
  const bits = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return BigInt.asIntN(64, bits).toString();
}

/**
 * Iterate the fields of one length-delimited message at the reader's
 * position (the length varint first, {@link enter}) or of the whole buffer
 * (`top`). `field` returns false for a field it did not consume (wrong wire
 * type or unknown), which is then skipped.
 * @throws WireDepthError / RangeError as {@link enter} and {@link leave}; protobufjs's errors on bad wire data.
 */
export function message(r: Reader, depth: number, top: boolean, field: (no: number, wire: number) => boolean): void {
  const outer = top ? -1 : enter(r, depth);
  while (r.pos < r.len) {
    const tag = r.tag();
    const wire = tag & 7;
    const no = tag >>> 3;
    if (!field(no, wire)) r.skipType(wire, depth, no);
  }
  if (!top) leave(r, outer);
}

/** Enter a length-delimited message: its end becomes the reader's limit. @returns the outer limit, for {@link leave}. */
export function enter(r: Reader, depth: number): number {
  if (depth > protobuf.Reader.recursionLimit) throw new WireDepthError('max depth exceeded');
  const len = r.size();
  const end = r.pos + len;
  if (end > r.len) throw new RangeError('index out of range');
  const outer = r.len;
  r.len = end;
  return outer;
}

/** Leave the message entered by {@link enter}. */
export function leave(r: Reader, outer: number): void {
  if (r.pos !== r.len) throw new RangeError('index out of range');
  r.len = outer;
}

// AnyValue members, as bits: protobufjs's oneof getter answers the member
// first set last (the insertion order of the message object's keys).
const STRING = 1;
const BOOL = 2;
const INT = 4;
const DOUBLE = 8;
const ARRAY = 16;
const KVLIST = 32;
const BYTES = 64;

/**
 * One AnyValue message at the reader's position, as its OTLP JSON shape.
 * @param depth message nesting (protobufjs's recursion limit); valueDepth AnyValue nesting (MAX_VALUE_DEPTH).
 * @throws WireDepthError when nested too deep; RangeError / Error on bad wire data or UTF-8.
 */
export function anyValue(r: Reader, view: Buffer, depth: number, valueDepth: number): AnyValue {
  if (valueDepth > MAX_VALUE_DEPTH) throw new WireDepthError(`attribute value: AnyValue nested deeper than ${MAX_VALUE_DEPTH} levels (arrayValue/kvlistValue); flatten the attribute`);
  let kind = 0;
  let seen = 0;
  let sv = '';
  let b = false;
  let i = '0';
  let d = 0;
  let bytes = '';
  let arr: AnyValue[] | undefined;
  let kvs: KeyValue[] | undefined;
  const outer = enter(r, depth);
  while (r.pos < r.len) {
    const tag = r.tag();
    const wire = tag & 7;
    const no = tag >>> 3;
    let member = 0;
    if (no === 1 && wire === WIRE_LEN) {
      sv = str(r, view);
      member = STRING;
    } else if (no === 2 && wire === WIRE_VARINT) {
      b = r.bool();
      member = BOOL;
    } else if (no === 3 && wire === WIRE_VARINT) {
      i = int64String(r);
      member = INT;
    } else if (no === 4 && wire === WIRE_FIXED64) {
      d = r.double();
      member = DOUBLE;
    } else if (no === 5 && wire === WIRE_LEN) {
      arr ??= [];
      const o = enter(r, depth + 1);
      while (r.pos < r.len) {
        const t = r.tag();
        if (t === ((1 << 3) | WIRE_LEN)) arr.push(anyValue(r, view, depth + 2, valueDepth + 1));
        else r.skipType(t & 7, depth + 1, t >>> 3);
      }
      leave(r, o);
      member = ARRAY;
    } else if (no === 6 && wire === WIRE_LEN) {
      kvs ??= [];
      const o = enter(r, depth + 1);
      while (r.pos < r.len) {
        const t = r.tag();
        if (t === ((1 << 3) | WIRE_LEN)) kvs.push(keyValue(r, view, depth + 2, valueDepth + 1));
        else r.skipType(t & 7, depth + 1, t >>> 3);
      }
      leave(r, o);
      member = KVLIST;
    } else if (no === 7 && wire === WIRE_LEN) {
      const [start, end] = bytesAt(r);
      bytes = view.toString('base64', start, end);
      member = BYTES;
    } else {
      r.skipType(wire, depth, no);
      continue;
    }
    if ((seen & member) === 0) {
      seen |= member;
      kind = member;
    }
  }
  leave(r, outer);
  switch (kind) {
    case STRING: return { stringValue: sv };
    case BOOL: return { boolValue: b };
    case INT: return { intValue: i };
    case DOUBLE: return { doubleValue: d };
    case BYTES: return { bytesValue: bytes };
    case ARRAY: return { arrayValue: { values: arr! } };
    case KVLIST: return { kvlistValue: { values: kvs! } };
    default: return {};
  }
}

/** One KeyValue message at the reader's position. @throws as {@link anyValue}. */
function keyValue(r: Reader, view: Buffer, depth: number, valueDepth: number): KeyValue {
  let key = '';
  let value: AnyValue | undefined;
  const outer = enter(r, depth);
  while (r.pos < r.len) {
    const tag = r.tag();
    if (tag === ((1 << 3) | WIRE_LEN)) key = keyStr(r, view);
    else if (tag === ((2 << 3) | WIRE_LEN)) value = mergeAnyValue(value, anyValue(r, view, depth + 1, valueDepth));
    else r.skipType(tag & 7, depth, tag >>> 3);
  }
  leave(r, outer);
  return { key, value: value ?? {} };
}

/**
 * Merge of a repeated AnyValue field (protobufjs decodes the second
 * occurrence into the first): arrays and kvlists concatenate, otherwise the
 * later member wins.
 */
export function mergeAnyValue(a: AnyValue | undefined, b: AnyValue): AnyValue {
  if (a === undefined) return b;
  const ka = Object.keys(a)[0];
  const kb = Object.keys(b)[0];
  if (kb === undefined) return a;
  if (ka === kb && kb === 'arrayValue') return { arrayValue: { values: [...a.arrayValue!.values!, ...b.arrayValue!.values!] } };
  if (ka === kb && kb === 'kvlistValue') return { kvlistValue: { values: [...a.kvlistValue!.values!, ...b.kvlistValue!.values!] } };
  return b;
}

/** Read one KeyValue (a record's attribute, AnyValue depth 0) and append it to `list`. @throws as {@link keyValue}. */
export function attributeInto(list: KeyValue[], r: Reader, view: Buffer, depth: number): void {
  list.push(keyValue(r, view, depth, 0));
}

/** A Resource being read ({@link resourceInto}); {@link resourceOf} makes its OTLP shape. */
export interface ResourceParts {
  attributes: KeyValue[];
  dropped: number;
  entityRefs: number;
  present: boolean;
}

/** Read one Resource message at the reader's position into `p` (repeated occurrences merge). @throws as {@link anyValue}. */
export function resourceInto(p: ResourceParts, r: Reader, view: Buffer, depth: number): void {
  p.present = true;
  message(r, depth, false, (no, wire) => {
    if (no === 1 && wire === WIRE_LEN) attributeInto(p.attributes, r, view, depth + 1);
    else if (no === 2 && wire === WIRE_VARINT) p.dropped = r.uint32();
    else if (no === 3 && wire === WIRE_LEN) {
      // EntityRef: only counted, but its strings are checked as protobufjs does.
      message(r, depth + 1, false, (n, w) => {
        if (n >= 1 && n <= 4 && w === WIRE_LEN) {
          str(r, view);
          return true;
        }
        return false;
      });
      p.entityRefs++;
    } else return false;
    return true;
  });
}

/** The OTLP shape of a Resource read with {@link resourceInto}. */
export function resourceOf(p: ResourceParts, schemaUrl: string): OtlpResource {
  const out: OtlpResource = { attributes: p.present ? p.attributes : [] };
  if (p.dropped) out.droppedAttributesCount = p.dropped;
  if (p.entityRefs > 0) out.entityRefsCount = p.entityRefs;
  if (schemaUrl) out.schemaUrl = schemaUrl;
  return out;
}

/** An InstrumentationScope being read ({@link scopeInto}); {@link scopeOf} makes its OTLP shape. */
export interface ScopeParts {
  name: string;
  version: string;
  attributes: KeyValue[];
  dropped: number;
  present: boolean;
}

/** Read one InstrumentationScope message at the reader's position into `p` (repeated occurrences merge). @throws as {@link anyValue}. */
export function scopeInto(p: ScopeParts, r: Reader, view: Buffer, depth: number): void {
  p.present = true;
  message(r, depth, false, (no, wire) => {
    if (no === 1 && wire === WIRE_LEN) p.name = str(r, view);
    else if (no === 2 && wire === WIRE_LEN) p.version = str(r, view);
    else if (no === 3 && wire === WIRE_LEN) attributeInto(p.attributes, r, view, depth + 1);
    else if (no === 4 && wire === WIRE_VARINT) p.dropped = r.uint32();
    else return false;
    return true;
  });
}

/** The OTLP shape of a scope read with {@link scopeInto}. */
export function scopeOf(p: ScopeParts, schemaUrl: string): OtlpScope {
  const out: OtlpScope = {};
  if (schemaUrl) out.schemaUrl = schemaUrl;
  if (!p.present) return out;
  if (p.name) out.name = p.name;
  if (p.version) out.version = p.version;
  if (p.attributes.length > 0) out.attributes = p.attributes;
  if (p.dropped) out.droppedAttributesCount = p.dropped;
  return out;
}

/**
 * Read one ResourceSpans / ResourceLogs: resource (1), scope containers (2), schema_url (3).
 * @param container reads one ScopeSpans / ScopeLogs at the reader's position.
 */
export function resourceContainer<S>(r: Reader, view: Buffer, depth: number, container: (depth: number) => S): { resource: OtlpResource; scopes: S[] } {
  const res: ResourceParts = { attributes: [], dropped: 0, entityRefs: 0, present: false };
  let schemaUrl = '';
  const scopes: S[] = [];
  message(r, depth, false, (no, wire) => {
    if (no === 1 && wire === WIRE_LEN) resourceInto(res, r, view, depth + 1);
    else if (no === 2 && wire === WIRE_LEN) scopes.push(container(depth + 1));
    else if (no === 3 && wire === WIRE_LEN) schemaUrl = str(r, view);
    else return false;
    return true;
  });
  return { resource: resourceOf(res, schemaUrl), scopes };
}

/** Read one ScopeSpans / ScopeLogs: scope (1), records (2), schema_url (3). */
export function scopeContainer<T>(r: Reader, view: Buffer, depth: number, record: (depth: number) => T): { scope: OtlpScope; records: T[] } {
  const scope: ScopeParts = { name: '', version: '', attributes: [], dropped: 0, present: false };
  let schemaUrl = '';
  const records: T[] = [];
  message(r, depth, false, (no, wire) => {
    if (no === 1 && wire === WIRE_LEN) scopeInto(scope, r, view, depth + 1);
    else if (no === 2 && wire === WIRE_LEN) records.push(record(depth + 1));
    else if (no === 3 && wire === WIRE_LEN) schemaUrl = str(r, view);
    else return false;
    return true;
  });
  return { scope: scopeOf(scope, schemaUrl), records };
}

/** A protobufjs Reader over `body` and a Buffer view of the same bytes (no copy). */
export function readerOf(body: Uint8Array): [Reader, Buffer] {
  return [protobuf.Reader.create(body), Buffer.from(body.buffer, body.byteOffset, body.byteLength)];
}
