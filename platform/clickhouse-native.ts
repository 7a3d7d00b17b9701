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
 * | `UInt8` … `UInt64`, `Int64`, `Float64` | fixed width, little endian |
 * | `DateTime64(9, 'UTC')` | Int64 ns since the Unix epoch |
 * | `Nullable(T)` | a UInt8 null map (1 = NULL) for every row, then T for every row (any value where NULL) |
 * | `Map(K, V)` | UInt64 cumulative entry counts (one per row), then every key, then every value |
 *
 * VarUInt is unsigned LEB128. Column types here may be simpler than the
 * table's (`String` for `LowCardinality(String)`): an `INSERT … SELECT` from
 * the block, or an HTTP `INSERT … FORMAT Native`, casts to the table's types.
 */

/** Growable byte buffer the column writers append to. */
export class NativeBlockWriter {
  private buf: Buffer;
  private pos = 0;
  private columns = 0;
  private readonly rows: number;
  private readonly header: number;

  /**
   * @param rows number of rows of every column of the block.
   * @param columns number of columns that will be written.
   * @param sizeHint initial capacity, bytes (grows by doubling).
   */
  constructor(rows: number, columns: number, sizeHint = 64 * 1024) {
    this.rows = rows;
    this.header = columns;
    this.buf = Buffer.allocUnsafe(Math.max(1024, sizeHint));
    this.varUInt(columns);
    this.varUInt(rows);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (this.pos + n > size) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private varUInt(n: number): void {
    this.ensure(10);
    let v = n;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  /** Append one String value (VarUInt length + UTF-8). */
  private str(s: string): void {
    const len = s.length;
    // Short ASCII strings (most keys and values) are copied in JS: a call
    // into Buffer#utf8Write costs more than the copy itself at this size.
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
      this.ensure(1 + s.length * 3);
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

  private begin(name: string, type: string): void {
    this.columns++;
    this.str(name);
    this.str(type);
  }

  /** A `String` column. */
  string(name: string, values: ArrayLike<string>): void {
    this.begin(name, 'String');
    for (let i = 0; i < values.length; i++) this.str(values[i]!);
  }

  /** An unsigned integer column of `bytes` width (1, 2, 4: exact; 8: values ≤ 2^53). */
  uint(name: string, bytes: 1 | 2 | 4 | 8, values: ArrayLike<number>): void {
    this.begin(name, `UInt${bytes * 8}`);
    this.ensure(values.length * bytes);
    for (let i = 0; i < values.length; i++) this.fixedUInt(bytes, values[i]!);
  }

  private fixedUInt(bytes: 1 | 2 | 4 | 8, v: number): void {
    if (bytes === 8) {
      this.buf.writeUInt32LE(v % 0x1_0000_0000 >>> 0, this.pos);
      this.buf.writeUInt32LE(Math.floor(v / 0x1_0000_0000) >>> 0, this.pos + 4);
    } else this.buf.writeUIntLE(v, this.pos, bytes);
    this.pos += bytes;
  }

  /** A `Float64` column. */
  float64(name: string, values: ArrayLike<number>): void {
    this.begin(name, 'Float64');
    this.ensure(values.length * 8);
    for (let i = 0; i < values.length; i++) this.pos = this.buf.writeDoubleLE(values[i]!, this.pos);
  }

  /** A `Nullable(Float64)` column; `null` is NULL. */
  nullableFloat64(name: string, values: ArrayLike<number | null>): void {
    this.begin(name, 'Nullable(Float64)');
    this.ensure(values.length * 9);
    for (let i = 0; i < values.length; i++) this.buf[this.pos++] = values[i] === null ? 1 : 0;
    for (let i = 0; i < values.length; i++) this.pos = this.buf.writeDoubleLE(values[i] ?? 0, this.pos);
  }

  /** A `DateTime64(9, 'UTC')` column from ns since the Unix epoch. */
  dateTime64ns(name: string, values: ArrayLike<bigint>): void {
    this.begin(name, "DateTime64(9, 'UTC')");
    this.ensure(values.length * 8);
    for (let i = 0; i < values.length; i++) this.pos = this.buf.writeBigInt64LE(values[i]!, this.pos);
  }

  /**
   * A `Map(String, V)` column.
   * @param value how one value is written: 'String'; 'Int64' (exact decimal
   *   strings, or numbers); 'Float64' (numbers, or 'nan' / 'inf' / '-inf');
   *   'UInt8' (0 / 1).
   * @throws SyntaxError / RangeError when an Int64 value is not an integer in range.
   */
  map(name: string, value: 'String' | 'Int64' | 'Float64' | 'UInt8', values: ArrayLike<Readonly<Record<string, unknown>> | undefined>): void {
    this.begin(name, `Map(String, ${value})`);
    const keys: string[][] = new Array(values.length);
    let total = 0;
    this.ensure(values.length * 8);
    // Rows of one resource share its attribute object: list its keys once.
    let prev: unknown = null;
    let prevKeys: string[] = [];
    for (let i = 0; i < values.length; i++) {
      const m = values[i];
      if (m !== prev) {
        prevKeys = m === undefined ? [] : Object.keys(m);
        prev = m;
      }
      keys[i] = prevKeys;
      total += prevKeys.length;
      this.fixedUInt(8, total);
    }
    for (const k of keys) for (const key of k) this.str(key);
    if (value === 'String') {
      for (let i = 0; i < values.length; i++) for (const key of keys[i]!) this.str(values[i]![key] as string);
      return;
    }
    const width = value === 'UInt8' ? 1 : 8;
    this.ensure(total * width);
    for (let i = 0; i < values.length; i++) {
      const m = values[i]!;
      for (const key of keys[i]!) {
        const v = m[key];
        if (value === 'UInt8') this.buf[this.pos++] = v ? 1 : 0;
        else if (value === 'Float64') this.pos = this.buf.writeDoubleLE(toFloat(v), this.pos);
        else this.pos = this.buf.writeBigInt64LE(BigInt(v as string | number), this.pos);
      }
    }
  }

  /**
   * The encoded block.
   * @throws Error when fewer or more columns were written than announced.
   */
  finish(): Buffer {
    if (this.columns !== this.header) throw new Error(`Native block announced ${this.header} columns, ${this.columns} written`);
    void this.rows;
    return this.buf.subarray(0, this.pos);
  }
}

function toFloat(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v === 'nan') return Number.NaN;
  if (v === 'inf') return Number.POSITIVE_INFINITY;
  if (v === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(v);
}
