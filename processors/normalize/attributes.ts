/**
 * OTLP AnyValue / KeyValue and native attribute conversion to the
 * Map(String, String) columns of ClickHouse rows.
 *
 * Rules (one for both OTLP and native input):
 * - strings as-is; integers as decimal strings (int64 kept exact); doubles via
 *   `String(n)`; booleans 'true' / 'false';
 * - arrays and kvlists (OTLP) or arrays / objects (native) as compact JSON of
 *   their plain values; bytes (OTLP) as the base64 string; empty value → ''.
 * Later duplicates of a key win.
 *
 * Types (migration 0016, {@link FlattenedAttributes}): the text above is the
 * one stored value; a key whose OTLP value is not a string also gets a type
 * code in `attributes_types` / `resource_attributes_types` — int (the text is
 * the exact decimal int64), double (`String(n)`, JavaScript's shortest
 * round-trip form, 'NaN' / 'Infinity' / '-Infinity'), bool, json (arrayValue
 * and kvlistValue) or empty. From the text and the code ClickHouse's ALIAS
 * columns `attributes_string` … `attributes_json` (0007's typed maps) and the
 * query API give back each value with its OTLP type.
 */
import type { AnyValue, KeyValue } from '../../schemas/otlp.js';

/** Plain JS value of an OTLP AnyValue (for JSON): int64 beyond 2^53 stays a decimal string; bytes stay base64; non-finite doubles become 'NaN' / 'Infinity' / '-Infinity'. */
export function anyValueToPlain(v: AnyValue | undefined): unknown {
  if (v === undefined || v === null) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) {
    const n = Number(v.intValue);
    return Number.isSafeInteger(n) ? n : String(v.intValue);
  }
  if (v.doubleValue !== undefined) {
    // proto3 JSON mapping: non-finite doubles as "NaN" / "Infinity" / "-Infinity" (JSON has no such numbers).
    const d = Number(v.doubleValue);
    return Number.isFinite(d) ? d : String(d);
  }
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(anyValueToPlain);
  if (v.kvlistValue !== undefined) {
    const o: Record<string, unknown> = {};
    for (const kv of v.kvlistValue.values ?? []) o[kv.key] = anyValueToPlain(kv.value);
    return o;
  }
  if (v.bytesValue !== undefined) return v.bytesValue;
  return null;
}

/** An OTLP AnyValue as one string (attribute values, log bodies). */
export function anyValueToString(v: AnyValue | undefined): string {
  if (v === undefined || v === null) return '';
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue ? 'true' : 'false';
  if (v.intValue !== undefined) return String(v.intValue);
  if (v.doubleValue !== undefined) return String(v.doubleValue);
  if (v.bytesValue !== undefined) return v.bytesValue;
  if (v.arrayValue !== undefined || v.kvlistValue !== undefined) return JSON.stringify(anyValueToPlain(v));
  return '';
}

/** Flatten OTLP attributes to key → string. */
export function flattenKeyValues(kvs: KeyValue[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(kvs)) return out;
  for (const kv of kvs) {
    if (kv && typeof kv.key === 'string') out[kv.key] = anyValueToString(kv.value);
  }
  return out;
}

/** A native attribute value as one string (null/undefined → ''). */
export function plainToString(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v);
}

/** Lowercase hex id, '' when absent or all zeros (OTLP's "no id"). */
export function normalizeId(id: string | undefined | null): string {
  if (!id) return '';
  const s = id.replace(/-/g, '').toLowerCase();
  return /^0*$/.test(s) ? '' : s;
}

/**
 * OTLP value type of a non-string attribute, as stored in the
 * `attributes_types` / `resource_attributes_types` maps (migration 0016,
 * `Enum8('int' = 1, 'double' = 2, 'bool' = 3, 'json' = 4, 'empty' = 5)`).
 * Strings (and bytes, as base64 text) have no entry.
 */
export const ATTRIBUTE_TYPE = { int: 1, double: 2, bool: 3, json: 4, empty: 5 } as const;
export type AttributeTypeCode = (typeof ATTRIBUTE_TYPE)[keyof typeof ATTRIBUTE_TYPE];

/**
 * One attribute list as stored: every value as text (`all`, module doc) and
 * the type code of each key whose value is not a string (`types`).
 */
export interface FlattenedAttributes {
  all: Record<string, string>;
  types: Record<string, AttributeTypeCode>;
}

const INT_TEXT = /^-?\d{1,19}$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Whether `s` is an Int64 in decimal. The protobuf decoder cannot produce
 * anything else, and ingest rejects other intValues in OTLP JSON; a message
 * written by an older version may still carry one, and its text is then kept
 * without the int type (a string attribute) rather than stored as an int that
 * ClickHouse cannot read.
 */
function isInt64Text(s: string): boolean {
  if (!INT_TEXT.test(s)) return false;
  if (s.length < 19) return true;
  const b = BigInt(s);
  return b >= INT64_MIN && b <= INT64_MAX;
}

/** The stored form of one OTLP attribute value: its text and its type code (0 for strings and bytes). */
export interface AttributeText {
  text: string;
  type: AttributeTypeCode | 0;
}

/**
 * The text ({@link anyValueToString}) and type code of one OTLP attribute
 * value, as stored (module doc): '' with 'empty' for an absent value; the
 * type 0 (no entry in the types map) for strings, bytes and an intValue that
 * is not an Int64 in decimal.
 */
export function attributeText(v: AnyValue | undefined): AttributeText {
  if (v === undefined || v === null) return { text: '', type: ATTRIBUTE_TYPE.empty };
  if (v.stringValue !== undefined) return { text: v.stringValue, type: 0 };
  if (v.boolValue !== undefined) return { text: v.boolValue ? 'true' : 'false', type: ATTRIBUTE_TYPE.bool };
  if (v.intValue !== undefined) {
    const text = String(v.intValue);
    return { text, type: isInt64Text(text) ? ATTRIBUTE_TYPE.int : 0 };
  }
  if (v.doubleValue !== undefined) return { text: String(v.doubleValue), type: ATTRIBUTE_TYPE.double };
  if (v.bytesValue !== undefined) return { text: v.bytesValue, type: 0 };
  if (v.arrayValue !== undefined || v.kvlistValue !== undefined) return { text: JSON.stringify(anyValueToPlain(v)), type: ATTRIBUTE_TYPE.json };
  return { text: '', type: ATTRIBUTE_TYPE.empty };
}

/**
 * Store one OTLP attribute: its text in `out.all` and, unless it is a string
 * or bytes, its type code in `out.types` ({@link attributeText}); a later
 * duplicate of the key replaces both (a string duplicate removes the code).
 */
function storeAttribute(out: FlattenedAttributes, key: string, v: AnyValue | undefined): void {
  let type: AttributeTypeCode | 0;
  let text: string;
  if (v !== undefined && v !== null && v.stringValue !== undefined) {
    // The common case, without the intermediate object.
    type = 0;
    text = v.stringValue;
  } else ({ text, type } = attributeText(v));
  const duplicate = key in out.all;
  out.all[key] = text;
  if (type !== 0) out.types[key] = type;
  else if (duplicate && key in out.types) delete out.types[key];
}

/**
 * Flatten OTLP attributes into their text map and type codes in one pass.
 * @param kvs OTLP KeyValue list (decoded, schemas/otlp.ts); later duplicates win.
 */
export function flattenKeyValuesTyped(kvs: KeyValue[] | undefined): FlattenedAttributes {
  const out: FlattenedAttributes = { all: {}, types: {} };
  if (!Array.isArray(kvs)) return out;
  for (const kv of kvs) if (kv && typeof kv.key === 'string') storeAttribute(out, kv.key, kv.value);
  return out;
}

/**
 * Flatten native attributes (a JSON object) into their text map
 * ({@link plainToString}) and type codes in one pass: safe integers and
 * bigints → int; other numbers → double; booleans → bool; arrays and objects
 * → json; null → empty (text ''); strings have no code. Undefined values are
 * skipped.
 * @returns a fresh {@link FlattenedAttributes} the caller may change.
 */
export function flattenPlainTyped(obj: Record<string, unknown> | undefined | null): FlattenedAttributes {
  const out: FlattenedAttributes = { all: {}, types: {} };
  if (!obj || typeof obj !== 'object') return out;
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    out.all[k] = plainToString(v);
    if (typeof v === 'string') continue;
    if (v === null) out.types[k] = ATTRIBUTE_TYPE.empty;
    else if (typeof v === 'boolean') out.types[k] = ATTRIBUTE_TYPE.bool;
    else if (typeof v === 'bigint') out.types[k] = ATTRIBUTE_TYPE.int;
    else if (typeof v === 'number') out.types[k] = Number.isSafeInteger(v) ? ATTRIBUTE_TYPE.int : ATTRIBUTE_TYPE.double;
    else out.types[k] = ATTRIBUTE_TYPE.json;
  }
  return out;
}

/** Set `key` to the string `value` in a flattened list (not a shared one) and drop its type code (strings have none). */
export function setString(f: FlattenedAttributes, key: string, value: string): void {
  f.all[key] = value;
  delete f.types[key];
}

/** OTLP attributes as a JSON object of plain typed values (event and link attributes, scope attributes). */
export function keyValuesToPlain(kvs: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(kvs)) return out;
  for (const kv of kvs) if (kv && typeof kv.key === 'string') out[kv.key] = anyValueToPlain(kv.value);
  return out;
}

/** A count for a UInt32 column: a non-negative integer ≤ 2^32−1, else 0. */
export function uint32(n: unknown): number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff ? n : 0;
}

/** Flattened resource attributes (texts and type codes), computed once per resource object. */
const resourceCache = new WeakMap<object, FlattenedAttributes>();

/**
 * {@link flattenKeyValuesTyped} of a resource's (or scope's) attributes,
 * memoised per decoded object: every span or log record of one
 * ResourceSpans / ResourceLogs shares the result (read-only) instead of
 * flattening the same attributes again. Profiled: resource flattening was a
 * large share of the worker's time per span with realistic resources.
 */
export function flattenShared(owner: { attributes?: KeyValue[] } | undefined): FlattenedAttributes {
  if (owner === undefined || owner === null) return flattenKeyValuesTyped(undefined);
  let f = resourceCache.get(owner);
  if (f === undefined) {
    f = flattenKeyValuesTyped(owner.attributes);
    resourceCache.set(owner, f);
  }
  return f;
}