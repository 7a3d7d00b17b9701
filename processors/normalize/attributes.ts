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
 */
import type { AnyValue, KeyValue } from '../../schemas/otlp.js';

/** Plain JS value of an OTLP AnyValue (for JSON): int64 beyond 2^53 stays a string. */
export function anyValueToPlain(v: AnyValue | undefined): unknown {
  if (v === undefined || v === null) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) {
    const n = Number(v.intValue);
    return Number.isSafeInteger(n) ? n : String(v.intValue);
  }
  if (v.doubleValue !== undefined) return v.doubleValue;
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
