import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VigilError } from '../../platform/errors.js';
import { createLogger } from '../../platform/logger.js';
import {
  migrateClickHouse,
  migratePostgres,
  migrationsDir,
  readMigrations,
  splitStatements,
} from '../../platform/migrate.js';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { startPostgres } from '../../platform/postgres.js';
import { createTestClickHouse } from '../support/clickhouse.js';
import { createTestDatabase, tempDir, uniqueName } from '../support/harness.js';

const log = createLogger('silent');

async function copyMigrations(kind: 'clickhouse' | 'postgres'): Promise<string> {
  const dir = await tempDir(`migrations-${kind}`);
  fs.cpSync(migrationsDir(kind), dir, { recursive: true });
  return dir;
}

async function rejection(p: Promise<unknown>): Promise<VigilError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VigilError);
  return err as VigilError;
}

describe('migration files', () => {
  it('resolves the packaged directories and orders files by version', () => {
    const ch = readMigrations(migrationsDir('clickhouse'));
    expect(ch.map((f) => f.name)).toEqual([...ch.map((f) => f.name)].sort());
    expect(ch.some((f) => f.name === '0001_spans.sql')).toBe(true);
    expect(readMigrations(migrationsDir('postgres'))[0]?.name).toBe('0001_projects_api_keys.sql');
    expect(ch[0]?.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('splits statements at line-final semicolons and drops comment lines', () => {
    const sql = '-- a; comment;\nCREATE TABLE a (x UInt8)\nENGINE = Memory;\n\n-- b\nCREATE TABLE b (y UInt8) ENGINE = Memory;\n-- trailing\n';
    expect(splitStatements(sql)).toEqual(['CREATE TABLE a (x UInt8)\nENGINE = Memory', 'CREATE TABLE b (y UInt8) ENGINE = Memory']);
  });

  it('rejects badly named migration files', async () => {
    const dir = await copyMigrations('postgres');
    fs.writeFileSync(path.join(dir, 'extra.sql'), 'SELECT 1;');
    const err = await rejection(Promise.resolve().then(() => readMigrations(dir)));
    expect(err.code).toBe('VIGIL_ERR_MIGRATION_FAILED');
    expect(err.message).toContain('extra.sql');
  });
});

describe('migratePostgres', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: await createTestDatabase(), max: 4 });
  });
  afterAll(async () => {
    await pool.end();
  });

  it('applies every file once, then nothing (idempotent, concurrent-safe)', async () => {
    const expected = readMigrations(migrationsDir('postgres')).map((f) => f.name);
    const [a, b] = await Promise.all([migratePostgres(pool, { log }), migratePostgres(pool, { log })]);
    expect([...a.applied, ...b.applied]).toEqual(expected);
    expect((await migratePostgres(pool, { log })).applied).toEqual([]);

    const rows = await pool.query<{ version: number; name: string; checksum: string }>(
      'SELECT version, name, checksum FROM vigil_migrations ORDER BY version',
    );
    expect(rows.rows.map((r) => r.name)).toEqual(expected);
    expect(rows.rows[0]?.checksum).toMatch(/^[0-9a-f]{64}$/);
    const tables = await pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(['projects', 'api_keys', 'alert_rules', 'alert_state', 'notifications', 'feature_flags']),
    );
  });

  it('applies a new file and refuses an edited applied file', async () => {
    const dir = await copyMigrations('postgres');
    await migratePostgres(pool, { dir, log });
    fs.writeFileSync(path.join(dir, '0900_extra.sql'), 'CREATE TABLE extra_test (id int PRIMARY KEY);\n');
    expect((await migratePostgres(pool, { dir, log })).applied).toEqual(['0900_extra.sql']);

    const file = path.join(dir, '0001_projects_api_keys.sql');
    const before = readMigrations(dir)[0]!.checksum;
    fs.appendFileSync(file, '\n-- edited after release\n');
    const after = readMigrations(dir)[0]!.checksum;
    fs.writeFileSync(path.join(dir, '0901_never.sql'), 'CREATE TABLE never_applied (id int);\n');

    const err = await rejection(migratePostgres(pool, { dir, log }));
    expect(err.code).toBe('VIGIL_ERR_MIGRATION_CHANGED');
    expect(err.message).toContain('0001_projects_api_keys.sql');
    expect(err.message).toContain(before);
    expect(err.message).toContain(after);
    // Nothing ran: the pending file after the refusal was not applied.
    const never = await pool.query("SELECT to_regclass('public.never_applied') AS t");
    expect(never.rows[0].t).toBeNull();
  });

  it('rolls back a failing file and reports it', async () => {
    const dir = await copyMigrations('postgres');
    fs.writeFileSync(path.join(dir, '0950_broken.sql'), 'CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n');
    const err = await rejection(migratePostgres(pool, { dir, log }));
    expect(err.code).toBe('VIGIL_ERR_MIGRATION_FAILED');
    expect(err.message).toContain('0950_broken.sql');
    const half = await pool.query("SELECT to_regclass('public.half_done') AS t");
    expect(half.rows[0].t).toBeNull();
    // The lock was released: a later run (without the broken file) proceeds.
    expect((await migratePostgres(pool, { log })).applied).toEqual([]);
  });
});

/**
 * `base` with its commands run as on a ClickHouse server by default: mutations
 * in the background (mutations_sync = 0; chDB's default is to wait for them).
 */
function withBackgroundMutations(base: ClickHouseHandle): ClickHouseHandle {
  const c = base.client;
  const client = {
    command: (p: Parameters<typeof c.command>[0]) => c.command({ ...p, clickhouse_settings: { ...p.clickhouse_settings, mutations_sync: 0 } }),
    query: (p: Parameters<typeof c.query>[0]) => c.query(p),
    insert: (p: Parameters<typeof c.insert>[0]) => c.insert(p),
  } as unknown as typeof c;
  return { ...base, client };
}

describe('migrateClickHouse', () => {
  it('creates the tables, records versions, and is idempotent', async () => {
    const ch = await createTestClickHouse();
    const tables = await ch.client.query({
      query: 'SELECT name FROM system.tables WHERE database = {db:String}',
      query_params: { db: ch.database },
      format: 'JSONEachRow',
    });
    const names = (await tables.json<{ name: string }>()).map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(['spans', 'logs', 'span_metrics_1m', 'flag_variant_metrics_1m', 'vigil_migrations']));

    const ttl = await ch.client.query({
      query: "SELECT create_table_query FROM system.tables WHERE database = {db:String} AND name = 'spans'",
      query_params: { db: ch.database },
      format: 'JSONEachRow',
    });
    expect((await ttl.json<{ create_table_query: string }>())[0]?.create_table_query).toMatch(/toIntervalDay\(30\)|INTERVAL 30 DAY/);

    expect((await migrateClickHouse(ch, { retentionDays: 30, log })).applied).toEqual([]);
    const recorded = await ch.client.query({
      query: 'SELECT name FROM {db:Identifier}.vigil_migrations ORDER BY version',
      query_params: { db: ch.database },
      format: 'JSONEachRow',
    });
    expect((await recorded.json<{ name: string }>()).map((r) => r.name)).toEqual(
      readMigrations(migrationsDir('clickhouse')).map((f) => f.name),
    );
  });

  it('applies multi-statement files and refuses an edited applied file', async () => {
    const ch = await createTestClickHouse();
    const dir = await copyMigrations('clickhouse');
    fs.writeFileSync(
      path.join(dir, '0900_extra.sql'),
      '-- two statements; one file\nCREATE TABLE IF NOT EXISTS {{database}}.extra_a (x UInt8) ENGINE = Memory;\n' +
        'CREATE TABLE IF NOT EXISTS {{database}}.extra_b (x UInt8) ENGINE = Memory;\n',
    );
    expect((await migrateClickHouse(ch, { retentionDays: 30, dir, log })).applied).toEqual(['0900_extra.sql']);
    const t = await ch.client.query({
      query: "SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name IN ('extra_a', 'extra_b')",
      query_params: { db: ch.database },
      format: 'JSONEachRow',
    });
    expect(Number((await t.json<{ n: string | number }>())[0]?.n)).toBe(2);

    fs.appendFileSync(path.join(dir, '0002_logs.sql'), '\n-- edited\n');
    const err = await rejection(migrateClickHouse(ch, { retentionDays: 30, dir, log }));
    expect(err.code).toBe('VIGIL_ERR_MIGRATION_CHANGED');
    expect(err.message).toContain('0002_logs.sql');
  });

  it('waits for a mutation before the next statement (regression: 0018 must convert every old row before its aliases read them)', async () => {
    const base = { ...(await createTestClickHouse()), database: uniqueName('mutation') };
    const ch = withBackgroundMutations(base);
    const dir = await tempDir('migrations-mutation');
    fs.writeFileSync(
      path.join(dir, '0001_rows.sql'),
      'CREATE TABLE IF NOT EXISTS {{database}}.mut (k UInt32, v String) ENGINE = MergeTree ORDER BY k;\n' +
        "INSERT INTO {{database}}.mut SELECT number, 'old' FROM numbers(2000000);\n" +
        "ALTER TABLE {{database}}.mut UPDATE v = concat('new-', toString(k % 2)) WHERE v = 'old';\n" +
        // What the next statement sees of the table: only rewritten rows.
        'CREATE TABLE IF NOT EXISTS {{database}}.mut_seen ENGINE = MergeTree ORDER BY v AS SELECT v, count() AS n FROM {{database}}.mut GROUP BY v;\n',
    );
    expect((await migrateClickHouse(ch, { retentionDays: 30, dir, log })).applied).toEqual(['0001_rows.sql']);
    const seen = await ch.client.query({ query: 'SELECT v, n FROM {db:Identifier}.mut_seen ORDER BY v', query_params: { db: ch.database }, format: 'JSONEachRow' });
    expect(await seen.json()).toEqual([{ v: 'new-0', n: 1000000 }, { v: 'new-1', n: 1000000 }]);

    // A mutation that fails: the runner stops with ClickHouse's reason instead of waiting forever.
    fs.writeFileSync(path.join(dir, '0002_fails.sql'), "ALTER TABLE {{database}}.mut UPDATE v = toString(throwIf(k = 7, 'no row 7 here')) WHERE 1;\n");
    try {
      const err = await rejection(migrateClickHouse(ch, { retentionDays: 30, dir, log }));
      expect(err.code).toBe('VIGIL_ERR_MIGRATION_FAILED');
      expect(err.message).toContain('0002_fails.sql');
      expect(err.message).toContain('no row 7 here');
    } finally {
      await base.client.command({ query: `KILL MUTATION WHERE database = '${ch.database}' AND table = 'mut'` });
    }
  });

  it('waits for MATERIALIZE PROJECTION before the next statement (regression: 0020 drops trace_lookup only once trace_summary is built)', async () => {
    const ch = withBackgroundMutations({ ...(await createTestClickHouse()), database: uniqueName('materialize') });
    const dir = await tempDir('migrations-materialize');
    fs.writeFileSync(
      path.join(dir, '0001_projection.sql'),
      'CREATE TABLE IF NOT EXISTS {{database}}.mp (k UInt32, v String) ENGINE = MergeTree ORDER BY k;\n' +
        'INSERT INTO {{database}}.mp SELECT number, toString(cityHash64(number)) FROM numbers(2000000);\n' +
        'ALTER TABLE {{database}}.mp ADD PROJECTION IF NOT EXISTS by_v (SELECT v, _part_offset ORDER BY v);\n' +
        'ALTER TABLE {{database}}.mp MATERIALIZE PROJECTION by_v;\n' +
        // What the next statement sees: how many active parts still lack the projection.
        "CREATE TABLE IF NOT EXISTS {{database}}.mp_seen ENGINE = MergeTree ORDER BY n AS SELECT count() AS n FROM system.parts WHERE database = '{{database}}' AND table = 'mp' AND active AND NOT has(projections, 'by_v');\n",
    );
    expect((await migrateClickHouse(ch, { retentionDays: 30, dir, log })).applied).toEqual(['0001_projection.sql']);
    const seen = await ch.client.query({ query: 'SELECT n FROM {db:Identifier}.mp_seen', query_params: { db: ch.database }, format: 'JSONEachRow' });
    expect(await seen.json()).toEqual([{ n: 0 }]);
  });
});

describe('startPostgres', () => {
  it('uses a given URL without starting a server', async () => {
    const url = await createTestDatabase();
    const h = await startPostgres({ url, dataDir: tempDir('pg-url'), port: 0, log });
    try {
      expect(h.embedded).toBe(false);
      expect(h.url).toBe(url);
      expect((await migratePostgres(h.pool, { log })).applied.length).toBeGreaterThan(0);
    } finally {
      await h.stop();
    }
  });

  it('starts an embedded server whose data (and migrations) survive a restart', async () => {
    const dataDir = tempDir('pg-embedded');
    const first = await startPostgres({ dataDir, port: 0, log });
    try {
      expect(first.embedded).toBe(true);
      expect(first.url).toMatch(/^postgres:\/\/vigil:vigil@127\.0\.0\.1:\d+\/vigil$/);
      expect(fs.existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
      expect((await migratePostgres(first.pool, { log })).applied).toEqual(readMigrations(migrationsDir('postgres')).map((f) => f.name));
      await first.pool.query("INSERT INTO projects (id, name) VALUES ('kept', 'kept')");
    } finally {
      await first.stop();
    }
    await first.stop(); // idempotent

    const second = await startPostgres({ dataDir, port: 0, log });
    try {
      expect((await migratePostgres(second.pool, { log })).applied).toEqual([]);
      const kept = await second.pool.query("SELECT name FROM projects WHERE id = 'kept'");
      expect(kept.rows).toEqual([{ name: 'kept' }]);
    } finally {
      await second.stop();
    }
  });
});
