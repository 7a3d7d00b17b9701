/**
 * Issue 8 "Administration": per-project retention applied by ClickHouse TTL
 * (platform/retention.ts) with real chDB and Postgres: a project with 7 days
 * keeps a 6-day-old row and loses an 8-day-old one once the TTL is
 * materialised / merged, other projects keep the default; a change at
 * runtime takes effect; applying the same policy again changes nothing; a
 * changed default (VIGIL_RETENTION_DAYS) reaches every existing TTL table.
 * Ingest's acceptance window follows the project's retention.
 */
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIngestApp } from '../../ingest/app.js';
import { loadProjectSettings, ProjectLimits } from '../../ingest/limits-per-project.js';
import { createInProcessPublisher } from '../../ingest/publisher.js';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { createLogger } from '../../platform/logger.js';
import { migratePostgres } from '../../platform/migrate.js';
import { applyRetention, intervalExpression, loadRetention } from '../../platform/retention.js';
import { SPAN_1, TRACE_A, mapKeys } from '../ingest/fixtures.js';
import { createTestClickHouse, TEST_RETENTION_DAYS } from '../support/clickhouse.js';
import { createTestDatabase, uniqueName } from '../support/harness.js';

const DAY_MS = 86_400_000;
let ch: ClickHouseHandle;
let pool: pg.Pool;

beforeAll(async () => {
  ch = await createTestClickHouse();
  pool = new pg.Pool({ connectionString: await createTestDatabase() });
  await migratePostgres(pool, { log: createLogger('silent') });
}, 120_000);
afterAll(async () => {
  // The chDB handle is shared by the process: put the default TTL back for any later file.
  if (ch !== undefined) await applyRetention(ch, { defaultDays: TEST_RETENTION_DAYS, perProject: new Map() }, { wait: true });
  await pool?.end();
});

/** 'YYYY-MM-DD hh:mm:ss.sss' (UTC) `daysAgo` days before now. */
const ago = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY_MS).toISOString().replace('T', ' ').replace('Z', '');

async function insertLogs(rows: Array<{ tenant: string; daysAgo: number }>): Promise<void> {
  await ch.client.insert({
    table: `${ch.database}.logs`,
    format: 'JSONEachRow',
    values: rows.map((r) => ({ tenant: r.tenant, time: ago(r.daysAgo), observed_time: ago(r.daysAgo), body: `${r.daysAgo}d`, service: 'svc' })),
  });
}

/** Bodies of `tenant`'s logs after merging every part (TTL applied in the merge), sorted. */
async function keptAfterMerge(tenant: string): Promise<string[]> {
  await ch.client.command({ query: `OPTIMIZE TABLE ${ch.database}.logs FINAL` });
  const rs = await ch.client.query({
    query: 'SELECT body FROM {db:Identifier}.logs WHERE tenant = {t:String} ORDER BY body',
    query_params: { db: ch.database, t: tenant },
    format: 'JSONEachRow',
  });
  return ((await rs.json()) as Array<{ body: string }>).map((r) => r.body);
}

describe('per-project retention by ClickHouse TTL', () => {
  it('the TTL interval names each project with its own retention, as ClickHouse prints it', () => {
    expect(intervalExpression({ defaultDays: 30, perProject: new Map() })).toBe('toIntervalDay(30)');
    expect(intervalExpression({ defaultDays: 30, perProject: new Map([['pro', 90], ['free', 7], ['same', 30]]) })).toBe(
      "toIntervalDay(transform(tenant, ['free', 'pro'], [7, 90], 30))",
    );
    expect(() => intervalExpression({ defaultDays: 0, perProject: new Map() })).toThrow(/VIGIL_RETENTION_DAYS/);
  });

  it('a 7-day project keeps its 6-day-old rows and loses 8-day-old ones; other projects keep the default; changes apply at runtime; idempotent', async () => {
    const free = uniqueName('free');
    const other = uniqueName('other');
    await pool.query('INSERT INTO projects (id, name, retention_days) VALUES ($1, $1, 7), ($2, $2, NULL)', [free, other]);
    await insertLogs([{ tenant: free, daysAgo: 6 }, { tenant: free, daysAgo: 8 }, { tenant: other, daysAgo: 8 }, { tenant: other, daysAgo: 3 }]);

    const first = await applyRetention(ch, await loadRetention(pool, 30), { wait: true });
    expect(first.changed).toEqual(expect.arrayContaining(['logs', 'spans', 'span_metrics_1m', 'span_metrics_1h']));
    expect(await keptAfterMerge(free)).toEqual(['6d']);
    expect(await keptAfterMerge(other)).toEqual(['3d', '8d']);

    const again = await applyRetention(ch, await loadRetention(pool, 30), { wait: true });
    expect(again.changed).toEqual([]);
    expect(again.unchanged).toContain('logs');

    // At runtime: the other project goes down to 5 days.
    await pool.query('UPDATE projects SET retention_days = 5 WHERE id = $1', [other]);
    const changed = await applyRetention(ch, await loadRetention(pool, 30), { wait: true });
    expect(changed.changed).toContain('logs');
    expect(await keptAfterMerge(other)).toEqual(['3d']);
    expect(await keptAfterMerge(free)).toEqual(['6d']);
  });

  it('a changed default (VIGIL_RETENTION_DAYS) reaches every existing TTL table', async () => {
    const res = await applyRetention(ch, { defaultDays: 45, perProject: new Map() }, { wait: true });
    expect(res.changed.length).toBeGreaterThanOrEqual(5);
    const rs = await ch.client.query({
      query: "SELECT name, engine_full FROM system.tables WHERE database = {db:String} AND engine_full LIKE '%TTL %'",
      query_params: { db: ch.database },
      format: 'JSONEachRow',
    });
    for (const t of (await rs.json()) as Array<{ name: string; engine_full: string }>) expect(t.engine_full, t.name).toContain('+ toIntervalDay(45)');
  });
});

describe("ingest's acceptance window follows the project's retention", () => {
  let app: FastifyInstance | undefined;
  afterAll(async () => {
    await app?.close();
  });

  it('an 8-day-old span is rejected for a 7-day project and accepted for a 30-day one', async () => {
    const limits = new ProjectLimits({ defaults: { spansPerS: 0, logsPerS: 0, retentionDays: 30 }, load: loadProjectSettings(pool), refreshMs: 0 });
    await pool.query("INSERT INTO projects (id, name, retention_days) VALUES ('ret-7', 'ret-7', 7), ('ret-30', 'ret-30', NULL)");
    await limits.start();
    const publisher = createInProcessPublisher(async () => undefined);
    app = buildIngestApp({
      log: createLogger('silent'), publisher, keys: mapKeys({ vgl_seven: 'ret-7', vgl_thirty: 'ret-30' }),
      limits: { maxBodyBytes: 64 * 1024, maxInflightBytes: 1024 * 1024, maxInflightRequests: 16, maxEventLoopDelayMs: 0 },
      projectLimits: limits,
    });
    const send = (key: string) =>
      app!.inject({
        method: 'POST', url: '/api/v1/ingest/spans', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: [{ trace_id: TRACE_A, span_id: SPAN_1, name: 'x', service: 'agent', start_time: new Date(Date.now() - 8 * DAY_MS).toISOString(), duration_ms: 1 }],
      });
    const seven = await send('vgl_seven');
    expect(seven.statusCode).toBe(400);
    expect(seven.json().errors[0].message).toMatch(/older than the acceptance window/);
    expect((await send('vgl_thirty')).statusCode).toBe(200);

    await pool.query("UPDATE projects SET retention_days = 90 WHERE id = 'ret-7'");
    await limits.refresh();
    expect((await send('vgl_seven')).statusCode).toBe(200);
  });
});
