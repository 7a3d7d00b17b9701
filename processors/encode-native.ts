/**
 * Span and log rows → one ClickHouse Native block (platform/clickhouse-native.ts),
 * the insert format of the two high-volume tables: chDB parses it ~4× cheaper
 * than the same rows as JSONEachRow (bench/README.md, "Insert format").
 *
 * Every column of the table that Vigil writes is in the block, in
 * {@link SPAN_COLUMNS} / {@link LOG_COLUMNS} order (the insert names them in
 * that order); a row field that is absent gets the column's DEFAULT as the
 * migration declares it — `attributes_string` / `resource_attributes_string`
 * fall back to the string maps, `links` to '[]', `scope_attributes` to '{}',
 * numbers to 0, strings to ''. Time literals ('YYYY-MM-DD hh:mm:ss.nnnnnnnnn',
 * UTC, schemas/time.ts) are written as Int64 ns.
 */
import { NativeBlockWriter } from '../platform/clickhouse-native.js';
import type { LogRow, SpanRow } from '../schemas/rows.js';

type Row = Readonly<Record<string, unknown>>;
type Kind = 'String' | 'UInt8' | 'UInt32' | 'UInt64' | 'DateTime64' | 'NullableFloat64' | 'MapString' | 'MapInt64' | 'MapFloat64' | 'MapUInt8';
/** [column, how it is written, field to use when the row has none (maps), or the default]. */
type Column = readonly [name: string, kind: Kind, fallback?: string];

const TYPED_MAPS = (prefix: string): Column[] => [
  [`${prefix}_string`, 'MapString', prefix],
  [`${prefix}_int`, 'MapInt64'],
  [`${prefix}_float`, 'MapFloat64'],
  [`${prefix}_bool`, 'MapUInt8'],
  [`${prefix}_json`, 'MapString'],
];

/** Columns of vigil.spans written by the processors, in block order. */
export const SPAN_COLUMNS: readonly Column[] = [
  ['tenant', 'String'], ['trace_id', 'String'], ['span_id', 'String'], ['parent_span_id', 'String'],
  ['name', 'String'], ['kind', 'String'], ['service', 'String'],
  ['start_time', 'DateTime64'], ['end_time', 'DateTime64'], ['duration_ns', 'UInt64'],
  ['status_code', 'String'], ['status_message', 'String'], ['scope_name', 'String'], ['scope_version', 'String'],
  ['resource_attributes', 'MapString'], ['attributes', 'MapString'], ['events', 'String'],
  ['model', 'String'], ['provider', 'String'], ['user_id', 'String'],
  ['input_tokens', 'UInt64'], ['output_tokens', 'UInt64'], ['cached_tokens', 'UInt64'],
  ['cost_usd', 'NullableFloat64'], ['unpriced', 'UInt8'],
  ['trace_state', 'String'], ['flags', 'UInt32'],
  ['dropped_attributes_count', 'UInt32'], ['dropped_events_count', 'UInt32'], ['dropped_links_count', 'UInt32'],
  ['links', 'String', '[]'],
  ...TYPED_MAPS('attributes'), ...TYPED_MAPS('resource_attributes'),
  ['resource_dropped_attributes_count', 'UInt32'], ['resource_schema_url', 'String'],
  ['scope_attributes', 'String', '{}'], ['scope_dropped_attributes_count', 'UInt32'], ['scope_schema_url', 'String'],
];

/** Columns of vigil.logs written by the processors, in block order. */
export const LOG_COLUMNS: readonly Column[] = [
  ['tenant', 'String'], ['time', 'DateTime64'], ['observed_time', 'DateTime64'],
  ['severity_number', 'UInt8'], ['severity_text', 'String'], ['body', 'String'], ['service', 'String'],
  ['trace_id', 'String'], ['span_id', 'String'], ['scope_name', 'String'],
  ['resource_attributes', 'MapString'], ['attributes', 'MapString'],
  ['body_type', 'String', 'string'], ['flags', 'UInt32'], ['dropped_attributes_count', 'UInt32'],
  ['event_name', 'String'], ['scope_version', 'String'], ['scope_attributes', 'String', '{}'],
  ['scope_dropped_attributes_count', 'UInt32'], ['scope_schema_url', 'String'],
  ['resource_dropped_attributes_count', 'UInt32'], ['resource_schema_url', 'String'],
  ...TYPED_MAPS('attributes'), ...TYPED_MAPS('resource_attributes'),
];

/** Column names of a block, for `INSERT INTO t (…)`. */
export const SPAN_COLUMN_NAMES: readonly string[] = SPAN_COLUMNS.map((c) => c[0]);
export const LOG_COLUMN_NAMES: readonly string[] = LOG_COLUMNS.map((c) => c[0]);

/**
 * ns since the epoch of a DateTime64(9) UTC literal; the whole seconds are
 * parsed once per distinct second of the block (`cache`).
 * @throws RangeError when `s` is not 'YYYY-MM-DD hh:mm:ss[.fraction]'.
 */
function literalNs(s: string, cache: Map<string, bigint>): bigint {
  const sec = s.slice(0, 19);
  let base = cache.get(sec);
  if (base === undefined) {
    const ms = Date.parse(`${sec.slice(0, 10)}T${sec.slice(11)}Z`);
    if (!Number.isFinite(ms) || s.length < 19) throw new RangeError(`not a DateTime64 literal: ${JSON.stringify(s)}`);
    base = BigInt(ms) * 1_000_000n;
    cache.set(sec, base);
  }
  if (s.length <= 20) return base;
  return base + BigInt(s.slice(20, 29).padEnd(9, '0'));
}

type Getter = (row: Row) => unknown;
const getters = new Map<string, Getter>();

/**
 * `row => row.<name>` for one column. A property read with a fixed name keeps
 * one inline cache per column (rows share their hidden class), where
 * `row[name]` with a varying name went through V8's megamorphic keyed load
 * (~18 % of the worker thread's samples under load). Names are the fixed
 * column names of this module, checked to be identifiers.
 */
function getter(name: string): Getter {
  let g = getters.get(name);
  if (g === undefined) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid column name ${JSON.stringify(name)}`);
    g = new Function('row', `return row.${name};`) as Getter;
    getters.set(name, g);
  }
  return g;
}

/** The values of one column, one per row (`fallback` when the row has none). */
function pick<T>(rows: readonly Row[], name: string, fallback: T): T[] {
  const get = getter(name);
  const out = new Array<T>(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = (get(rows[i]!) as T | undefined) ?? fallback;
  return out;
}

function encode(rows: readonly Row[], columns: readonly Column[]): Buffer {
  const n = rows.length;
  const w = new NativeBlockWriter(n, columns.length, n * 1600);
  const seconds = new Map<string, bigint>();
  for (const [name, kind, fallback] of columns) {
    switch (kind) {
      case 'String':
        w.string(name, pick(rows, name, fallback ?? ''));
        break;
      case 'UInt8':
        w.uint(name, 1, pick(rows, name, 0));
        break;
      case 'UInt32':
        w.uint(name, 4, pick(rows, name, 0));
        break;
      case 'UInt64':
        w.uint(name, 8, pick(rows, name, 0));
        break;
      case 'DateTime64': {
        const get = getter(name);
        const ns = new Array<bigint>(n);
        for (let i = 0; i < n; i++) ns[i] = literalNs(get(rows[i]!) as string, seconds);
        w.dateTime64ns(name, ns);
        break;
      }
      case 'NullableFloat64':
        w.nullableFloat64(name, pick<number | null>(rows, name, null));
        break;
      default: {
        const type = kind === 'MapString' ? 'String' : kind === 'MapInt64' ? 'Int64' : kind === 'MapFloat64' ? 'Float64' : 'UInt8';
        const get = getter(name);
        const alt = fallback === undefined ? undefined : getter(fallback);
        const maps = new Array<Row | undefined>(n);
        for (let i = 0; i < n; i++) {
          const r = rows[i]!;
          maps[i] = (get(r) ?? alt?.(r)) as Row | undefined;
        }
        w.map(name, type, maps);
      }
    }
  }
  return w.finish();
}

/**
 * Encode span rows as a Native block with {@link SPAN_COLUMNS}.
 * @throws RangeError on a malformed time literal or Int64 attribute value.
 */
export function encodeSpansNative(rows: readonly SpanRow[]): Buffer {
  return encode(rows as unknown as readonly Row[], SPAN_COLUMNS);
}

/**
 * Encode log rows as a Native block with {@link LOG_COLUMNS}.
 * @throws RangeError on a malformed time literal or Int64 attribute value.
 */
export function encodeLogsNative(rows: readonly LogRow[]): Buffer {
  return encode(rows as unknown as readonly Row[], LOG_COLUMNS);
}
