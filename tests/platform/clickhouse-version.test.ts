/**
 * The minimum ClickHouse server version (platform/clickhouse-version.ts),
 * checked before migrations.
 */
import { describe, expect, it } from 'vitest';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { checkClickHouseVersion, isAtLeast, MIN_CLICKHOUSE_VERSION } from '../../platform/clickhouse-version.js';
import { VigilError } from '../../platform/errors.js';
import { createLogger } from '../../platform/logger.js';
import { migrateClickHouse } from '../../platform/migrate.js';
import { createTestClickHouse } from '../support/clickhouse.js';

/** The test chDB, except that `SELECT version()` answers `version` (as an older server would). */
function reportingVersion(real: ClickHouseHandle, version: string, database: string): ClickHouseHandle {
  const client = new Proxy(real.client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== 'query' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return async (params: { query: string }) =>
        /SELECT version\(\)/.test(params.query)
          ? { json: async () => [{ v: version }] }
          : (value as (p: unknown) => Promise<unknown>).call(target, params);
    },
  });
  return { ...real, client, database };
}

describe('ClickHouse server version', () => {
  it('compares versions component by component', () => {
    expect(isAtLeast('26.7.2.1', '26.7')).toBe(true);
    expect(isAtLeast('26.9.2.1', '26.7')).toBe(true);
    expect(isAtLeast('27.1.1.1', '26.7')).toBe(true);
    expect(isAtLeast('26.6.9.9', '26.7')).toBe(false);
    expect(isAtLeast('25.8.2.1', '26.7')).toBe(false);
    expect(isAtLeast('26.10.1.1', '26.7')).toBe(true); // numeric, not lexical
    expect(() => isAtLeast('unknown', '26.7')).toThrow(expect.objectContaining({ code: 'VIGIL_ERR_CLICKHOUSE_VERSION' }));
  });

  it('accepts the embedded chDB', async () => {
    const ch = await createTestClickHouse();
    const version = await checkClickHouseVersion(ch);
    expect(isAtLeast(version, MIN_CLICKHOUSE_VERSION)).toBe(true);
  });

  it('refuses a 25.8 server before migrating anything (regression: 0020 failed mid-way with a syntax error on 25.8)', async () => {
    const ch = await createTestClickHouse();
    const old = reportingVersion(ch, '25.8.2.1', 'vigil_old_server');
    const err = await migrateClickHouse(old, { retentionDays: 30, log: createLogger('silent') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VigilError);
    expect((err as VigilError).code).toBe('VIGIL_ERR_CLICKHOUSE_VERSION');
    expect((err as VigilError).message).toMatch(/version 25\.8\.2\.1; Vigil needs 26\.7 or newer/);
    expect((err as VigilError).message).toMatch(/Upgrade the server/);
    const rs = await ch.client.query({ query: "SELECT count() AS n FROM system.databases WHERE name = 'vigil_old_server'", format: 'JSONEachRow' });
    expect(Number((await rs.json<{ n: string | number }>())[0]?.n)).toBe(0);
  });
});
