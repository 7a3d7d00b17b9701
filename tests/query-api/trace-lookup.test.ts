/**
 * How much of the spans table a lookup of one trace reads. The
 * `trace_summary` projection (migration 0020) serves as an index into the
 * table; the lookup routes must use it in every part, small parts included
 * (query-api/clickhouse.ts, TRACE_LOOKUP_SETTINGS).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { TRACE_LOOKUP_SETTINGS } from '../../query-api/clickhouse.js';
import { testApp, type TestApp } from './support.js';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});

const GRANULE = 8192;
const PART_ROWS = 200_000;

/** Rows ClickHouse selected for reading while `run` ran (system.events, this process's chDB). */
async function rowsRead(run: () => Promise<unknown>): Promise<number> {
  const selected = async (): Promise<number> => {
    const rs = await t.ch.client.query({ query: "SELECT value FROM system.events WHERE event = 'SelectedRows'", format: 'JSONEachRow' });
    const [row] = await rs.json<{ value: string | number }>();
    return Number(row?.value ?? 0);
  };
  const before = await selected();
  await run();
  return (await selected()) - before;
}

/**
 * One part of PART_ROWS spans of one tenant: traces of 10 spans each, spread
 * over 40 (service, name) pairs so that the table's sort order scatters them,
 * plus the 10 spans of `needle`, all of one operation (so in one granule).
 */
async function insertPart(tenant: string, seed: number, needle: string | null): Promise<void> {
  await t.ch.client.command({
    query: `INSERT INTO {db:Identifier}.spans (tenant, trace_id, span_id, parent_span_id, service, name, start_time, end_time, duration_ns)
      SELECT {tenant:String},
        if(number < 10 AND {needle:String} != '', {needle:String}, lower(hex(MD5(toString(intDiv(number, 10) + {seed:UInt64}))))),
        lower(hex(substring(MD5(toString(number + {seed:UInt64} * 7)), 1, 8))),
        '',
        if(number < 10, 'needle-svc', concat('svc', toString(number % 4))),
        if(number < 10, 'needle-op', concat('op', toString(number % 10))),
        now64(9) - toIntervalSecond(number % 600),
        now64(9) - toIntervalSecond(number % 600) + toIntervalMillisecond(5),
        5000000
      FROM numbers({rows:UInt64})`,
    query_params: { db: t.ch.database, tenant, seed, needle: needle ?? '', rows: PART_ROWS },
    clickhouse_settings: { insert_deduplicate: 0 },
  });
}

describe('GET /api/v1/traces/:traceId (reads)', () => {
  it('reads only the granules that hold the trace in parts under 1M rows (regression: small parts were read whole)', async () => {
    const { tenant, auth } = t.tenant();
    const needle = 'feed'.repeat(8);
    await insertPart(tenant, 1, null);
    await insertPart(tenant, 2_000_000, needle);

    let body: { span_count: number } = { span_count: 0 };
    const read = await rowsRead(async () => {
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/traces/${needle}`, headers: auth });
      expect(res.statusCode, res.body).toBe(200);
      body = res.json();
    });
    expect(body.span_count).toBe(10);
    // The one or two granules of the table the trace's spans lie in, plus a
    // few projection granules (256 rows) per part; ClickHouse's default read
    // both 200,000-row parts whole.
    expect(read).toBeLessThanOrEqual(3 * GRANULE);

    // The same query without the settings reads more: the test can fail.
    const sql = `SELECT span_id FROM {db:Identifier}.spans WHERE tenant = {tenant:String} AND trace_id = {id:String}`;
    const params = { db: t.ch.database, tenant, id: needle };
    // (Without the query condition cache, which now knows the trace's granules.)
    const fresh = { use_query_condition_cache: 0 };
    const plain = await rowsRead(async () => (await t.ch.client.query({ query: sql, query_params: params, format: 'JSONEachRow', clickhouse_settings: fresh })).json());
    expect(plain, `plain ${plain}, tuned ${read}`).toBeGreaterThanOrEqual(PART_ROWS);
    const tuned = await rowsRead(async () =>
      (await t.ch.client.query({ query: sql, query_params: params, format: 'JSONEachRow', clickhouse_settings: { ...fresh, ...TRACE_LOOKUP_SETTINGS } })).json(),
    );
    expect(tuned).toBeLessThanOrEqual(3 * GRANULE);
  });
});
