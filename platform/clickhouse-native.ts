/**
 * Writer of ClickHouse's Native format: one columnar block of rows, the
 * format ClickHouse parses with the least work (bench/README.md, "Insert
 * format": ~11 µs per span row against ~50 µs for the same rows as
 * JSONEachRow through chDB).
 *
 * Layout (ClickHouse docs, "Formats → Native"; src/Formats/NativeWriter.cpp
 * without a client revision, i.e. no block info and no per-column
 * serialization flag): VarUInt column count, VarUInt row count, then per
 * column its name (String), its type name (String) and its values, all rows
 * of the column one after the other, in the type's binary bulk encoding:
 *
 * | type | encoding |
 * |---|---|
 * | `String` | VarUInt byte length, UTF-8 bytes |
 * | `LowCardinality(String)` | UInt64 1, then a dictionary of the distinct values and one index per row ({@link NativeBlockWriter.lowCardinalityString}) |
 * | `UInt8` … `UInt64`, `Int64`, `Float64` | fixed width, little endian |
 * | `DateTime64(9, 'UTC')` | Int64 ns since the Unix epoch |
 * | `Nullable(T)` | a UInt8 null map (1 = NULL) for every row, then T for every row (any value where NULL) |
 * | `Map(LowCardinality(String), V)` | UInt64 1 (LowCardinality keys version), UInt64 cumulative entry counts (one per row), the keys as a LowCardinality dictionary + indexes ({@link NativeBlockWriter.map}), then every value |
 *
 * VarUInt is unsigned LEB128. Column types here may be simpler than the
 * table's (`UInt8` map values for an `Enum8` map, `String` where a table
 * column is `LowCardinality(String)` and the caller writes it with
 * {@link NativeBlockWriter.string}): an `INSERT … SELECT` from the block, or
 * an HTTP `INSERT … FORMAT Native`, casts to the table's types.
 */

/** The distinct strings of one LowCardinality column of a block, in first-seen order after the default ''. */
class Dictionary {
  readonly keys: string[] = [''];
  private readonly at = new Map<string, number>([['', 0]]);

  /** The index of `s`, added at the end when new. */
  index(s: string): number {
    let k = this.at.get(s);
    if (k === undefined) {
      k = this.keys.length;
      this.at.set(s, k);
      this.keys.push(s);
    }
    return k;
  }
}

/** Growable byte buffer with the Native encodings of single values. */
class ByteSink {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, size));
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (this.pos + n > size) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varUInt(n: number): void {
    this.ensure(10);
    let v = n;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  /** One String value (VarUInt length + UTF-8). */
  str(s: string): void {
    const len = s.length;
    // Short ASCII strings (most keys and values) are copied in JS: a call
    // into Buffer#write costs more than the copy itself at this size.
    if (len < 128) {
      this.ensure(1 + len * 3);
      const buf = this.buf;
      const at = this.pos + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      if (i === len) {
        buf[this.pos] = len;
        this.pos = at + len;
        return;
      }
    }
    // UTF-8 needs at most 3 bytes per UTF-16 unit: when that fits in one
    // length byte, write the bytes first and the length byte before them.
    if (len <= 42) {
      this.ensure(1 + len * 3);
      const n = this.buf.write(s, this.pos + 1, 'utf8');
      this.buf[this.pos] = n;
      this.pos += 1 + n;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.varUInt(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }

  /** Unsigned 64-bit little endian of a non-negative integer ≤ 2^53, at `at` (default: appended). */
  u64(v: number, at = -1): void {
    const p = at >= 0 ? at : this.pos;
    this.buf.writeUInt32LE(v % 0x1_0000_0000 >>> 0, p);
    this.buf.writeUInt32LE(Math.floor(v / 0x1_0000_0000) >>> 0, p + 4);
    if (at < 0) this.pos += 8;
  }

  f64(v: number): void {
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(v, this.pos);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  append(other: ByteSink): void {
    this.ensure(other.pos);
    other.buf.copy(this.buf, this.pos, 0, other.pos);
    this.pos += other.pos;
  }
}

/** One Native block, column by column. */
export class NativeBlockWriter {
  private readonly out: ByteSink;
  private aux: ByteSink | undefined;
  private columns = 0;
  private readonly header: number;

  /**
   * @param rows number of rows of every column of the block.
   * @param columns number of columns that will be written.
   * @param sizeHint initial capacity, bytes (grows by doubling).
   */
  constructor(rows: number, columns: number, sizeHint = 64 * 1024) {
    this.header = columns;
    this.out = new ByteSink(sizeHint);
    this.out.varUInt(columns);
    this.out.varUInt(rows);
  }

  private begin(name: string, type: string): void {
    this.columns++;
    this.out.str(name);
    this.out.str(type);
  }

  /** A `String` column. */
  string(name: string, values: ArrayLike<string>): void {
    this.begin(name, 'String');
    for (let i = 0; i < values.length; i++) this.out.str(values[i]!);
  }

  /** An unsigned integer column of `bytes` width (1, 2, 4: exact; 8: values ≤ 2^53). */
  uint(name: string, bytes: 1 | 2 | 4 | 8, values: ArrayLike<number>): void {
    this.begin(name, `UInt${bytes * 8}`);
    const out = this.out;
    out.ensure(values.length * bytes);
    for (let i = 0; i < values.length; i++) {
      if (bytes === 8) out.u64(values[i]!);
      else {
        out.buf.writeUIntLE(values[i]!, out.pos, bytes);
        out.pos += bytes;
      }
    }
  }

  /** A `Float64` column. */
  float64(name: string, values: ArrayLike<number>): void {
    this.begin(name, 'Float64');
    for (let i = 0; i < values.length; i++) this.out.f64(values[i]!);
  }

  /** A `Nullable(Float64)` column; `null` is NULL. */
  nullableFloat64(name: string, values: ArrayLike<number | null>): void {
    this.begin(name, 'Nullable(Float64)');
    for (let i = 0; i < values.length; i++) this.out.u8(values[i] === null ? 1 : 0);
    for (let i = 0; i < values.length; i++) this.out.f64(values[i] ?? 0);
  }

  /** A `DateTime64(9, 'UTC')` column from ns since the Unix epoch. */
  dateTime64ns(name: string, values: ArrayLike<bigint>): void {
    this.begin(name, "DateTime64(9, 'UTC')");
    const out = this.out;
    out.ensure(values.length * 8);
    for (let i = 0; i < values.length; i++) out.pos = out.buf.writeBigInt64LE(values[i]!, out.pos);
  }

  /**
   * A `Map(LowCardinality(String), V)` column, in one pass over each map.
   *
   * Layout (ClickHouse's own Native output of such a column, checked byte for
   * byte in tests/platform/clickhouse-native.test.ts; src/DataTypes/
   * Serializations/SerializationLowCardinality.cpp): UInt64 1 (the keys'
   * serialization version, `SharedDictionariesWithAdditionalKeys`), the
   * UInt64 cumulative entry counts (one per row), then the keys as one
   * LowCardinality granule — UInt64 index type (0/1/2 = UInt8/16/32 indexes,
   * | 0x200 HasAdditionalKeys | 0x400 NeedUpdateDictionary), UInt64 dictionary
   * size, the dictionary's strings (the default '' first, as ClickHouse writes
   * it), UInt64 index count, one index per entry — then every value. A
   * column without any entry has no keys granule.
   *
   * Keys are written once per block instead of once per entry, and the insert
   * needs no String → LowCardinality conversion: −37 % block bytes for span
   * rows, ~13 % less chDB insert CPU on a quiet machine (bench/README.md,
   * "LowCardinality map keys in the block").
   * @param value how one value is written: 'String'; 'UInt8' (numbers 0–255
   *   as they are — e.g. Enum8 codes, which the insert casts — and other
   *   values as 0 / 1 by truthiness).
   */
  map(name: string, value: 'String' | 'UInt8', values: ArrayLike<Readonly<Record<string, unknown>> | undefined>): void {
    const n = values.length;
    const offsets = this.beginMap(name, value, n);
    const out = this.out;
    const aux = this.aux!;
    const dict = new Dictionary();
    let indexes = this.indexes;
    let total = 0;
    // The entries of the last map written: a map object repeated on the next
    // rows (a resource's attributes, shared by its spans) is copied, not encoded again.
    let last: Readonly<Record<string, unknown>> | undefined;
    let lastAt = 0;
    let valuesAt = 0;
    let valuesEnd = 0;
    let entries = 0;
    for (let i = 0; i < n; i++) {
      const m = values[i];
      if (m !== undefined && m === last) {
        indexes = this.repeatEntries(total, lastAt, entries, valuesAt, valuesEnd);
        total += entries;
      } else if (m !== undefined) {
        last = m;
        lastAt = total;
        valuesAt = aux.pos;
        entries = 0;
        for (const key in m) {
          if (total >= indexes.length) indexes = this.growIndexes(total + 1);
          indexes[total++] = dict.index(key);
          const v = m[key];
          if (value === 'String') aux.str(v as string);
          else aux.u8(typeof v === 'number' ? v : v ? 1 : 0);
          entries++;
        }
        valuesEnd = aux.pos;
      }
      out.u64(total, offsets + i * 8);
    }
    this.granule(dict.keys, indexes, total);
    out.append(aux);
  }

  /**
   * Start a map column of `n` rows: its header, the keys' serialization
   * version, room for the offsets; the values buffer emptied.
   * @returns where the offsets go.
   */
  private beginMap(name: string, value: 'String' | 'UInt8', n: number): number {
    this.begin(name, `Map(LowCardinality(String), ${value})`);
    (this.aux ??= new ByteSink(64 * 1024)).pos = 0;
    const out = this.out;
    out.ensure(8 + n * 8);
    out.u64(1);
    const offsets = out.pos;
    out.pos += n * 8;
    return offsets;
  }

  /**
   * Repeat the previous row's map entries (a map shared with it): its
   * `entries` dictionary indexes from `lastAt` are copied to `total`, and its
   * encoded values aux[valuesAt, valuesEnd) are appended to the values.
   * @returns the (possibly grown) index array.
   */
  private repeatEntries(total: number, lastAt: number, entries: number, valuesAt: number, valuesEnd: number): Uint32Array {
    const indexes = total + entries > this.indexes.length ? this.growIndexes(total + entries) : this.indexes;
    indexes.copyWithin(total, lastAt, lastAt + entries);
    const aux = this.aux!;
    aux.ensure(valuesEnd - valuesAt);
    aux.buf.copyWithin(aux.pos, valuesAt, valuesEnd);
    aux.pos += valuesEnd - valuesAt;
    return indexes;
  }

  /**
   * {@link map} from flat arrays: the entries of row `i` are
   * `keys[k]` → `values[k]` for `k` in `[start[g], end[g])`, `g = group[i]`.
   * Rows of one group share their entries (a resource's attributes, shared by
   * its spans): a row of the previous row's group is copied, not encoded
   * again. Bytes are those of {@link map} over the same entries in the same
   * order.
   * @param group the group of each row (its length is the row count).
   * @param start first entry of each group; end: one past its last.
   */
  mapGroups(
    name: string,
    value: 'String' | 'UInt8',
    group: ArrayLike<number>,
    start: ArrayLike<number>,
    end: ArrayLike<number>,
    keys: readonly string[],
    values: ArrayLike<string> | ArrayLike<number>,
  ): void {
    const n = group.length;
    const offsets = this.beginMap(name, value, n);
    const out = this.out;
    const aux = this.aux!;
    const dict = new Dictionary();
    let indexes = this.indexes;
    let total = 0;
    let last = -1;
    let lastAt = 0;
    let valuesAt = 0;
    let valuesEnd = 0;
    let entries = 0;
    for (let i = 0; i < n; i++) {
      const g = group[i]!;
      if (g === last) {
        indexes = this.repeatEntries(total, lastAt, entries, valuesAt, valuesEnd);
        total += entries;
      } else {
        last = g;
        lastAt = total;
        valuesAt = aux.pos;
        const from = start[g]!;
        const to = end[g]!;
        entries = to - from;
        if (total + entries > indexes.length) indexes = this.growIndexes(total + entries);
        for (let k = from; k < to; k++) {
          indexes[total++] = dict.index(keys[k]!);
          if (value === 'String') aux.str(values[k] as string);
          else aux.u8(values[k] as number);
        }
        valuesEnd = aux.pos;
      }
      out.u64(total, offsets + i * 8);
    }
    this.granule(dict.keys, indexes, total);
    out.append(aux);
  }

  /**
   * A `LowCardinality(String)` column: UInt64 1 (serialization version), then
   * one granule — index type, dictionary (the default '' first), index count
   * and one index per row ({@link NativeBlockWriter.map} has the layout).
   * Each distinct value is written once per block, and the insert converts
   * nothing.
   */
  lowCardinalityString(name: string, values: ArrayLike<string>): void {
    this.begin(name, 'LowCardinality(String)');
    const n = values.length;
    this.out.ensure(8);
    this.out.u64(1);
    const dict = new Dictionary();
    const indexes = n > this.indexes.length ? this.growIndexes(n) : this.indexes;
    for (let i = 0; i < n; i++) indexes[i] = dict.index(values[i]!);
    this.granule(dict.keys, indexes, n);
  }

  /** One LowCardinality granule of `count` indexes into `keys`; none when `count` is 0 (ClickHouse writes none then). */
  private granule(keys: readonly string[], indexes: Uint32Array, count: number): void {
    if (count === 0) return;
    const out = this.out;
    const width = keys.length <= 0x100 ? 1 : keys.length <= 0x10000 ? 2 : 4;
    out.ensure(16);
    out.u64(0x600 + (width === 1 ? 0 : width === 2 ? 1 : 2));
    out.u64(keys.length);
    for (const key of keys) out.str(key);
    out.ensure(8 + count * width);
    out.u64(count);
    const buf = out.buf;
    let pos = out.pos;
    if (width === 1) for (let i = 0; i < count; i++) buf[pos++] = indexes[i]!;
    else if (width === 2) for (let i = 0; i < count; i++, pos += 2) buf.writeUInt16LE(indexes[i]!, pos);
    else for (let i = 0; i < count; i++, pos += 4) buf.writeUInt32LE(indexes[i]!, pos);
    out.pos = pos;
  }

  /** Dictionary indexes of the column being written, reused by the block's columns (bounded by the block's entries). */
  private indexes: Uint32Array = new Uint32Array(4096);

  private growIndexes(min: number): Uint32Array {
    let size = this.indexes.length * 2;
    while (size < min) size *= 2;
    const next = new Uint32Array(size);
    next.set(this.indexes);
    this.indexes = next;
    return next;
  }

  /**
   * The encoded block.
   * @throws Error when fewer or more columns were written than announced.
   */
  finish(): Buffer {
    if (this.columns !== this.header) throw new Error(`Native block announced ${this.header} columns, ${this.columns} written`);
    return this.out.buf.subarray(0, this.out.pos);
  }
}
