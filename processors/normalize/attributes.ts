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
 * Typed columns (migration 0007, {@link TypedAttributes}) keep the OTLP value
 * type: `*_string` (stringValue, and bytesValue as base64), `*_int` (intValue,
 * int64 as an exact decimal string in the JSONEachRow row), `*_float`
 * (doubleValue; NaN / ±Infinity as 'nan' / 'inf' / '-inf', which ClickHouse
 * parses into Float64), `*_bool` (0 / 1), `*_json` (arrayValue and kvlistValue
 * as compact JSON of their plain values; an empty AnyValue as 'null'). Each key
 * is in exactly one typed map (the last duplicate decides), and also, as a
 * string, in the legacy `attributes` / `resource_attributes` map.
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

/** Flatten native attributes (a JSON object) to key → string; undefined values are skipped. */
export function flattenPlain(obj: Record<string, unknown> | undefined | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (!obj || typeof obj !== 'object') return out;
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = plainToString(v);
  return out;
}

/** Lowercase hex id, '' when absent or all zeros (OTLP's "no id"). */
export function normalizeId(id: string | undefined | null): string {
  if (!id) return '';
  const s = id.replace(/-/g, '').toLowerCase();
  return /^0*$/.test(s) ? '' : s;
}

/** One attribute list split by value type (see module doc); every key in exactly one map. */
export interface TypedAttributes {
  /** stringValue; bytesValue as base64. */
  string: Record<string, string>;
  /** intValue as an exact decimal string (−2^63 … 2^63−1). */
  int: Record<string, string>;
  /** doubleValue; non-finite values as 'nan' / 'inf' / '-inf'. */
  float: Record<string, number | string>;
  /** boolValue as 0 / 1. */
  bool: Record<string, 0 | 1>;
  /** arrayValue / kvlistValue as compact JSON; an empty value as 'null'. */
  json: Record<string, string>;
}

/** Both forms of one attribute list: every value as a string, and split by type. */
export interface FlattenedAttributes {
  all: Record<string, string>;
  typed: TypedAttributes;
}

type TypedKind = keyof TypedAttributes;
const TYPED_KINDS: readonly TypedKind[] = ['string', 'int', 'float', 'bool', 'json'];

function emptyTyped(): TypedAttributes {
  return { string: {}, int: {}, float: {}, bool: {}, json: {} };
}

/** A double as a JSONEachRow Float64 value (JSON has no NaN / Infinity). */
export function floatCell(n: number): number | string {
  if (Number.isFinite(n)) return n;
  if (Number.isNaN(n)) return 'nan';
  return n > 0 ? 'inf' : '-inf';
}

function putTyped(t: TypedAttributes, key: string, kind: TypedKind, value: string | number): void {
  for (const k of TYPED_KINDS) if (k !== kind && key in t[k]) delete t[k][key];
  (t[kind] as Record<string, string | number>)[key] = value;
}

/**
 * Store one OTLP attribute: in `out.all` as {@link anyValueToString} gives it,
 * and in the one typed map of its value type (module doc); a duplicate key
 * (rare) moves to its new type's map. The string and typed forms are made
 * here in one pass, in locals: this runs for every attribute of every span,
 * and a `[kind, value]` pair per attribute showed in the worker's profile.
 */
function storeAttribute(out: FlattenedAttributes, key: string, v: AnyValue | undefined): void {
  let kind: TypedKind = 'json';
  let typed: string | number = 'null';
  let text = '';
  if (v === undefined || v === null) {
    // An empty value: '' and 'null' (the defaults above).
  } else if (v.stringValue !== undefined) {
    kind = 'string';
    typed = text = v.stringValue;
  } else if (v.boolValue !== undefined) {
    kind = 'bool';
    typed = v.boolValue ? 1 : 0;
    text = v.boolValue ? 'true' : 'false';
  } else if (v.intValue !== undefined) {
    kind = 'int';
    typed = text = String(v.intValue);
  } else if (v.doubleValue !== undefined) {
    kind = 'float';
    typed = floatCell(Number(v.doubleValue));
    text = String(v.doubleValue);
  } else if (v.bytesValue !== undefined) {
    kind = 'string';
    typed = text = v.bytesValue;
  } else if (v.arrayValue !== undefined || v.kvlistValue !== undefined) {
    typed = text = JSON.stringify(anyValueToPlain(v));
  }
  const duplicate = key in out.all;
  out.all[key] = text;
  if (duplicate) putTyped(out.typed, key, kind, typed);
  else (out.typed[kind] as Record<string, string | number>)[key] = typed;
}

/**
 * Flatten OTLP attributes into the legacy string map and the typed maps in one pass.
 * @param kvs OTLP KeyValue list (decoded, schemas/otlp.ts); later duplicates win.
 */
export function flattenKeyValuesTyped(kvs: KeyValue[] | undefined): FlattenedAttributes {
  const out: FlattenedAttributes = { all: {}, typed: emptyTyped() };
  if (!Array.isArray(kvs)) return out;
  for (const kv of kvs) if (kv && typeof kv.key === 'string') storeAttribute(out, kv.key, kv.value);
  return out;
}

/**
 * Native attributes (a JSON object) split by type: strings; safe integers (and
 * bigints) → int; other numbers → float; booleans → bool; null, arrays and
 * objects → json. Undefined values are skipped.
 */
export function typedPlain(obj: Record<string, unknown> | undefined | null): TypedAttributes {
  const t = emptyTyped();
  if (!obj || typeof obj !== 'object') return t;
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    if (typeof v === 'string') putTyped(t, k, 'string', v);
    else if (typeof v === 'boolean') putTyped(t, k, 'bool', v ? 1 : 0);
    else if (typeof v === 'bigint') putTyped(t, k, 'int', v.toString());
    else if (typeof v === 'number') putTyped(t, k, Number.isSafeInteger(v) ? 'int' : 'float', Number.isSafeInteger(v) ? String(v) : floatCell(v));
    else putTyped(t, k, 'json', JSON.stringify(v));
  }
  return t;
}

/** OTLP attributes as a JSON object of plain typed values (event and link attributes, scope attributes). */
export function keyValuesToPlain(kvs: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(kvs)) return out;
  for (const kv of kvs) if (kv && typeof kv.key === 'string') out[kv.key] = anyValueToPlain(kv.value);
  return out;
}

/**
 * The ten typed-map row columns of a record (`attributes_*`) and its resource
 * (`resource_attributes_*`), as one object with fixed keys: the normalisers
 * spread it into each row (cheaper per span than {@link typedColumns}'s
 * computed keys, which showed in the worker's profile).
 */
export function typedMapColumns(attrs: TypedAttributes, res: TypedAttributes) {
  return {
    attributes_string: attrs.string,
    attributes_int: attrs.int,
    attributes_float: attrs.float,
    attributes_bool: attrs.bool,
    attributes_json: attrs.json,
    resource_attributes_string: res.string,
    resource_attributes_int: res.int,
    resource_attributes_float: res.float,
    resource_attributes_bool: res.bool,
    resource_attributes_json: res.json,
  };
}

/** The typed-map row columns `${prefix}_string` … `${prefix}_json` of `t`. */
export function typedColumns<P extends string>(prefix: P, t: TypedAttributes): { [K in TypedKind as `${P}_${K}`]: TypedAttributes[K] } {
  return {
    [`${prefix}_string`]: t.string,
    [`${prefix}_int`]: t.int,
    [`${prefix}_float`]: t.float,
    [`${prefix}_bool`]: t.bool,
    [`${prefix}_json`]: t.json,
  } as { [K in TypedKind as `${P}_${K}`]: TypedAttributes[K] };
}

/** A count for a UInt32 column: a non-negative integer ≤ 2^32−1, else 0. */
export function uint32(n: unknown): number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff ? n : 0;
}

/** Flattened resource attributes (and their typed columns), computed once per resource object. */
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