/**
 * Spans and logs are inserted as ClickHouse Native blocks (issue 6): what is
 * stored must be exactly what the JSONEachRow insert of the same rows stored,
 * for every column, including the values a binary encoding gets wrong first:
 * non-ASCII and long strings, Int64 extremes, NaN/±Inf, NULL cost, empty maps,
 * fields a row leaves to the column DEFAULT. Replays with the same dedup token
 * are still dropped, and no spool file is left behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { removeOrphanSpoolFiles, type ClickHouseHandle } from '../../platform/clickhouse.js';
import { tempDir } from '../support/harness.js';
import { BLOCK_ROWS, processBatch, processBatchEncoded } from '../../processors/worker.js';
import { classifyClickHouseError } from '../../processors/writer.js';
import type { Envelope } from '../../schemas/envelope.js';
import type { KeyValue } from '../../schemas/otlp.js';
import { createTestClickHouse } from '../support/clickhouse.js';
import { hex, nativeLogEnvelope, nowNs, otlpSpanEnvelope } from './fixtures.js';

const LONG = 'λ'.repeat(70) + 'x'.repeat(300);
const ATTRS: KeyValue[] = [
  { key: 'http.route', value: { stringValue: '/cart/{id}' } },
  { key: 'unicode', value: { stringValue: 'naïve — 日本語 🚀' } },
  { key: 'long', value: { stringValue: LONG } },
  { key: 'i.max', value: { intValue: '9223372036854775807' } },
  { key: 'i.min', value: { intValue: '-9223372036854775808' } },
  { key: 'f.nan', value: { doubleValue: Number.NaN } },
  { key: 'f.inf', value: { doubleValue: Number.POSITIVE_INFINITY } },
  { key: 'f.small', value: { doubleValue: -1.5e-300 } },
  { key: 'b', value: { boolValue: true } },
  { key: 'arr', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '1' }] } } },
  { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o-mini' } },
  { key: 'gen_ai.usage.input_tokens', value: { intValue: '1200' } },
];

function spansEnvelope(tenant: string): Envelope {
  const env = otlpSpanEnvelope(tenant, 7, 4, ATTRS);
  const records = env.records as Array<Record<string, unknown>>;
  // One span with an unknown model (cost NULL), one with events and links, one with no attributes.
  records[1]!['attributes'] = [...ATTRS.filter((a) => a.key !== 'gen_ai.request.model'), { key: 'gen_ai.request.model', value: { stringValue: 'no-such-model' } }];
  records[2]!['events'] = [{ timeUnixNano: String(nowNs()), name: 'exception', attributes: [{ key: 'exception.message', value: { stringValue: 'boom\n"quoted"\t' } }] }];
  records[2]!['links'] = [{ traceId: hex(99, 32), spanId: hex(98, 16), traceState: 'k=v' }];
  records[3]!['attributes'] = [];
  records[3]!['parentSpanId'] = hex(7, 16);
  return env;
}

const TYPED_MAPS = ['attributes', 'resource_attributes'].flatMap((p) => ['string', 'int', 'float', 'bool', 'json'].map((k) => `${p}_${k}`)).join(', ');

async function rows(ch: ClickHouseHandle, table: string, tenant: string): Promise<unknown[]> {
  const rs = await ch.client.query({
    // ALIAS columns are not in `*`: the typed maps (migration 0016) are named.
    query: `SELECT * EXCEPT tenant, ${TYPED_MAPS} FROM {db:Identifier}.${table} WHERE tenant = {t:String} ORDER BY ALL`,
    query_params: { db: ch.database, t: tenant },
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 1, output_format_json_quote_denormals: 1 },
  });
  return rs.json();
}

describe('issue 6 — Native inserts store what JSONEachRow stored', () => {
  let ch: ClickHouseHandle;
  beforeAll(async () => {
    ch = await createTestClickHouse();
  });

  it('spans: every column equal to the JSONEachRow insert of the same rows', async () => {
    const [viaNative, viaJson] = ['native-s-' + Date.now(), 'json-s-' + Date.now()];
    const encoded = processBatchEncoded([spansEnvelope(viaNative)]);
    expect(encoded.rejected).toEqual([]);
    expect(encoded.bodies.spans.format).toBe('Native');
    await ch.insertRaw('spans', encoded.bodies.spans, { insert_deduplicate: 1, insert_deduplication_token: `${viaNative}-spans` });
    await ch.client.insert({ table: `${ch.database}.spans`, values: processBatch([spansEnvelope(viaJson)]).spans, format: 'JSONEachRow' });

    const a = await rows(ch, 'spans', viaNative);
    const b = await rows(ch, 'spans', viaJson);
    expect(a).toHaveLength(4);
    // The two batches differ only by their start times (taken when built): compare without them.
    const strip = (rs: unknown[]) => rs.map((r) => ({ ...(r as Record<string, unknown>), start_time: 0, end_time: 0, events: String((r as { events: string }).events).replace(/"time_unix_nano":"\d+"/g, '') }));
    expect(strip(a)).toEqual(strip(b));
    const one = a.find((r) => (r as { attributes_string: Record<string, string> }).attributes_string['long'] !== undefined) as Record<string, Record<string, unknown>>;
    expect(one['attributes_string']!['long']).toBe(LONG);
    expect(one['attributes_string']!['unicode']).toBe('naïve — 日本語 🚀');
    expect(one['attributes_int']).toMatchObject({ 'i.max': '9223372036854775807', 'i.min': '-9223372036854775808' });
    expect(one['attributes_float']).toMatchObject({ 'f.nan': 'nan', 'f.inf': 'inf', 'f.small': -1.5e-300 });
    expect(one['attributes_bool']).toEqual({ b: 1 });
    expect(one['attributes_json']).toEqual({ arr: '["a",1]' });
    expect(one['attributes_types']).toEqual({ 'i.max': 'int', 'i.min': 'int', 'f.nan': 'double', 'f.inf': 'double', 'f.small': 'double', b: 'bool', arr: 'json', 'gen_ai.usage.input_tokens': 'int' });
    expect(one['attributes_format']).toBe(1);
  });

  it('the times are exact to the nanosecond', async () => {
    const tenant = 'native-t-' + Date.now();
    const env = otlpSpanEnvelope(tenant, 1, 1);
    const rec = (env.records as Array<Record<string, unknown>>)[0]!;
    // Whole seconds of "now" (inside the TTL) with fractions that need every digit.
    const now = nowNs() / 1_000_000_000n * 1_000_000_000n;
    rec['startTimeUnixNano'] = String(now + 123_456_789n);
    rec['endTimeUnixNano'] = String(now + 1_000_000_001n);
    await ch.insertRaw('spans', processBatchEncoded([env]).bodies.spans, {});
    const rs = await ch.client.query({
      query: 'SELECT toString(toUnixTimestamp64Nano(start_time)) AS s, toString(toUnixTimestamp64Nano(end_time)) AS e, toString(duration_ns) AS d FROM {db:Identifier}.spans WHERE tenant = {t:String}',
      query_params: { db: ch.database, t: tenant },
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([{ s: String(now + 123_456_789n), e: String(now + 1_000_000_001n), d: '876543212' }]);
  });

  it('logs: every column equal to the JSONEachRow insert of the same rows', async () => {
    const [viaNative, viaJson] = ['native-l-' + Date.now(), 'json-l-' + Date.now()];
    const body = 'line one\nline "two" — ünïcödé ' + LONG;
    const envN = nativeLogEnvelope(viaNative, body);
    const envJ = { ...nativeLogEnvelope(viaJson, body), receivedAtMs: envN.receivedAtMs };
    (envJ.records as Array<Record<string, unknown>>)[0]!['time'] = (envN.records as Array<Record<string, unknown>>)[0]!['time'];
    const encoded = processBatchEncoded([envN]);
    expect(encoded.bodies.logs.format).toBe('Native');
    await ch.insertRaw('logs', encoded.bodies.logs, {});
    await ch.client.insert({ table: `${ch.database}.logs`, values: processBatch([envJ]).logs, format: 'JSONEachRow' });
    const a = await rows(ch, 'logs', viaNative);
    expect(a).toHaveLength(1);
    expect(a).toEqual(await rows(ch, 'logs', viaJson));
    expect((a[0] as { body: string }).body).toBe(body);
  });

  it("the server path's INSERT … (columns) FORMAT Native reads the block the same (chDB FROM INFILE: the same input format, String cast to LowCardinality)", async () => {
    const [viaFormat, viaJson] = ['native-f-' + Date.now(), 'json-f-' + Date.now()];
    const body = processBatchEncoded([spansEnvelope(viaFormat)]).bodies.spans;
    if (body.format !== 'Native') throw new Error('expected a Native block');
    const file = path.join(ch.location, 'vigil-inserts', `${viaFormat}.native`);
    fs.writeFileSync(file, body.data);
    try {
      await ch.client.command({ query: `INSERT INTO ${ch.database}.spans (${body.columns.join(', ')}) FROM INFILE '${file}' FORMAT Native` });
    } finally {
      fs.rmSync(file, { force: true });
    }
    await ch.client.insert({ table: `${ch.database}.spans`, values: processBatch([spansEnvelope(viaJson)]).spans, format: 'JSONEachRow' });
    const strip = (rs: unknown[]) => rs.map((r) => ({ ...(r as Record<string, unknown>), start_time: 0, end_time: 0, events: String((r as { events: string }).events).replace(/"time_unix_nano":"\d+"/g, '') }));
    const a = await rows(ch, 'spans', viaFormat);
    expect(a).toHaveLength(4);
    expect(strip(a)).toEqual(strip(await rows(ch, 'spans', viaJson)));
  });

  it('a replayed Native insert with the same token is dropped, and no spool file remains', async () => {
    const tenant = 'native-d-' + Date.now();
    const body = processBatchEncoded([otlpSpanEnvelope(tenant, 1, 5)]).bodies.spans;
    for (let i = 0; i < 2; i++) await ch.insertRaw('spans', body, { insert_deduplicate: 1, insert_deduplication_token: `${tenant}-tok` });
    expect(await rows(ch, 'spans', tenant)).toHaveLength(5);
    expect(fs.readdirSync(path.join(ch.location, 'vigil-inserts'))).toEqual([]);
  });

  it('a batch larger than one block is a Native stream of blocks: the rows stored equal the JSONEachRow insert, in one part, with the same aggregates', async () => {
    const [viaNative, viaJson] = ['native-b-' + Date.now(), 'json-b-' + Date.now()];
    const envs = [otlpSpanEnvelope('x', 1, 700, ATTRS), otlpSpanEnvelope('x', 5000, 700), otlpSpanEnvelope('x', 9000, 300, ATTRS)];
    const forTenant = (tenant: string) => envs.map((e, i) => ({ offset: String(i), value: JSON.stringify({ ...e, tenant }) }));
    const encoded = processBatchEncoded(forTenant(viaNative));
    const body = encoded.bodies.spans;
    expect(body.format).toBe('Native');
    expect(Array.isArray(body.data) && body.data.length).toBe(Math.ceil(1700 / BLOCK_ROWS));
    expect(encoded.counts.spans).toBe(1700);
    await ch.insertRaw('spans', body, { insert_deduplicate: 1, insert_deduplication_token: `${viaNative}-spans` });
    await ch.insertRaw('span_metrics_1m', encoded.bodies.span_metrics_1m, {});
    const whole = processBatch(forTenant(viaJson));
    await ch.client.insert({ table: `${ch.database}.spans`, values: whole.spans, format: 'JSONEachRow' });
    await ch.client.insert({ table: `${ch.database}.span_metrics_1m`, values: whole.metrics, format: 'JSONEachRow' });
    const a = await rows(ch, 'spans', viaNative);
    expect(a).toHaveLength(1700);
    expect(a).toEqual(await rows(ch, 'spans', viaJson));
    const parts = await ch.client.query({ query: 'SELECT uniqExact(_part) AS n FROM {db:Identifier}.spans WHERE tenant = {t:String}', query_params: { db: ch.database, t: viaNative }, format: 'JSONEachRow' });
    expect(await parts.json()).toEqual([{ n: 1 }]);
    const sums = async (t: string) => {
      const rs = await ch.client.query({ query: 'SELECT operation, toString(sum(count)) AS n, toString(sum(duration_sum_ns)) AS d FROM {db:Identifier}.span_metrics_1m WHERE tenant = {t:String} GROUP BY operation', query_params: { db: ch.database, t }, format: 'JSONEachRow' });
      return rs.json();
    };
    expect(await sums(viaNative)).toEqual([{ operation: 'GET /cart', n: '1700', d: expect.any(String) }]);
    expect(await sums(viaNative)).toEqual(await sums(viaJson));
  });

  it('a malformed spool body (a caller bug) is a permanent error, not an outage retried forever', async () => {
    const bad = { format: 'NativeFiles' as const, paths: [path.join(ch.spoolDir!, "x'; DROP TABLE spans; --.native")], columns: ['tenant'], bytes: 1 };
    const err = await ch.insertRaw('spans', bad, {}).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'VIGIL_ERR_INTERNAL' });
    expect(classifyClickHouseError(err).retryable).toBe(false);
  });

  it('start-up removes spool files of dead processes only (a live process may have an insert in flight)', () => {
    const dir = tempDir('spool');
    const dead = '2147483646-1.native'; // beyond pid_max: no such process
    const live = `${process.ppid}-7.native`;
    const stray = 'not-a-spool-file.tmp';
    for (const f of [dead, live, stray]) fs.writeFileSync(path.join(dir, f), 'x');
    removeOrphanSpoolFiles(dir);
    expect(fs.readdirSync(dir).sort()).toEqual([live]);
  });

  it('an intValue beyond Int64 (ingest rejects these; an old message may carry one) is stored as its text, without the int type', async () => {
    const tenant = 'native-big-' + Date.now();
    const env = otlpSpanEnvelope(tenant, 1, 1, [{ key: 'big', value: { intValue: '99999999999999999999' } }, { key: 'ok', value: { intValue: '7' } }]);
    const encoded = processBatchEncoded([env]);
    expect(encoded.rejected).toEqual([]);
    expect(encoded.bodies.spans.format).toBe('Native');
    await ch.insertRaw('spans', encoded.bodies.spans, {});
    const [row] = (await rows(ch, 'spans', tenant)) as Array<Record<string, Record<string, unknown>>>;
    expect(row!['attributes']).toMatchObject({ big: '99999999999999999999', ok: '7' });
    expect(row!['attributes_types']).toEqual({ ok: 'int' });
    expect(row!['attributes_string']).toMatchObject({ big: '99999999999999999999' });
    expect(row!['attributes_int']).toEqual({ ok: '7' });
  });
});
