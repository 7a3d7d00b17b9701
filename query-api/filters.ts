/**
 * Attribute filter expressions (`filter=` on /api/v1/traces, /api/v1/logs and
 * /api/v1/metrics/spans; issue 8, "Any attribute").
 *
 * Grammar (one expression per `filter` parameter, all must hold; at most
 * {@link MAX_FILTERS}):
 *
 *   [resource.]<key> <op> <value>
 *   <key>   = attribute name, 1–256 characters, no spaces or = ! < >;
 *             `resource.` first names a resource attribute (the rest of the
 *             key), any other key a span (log record) attribute.
 *   <op>    = `=` `!=` `>` `>=` `<` `<=`  |  `in (v1, v2, …)`  |  `contains v`
 *             |  `exists`  |  `!exists`
 *   <value> = text up to the end (trimmed), or "double quoted" (\" and \\
 *             escapes) to force a string comparison.
 *
 * Semantics (against the text map every row has, `attributes` /
 * `resource_attributes`, where ints are exact decimals — migration 0016):
 * - `=` with an unquoted number (`42`, `-1.5`, `1e3`): numeric equality with
 *   int (exact Int64 for integer literals and integer texts), double and
 *   numeric-looking string values, or equal text; `=` with anything else:
 *   the value as text (`true` / `false` match booleans). `!=` is the
 *   negation of `=` (rows without the attribute match).
 * - `>` `>=` `<` `<=`: the value must be a number; compared numerically with
 *   int, double and numeric-looking string attributes; rows without a
 *   numeric value do not match.
 * - `in`: any of up to 100 values, each as `=` would.
 * - `contains`: case-insensitive substring of the value as text.
 * - `exists` / `!exists`: the attribute is (not) present, any type.
 *
 * Keys and values are always typed query parameters (`{af0_k:String}` …);
 * nothing from the expression is spliced into SQL.
 */
import { ValidationError } from '../platform/errors.js';
import { show } from './params.js';

/** Most `filter` parameters per request. */
export const MAX_FILTERS = 10;
/** Longest attribute name, characters. */
export const MAX_KEY_CHARS = 256;
/** Longest `filter` expression, characters. */
export const MAX_FILTER_CHARS = 2048;
/** Most values of an `in` list. */
export const MAX_IN_VALUES = 100;

export type FilterOp = '=' | '!=' | '>' | '>=' | '<' | '<=' | 'in' | 'contains' | 'exists' | '!exists';

/** A parsed filter expression. */
export interface AttributeFilter {
  /** 'span' (span or log record attributes) or 'resource'. */
  scope: 'span' | 'resource';
  key: string;
  op: FilterOp;
  /** Values as written (unquoted); one for comparisons, several for `in`, none for exists. */
  values: string[];
  /** Per value: true when it was quoted (never compared as a number). */
  quoted: boolean[];
}

export const FILTER_FORM =
  'expected [resource.]<key> <op> <value> with op = != > >= < <= in (a, b) contains exists !exists, e.g. http.response.status_code>=500';

const KEY_RE = /^([^\s=!<>()"]+)\s*(.*)$/s;
const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INT_RE = /^[+-]?\d+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function bad(message: string): ValidationError {
  return new ValidationError('filter', message);
}

/** Parse a value: "quoted" (escapes \" \\) or bare text (trimmed). */
function parseValue(raw: string, expr: string): { value: string; quoted: boolean } {
  const t = raw.trim();
  if (!t.startsWith('"')) {
    if (t === '') throw bad(`missing value in ${show(expr)}; ${FILTER_FORM}`);
    return { value: t, quoted: false };
  }
  const m = /^"((?:[^"\\]|\\.)*)"$/s.exec(t);
  if (!m) throw bad(`unterminated or malformed quoted value in ${show(expr)}`);
  return { value: m[1]!.replace(/\\(.)/gs, '$1'), quoted: true };
}

/** Split an `in` list `(a, "b,c", d)` or `a, b` on commas outside quotes. */
function parseList(raw: string, expr: string): { values: string[]; quoted: boolean[] } {
  let t = raw.trim();
  if (t.startsWith('(')) {
    if (!t.endsWith(')')) throw bad(`unclosed ( in ${show(expr)}`);
    t = t.slice(1, -1);
  }
  const parts: string[] = [];
  let cur = '';
  let inQuote = false;
  for (let i = 0; i < t.length; i++) {
    const c = t[i]!;
    if (inQuote && c === '\\' && i + 1 < t.length) {
      cur += c + t[i + 1]!;
      i++;
      continue;
    }
    if (c === '"') inQuote = !inQuote;
    if (c === ',' && !inQuote) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  if (parts.length > MAX_IN_VALUES) throw bad(`at most ${MAX_IN_VALUES} values in an in list`);
  const values: string[] = [];
  const quoted: boolean[] = [];
  for (const p of parts) {
    const v = parseValue(p, expr);
    values.push(v.value);
    quoted.push(v.quoted);
  }
  return { values, quoted };
}

/**
 * Parse one filter expression.
 * @throws ValidationError (filter) naming the problem and the accepted form.
 */
export function parseFilter(expr: string): AttributeFilter {
  const m = KEY_RE.exec(expr.trim());
  if (!m) throw bad(`${FILTER_FORM}, got ${show(expr)}`);
  let key = m[1]!;
  const rest = m[2]!;
  let scope: AttributeFilter['scope'] = 'span';
  if (key.startsWith('resource.') && key.length > 'resource.'.length) {
    scope = 'resource';
    key = key.slice('resource.'.length);
  }
  if (key.length > MAX_KEY_CHARS) throw bad(`attribute name longer than ${MAX_KEY_CHARS} characters`);
  const op = /^(>=|<=|!=|=|>|<)/.exec(rest)?.[1] as FilterOp | undefined;
  if (op !== undefined) {
    const v = parseValue(rest.slice(op.length), expr);
    if ((op === '>' || op === '>=' || op === '<' || op === '<=') && (v.quoted || !isNumber(v.value))) {
      throw bad(`${op} compares numbers: expected a number after ${op} in ${show(expr)}`);
    }
    return { scope, key, op, values: [v.value], quoted: [v.quoted] };
  }
  const word = /^(!exists|exists|in|contains)(?=\s|\(|$)/i.exec(rest)?.[1]?.toLowerCase();
  if (word === 'exists' || word === '!exists') {
    if (rest.slice(word.length).trim() !== '') throw bad(`nothing may follow ${word} in ${show(expr)}`);
    return { scope, key, op: word, values: [], quoted: [] };
  }
  if (word === 'in') return { scope, key, op: 'in', ...parseList(rest.slice(2), expr) };
  if (word === 'contains') {
    const v = parseValue(rest.slice('contains'.length), expr);
    if (v.value === '') throw bad(`contains needs a non-empty value in ${show(expr)}`);
    return { scope, key, op: 'contains', values: [v.value], quoted: [v.quoted] };
  }
  throw bad(`${FILTER_FORM}, got ${show(expr)}`);
}

function isNumber(s: string): boolean {
  return NUMBER_RE.test(s) && Number.isFinite(Number(s));
}

function isInt64(s: string): boolean {
  if (!INT_RE.test(s)) return false;
  const b = BigInt(s);
  return b >= INT64_MIN && b <= INT64_MAX;
}

/** SQL fragments and their typed parameter values. */
export interface FilterSql {
  sql: string[];
  params: Record<string, unknown>;
}

/**
 * WHERE fragments for parsed filters over a table with the attribute columns
 * of spans / logs. Every filter reads one map, `attributes` or
 * `resource_attributes`, where every value is stored as text (old rows and
 * new alike, migration 0016): numeric comparisons parse the text — an Int64
 * exactly (`toInt64OrNull`) when the literal is an integer, else as Float64
 * (`toFloat64OrNull`, which also reads 'NaN' / 'Infinity') — so int and double
 * attributes and numeric-looking strings compare as numbers, as with the
 * typed maps of 0007, without reading them.
 * @param prefix placeholder prefix, unique per query (e.g. 'af').
 * @param table qualify the columns with this table name (e.g. 'logs') when the
 *   query's SELECT list has aliases named like the attribute columns (which
 *   ClickHouse would otherwise use in WHERE); a fixed constant, never input.
 * @returns one fragment per filter (AND them) with placeholders `{<prefix><i>_k:String}` …
 */
export function filtersSql(filters: readonly AttributeFilter[], prefix = 'af', table?: 'spans' | 'logs'): FilterSql {
  const sql: string[] = [];
  const params: Record<string, unknown> = {};
  filters.forEach((f, i) => {
    const p = `${prefix}${i}`;
    const col = `${table === undefined ? '' : `${table}.`}${f.scope === 'resource' ? 'resource_attributes' : 'attributes'}`;
    const k = `{${p}_k:String}`;
    params[`${p}_k`] = f.key;
    const text = `${col}[${k}]`;
    const has = `mapContains(${col}, ${k})`;
    const numOf = `toFloat64OrNull(${text})`;
    /** Numeric comparison of the attribute with value j (exact Int64 for integer literals and integer texts). */
    const numCmp = (op: string, j: number): string => {
      const v = f.values[j]!;
      // As text: the client refuses JS numbers beyond 2^53; ClickHouse parses the Float64.
      params[`${p}_n${j}`] = String(Number(v));
      const asFloat = `ifNull(${numOf} ${op} {${p}_n${j}:Float64}, 0)`;
      if (isInt64(v)) {
        params[`${p}_i${j}`] = BigInt(v).toString();
        return `ifNull(toInt64OrNull(${text}) ${op} {${p}_i${j}:Int64}, ${asFloat})`;
      }
      return asFloat;
    };
    const eq = (j: number): string => {
      params[`${p}_v${j}`] = f.values[j];
      const asText = `(${has} AND ${text} = {${p}_v${j}:String})`;
      return !f.quoted[j] && isNumber(f.values[j]!) ? `(${asText} OR ${numCmp('=', j)})` : asText;
    };
    switch (f.op) {
      case 'exists':
        sql.push(has);
        break;
      case '!exists':
        sql.push(`NOT ${has}`);
        break;
      case 'contains':
        params[`${p}_v0`] = f.values[0];
        sql.push(`positionCaseInsensitiveUTF8(${text}, {${p}_v0:String}) > 0`);
        break;
      case '=':
        sql.push(eq(0));
        break;
      case '!=':
        sql.push(`NOT ${eq(0)}`);
        break;
      case 'in': {
        const texts = f.values;
        const nums = f.values.filter((v, j) => !f.quoted[j] && isNumber(v)).map((v) => String(Number(v)));
        params[`${p}_vs`] = texts;
        let frag = `(${has} AND has({${p}_vs:Array(String)}, ${text}))`;
        if (nums.length > 0) {
          params[`${p}_ns`] = nums;
          frag = `(${frag} OR ifNull(has(arrayMap(x -> toFloat64(x), {${p}_ns:Array(String)}), ${numOf}), 0))`;
        }
        sql.push(frag);
        break;
      }
      default:
        sql.push(numCmp(f.op, 0));
    }
  });
  return { sql, params };
}

/**
 * Parse every `filter` value and build its SQL.
 * @throws ValidationError (filter) for a malformed expression.
 */
export function attributeFilters(exprs: readonly string[], prefix = 'af', table?: 'spans' | 'logs'): FilterSql {
  return filtersSql(exprs.map(parseFilter), prefix, table);
}

/** Description of the `filter` parameter for the OpenAPI document. */
export const FILTER_DOC =
  `attribute filter, repeatable (all must hold, at most ${MAX_FILTERS}): [resource.]<key> <op> <value>; ` +
  'op = != > >= < <= (numbers compare as numbers), in (a, b), contains <text>, exists, !exists; ' +
  '"quoted" values compare as text. Examples: http.response.status_code>=500, resource.deployment.environment=prod, customer.tier in (gold, silver)';
