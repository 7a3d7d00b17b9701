/**
 * The Native writer's `LowCardinality(String)` and
 * `Map(LowCardinality(String), V)` columns (issue 6):
 * byte for byte what ClickHouse itself writes for the same column, and read
 * back exactly by an insert — empty maps, an empty key, non-ASCII keys, a
 * repeated map object, and dictionaries that need UInt16 and UInt32 indexes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { NativeBlockWriter } from '../../platform/clickhouse-native.js';
import { createTestClickHouse } from '../support/clickhouse.js';
import { tempDir } from '../support/harness.js';

let ch: ClickHouseHandle;
beforeAll(async () => {
  ch = await createTestClickHouse();
});

/** ClickHouse's own Native encoding of `SELECT … FORMAT Native`. */
async function nativeOf(select: string): Promise<Buffer> {
  const file = path.join(tempDir('native-oracle'), 'out.native');
  await ch.client.command({ query: `INSERT INTO FUNCTION file('${file}', 'Native') ${select}` });
  return fs.readFileSync(file);
}

function block(maps: Array<Record<string, string | number> | undefined>, value: 'String' | 'UInt8' = 'String'): Buffer {
  const w = new NativeBlockWriter(maps.length, 1);
  w.map('m', value, maps);
  return Buffer.from(w.finish());
}

/** Insert a one-column block into a fresh table and read the maps back in row order. */
async function roundTrip(maps: Array<Record<string, string | number> | undefined>, value: 'String' | 'UInt8' = 'String'): Promise<unknown[]> {
  const table = `${ch.database}.native_map_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  await ch.client.command({ query: `CREATE TABLE ${table} (i UInt32, m Map(LowCardinality(String), ${value})) ENGINE = MergeTree ORDER BY i` });
  const file = path.join(tempDir('native-block'), 'in.native');
  fs.writeFileSync(file, block(maps, value));
  await ch.client.command({ query: `INSERT INTO ${table} (m, i) SELECT m, rowNumberInAllBlocks() FROM file('${file}', 'Native')` });
  const rs = await ch.client.query({ query: `SELECT m FROM ${table} ORDER BY i`, format: 'JSONEachRow' });
  return ((await rs.json()) as Array<{ m: unknown }>).map((r) => r.m);
}

describe('Native writer: Map(LowCardinality(String), V) columns', () => {
  it('writes the bytes ClickHouse writes for the same column (version, offsets, dictionary with the default first, UInt8 indexes, values)', async () => {
    const ours = block([{ a: 'x', b: 'y' }, {}, { b: 'z' }]);
    const theirs = await nativeOf("SELECT CAST(m, 'Map(LowCardinality(String), String)') AS m FROM (SELECT arrayJoin([map('a', 'x', 'b', 'y'), map(), map('b', 'z')]) AS m)");
    expect(ours.toString('hex')).toBe(theirs.toString('hex'));
  });

  it('a column whose maps are all empty has no keys granule, as ClickHouse writes it (the next column must follow the offsets)', async () => {
    const w = new NativeBlockWriter(2, 2);
    w.map('m', 'String', [{}, undefined]);
    w.string('s', ['a', 'b']);
    const theirs = await nativeOf("SELECT CAST(map(), 'Map(LowCardinality(String), String)') AS m, ['a', 'b'][number + 1] AS s FROM numbers(2)");
    expect(Buffer.from(w.finish()).toString('hex')).toBe(theirs.toString('hex'));
  });

  it('switches to UInt16 indexes past 256 dictionary keys, as ClickHouse does', async () => {
    const big: Record<string, string> = {};
    for (let i = 0; i < 300; i++) big[`k${i}`] = String(i);
    const ours = block([big]);
    const theirs = await nativeOf("SELECT CAST(mapFromArrays(arrayMap(i -> concat('k', toString(i)), range(300)), arrayMap(i -> toString(i), range(300))), 'Map(LowCardinality(String), String)') AS m");
    expect(ours.toString('hex')).toBe(theirs.toString('hex'));
  });

  it('reads back exactly: empty and absent maps, an empty key, non-ASCII keys, a repeated map object, UInt8 values', async () => {
    const shared = { 'service.name': 'api', 'host.名前': 'ホスト', '': 'empty key' };
    const maps = [shared, undefined, {}, shared, { 'service.name': 'worker', 'ключ': 'значение 🚀' }, shared];
    expect(await roundTrip(maps)).toEqual([shared, {}, {}, shared, { 'service.name': 'worker', 'ключ': 'значение 🚀' }, shared]);
    expect(await roundTrip([{ a: 1, b: 5 }, { a: 3 }, {}], 'UInt8')).toEqual([{ a: 1, b: 5 }, { a: 3 }, {}]);
  });

  it('reads back a dictionary that needs UInt32 indexes (more than 65,536 keys in one block)', async () => {
    const maps = Array.from({ length: 70 }, (_, r) => Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`key-${r}-${i}`, `${r}.${i}`])));
    const back = (await roundTrip(maps)) as Array<Record<string, string>>;
    expect(back).toHaveLength(70);
    expect(back[0]).toEqual(maps[0]);
    expect(back[69]).toEqual(maps[69]);
    expect(back.reduce((n, m) => n + Object.keys(m).length, 0)).toBe(70_000);
  });

  it('LowCardinality(String) columns: the bytes ClickHouse writes, with the empty string at index 0 even when it is a value', async () => {
    const w = new NativeBlockWriter(4, 1);
    w.lowCardinalityString('c', ['a', 'b', 'a', '']);
    const theirs = await nativeOf("SELECT CAST(x, 'LowCardinality(String)') AS c FROM (SELECT arrayJoin(['a', 'b', 'a', '']) AS x)");
    expect(Buffer.from(w.finish()).toString('hex')).toBe(theirs.toString('hex'));
  });

  it('LowCardinality(String) columns read back exactly past 256 and 65,536 distinct values', async () => {
    for (const n of [300, 70_000]) {
      const values = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 'same' : `v${i}-ü`));
      const w = new NativeBlockWriter(n, 1);
      w.lowCardinalityString('c', values);
      const file = path.join(tempDir('native-lc'), 'in.native');
      fs.writeFileSync(file, Buffer.from(w.finish()));
      const rs = await ch.client.query({ query: `SELECT c FROM file('${file}', 'Native')`, format: 'JSONCompactEachRow' });
      expect(((await rs.json()) as string[][]).map((r) => r[0])).toEqual(values);
    }
  });
});
