/**
 * Upgrade of a populated database from the 0003 schema (span_metrics_1m keyed
 * by user, with sketches) to the 0004/0005 schema (series and user-cost tables,
 * hourly rollups): every figure survives, the old table is kept, the rollup
 * views feed new inserts, and the query API answers as before.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { createLogger } from '../../platform/logger.js';
import { migrateClickHouse, migrationsDir, readMigrations } from '../../platform/migrate.js';
import { buildQueryApp } from '../../query-api/app.js';
import { createTestClickHouse } from '../support/clickhouse.js';
import { tempDir, uniqueName } from '../support/harness.js';
import { mulberry32 as rng } from '../support/prng.js';

const log = createLogger('silent');

async function rows<T>(ch: ClickHouseHandle, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await ch.client.query({ query, query_params: { db: ch.database, ...params }, format: 'JSONEachRow' });
  return rs.json<T>();
}

/** Sums per key of a table, as canonical JSON lines (sumMap as a sorted map). */
async function sums(ch: ClickHouseHandle, from: string, time: string, keys: string[], sketch: boolean): Promise<string[]> {
  const sketchCols = sketch ? ', toString(sumMap(sketch_bins)) AS bins, sum(sketch_zero) AS zero, sum(error_count) AS errors, sum(duration_sum_ns) AS dur' : '';
  const r = await rows<Record<string, unknown>>(
    ch,
    `SELECT ${time} AS t, ${keys.join(', ')}, sum(count) AS n, sum(input_tokens) AS i, sum(output_tokens) AS o, sum(cached_tokens) AS c,
       round(sum(cost_usd), 9) AS cost, sum(unpriced_count) AS u ${sketchCols}
     FROM ${from} GROUP BY t, ${keys.join(', ')} ORDER BY t, ${keys.join(', ')}`,
  );
  return r.map((x) => JSON.stringify(Object.entries(x).map(([k, v]) => [k, typeof v === 'number' ? v : String(v)])));
}

describe('ClickHouse migrations 0004+ on a populated 0003 database', () => {
  it('keeps every figure: series, per-user costs, hourly rollups; the old table is kept', async () => {
    const shared = await createTestClickHouse();
    const ch: ClickHouseHandle = { ...shared, database: uniqueName('upgrade') };
    const all = readMigrations(migrationsDir('clickhouse'));
    const oldDir = tempDir('migrations-0003');
    for (const f of all.filter((m) => m.version <= 3)) fs.copyFileSync(path.join(migrationsDir('clickhouse'), f.name), path.join(oldDir, f.name));
    expect((await migrateClickHouse(ch, { retentionDays: 30, dir: oldDir, log })).applied).toEqual(['0001_spans.sql', '0002_logs.sql', '0003_span_metrics_1m.sql']);

    // A populated 0003 table: 2 tenants, 3 hours of minutes, users, models, partial rows of one key.
    const rand = rng(3);
    const base = (Math.floor(Date.now() / 3_600_000) - 5) * 3_600_000;
    const old: object[] = [];
    for (let i = 0; i < 3000; i++) {
      const minute = new Date(base + Math.floor(rand() * 180) * 60_000).toISOString().slice(0, 19).replace('T', ' ');
      const model = ['gpt-4o', 'claude-x', ''][Math.floor(rand() * 3)]!;
      const bins: Record<string, number> = {};
      for (let b = 0; b < 3; b++) bins[String(300 + Math.floor(rand() * 200))] = 1 + Math.floor(rand() * 5);
      const count = Object.values(bins).reduce((a, b) => a + b, 0) + (i % 10 === 0 ? 1 : 0);
      old.push({
        tenant: i % 7 === 0 ? 'tb' : 'ta', minute, service: ['api', 'chat'][i % 2], operation: `op${i % 5}`, model,
        provider: model === '' ? '' : model.startsWith('gpt') ? 'openai' : 'anthropic', user_id: `user${Math.floor(rand() * 40)}`,
        count, error_count: i % 3 === 0 ? 1 : 0, duration_sum_ns: 1_000_000 * count, input_tokens: 10 * count, output_tokens: count,
        cached_tokens: i % 4, cost_usd: model === '' ? 0 : 0.001 * count, unpriced_count: model === 'claude-x' ? count : 0,
        sketch_bins: bins, sketch_zero: i % 10 === 0 ? 1 : 0,
      });
    }
    await ch.client.insert({ table: `${ch.database}.span_metrics_1m`, values: old, format: 'JSONEachRow' });
    const T = `${ch.database}.span_metrics_1m`;
    const series = ['tenant', 'service', 'operation', 'model', 'provider'];
    const users = ['tenant', 'service', 'model', 'provider', 'user_id'];
    const before = {
      series: await sums(ch, T, 'minute', series, true),
      users: await sums(ch, T, 'minute', users, false),
      seriesHourly: await sums(ch, T, 'toStartOfHour(minute)', series, true),
      seriesFive: await sums(ch, T, 'toStartOfFiveMinutes(minute)', series, true),
      usersHourly: await sums(ch, T, 'toStartOfHour(minute)', users, false),
      rows: (await rows<{ n: string }>(ch, `SELECT count() AS n FROM ${T}`))[0]!.n,
    };
    expect(before.series.length).toBeGreaterThan(100);

    const app = buildQueryApp({ log, clickhouse: ch, keys: { verify: async (k) => (k === 'key_a' ? { projectId: 'ta' } : null) } });
    await app.ready();

    const newer = all.filter((m) => m.version > 3).map((m) => m.name);
    expect(newer.slice(0, 2)).toEqual(['0004_span_metrics_by_series.sql', '0005_hourly_rollups.sql']);
    expect((await migrateClickHouse(ch, { retentionDays: 30, log })).applied).toEqual(newer);

    const D = ch.database;
    expect(await sums(ch, `${D}.span_metrics_1m`, 'minute', series, true)).toEqual(before.series);
    expect(await sums(ch, `${D}.span_user_costs_1m`, 'minute', users, false)).toEqual(before.users);
    expect(await sums(ch, `${D}.span_metrics_1h`, 'hour', series, true)).toEqual(before.seriesHourly);
    expect(await sums(ch, `${D}.span_metrics_5m`, 'minute', series, true)).toEqual(before.seriesFive);
    expect(await sums(ch, `${D}.span_user_costs_1h`, 'hour', users, false)).toEqual(before.usersHourly);
    // The old table is kept under a new name, row for row.
    expect((await rows<{ n: string }>(ch, `SELECT count() AS n FROM ${D}.span_metrics_1m_v1`))[0]!.n).toBe(before.rows);
    // The series table is keyed without the user: fewer rows than the old one.
    const [{ n: newRows }] = (await rows<{ n: string }>(ch, `SELECT count() AS n FROM ${D}.span_metrics_1m`)) as [{ n: string }];
    expect(Number(newRows)).toBeLessThan(Number(before.rows));

    // New minute inserts reach the hourly rollups through the views.
    const minute = new Date(base).toISOString().slice(0, 19).replace('T', ' ');
    await ch.client.insert({
      table: `${D}.span_metrics_1m`, format: 'JSONEachRow',
      values: [{ tenant: 'tc', minute, service: 's', operation: 'o', model: '', provider: '', count: 5, error_count: 0, duration_sum_ns: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0, unpriced_count: 0, sketch_bins: { '300': 5 }, sketch_zero: 0 }],
    });
    await ch.client.insert({
      table: `${D}.span_user_costs_1m`, format: 'JSONEachRow',
      values: [{ tenant: 'tc', minute, service: 's', model: '', provider: '', user_id: 'u', count: 5, input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0.5, unpriced_count: 0 }],
    });
    expect(await rows(ch, `SELECT sum(count) AS n, toString(sumMap(sketch_bins)) AS b FROM ${D}.span_metrics_1h WHERE tenant = 'tc'`)).toEqual([{ n: 5, b: '{300:5}' }]);
    expect(await rows(ch, `SELECT minute, sum(count) AS n FROM ${D}.span_metrics_5m WHERE tenant = 'tc' GROUP BY minute`)).toEqual([{ minute, n: 5 }]);
    expect(await rows(ch, `SELECT sum(count) AS n, sum(cost_usd) AS c FROM ${D}.span_user_costs_1h WHERE tenant = 'tc'`)).toEqual([{ n: 5, c: 0.5 }]);

    // Through the API: cost by user over the migrated rows equals the old per-user sums.
    const res = await app.inject({ url: `/api/v1/metrics/cost?from=${base}&to=${base + 3 * 3_600_000}&step=3600&group_by=user`, headers: { authorization: 'Bearer key_a' } });
    expect(res.statusCode, res.body).toBe(200);
    const perUser = new Map<string, number>();
    for (const p of (res.json() as { points: { group: string; spans: number }[] }).points) perUser.set(p.group, (perUser.get(p.group) ?? 0) + p.spans);
    const expected = new Map<string, number>();
    for (const r of old as { tenant: string; user_id: string; count: number }[]) if (r.tenant === 'ta') expected.set(r.user_id, (expected.get(r.user_id) ?? 0) + r.count);
    expect(perUser).toEqual(expected);
    await app.close();
  });
});
