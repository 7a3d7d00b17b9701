/**
 * Typed attribute values for API answers (issue 8, "Fidelity of what is
 * stored"), read from the typed map columns of migration 0007 — since 0017
 * ALIAS columns that derive the same maps from the text map and the type
 * codes of 0016 (and read the stored maps of older rows).
 *
 * SQL: {@link typedAttributeColumns} selects a prefix's maps with every value
 * as a string (`toString` keeps Int64 exact and renders non-finite doubles as
 * 'nan' / 'inf' / '-inf', which JSON numbers cannot carry).
 * JS: {@link typedAttributes} merges them over the legacy string map into one
 * object whose values have their OTLP type:
 * - string → string; bytes → base64 string;
 * - int → number when within ±(2^53 − 1), else the exact decimal string;
 * - double → number; NaN / ±Infinity → "NaN" / "Infinity" / "-Infinity"
 *   (the proto3 JSON mapping);
 * - bool → true / false;
 * - array / kvlist → JSON array / object (same rules inside);
 * - empty value → null.
 * Keys only in the legacy map (rows written without typed maps) stay strings.
 */

/** Row fields selected by {@link typedAttributeColumns} for one prefix. */
export type TypedAttributeRow = Record<string, unknown>;

/**
 * SELECT list fragment for the typed maps of `prefix` ('attributes' or
 * 'resource_attributes'), aliased `${prefix}_string` … `${prefix}_json`, every
 * value a string. `prefix` is one of two constants, never user input.
 */
export function typedAttributeColumns(prefix: 'attributes' | 'resource_attributes'): string {
  const str = (kind: string): string => `mapApply((k, v) -> (k, toString(v)), ${prefix}_${kind}) AS ${prefix}_${kind}`;
  return [`${prefix}_string`, str('int'), str('float'), str('bool'), `${prefix}_json`].join(', ');
}

function map(v: unknown): Record<string, string> {
  return v !== null && typeof v === 'object' ? (v as Record<string, string>) : {};
}

/** An Int64 decimal string as a JSON value: a number when exact, else the string. */
export function intValue(s: string): number | string {
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : s;
}

/** A Float64 rendered by ClickHouse `toString` as a JSON value (non-finite as proto3 JSON strings). */
export function floatValue(s: string): number | string {
  const lower = s.toLowerCase();
  if (lower === 'nan' || lower === '-nan') return 'NaN';
  if (lower === 'inf' || lower === '+inf') return 'Infinity';
  if (lower === '-inf') return '-Infinity';
  const n = Number(s);
  return Number.isFinite(n) ? n : s;
}

function jsonValue(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return s;
  }
}

/**
 * The typed attribute object of `prefix` from a row holding the legacy map
 * (`row[prefix]`) and the columns of {@link typedAttributeColumns}.
 * @returns key → typed value (see module doc).
 */
export function typedAttributes(row: TypedAttributeRow, prefix: 'attributes' | 'resource_attributes'): Record<string, unknown> {
  const out: Record<string, unknown> = { ...map(row[prefix]) };
  for (const [k, v] of Object.entries(map(row[`${prefix}_string`]))) out[k] = v;
  for (const [k, v] of Object.entries(map(row[`${prefix}_int`]))) out[k] = intValue(String(v));
  for (const [k, v] of Object.entries(map(row[`${prefix}_float`]))) out[k] = floatValue(String(v));
  for (const [k, v] of Object.entries(map(row[`${prefix}_bool`]))) out[k] = String(v) === '1' || String(v) === 'true';
  for (const [k, v] of Object.entries(map(row[`${prefix}_json`]))) out[k] = jsonValue(String(v));
  return out;
}

/**
 * A log body as stored (`body` text + `body_type`, migration 0007) → its JSON
 * value: kvlist → object, array → array, int / double / bool → number /
 * boolean, bytes → base64 string, string → string, empty → ''. A body that
 * does not parse as its type is returned as the stored text.
 */
export function typedBody(body: string, bodyType: string | undefined): unknown {
  switch (bodyType) {
    case 'kvlist':
    case 'array':
      return jsonValue(body);
    case 'int':
      return intValue(body);
    case 'double':
      return floatValue(body === 'NaN' ? 'nan' : body === 'Infinity' ? 'inf' : body === '-Infinity' ? '-inf' : body);
    case 'bool':
      return body === 'true';
    default:
      return body;
  }
}
