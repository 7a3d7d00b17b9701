/**
 * Span and log rows → one ClickHouse Native block (platform/clickhouse-native.ts),
 * the insert format of the two high-volume tables: chDB parses it ~4× cheaper
 * than the same rows as JSONEachRow (bench/README.md, "Insert format").
 *
 * Every column of the table that Vigil writes is in the block, in
 * {@link SPAN_COLUMNS} / {@link LOG_COLUMNS} order (the insert names them in
 * that order); a row field that is absent gets the column's DEFAULT as the
 * migration declares it — `links` to '[]', `scope_attributes` to '{}',
 * numbers to 0, strings to '' — except `attributes_format`, which is 1: the
 * processors write the layout of migration 0016 (values once, in
 * `attributes` / `resource_attributes`; type codes in `*_types`, a
 * Map(LowCardinality(String), UInt8) block column that the insert casts to
 * the table's Enum8). LowCardinality(String) columns and map keys are written
 * as a dictionary per block. Time literals ('YYYY-MM-DD hh:mm:ss.nnnnnnnnn',
 * UTC, schemas/time.ts) are written as Int64 ns.
 */
import { NativeBlockWriter } from '../platform/clickhouse-native.js';
import type { LogRow, SpanRow } from '../schemas/rows.js';

type Row = Readonly<Record<string, unknown>>;
type Kind = 'String' | 'LowCardinality' | 'UInt8' | 'UInt32' | 'UInt64' | 'DateTime64' | 'NullableFloat64' | 'MapString' | 'MapUInt8';
/** [column, how it is written, the default when the row has none]. */
type Column = readonly [name: string, kind: Kind, fallback?: string];

/**
 * Attribute type codes (migration 0016) and the row's layout flag (1; the only
 * layout since 0018). Until 0019 the block also carried 0007's typed-map
 * copies (`*_v1`) as ten empty maps: about half of the spans insert's CPU
 * (bench/README.md, "The typed-map copies dropped").
 */
const ATTRIBUTE_TYPES: Column[] = [
  ['attributes_types', 'MapUInt8'],
  ['resource_attributes_types', 'MapUInt8'],
  ['attributes_format', 'UInt8', '1'],
];

/** Columns of vigil.spans written by the processors, in block order. */
export const SPAN_COLUMNS: readonly Column[] = [
  ['tenant', 'LowCardinality'], ['trace_id', 'String'], ['span_id', 'String'], ['parent_span_id', 'String'],
  ['name', 'LowCardinality'], ['kind', 'LowCardinality'], ['service', 'LowCardinality'],
  ['start_time', 'DateTime64'], ['end_time', 'DateTime64'], ['duration_ns', 'UInt64'],
  ['status_code', 'LowCardinality'], ['status_message', 'String'], ['scope_name', 'LowCardinality'], ['scope_version', 'LowCardinality'],
  ['resource_attributes', 'MapString'], ['attributes', 'MapString'], ['events', 'String'],
  ['model', 'LowCardinality'], ['provider', 'LowCardinality'], ['user_id', 'String'],
  ['input_tokens', 'UInt64'], ['output_tokens', 'UInt64'], ['cached_tokens', 'UInt64'],
  ['cost_usd', 'NullableFloat64'], ['unpriced', 'UInt8'],
  ['trace_state', 'String'], ['flags', 'UInt32'],
  ['dropped_attributes_count', 'UInt32'], ['dropped_events_count', 'UInt32'], ['dropped_links_count', 'UInt32'],
  ['links', 'String', '[]'],
  ...ATTRIBUTE_TYPES,
  ['resource_dropped_attributes_count', 'UInt32'], ['resource_schema_url', 'LowCardinality'],
  ['scope_attributes', 'String', '{}'], ['scope_dropped_attributes_count', 'UInt32'], ['scope_schema_url', 'LowCardinality'],
];

/** Columns of vigil.logs written by the processors, in block order. */
export const LOG_COLUMNS: readonly Column[] = [
  ['tenant', 'LowCardinality'], ['time', 'DateTime64'], ['observed_time', 'DateTime64'],
  ['severity_number', 'UInt8'], ['severity_text', 'LowCardinality'], ['body', 'String'], ['service', 'LowCardinality'],
  ['trace_id', 'String'], ['span_id', 'String'], ['scope_name', 'LowCardinality'],
  ['resource_attributes', 'MapString'], ['attributes', 'MapString'],
  ['body_type', 'LowCardinality', 'string'], ['flags', 'UInt32'], ['dropped_attributes_count', 'UInt32'],
  ['event_name', 'LowCardinality'], ['scope_version', 'LowCardinality'], ['scope_attributes', 'String', '{}'],
  ['scope_dropped_attributes_count', 'UInt32'], ['scope_schema_url', 'LowCardinality'],
  ['resource_dropped_attributes_count', 'UInt32'], ['resource_schema_url', 'LowCardinality'],
  ...ATTRIBUTE_TYPES,
];

/** Column names of a block, for `INSERT INTO t (…)`. */
export const SPAN_COLUMN_NAMES: readonly string[] = SPAN_COLUMNS.map((c) => c[0]);
export const LOG_COLUMN_NAMES: readonly string[] = LOG_COLUMNS.map((c) => c[0]);

/**
 * ns since the epoch of a DateTime64(9) UTC literal; the whole seconds are
 * parsed once per distinct second of the block (`cache`).
 * @throws RangeError when `s` is not 'YYYY-MM-DD hh:mm:ss[.fraction]'.
 */
export function literalNs(s: string, cache: Map<string, bigint>): bigint {
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
      case 'LowCardinality':
        // The table's LowCardinality(String) columns: a dictionary per block, not a string per row.
        w.lowCardinalityString(name, pick(rows, name, fallback ?? ''));
        break;
      case 'UInt8':
        w.uint(name, 1, pick(rows, name, fallback === undefined ? 0 : Number(fallback)));
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
        const type = kind === 'MapString' ? 'String' : 'UInt8';
        w.map(name, type, pick<Row | undefined>(rows, name, undefined));
      }
    }
  }
  return w.finish();
}

/**
 * Encode span rows as a Native block with {@link SPAN_COLUMNS}.
 * @throws RangeError on a malformed time literal.
 */
export function encodeSpansNative(rows: readonly SpanRow[]): Buffer {
  return encode(rows as unknown as readonly Row[], SPAN_COLUMNS);
}

/**
 * Encode log rows as a Native block with {@link LOG_COLUMNS}.
 * @throws RangeError on a malformed time literal.
 */
export function encodeLogsNative(rows: readonly LogRow[]): Buffer {
  return encode(rows as unknown as readonly Row[], LOG_COLUMNS);
}
