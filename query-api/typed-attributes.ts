/**
 * Typed attribute values for API answers (issue 8, "Fidelity of what is
 * stored"), read from the layout of migration 0016: every value as text in
 * `attributes` / `resource_attributes`, and the OTLP type of each non-string
 * key in `attributes_types` / `resource_attributes_types` ('int', 'double',
 * 'bool', 'json', 'empty'). Since 0018 every row has that layout (rows from
 * before 0007, which had no types, read as strings, as they were stored).
 * The typed-map ALIAS columns (`attributes_int` …) derive the same maps for
 * SQL users; the API reads the two source maps and types the values here,
 * which costs ClickHouse nothing per row (the aliases: ten map expressions
 * per row, ~10–25 % of a trace lookup on 100M spans; bench/README.md).
 *
 * SQL: {@link typedAttributeColumns} selects a prefix's type codes (the text
 * map is selected by name).
 * JS: {@link typedAttributes} gives one object whose values have their OTLP type:
 * - string → string; bytes → base64 string;
 * - int → number when within ±(2^53 − 1), else the exact decimal string;
 * - double → number; NaN / ±Infinity → "NaN" / "Infinity" / "-Infinity"
 *   (the proto3 JSON mapping);
 * - bool → true / false;
 * - array / kvlist → JSON array / object (same rules inside);
 * - empty value → null.
 */

/** Row fields selected by {@link typedAttributeColumns} plus the text map. */
export type TypedAttributeRow = Record<string, unknown>;

/**
 * SELECT list fragment for the type codes of `prefix` ('attributes' or
 * 'resource_attributes'): `${prefix}_types`. `prefix` is one of two
 * constants, never user input.
 */
export function typedAttributeColumns(prefix: 'attributes' | 'resource_attributes'): string {
  return `${prefix}_types`;
}

function map(v: unknown): Record<string, string> {
  return v !== null && typeof v === 'object' ? (v as Record<string, string>) : {};
}

/** An Int64 decimal string as a JSON value: a number when exact, else the string. */
export function intValue(s: string): number | string {
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : s;
}

/**
 * A double's text as a JSON value: a number, or for non-finite values the
 * proto3 JSON strings "NaN" / "Infinity" / "-Infinity" (accepts the texts the
 * processors write and ClickHouse's 'nan' / 'inf' / '-inf').
 */
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
 * The typed attribute object of `prefix` from a row holding the text map
 * (`row[prefix]`) and its type codes (`row[prefix + '_types']`).
 * @returns key → typed value (see module doc).
 */
export function typedAttributes(row: TypedAttributeRow, prefix: 'attributes' | 'resource_attributes'): Record<string, unknown> {
  const out: Record<string, unknown> = { ...map(row[prefix]) };
  for (const [k, type] of Object.entries(map(row[`${prefix}_types`]))) {
    const text = typeof out[k] === 'string' ? (out[k] as string) : '';
    switch (type) {
      case 'int':
        out[k] = intValue(text);
        break;
      case 'double':
        out[k] = floatValue(text);
        break;
      case 'bool':
        out[k] = text === 'true';
        break;
      case 'json':
        out[k] = jsonValue(text);
        break;
      case 'empty':
        out[k] = null;
        break;
      default:
        // Unknown code (a newer writer): the text as stored.
        break;
    }
  }
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
