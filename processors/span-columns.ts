/**
 * Span rows held column by column until they are encoded as one ClickHouse
 * Native block: the worker's path for OTLP protobuf spans
 * (processors/span-wire.ts writes here straight from the request bytes),
 * without a SpanRow object, attribute objects or time literals per span.
 *
 * The block is byte for byte the one {@link encodeSpansNative} makes of the
 * same rows (SPAN_COLUMNS order, defaults, dictionaries, map entry order);
 * tests/processors/span-columns.test.ts compares the two on varied requests.
 * Rows that come as SpanRow objects (the other input formats, and messages
 * the wire path hands back to the object path) are added with
 * {@link SpanColumns.addRow}.
 *
 * Attributes are flat: the entries of row `i` are `attrKeys[k]` →
 * `attrValues[k]` for `k` in `[attrStart[i], attrEnd[i])`, in the order the
 * object path's maps enumerate them (first occurrence of a key; a later
 * duplicate replaces the value in place). Resource attributes are stored once
 * per resource (a group) and rows point at their group.
 */
import { NativeBlockWriter } from '../platform/clickhouse-native.js';
import type { SpanRow } from '../schemas/rows.js';
import { literalNs, SPAN_COLUMNS } from './encode-native.js';

/** A position of the columns, to roll back to ({@link SpanColumns.mark}). */
export interface ColumnsMark {
  rows: number;
  attrs: number;
  types: number;
  groups: number;
  groupAttrs: number;
  groupTypes: number;
}

type StringColumn =
  | 'tenant' | 'trace_id' | 'span_id' | 'parent_span_id' | 'name' | 'kind' | 'service' | 'status_code' | 'status_message'
  | 'scope_name' | 'scope_version' | 'events' | 'model' | 'provider' | 'user_id' | 'trace_state' | 'links'
  | 'resource_schema_url' | 'scope_attributes' | 'scope_schema_url';
type NumberColumn =
  | 'duration_ns' | 'input_tokens' | 'output_tokens' | 'cached_tokens' | 'unpriced' | 'flags' | 'dropped_attributes_count'
  | 'dropped_events_count' | 'dropped_links_count' | 'resource_dropped_attributes_count' | 'scope_dropped_attributes_count';

const STRING_COLUMNS: readonly StringColumn[] = [
  'tenant', 'trace_id', 'span_id', 'parent_span_id', 'name', 'kind', 'service', 'status_code', 'status_message',
  'scope_name', 'scope_version', 'events', 'model', 'provider', 'user_id', 'trace_state', 'links',
  'resource_schema_url', 'scope_attributes', 'scope_schema_url',
];
const NUMBER_COLUMNS: readonly NumberColumn[] = [
  'duration_ns', 'input_tokens', 'output_tokens', 'cached_tokens', 'unpriced', 'flags', 'dropped_attributes_count',
  'dropped_events_count', 'dropped_links_count', 'resource_dropped_attributes_count', 'scope_dropped_attributes_count',
];

/** What an absent string field is written as: the column's fallback in SPAN_COLUMNS ('[]' for links, '{}' for scope_attributes), else ''. */
const STRING_DEFAULTS = Object.fromEntries(STRING_COLUMNS.map((c) => [c, SPAN_COLUMNS.find(([name]) => name === c)?.[2] ?? ''])) as Record<StringColumn, string>;

/** Span rows of one block, column by column (module doc). Reused block after block ({@link clear}). */
export class SpanColumns {
  /** Rows held. */
  n = 0;
  readonly str = Object.fromEntries(STRING_COLUMNS.map((c) => [c, [] as string[]])) as Record<StringColumn, string[]>;
  readonly num = Object.fromEntries(NUMBER_COLUMNS.map((c) => [c, [] as number[]])) as Record<NumberColumn, number[]>;
  /** ns since the epoch. */
  readonly startNs: bigint[] = [];
  readonly endNs: bigint[] = [];
  /** USD, null when unpriced or not an LLM call. */
  readonly costUsd: (number | null)[] = [];

  /** Span attributes (texts), flat; row i: [attrStart[i], attrEnd[i]). */
  readonly attrKeys: string[] = [];
  readonly attrValues: string[] = [];
  readonly attrStart: number[] = [];
  readonly attrEnd: number[] = [];
  /** Span attribute type codes (migration 0016), flat; row i: [typeStart[i], typeEnd[i]). */
  readonly typeKeys: string[] = [];
  readonly typeCodes: number[] = [];
  readonly typeStart: number[] = [];
  readonly typeEnd: number[] = [];

  /** The resource (group) of each row. */
  readonly resGroup: number[] = [];
  /** Resource attributes per group, flat: group g's texts [resStart[g], resEnd[g]), types [resTypeStart[g], resTypeEnd[g]). */
  readonly resKeys: string[] = [];
  readonly resValues: string[] = [];
  readonly resStart: number[] = [];
  readonly resEnd: number[] = [];
  readonly resTypeKeys: string[] = [];
  readonly resTypeCodes: number[] = [];
  readonly resTypeStart: number[] = [];
  readonly resTypeEnd: number[] = [];

  private lastResource: object | undefined;
  private lastGroup = -1;

  /** The current length of every column, for {@link rollback}. */
  mark(): ColumnsMark {
    return { rows: this.n, attrs: this.attrKeys.length, types: this.typeKeys.length, groups: this.resStart.length, groupAttrs: this.resKeys.length, groupTypes: this.resTypeKeys.length };
  }

  /** Drop everything added since `m` (a message that is then read another way). */
  rollback(m: ColumnsMark): void {
    this.n = m.rows;
    this.lastResource = undefined;
    for (const c of STRING_COLUMNS) this.str[c].length = m.rows;
    for (const c of NUMBER_COLUMNS) this.num[c].length = m.rows;
    for (const a of [this.startNs, this.endNs, this.costUsd, this.attrStart, this.attrEnd, this.typeStart, this.typeEnd, this.resGroup]) a.length = m.rows;
    this.attrKeys.length = this.attrValues.length = m.attrs;
    this.typeKeys.length = this.typeCodes.length = m.types;
    for (const a of [this.resStart, this.resEnd, this.resTypeStart, this.resTypeEnd]) a.length = m.groups;
    this.resKeys.length = this.resValues.length = m.groupAttrs;
    this.resTypeKeys.length = this.resTypeCodes.length = m.groupTypes;
  }

  /** Empty the columns (their arrays are kept for the next block). */
  clear(): void {
    this.rollback({ rows: 0, attrs: 0, types: 0, groups: 0, groupAttrs: 0, groupTypes: 0 });
  }

  /**
   * Start a resource group from its flattened attributes (texts and type
   * codes, enumerated as the object path's map encoder does).
   * @returns the group's index, for the rows' `resGroup`.
   */
  addGroup(all: Readonly<Record<string, string>>, types: Readonly<Record<string, number>>): number {
    this.resStart.push(this.resKeys.length);
    for (const k in all) {
      this.resKeys.push(k);
      this.resValues.push(all[k]!);
    }
    this.resEnd.push(this.resKeys.length);
    this.resTypeStart.push(this.resTypeKeys.length);
    for (const k in types) {
      this.resTypeKeys.push(k);
      this.resTypeCodes.push(types[k]!);
    }
    this.resTypeEnd.push(this.resTypeKeys.length);
    return this.resStart.length - 1;
  }

  /**
   * Add one row made by the object path (normalize/spans.ts), with the
   * defaults {@link encodeSpansNative} gives absent fields.
   * @throws RangeError when start_time or end_time is not a DateTime64 literal.
   */
  addRow(row: SpanRow, seconds: Map<string, bigint>): void {
    const r = row as unknown as Record<string, unknown>;
    for (const c of STRING_COLUMNS) this.str[c].push((r[c] as string | undefined) ?? STRING_DEFAULTS[c]);
    for (const c of NUMBER_COLUMNS) this.num[c].push((r[c] as number | undefined) ?? 0);
    this.startNs.push(literalNs(row.start_time, seconds));
    this.endNs.push(literalNs(row.end_time, seconds));
    this.costUsd.push(row.cost_usd ?? null);
    this.attrStart.push(this.attrKeys.length);
    for (const k in row.attributes) {
      this.attrKeys.push(k);
      this.attrValues.push(row.attributes[k]!);
    }
    this.attrEnd.push(this.attrKeys.length);
    this.typeStart.push(this.typeKeys.length);
    const types = row.attributes_types ?? {};
    for (const k in types) {
      this.typeKeys.push(k);
      this.typeCodes.push(types[k]!);
    }
    this.typeEnd.push(this.typeKeys.length);
    // Rows of one resource share its objects (normalize/attributes.ts flattenShared): one group.
    const res = row.resource_attributes ?? {};
    if (res !== this.lastResource || this.resStart.length === 0) {
      this.lastResource = res;
      this.lastGroup = this.addGroup(res, row.resource_attributes_types ?? {});
    }
    this.resGroup.push(this.lastGroup);
    this.n++;
  }

  /**
   * The rows as one Native block (SPAN_COLUMNS, the bytes of
   * {@link encodeSpansNative} for the same rows).
   * @returns the block (a view of the writer's buffer).
   * @throws Error when SPAN_COLUMNS has a column this class holds no values for (a programming error).
   */
  encode(): Buffer {
    const n = this.n;
    const w = new NativeBlockWriter(n, SPAN_COLUMNS.length, n * 1600);
    let rowGroups: number[] | undefined;
    for (const [name, kind] of SPAN_COLUMNS) {
      switch (name) {
        case 'start_time': w.dateTime64ns(name, this.startNs); continue;
        case 'end_time': w.dateTime64ns(name, this.endNs); continue;
        case 'cost_usd': w.nullableFloat64(name, this.costUsd); continue;
        case 'attributes_format': w.uint(name, 1, new Array<number>(n).fill(1)); continue;
        case 'attributes':
          rowGroups ??= Array.from({ length: n }, (_, i) => i);
          w.mapGroups(name, 'String', rowGroups, this.attrStart, this.attrEnd, this.attrKeys, this.attrValues);
          continue;
        case 'attributes_types':
          rowGroups ??= Array.from({ length: n }, (_, i) => i);
          w.mapGroups(name, 'UInt8', rowGroups, this.typeStart, this.typeEnd, this.typeKeys, this.typeCodes);
          continue;
        case 'resource_attributes': w.mapGroups(name, 'String', this.resGroup, this.resStart, this.resEnd, this.resKeys, this.resValues); continue;
        case 'resource_attributes_types': w.mapGroups(name, 'UInt8', this.resGroup, this.resTypeStart, this.resTypeEnd, this.resTypeKeys, this.resTypeCodes); continue;
        default:
      }
      if (kind === 'String') w.string(name, this.str[name as StringColumn]);
      else if (kind === 'LowCardinality') w.lowCardinalityString(name, this.str[name as StringColumn]);
      else if (kind === 'UInt8') w.uint(name, 1, this.num[name as NumberColumn]);
      else if (kind === 'UInt32') w.uint(name, 4, this.num[name as NumberColumn]);
      else if (kind === 'UInt64') w.uint(name, 8, this.num[name as NumberColumn]);
      else throw new Error(`span column ${name} (${kind}) has no columnar source`);
    }
    return w.finish();
  }
}
