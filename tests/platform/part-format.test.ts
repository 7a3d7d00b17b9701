/**
 * Migration 0021: the processors' inserts into spans and logs (10,000–20,000
 * rows of ~1 KB) are written as Compact parts, which cost 0.62–0.80× the chDB
 * insert CPU of Wide ones (bench/README.md); merges write Wide parts from
 * 128 MiB on.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTestClickHouse } from '../support/clickhouse.js';
import { minuteAgo, spanRow, traceId } from '../query-api/support.js';

describe('part format of inserts (migration 0021)', () => {
  it('an insert of 12,000 spans of ~1 KB (over the 10 MiB default) is one Compact part (regression: Wide parts cost ~1.5× the insert CPU)', async () => {
    const ch = await createTestClickHouse();
    const tenant = `t_${randomBytes(4).toString('hex')}`;
    const from = minuteAgo(30);
    const filler = 'x'.repeat(1_000);
    const rows = Array.from({ length: 12_000 }, (_, i) => spanRow({ tenant, trace_id: traceId(), startMs: from + i, durationMs: 1, attributes: { 'app.payload': filler } }));
    await ch.client.insert({ table: `${ch.database}.spans`, format: 'JSONEachRow', values: rows });
    const rs = await ch.client.query({
      query: `SELECT part_type, rows, data_uncompressed_bytes > 10485760 AS over_default FROM system.parts
        WHERE database = {db:String} AND table = 'spans' AND active AND rows = 12000 ORDER BY modification_time DESC LIMIT 1`,
      query_params: { db: ch.database },
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([{ part_type: 'Compact', rows: 12000, over_default: 1 }]);
    for (const table of ['spans', 'logs']) {
      const ddl = await ch.client.query({ query: `SHOW CREATE TABLE {db:Identifier}.${table}`, query_params: { db: ch.database }, format: 'JSONEachRow' });
      const [{ statement }] = await ddl.json<{ statement: string }>();
      expect(statement).toMatch(/min_bytes_for_wide_part = 134217728/);
    }
  });
});
