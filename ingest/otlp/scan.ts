/**
 * Fast path of OTLP/HTTP and gRPC trace intake: one walk over the protobuf
 * bytes that proves a request is plainly valid — every span would be
 * accepted by ingest/otlp/validate.ts and nothing would be reported as not
 * stored — without building the records. Such a request (the common case)
 * is forwarded to Kafka as received (ingest/otlp/export.ts) and decoded once,
 * by the processors; before, ingest decoded it too, only to validate it.
 *
 * The scan is conservative: anything it does not prove — a wire error, a
 * string that is not UTF-8, an AnyValue nested deeper than MAX_VALUE_DEPTH,
 * a singular field given twice, a known field with another wire type, an
 * invalid id, name or time, a duplicate attribute key, entity references —
 * answers null, and the request takes the full path (decode + validate),
 * which produces the exact answer (errors, partial success, warnings).
 * Checks, from validate.ts: trace id 16 bytes and span id 8 bytes, not all
 * zero; parent span id empty or 8 bytes not all zero; name non-empty; start
 * and end set, end ≥ start, both inside the acceptance window. Field numbers:
 * opentelemetry-proto v1 trace.proto, common.proto, resource.proto.
 */
import protobuf from 'protobufjs';
import { MAX_VALUE_DEPTH, type TimeWindow } from '../../schemas/limits.js';
import { bytesAt, checkUtf8, enter, leave, WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT } from './wire.js';

type Reader = protobuf.Reader;

/** A request proved plainly valid. */
export interface TraceScan {
  /** Spans in the request (all accepted). */
  spans: number;
  /** Trace id (hex) of the first span: the Kafka message key, as for the full path. */
  key: string;
}

/** Thrown inside the scan for "not proved"; never escapes {@link scanTraces}. */
class NotPlain extends Error {}
const NOT_PLAIN = new NotPlain('not plain');

function tag(no: number, wire: number): number {
  return (no << 3) | wire;
}
const T_LEN = (no: number): number => tag(no, WIRE_LEN);

/** Each singular field at most once: `seen` bit per field number (< 31). */
function once(seen: number, no: number): number {
  const bit = 1 << no;
  if (seen & bit) throw NOT_PLAIN;
  return seen | bit;
}

/** A string field whose value is not needed: only checked to be UTF-8, as str() would. */
function utf8(r: Reader, view: Buffer): void {
  const [start, end] = bytesAt(r);
  checkUtf8(view, start, end);
}

function nonZero(view: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (view[i] !== 0) return true;
  return false;
}

function anyValue(r: Reader, view: Buffer, depth: number): void {
  if (depth > MAX_VALUE_DEPTH) throw NOT_PLAIN;
  const outer = enter(r, 0);
  let members = 0;
  while (r.pos < r.len) {
    const t = r.tag();
    const no = t >>> 3;
    if (no >= 1 && no <= 7) members++;
    if (t === T_LEN(1)) utf8(r, view);
    else if (t === tag(2, WIRE_VARINT) || t === tag(3, WIRE_VARINT)) r.skipType(WIRE_VARINT, 0, no);
    else if (t === tag(4, WIRE_FIXED64)) r.skipType(WIRE_FIXED64, 0, no);
    else if (t === T_LEN(5)) {
      const o = enter(r, 0);
      while (r.pos < r.len) {
        const u = r.tag();
        if (u !== T_LEN(1)) throw NOT_PLAIN;
        anyValue(r, view, depth + 1);
      }
      leave(r, o);
    } else if (t === T_LEN(6)) {
      const o = enter(r, 0);
      attributes(r, view, depth + 1, o);
    } else if (t === T_LEN(7)) bytesAt(r);
    else if (no >= 1 && no <= 7) throw NOT_PLAIN;
    else r.skipType(t & 7, 0, no);
  }
  if (members > 1) throw NOT_PLAIN;
  leave(r, outer);
}

/**
 * A run of KeyValue entries (field 1 of the message the reader is in, up to
 * its end), whose keys must be distinct; leaves the message (`outer`).
 */
function attributes(r: Reader, view: Buffer, depth: number, outer: number): void {
  const keys: number[] = [];
  while (r.pos < r.len) {
    const t = r.tag();
    if (t !== T_LEN(1)) throw NOT_PLAIN;
    keys.push(keyValue(r, view, depth));
  }
  distinct(keys);
  leave(r, outer);
}

/** A KeyValue; returns the hash of its key ({@link keyHash}). */
function keyValue(r: Reader, view: Buffer, depth: number): number {
  const outer = enter(r, 0);
  let key = KEY_ABSENT;
  let seen = 0;
  while (r.pos < r.len) {
    const t = r.tag();
    if (t === T_LEN(1)) {
      seen = once(seen, 1);
      key = keyHash(r, view);
    } else if (t === T_LEN(2)) {
      seen = once(seen, 2);
      anyValue(r, view, depth);
    } else if ((t >>> 3) === 1 || (t >>> 3) === 2) throw NOT_PLAIN;
    else r.skipType(t & 7, 0, t >>> 3);
  }
  leave(r, outer);
  return key;
}

/** FNV-1a (32-bit) offset basis: the hash of an empty key. */
const FNV_BASIS = 0x811c9dc5;
/** The hash of a KeyValue without a key field: the empty key's, as decoding would give it ''. */
const KEY_ABSENT = FNV_BASIS >>> 0;

/**
 * An attribute key (KeyValue field 1) at the reader's position, checked to
 * be UTF-8 as the decoder would, as the FNV-1a hash of its bytes: the scan
 * only needs to know that the keys of one list differ, so it makes no
 * string. Equal hashes are "not proved" ({@link distinct}), so a collision
 * of two different keys only sends the request down the full path.
 * @throws Error on invalid UTF-8; RangeError when the length overruns.
 */
function keyHash(r: Reader, view: Buffer): number {
  const [start, end] = bytesAt(r);
  let h = FNV_BASIS;
  let ascii = 0;
  for (let k = start; k < end; k++) {
    const c = view[k]!;
    ascii |= c;
    h = Math.imul(h ^ c, 0x01000193);
  }
  if (ascii >= 0x80) checkUtf8(view, start, end);
  return h >>> 0;
}

/**
 * Keys as hashes ({@link keyHash}): pairwise up to a few dozen keys, a Set
 * beyond. Equal hashes are taken for equal keys (not proved).
 */
function distinct(keys: number[]): void {
  if (keys.length < 2) return;
  if (keys.length <= 32) {
    for (let i = 1; i < keys.length; i++) for (let j = 0; j < i; j++) if (keys[i] === keys[j]) throw NOT_PLAIN;
    return;
  }
  if (new Set(keys).size !== keys.length) throw NOT_PLAIN;
}

/** One KeyValue of a repeated attributes field: its key hash is appended to `keys` (checked by distinct()). */
function attributeInto(r: Reader, view: Buffer, keys: number[]): void {
  keys.push(keyValue(r, view, 0));
}

function resource(r: Reader, view: Buffer): void {
  const outer = enter(r, 0);
  const keys: number[] = [];
  let seen = 0;
  while (r.pos < r.len) {
    const t = r.tag();
    if (t === T_LEN(1)) attributeInto(r, view, keys);
    else if (t === tag(2, WIRE_VARINT)) {
      seen = once(seen, 2);
      r.skipType(WIRE_VARINT, 0, 2);
    } else if ((t >>> 3) <= 3) throw NOT_PLAIN; // entity_refs (3): reported as not stored
    else r.skipType(t & 7, 0, t >>> 3);
  }
  distinct(keys);
  leave(r, outer);
}

function scope(r: Reader, view: Buffer): void {
  const outer = enter(r, 0);
  const keys: number[] = [];
  let seen = 0;
  while (r.pos < r.len) {
    const t = r.tag();
    if (t === T_LEN(1) || t === T_LEN(2)) {
      seen = once(seen, t >>> 3);
      utf8(r, view);
    } else if (t === T_LEN(3)) attributeInto(r, view, keys);
    else if (t === tag(4, WIRE_VARINT)) {
      seen = once(seen, 4);
      r.skipType(WIRE_VARINT, 0, 4);
    } else if ((t >>> 3) <= 4) throw NOT_PLAIN;
    else r.skipType(t & 7, 0, t >>> 3);
  }
  distinct(keys);
  leave(r, outer);
}

/** An event (11) or link (13) of a span: its attributes must be distinct. */
function eventOrLink(r: Reader, view: Buffer, link: boolean): void {
  const outer = enter(r, 0);
  const keys: number[] = [];
  let seen = 0;
  const attrField = link ? 4 : 3;
  while (r.pos < r.len) {
    const t = r.tag();
    const no = t >>> 3;
    if (t === T_LEN(attrField)) attributeInto(r, view, keys);
    else if (!link && t === tag(1, WIRE_FIXED64)) {
      seen = once(seen, 1);
      r.skipType(WIRE_FIXED64, 0, 1);
    } else if (!link && t === T_LEN(2)) {
      seen = once(seen, 2);
      utf8(r, view);
    } else if (!link && t === tag(4, WIRE_VARINT)) {
      seen = once(seen, 4);
      r.skipType(WIRE_VARINT, 0, 4);
    } else if (link && (t === T_LEN(1) || t === T_LEN(2))) {
      seen = once(seen, no);
      bytesAt(r);
    } else if (link && t === T_LEN(3)) {
      seen = once(seen, 3);
      utf8(r, view);
    } else if (link && t === tag(5, WIRE_VARINT)) {
      seen = once(seen, 5);
      r.skipType(WIRE_VARINT, 0, 5);
    } else if (link && t === tag(6, WIRE_FIXED32)) {
      seen = once(seen, 6);
      r.skipType(WIRE_FIXED32, 0, 6);
    } else if (no <= (link ? 6 : 4)) throw NOT_PLAIN;
    else r.skipType(t & 7, 0, no);
  }
  distinct(keys);
  leave(r, outer);
}

function fixed64(r: Reader): bigint {
  const lo = r.fixed32();
  const hi = r.fixed32();
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** One span; returns its trace id (hex). */
function span(r: Reader, view: Buffer, w: TimeWindow): string {
  const outer = enter(r, 0);
  let seen = 0;
  let trace: [number, number] | undefined;
  let spanId: [number, number] | undefined;
  let parent: [number, number] | undefined;
  let named = false;
  let start = 0n;
  let end = 0n;
  const keys: number[] = [];
  while (r.pos < r.len) {
    const t = r.tag();
    const no = t >>> 3;
    switch (t) {
      case T_LEN(1): seen = once(seen, 1); trace = bytesAt(r); break;
      case T_LEN(2): seen = once(seen, 2); spanId = bytesAt(r); break;
      case T_LEN(3): seen = once(seen, 3); utf8(r, view); break;
      case T_LEN(4): seen = once(seen, 4); parent = bytesAt(r); break;
      case tag(16, WIRE_FIXED32): seen = once(seen, 16); r.skipType(WIRE_FIXED32, 0, 16); break;
      case T_LEN(5): { seen = once(seen, 5); const at = r.pos; utf8(r, view); named = r.pos - at > 1; break; }
      case tag(6, WIRE_VARINT): seen = once(seen, 6); r.skipType(WIRE_VARINT, 0, 6); break;
      case tag(7, WIRE_FIXED64): seen = once(seen, 7); start = fixed64(r); break;
      case tag(8, WIRE_FIXED64): seen = once(seen, 8); end = fixed64(r); break;
      case T_LEN(9): attributeInto(r, view, keys); break;
      case tag(10, WIRE_VARINT): case tag(12, WIRE_VARINT): case tag(14, WIRE_VARINT): seen = once(seen, no); r.skipType(WIRE_VARINT, 0, no); break;
      case T_LEN(11): eventOrLink(r, view, false); break;
      case T_LEN(13): eventOrLink(r, view, true); break;
      case T_LEN(15): {
        seen = once(seen, 15);
        const o = enter(r, 0);
        let s = 0;
        while (r.pos < r.len) {
          const u = r.tag();
          if (u === T_LEN(2)) {
            s = once(s, 2);
            utf8(r, view);
          } else if (u === tag(3, WIRE_VARINT)) {
            s = once(s, 3);
            r.skipType(WIRE_VARINT, 0, 3);
          } else if ((u >>> 3) <= 3) throw NOT_PLAIN;
          else r.skipType(u & 7, 0, u >>> 3);
        }
        leave(r, o);
        break;
      }
      default:
        if (no <= 16) throw NOT_PLAIN;
        r.skipType(t & 7, 0, no);
    }
  }
  leave(r, outer);
  distinct(keys);
  if (trace === undefined || trace[1] - trace[0] !== 16 || !nonZero(view, trace[0], trace[1])) throw NOT_PLAIN;
  if (spanId === undefined || spanId[1] - spanId[0] !== 8 || !nonZero(view, spanId[0], spanId[1])) throw NOT_PLAIN;
  if (parent !== undefined && parent[1] > parent[0] && (parent[1] - parent[0] !== 8 || !nonZero(view, parent[0], parent[1]))) throw NOT_PLAIN;
  if (!named || start === 0n || end === 0n || end < start) throw NOT_PLAIN;
  if (start < w.minNs || start > w.maxNs || end < w.minNs || end > w.maxNs) throw NOT_PLAIN;
  return view.toString('hex', trace[0], trace[1]);
}

/**
 * Prove an ExportTraceServiceRequest plainly valid (see module doc).
 * @param body the (inflated) protobuf request.
 * @param window acceptance window of span times.
 * @returns the span count and message key, or null: take the full path.
 */
export function scanTraces(body: Uint8Array, window: TimeWindow): TraceScan | null {
  const r = protobuf.Reader.create(body);
  const view = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let spans = 0;
  let key = '';
  try {
    while (r.pos < r.len) {
      const t = r.tag();
      if (t !== T_LEN(1)) {
        if ((t >>> 3) === 1) return null;
        r.skipType(t & 7, 0, t >>> 3);
        continue;
      }
      const o1 = enter(r, 0); // ResourceSpans
      let seen = 0;
      while (r.pos < r.len) {
        const u = r.tag();
        if (u === T_LEN(1)) {
          seen = once(seen, 1);
          resource(r, view);
        } else if (u === T_LEN(3)) {
          seen = once(seen, 3);
          utf8(r, view);
        } else if (u === T_LEN(2)) {
          const o2 = enter(r, 0); // ScopeSpans
          let s2 = 0;
          while (r.pos < r.len) {
            const v = r.tag();
            if (v === T_LEN(1)) {
              s2 = once(s2, 1);
              scope(r, view);
            } else if (v === T_LEN(3)) {
              s2 = once(s2, 3);
              utf8(r, view);
            } else if (v === T_LEN(2)) {
              const id = span(r, view, window);
              if (spans === 0) key = id;
              spans++;
            } else if ((v >>> 3) <= 3) return null;
            else r.skipType(v & 7, 0, v >>> 3);
          }
          leave(r, o2);
        } else if ((u >>> 3) <= 3) return null;
        else r.skipType(u & 7, 0, u >>> 3);
      }
      leave(r, o1);
    }
  } catch {
    return null; // not proved (NotPlain) or not even well-formed: the full path answers
  }
  return spans > 0 ? { spans, key } : null;
}
