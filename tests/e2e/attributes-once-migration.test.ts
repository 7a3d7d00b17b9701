/**
 * Issue 6: migrations 0016 / 0017 store attribute values once (text in
 * `attributes` / `resource_attributes`, type codes in `*_types`) and turn
 * 0007's typed maps into ALIAS columns; 0018 gives the rows stored before
 * 0016 their type codes and 0019 drops 0007's typed-map copies (`*_v1`). On a
 * database populated under the old layouts — rows from before 0007 (string
 * maps only) and rows with 0007's typed maps — every old row reads the same
 * after each step of the upgrade, through SQL on the typed-map names, and
 * through the query API after the upgrade; a new row written by the processors with the same
 * OTLP attributes reads exactly like the old typed row; and every statement
 * of the four files re-runs cleanly (a partly applied migration is re-run on
 * the next start).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { createLogger } from '../../platform/logger.js';
import { migrateClickHouse, migrationsDir, readMigrations, splitStatements } from '../../platform/migrate.js';
import { processBatch } from '../../processors/worker.js';
import { buildQueryApp } from '../../query-api/app.js';
import type { Envelope } from '../../schemas/envelope.js';
import type { KeyValue } from '../../schemas/otlp.js';
import { nsToClickHouse } from '../../schemas/time.js';
import { createTestClickHouse } from '../support/clickhouse.js';
import { tempDir, uniqueName } from '../support/harness.js';

const log = createLogger('silent');
const hex = (n: number, len: number): string => n.toString(16).padStart(len, '0');

/** One attribute of every OTLP value type, with its text and its 0007 typed map. */
const ATTRS: KeyValue[] = [
  { key: 's', value: { stringValue: 'x' } },
  { key: 'i', value: { intValue: '-9223372036854775808' } },
  { key: 'd', value: { doubleValue: 0.5 } },
  { key: 'nan', value: { doubleValue: Number.NaN } },
  { key: 'inf', value: { doubleValue: Number.POSITIVE_INFINITY } },
  { key: 'b', value: { boolValue: true } },
  { key: 'by', value: { bytesValue: 'AQID' } },
  { key: 'arr', value: { arrayValue: { values: [{ intValue: '1' }, { stringValue: 'a' }] } } },
  { key: 'kv', value: { kvlistValue: { values: [{ key: 'k', value: { intValue: '9007199254740993' } }] } } },
  { key: 'empty', value: {} },
];
const TEXTS = { s: 'x', i: '-9223372036854775808', d: '0.5', nan: 'NaN', inf: 'Infinity', b: 'true', by: 'AQID', arr: '[1,"a"]', kv: '{"k":"9007199254740993"}', empty: '' };
/** What the processors wrote into 0007's typed maps for ATTRS (JSONEachRow values). */
const TYPED_0007 = {
  attributes_string: { s: 'x', by: 'AQID' },
  attributes_int: { i: '-9223372036854775808' },
  attributes_float: { d: 0.5, nan: 'nan', inf: 'inf' },
  attributes_bool: { b: 1 },
  attributes_json: { arr: '[1,"a"]', kv: '{"k":"9007199254740993"}', empty: 'null' },
  resource_attributes_string: { 'service.name': 'svc' },
  resource_attributes_int: { 'host.cpus': '8' },
};
const TYPED_NAMES = ['attributes', 'resource_attributes'].flatMap((p) => ['string', 'int', 'float', 'bool', 'json'].map((k) => `${p}_${k}`));

async function rows<T>(ch: ClickHouseHandle, query: string): Promise<T[]> {
  const rs = await ch.client.query({ query, query_params: { db: ch.database }, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_denormals: 1, output_format_json_quote_64bit_integers: 1 } });
  return rs.json<T>();
}

function spanRow(n: number, base: bigint, extra: Record<string, unknown>): Record<string, unknown> {
  const start = base + BigInt(n) * 1_000_000n;
  return {
    tenant: 'ta', trace_id: hex(n, 32), span_id: hex(n, 16), parent_span_id: '', name: 'op', kind: 'server', service: 'svc',
    start_time: nsToClickHouse(start), end_time: nsToClickHouse(start + 5_000_000n), duration_ns: 5_000_000,
    status_code: 'ok', status_message: '', scope_name: 'scope', scope_version: '1',
    resource_attributes: { 'service.name': 'svc', 'host.cpus': '8' }, attributes: TEXTS, events: '[]',
    model: '', provider: '', user_id: '', input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: null, unpriced: 0,
    ...extra,
  };
}

function logRow(n: number, base: bigint, extra: Record<string, unknown>): Record<string, unknown> {
  const t = nsToClickHouse(base + BigInt(n) * 1_000_000n);
  return {
    tenant: 'ta', time: t, observed_time: t, severity_number: 9, severity_text: 'INFO', body: `line ${n}`, service: 'svc',
    trace_id: hex(n, 32), span_id: hex(n, 16), scope_name: 'scope',
    resource_attributes: { 'service.name': 'svc', 'host.cpus': '8' }, attributes: TEXTS, ...extra,
  };
}

describe('ClickHouse migrations 0016–0019 (attribute values once, typed-map copies dropped) on a populated database', () => {
  it('old rows of both earlier layouts read the same after the upgrade, a new row reads like the old typed row, and every statement re-runs', async () => {
    const shared = await createTestClickHouse();
    const ch: ClickHouseHandle = { ...shared, database: uniqueName('attrs_once_upgrade') };
    const all = readMigrations(migrationsDir('clickhouse'));
    const upTo = (version: number): string => {
      const dir = tempDir(`migrations-to-${version}`);
      for (const f of all.filter((m) => m.version <= version)) fs.copyFileSync(path.join(migrationsDir('clickhouse'), f.name), path.join(dir, f.name));
      return dir;
    };
    const base = BigInt(Date.now() - 3_600_000) * 1_000_000n;

    // Before 0007: string maps only (parts without the typed columns on disk).
    await migrateClickHouse(ch, { retentionDays: 30, dir: upTo(6), log });
    await ch.client.insert({ table: `${ch.database}.spans`, values: [spanRow(1, base, {})], format: 'JSONEachRow' });
    await ch.client.insert({ table: `${ch.database}.logs`, values: [logRow(1, base, {})], format: 'JSONEachRow' });
    // 0007 … 0015: the processors wrote every value twice, typed maps included.
    await migrateClickHouse(ch, { retentionDays: 30, dir: upTo(15), log });
    await ch.client.insert({ table: `${ch.database}.spans`, values: [spanRow(2, base, TYPED_0007)], format: 'JSONEachRow' });
    await ch.client.insert({ table: `${ch.database}.logs`, values: [logRow(2, base, TYPED_0007)], format: 'JSONEachRow' });

    const typedSql = (table: string): string => `SELECT span_id, attributes, resource_attributes, ${TYPED_NAMES.join(', ')} FROM {db:Identifier}.${table} ORDER BY span_id`;
    const before = { spans: await rows(ch, typedSql('spans')), logs: await rows(ch, typedSql('logs')) };
    expect(before.spans).toHaveLength(2);
    const auth = { authorization: 'Bearer key_a' };
    // What the API answers for these rows (the query API reads the layout of 0016 once 0018 converted them).
    const TYPED = { s: 'x', i: '-9223372036854775808', d: 0.5, nan: 'NaN', inf: 'Infinity', b: true, by: 'AQID', arr: [1, 'a'], kv: { k: '9007199254740993' }, empty: null };

    // Each file's statements again, as after a partial failure of that file (the runner re-runs
    // a file until it completes; 0017 runs only after 0016 completed): no error, the same table.
    const columns = async () => rows(ch, `SELECT table, name, type, default_kind, default_expression FROM system.columns WHERE database = '${ch.database}' AND table IN ('spans', 'logs') ORDER BY table, position`);
    const rerun = async (name: string): Promise<void> => {
      const schema = await columns();
      const sql = fs.readFileSync(path.join(migrationsDir('clickhouse'), name), 'utf8').replaceAll('{{database}}', ch.database).replaceAll('{{retention_days}}', '30');
      for (const stmt of splitStatements(sql)) await ch.client.command({ query: stmt });
      expect(await columns()).toEqual(schema);
    };
    expect((await migrateClickHouse(ch, { retentionDays: 30, dir: upTo(16), log })).applied).toEqual(['0016_attributes_once.sql']);
    await rerun('0016_attributes_once.sql');
    expect((await migrateClickHouse(ch, { retentionDays: 30, dir: upTo(17), log })).applied).toEqual(['0017_typed_attribute_aliases.sql']);
    await rerun('0017_typed_attribute_aliases.sql');
    expect({ spans: await rows(ch, typedSql('spans')), logs: await rows(ch, typedSql('logs')) }).toEqual(before);

    // A new row from the processors with the same OTLP attributes.
    const env = (kind: 'spans' | 'logs'): Envelope => ({
      v: 1, tenant: 'ta', receivedAtMs: Date.now(), kind, format: 'otlp',
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }, { key: 'host.cpus', value: { intValue: '8' } }] }, scope: { name: 'scope', version: '1' },
      records: [kind === 'spans'
        ? { traceId: hex(3, 32), spanId: hex(3, 16), name: 'op', kind: 2, startTimeUnixNano: String(base + 3_000_000n), endTimeUnixNano: String(base + 8_000_000n), attributes: ATTRS }
        : { timeUnixNano: String(base + 3_000_000n), severityNumber: 9, body: { stringValue: 'line 3' }, traceId: hex(3, 32), spanId: hex(3, 16), attributes: ATTRS }],
    });
    const processed = processBatch([env('spans'), env('logs')]);
    expect(processed.rejected).toEqual([]);
    expect(processed.spans[0]).toMatchObject({ attributes: TEXTS, attributes_format: 1 });
    await ch.client.insert({ table: `${ch.database}.spans`, values: processed.spans, format: 'JSONEachRow' });
    await ch.client.insert({ table: `${ch.database}.logs`, values: processed.logs, format: 'JSONEachRow' });
    const typedNow = async () => ({ spans: await rows<Record<string, unknown>>(ch, typedSql('spans')), logs: await rows<Record<string, unknown>>(ch, typedSql('logs')) });
    const withNew = await typedNow();
    for (const table of ['spans', 'logs'] as const) {
      const [, old, fresh] = withNew[table];
      expect({ ...fresh, span_id: '' }).toEqual({ ...old, span_id: '' });
    }

    // 0018: the old rows get their type codes; 0019: the typed-map copies go. Nothing reads differently.
    expect((await migrateClickHouse(ch, { retentionDays: 30, dir: upTo(18), log })).applied).toEqual(['0018_attribute_types_for_old_rows.sql']);
    await rerun('0018_attribute_types_for_old_rows.sql');
    expect(await typedNow()).toEqual(withNew);
    expect((await migrateClickHouse(ch, { retentionDays: 30, dir: upTo(19), log })).applied).toEqual(['0019_drop_typed_map_copies.sql']);
    await rerun('0019_drop_typed_map_copies.sql');
    expect(await typedNow()).toEqual(withNew);
    // The later migrations (0020: the trace_summary projection, …): the API below answers on today's schema.
    await migrateClickHouse(ch, { retentionDays: 30, log });
    expect(await typedNow()).toEqual(withNew);
    expect(await rows(ch, `SELECT table, name FROM system.columns WHERE database = {db:String} AND table IN ('spans', 'logs') AND endsWith(name, '_v1')`)).toEqual([]);
    for (const table of ['spans', 'logs']) {
      expect(await rows(ch, `SELECT attributes_format, count() AS n FROM {db:Identifier}.${table} GROUP BY attributes_format`)).toEqual([{ attributes_format: 1, n: '3' }]);
    }
    // The old typed row's codes, as the processors write them for the same attributes.
    const types = await rows<{ attributes_types: Record<string, string> }>(ch, `SELECT attributes_types FROM {db:Identifier}.spans ORDER BY span_id`);
    expect(types.map((t) => t.attributes_types)).toEqual([{}, { i: 'int', d: 'double', nan: 'double', inf: 'double', b: 'bool', arr: 'json', kv: 'json', empty: 'empty' }, types[2]!.attributes_types]);
    expect(types[2]!.attributes_types).toEqual(types[1]!.attributes_types);

    const app = buildQueryApp({ log, clickhouse: ch, keys: { verify: async (k) => (k === 'key_a' ? { projectId: 'ta' } : null) } });
    await app.ready();
    try {
      const span = async (n: number) => (await app.inject({ url: `/api/v1/traces/${hex(n, 32)}`, headers: auth })).json().spans[0];
      const [t1, t2, t3] = [await span(1), await span(2), await span(3)];
      // Before 0007 every value was a string (the types were lost then); 0007's typed row and the new row keep them.
      expect([t1.attributes, t1.resource_attributes]).toEqual([TEXTS, { 'service.name': 'svc', 'host.cpus': '8' }]);
      for (const t of [t2, t3]) expect([t.attributes, t.resource_attributes]).toEqual([TYPED, { 'service.name': 'svc', 'host.cpus': 8 }]);
      const logs = (await app.inject({ url: '/api/v1/logs?from=now-2h', headers: auth })).json().logs as Array<{ body: string; attributes: unknown; resource_attributes: unknown }>;
      expect(Object.fromEntries(logs.map((l) => [l.body, [l.attributes, l.resource_attributes]]))).toEqual({
        'line 1': [TEXTS, { 'service.name': 'svc', 'host.cpus': '8' }],
        'line 2': [TYPED, { 'service.name': 'svc', 'host.cpus': 8 }],
        'line 3': [TYPED, { 'service.name': 'svc', 'host.cpus': 8 }],
      });
      // Filters read the text map alone: old and new rows alike.
      const ids = async (filter: string): Promise<string[]> =>
        ((await app.inject({ url: `/api/v1/traces?from=now-2h&filter=${encodeURIComponent(filter)}`, headers: auth })).json().traces as Array<{ trace_id: string }>).map((t) => t.trace_id).sort();
      expect(await ids('i < -9223372036854775807')).toEqual([hex(1, 32), hex(2, 32), hex(3, 32)]);
      expect(await ids('inf > 1e308')).toEqual([hex(1, 32), hex(2, 32), hex(3, 32)]);
      expect(await ids('resource.host.cpus = 8')).toEqual([hex(1, 32), hex(2, 32), hex(3, 32)]);
    } finally {
      await app.close();
    }
  });
});
