/**
 * Regression: chDB kept a call's settings in its session. An insert without a
 * dedup token after one with a token inherited it and was silently dropped,
 * and the query API's max_execution_time leaked into later queries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseHandle } from '../../platform/clickhouse.js';
import { tempDir } from '../support/harness.js';

describe('chDB session settings do not outlive their call', () => {
  // chDB allows one data directory per process: both tests share it.
  let ch: ClickHouseHandle;
  beforeAll(() => {
    ch = createClickHouse({ url: undefined, username: undefined, password: undefined, database: 'default', retentionDays: 30 }, tempDir('chdb-session'));
  });
  afterAll(async () => {
    await ch.client.close();
  });

  it('an insert without a dedup token after one with a token is stored; max_execution_time does not leak', async () => {
    await ch.client.command({ query: 'CREATE TABLE default.t (a UInt8) ENGINE = MergeTree ORDER BY a SETTINGS non_replicated_deduplication_window = 100' });
    await ch.client.insert({ table: 'default.t', values: [{ a: 1 }], format: 'JSONEachRow', clickhouse_settings: { insert_deduplicate: 1, insert_deduplication_token: 'tok-1' } });
    await ch.client.insert({ table: 'default.t', values: [{ a: 2 }], format: 'JSONEachRow' });
    // The same token again is still deduplicated (the guarantee the processors rely on).
    await ch.client.insert({ table: 'default.t', values: [{ a: 3 }], format: 'JSONEachRow', clickhouse_settings: { insert_deduplicate: 1, insert_deduplication_token: 'tok-1' } });
    await ch.client.command({ query: 'SELECT 1', clickhouse_settings: { max_execution_time: 30 } });
    const rs = await ch.client.query({
      query: "SELECT groupArray(a) AS rows, (SELECT value FROM system.settings WHERE name = 'max_execution_time') AS met, (SELECT value FROM system.settings WHERE name = 'insert_deduplication_token') AS tok FROM (SELECT a FROM default.t ORDER BY a)",
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([{ rows: [1, 2], met: '0', tok: '' }]);
  });

  it('the raw insert path still reaches the wrapped connection (a proxy getter once broke on chdb-node private fields)', async () => {
    await ch.client.command({ query: 'CREATE TABLE default.r (a UInt8) ENGINE = MergeTree ORDER BY a SETTINGS non_replicated_deduplication_window = 100' });
    await ch.insertRaw!('r', { format: 'JSONEachRow', data: Buffer.from('{"a":1}\n{"a":2}\n') }, { insert_deduplicate: 1, insert_deduplication_token: 'raw-1' });
    await ch.insertRaw!('r', { format: 'JSONEachRow', data: Buffer.from('{"a":1}\n{"a":2}\n') }, { insert_deduplicate: 1, insert_deduplication_token: 'raw-1' });
    await ch.client.insert({ table: 'default.r', values: [{ a: 3 }], format: 'JSONEachRow' });
    const rs = await ch.client.query({ query: 'SELECT groupArray(a) AS rows FROM (SELECT a FROM default.r ORDER BY a)', format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ rows: [1, 2, 3] }]);
  });
});
