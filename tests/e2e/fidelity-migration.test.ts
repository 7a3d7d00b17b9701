/**
 * Issue 8: migration 0007 (typed attribute maps, links, dropped counts, body
 * type, …) changes the populated spans and logs tables in place. A database
 * migrated up to the schema before it is filled with rows of the old shape; after
 * migrating, every row and every old column is unchanged, old rows read their
 * string maps as `*_string` (nothing guessed) with empty links, new rows written
 * by the processors carry typed values, and the query API serves both.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { createLogger } from '../../platform/logger.js';
import { migrateClickHouse, migrationsDir, readMigrations } from '../../platform/migrate.js';
import { processBatch } from '../../processors/worker.js';
import { buildQueryApp } from '../../query-api/app.js';
import type { Envelope } from '../../schemas/envelope.js';
import { nsToClickHouse } from '../../schemas/time.js';
import { createTestClickHouse } from '../support/clickhouse.js';
import { tempDir, uniqueName } from '../support/harness.js';

const log = createLogger('silent');
const MIGRATION = '0007_fidelity.sql';

async function rows<T>(ch: ClickHouseHandle, query: string): Promise<T[]> {
  const rs = await ch.client.query({ query, query_params: { db: ch.database }, format: 'JSONEachRow' });
  return rs.json<T>();
}

const hex = (n: number, len: number): string => n.toString(16).padStart(len, '0');

describe(`ClickHouse migration ${MIGRATION} on a populated database`, () => {
  it('keeps every span and log row and column; old rows read as strings, new rows typed; the API serves both', async () => {
    const shared = await createTestClickHouse();
    const ch: ClickHouseHandle = { ...shared, database: uniqueName('fidelity_upgrade') };
    const all = readMigrations(migrationsDir('clickhouse'));
    const mine = all.find((m) => m.name === MIGRATION)!;
    const oldDir = tempDir('migrations-before-0007');
    const older = all.filter((m) => m.version < mine.version);
    for (const f of older) fs.copyFileSync(path.join(migrationsDir('clickhouse'), f.name), path.join(oldDir, f.name));
    expect((await migrateClickHouse(ch, { retentionDays: 30, dir: oldDir, log })).applied).toEqual(older.map((m) => m.name));

    // Rows of the old shape, as the processors wrote them before: 2 tenants, 300 spans, 200 logs.
    const base = BigInt(Date.now() - 3_600_000) * 1_000_000n;
    const spans = Array.from({ length: 300 }, (_, i) => ({
      tenant: i % 3 === 0 ? 'tb' : 'ta', trace_id: hex(i % 30 + 1, 32), span_id: hex(i + 1, 16), parent_span_id: i % 10 === 0 ? '' : hex(i - (i % 10) + 1, 16),
      name: `op${i % 4}`, kind: 'server', service: `svc${i % 2}`,
      start_time: nsToClickHouse(base + BigInt(i) * 1_000_000n), end_time: nsToClickHouse(base + BigInt(i) * 1_000_000n + 5_000_000n), duration_ns: 5_000_000,
      status_code: i % 7 === 0 ? 'error' : 'ok', status_message: '', scope_name: 'scope', scope_version: '1',
      resource_attributes: { 'service.name': `svc${i % 2}`, 'host.cpus': '8' },
      attributes: { 'http.status_code': String(200 + (i % 5)), ok: 'true', tags: '["a",1]', note: `n${i}` },
      events: JSON.stringify([{ time_unix_nano: String(base), name: 'e', attributes: { k: 'v' } }]),
      model: '', provider: '', user_id: '', input_tokens: i, output_tokens: 0, cached_tokens: 0, cost_usd: i % 2 === 0 ? null : 0.001 * i, unpriced: i % 2 === 0 ? 1 : 0,
    }));
    const logs = Array.from({ length: 200 }, (_, i) => ({
      tenant: i % 3 === 0 ? 'tb' : 'ta', time: nsToClickHouse(base + BigInt(i) * 1_000_000n), observed_time: nsToClickHouse(base + BigInt(i) * 1_000_000n),
      severity_number: 9, severity_text: 'INFO', body: i % 2 === 0 ? `line ${i}` : '{"order":42}', service: `svc${i % 2}`,
      trace_id: hex(i % 30 + 1, 32), span_id: hex(i + 1, 16), scope_name: 'scope',
      resource_attributes: { 'service.name': `svc${i % 2}` }, attributes: { n: String(i) },
    }));
    await ch.client.insert({ table: `${ch.database}.spans`, values: spans, format: 'JSONEachRow' });
    await ch.client.insert({ table: `${ch.database}.logs`, values: logs, format: 'JSONEachRow' });
    const spanCols = Object.keys(spans[0]!).join(', ');
    const logCols = Object.keys(logs[0]!).join(', ');
    const snapshot = async (): Promise<{ spans: unknown[]; logs: unknown[] }> => ({
      spans: await rows(ch, `SELECT ${spanCols} FROM {db:Identifier}.spans ORDER BY tenant, trace_id, span_id`),
      logs: await rows(ch, `SELECT ${logCols} FROM {db:Identifier}.logs ORDER BY tenant, time, span_id`),
    });
    const before = await snapshot();
    expect(before.spans).toHaveLength(300);
    expect(before.logs).toHaveLength(200);

    const newer = all.filter((m) => m.version >= mine.version).map((m) => m.name);
    expect((await migrateClickHouse(ch, { retentionDays: 30, log })).applied).toEqual(newer);
    expect(await snapshot()).toEqual(before);

    // Old rows: the string map as *_string, no typed values guessed, empty links, string bodies.
    const oldSpan = await rows<Record<string, unknown>>(ch, `SELECT attributes_string, attributes_int, attributes_json, resource_attributes_string, links, dropped_links_count, trace_state FROM {db:Identifier}.spans WHERE span_id = '${hex(2, 16)}'`);
    expect(oldSpan).toEqual([{
      attributes_string: spans[1]!.attributes, attributes_int: {}, attributes_json: {}, resource_attributes_string: spans[1]!.resource_attributes,
      links: '[]', dropped_links_count: 0, trace_state: '',
    }]);
    expect(await rows(ch, `SELECT DISTINCT body_type FROM {db:Identifier}.logs`)).toEqual([{ body_type: 'string' }]);

    // New rows from the processors carry typed values next to the old ones.
    const traceId = hex(999, 32);
    const env: Envelope = {
      v: 1, tenant: 'ta', receivedAtMs: Date.now(), kind: 'spans', format: 'otlp',
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc0' } }] }, scope: { name: 'scope' },
      records: [{
        traceId, spanId: hex(999, 16), name: 'typed', kind: 2, startTimeUnixNano: String(base), endTimeUnixNano: String(base + 1_000_000n),
        attributes: [{ key: 'http.status_code', value: { intValue: '503' } }, { key: 'ok', value: { boolValue: true } }],
        links: [{ traceId: hex(1, 32), spanId: hex(2, 16), traceState: 'a=b', attributes: [{ key: 'n', value: { doubleValue: 0.5 } }] }],
      }],
    };
    const processed = processBatch([env]);
    expect(processed.rejected).toEqual([]);
    // (insertRaw is bound to the shared handle's database; insert the same rows into this one.)
    const newRows = processed.spans;
    await ch.client.insert({ table: `${ch.database}.spans`, values: newRows, format: 'JSONEachRow' });

    const app = buildQueryApp({ log, clickhouse: ch, keys: { verify: async (k) => (k === 'key_a' ? { projectId: 'ta' } : null) } });
    await app.ready();
    try {
      const auth = { authorization: 'Bearer key_a' };
      const old = await app.inject({ url: `/api/v1/traces/${hex(2, 32)}`, headers: auth });
      expect(old.statusCode, old.body).toBe(200);
      const oldRoot = old.json().spans[0];
      expect(oldRoot).toMatchObject({ attributes: { 'http.status_code': '201', ok: 'true', tags: '["a",1]' }, links: [], dropped_links_count: 0 });
      const fresh = await app.inject({ url: `/api/v1/traces/${traceId}`, headers: auth });
      expect(fresh.statusCode, fresh.body).toBe(200);
      expect(fresh.json().spans[0]).toMatchObject({
        attributes: { 'http.status_code': 503, ok: true },
        links: [{ trace_id: hex(1, 32), span_id: hex(2, 16), trace_state: 'a=b', attributes: { n: 0.5 } }],
      });
      const logsRes = await app.inject({ url: `/api/v1/logs?from=now-2h&limit=1000`, headers: auth });
      expect(logsRes.statusCode, logsRes.body).toBe(200);
      const served = logsRes.json().logs as Array<{ body: unknown; body_type: string }>;
      expect(served).toHaveLength(logs.filter((l) => l.tenant === 'ta').length);
      expect(served.every((l) => typeof l.body === 'string' && l.body_type === 'string')).toBe(true); // old bodies stay text
    } finally {
      await app.close();
    }
  });
});
