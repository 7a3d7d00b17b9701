/**
 * Side measurement for bench/README.md (issue 6, "Dashboard queries", trace
 * list): the trace list's summaries of 59 traces and trace-by-id lookups
 * with the spans table's trace-id projection in four layouts.
 *
 *   npx tsx bench/query-projection.ts --dir D [--hours 3] [--rounds 4]
 *
 * D is a directory kept by `npm run bench:query -- --dir D --keep` (100M
 * spans of one day, all migrations applied). Method: `--hours` hours of the
 * day's spans are copied into four tables with the spans table's definition
 * (TTL dropped), each merged to one part, that differ only in the projection
 * sorted by (tenant, trace_id):
 *
 * - `lookup`: `trace_lookup` of migration 0006 (only `_part_offset`: an index
 *   into the table's granules of 8,192 rows);
 * - `summary_8192`, `summary_1024_4k`, `summary_256_2k`: `trace_summary` of
 *   migration 0020 (the summary query's columns and `_part_offset`) with the
 *   table's granules and compression blocks, granules of 1,024 rows and
 *   blocks of ≥ 4 KB, and granules of 256 rows and blocks of ≥ 2 KB (0020's).
 *
 * Then, per round (the order of the tables alternating), 12 summaries of 59
 * traces (the columns of query-api/trace-list.ts's summary query) and 12
 * lookups of one trace (`span_id, name, attributes, attributes_types`), each
 * of other traces of the copied hours: wall-clock median and p90 per table,
 * direct SQL (no API). Also printed: each projection's compressed bytes per
 * span and the plan's granule count for one summary. The copies are dropped
 * at the end, whatever happens.
 */
import { openKept, sideArgs, timeInterleaved } from './query-side.js';

const { dir: DIR, hours: HOURS, rounds: ROUNDS } = sideArgs();
const { q, cmd } = openKept(DIR);

const SUMMARY_COLUMNS = 'tenant, trace_id, start_time, end_time, status_code, service, parent_span_id, name, cost_usd, unpriced, input_tokens, output_tokens, cached_tokens, _part_offset';
const layouts: Record<string, string> = {
  lookup: 'PROJECTION trace_lookup (SELECT _part_offset ORDER BY tenant, trace_id)',
  summary_8192: `PROJECTION trace_summary (SELECT ${SUMMARY_COLUMNS} ORDER BY tenant, trace_id)`,
  summary_1024_4k: `PROJECTION trace_summary (SELECT ${SUMMARY_COLUMNS} ORDER BY tenant, trace_id) WITH SETTINGS (index_granularity = 1024, min_compress_block_size = 4096, max_compress_block_size = 65536)`,
  summary_256_2k: `PROJECTION trace_summary (SELECT ${SUMMARY_COLUMNS} ORDER BY tenant, trace_id) WITH SETTINGS (index_granularity = 256, min_compress_block_size = 2048, max_compress_block_size = 65536)`,
};
/** The spans table's own projection clause in SHOW CREATE TABLE (0006's or 0020's). */
const PROJECTION_RE = /PROJECTION trace_(?:lookup|summary)\s*\([\s\S]*?ORDER BY\s*tenant,\s*trace_id\s*\)(?:\s*WITH SETTINGS\s*\([^)]*\))?/;
const tables = Object.keys(layouts).map((l) => `spans_${l}`);

const [day] = await q(`SELECT toStartOfDay(min(start_time)) AS d FROM vigil.spans WHERE tenant = 'bench'`);
const from = `toDateTime64('${String(day!.d)}', 9, 'UTC')`;
const window = `start_time >= ${from} AND start_time < ${from} + toIntervalHour(${HOURS})`;
const [ddl] = (await q('SHOW CREATE TABLE vigil.spans')) as Array<{ statement: string }>;
if (!PROJECTION_RE.test(ddl!.statement)) throw new Error('the spans table has neither trace_lookup nor trace_summary: run bench:query --keep on D first');

const summaries = (t: string): string => `SELECT trace_id, min(start_time), max(end_time), count(), countIf(status_code = 'error'),
  arraySort(groupUniqArray(service)), argMinIf(name, start_time, parent_span_id = ''), argMinIf(service, start_time, parent_span_id = ''),
  round(sum(cost_usd), 9), sum(unpriced), sum(input_tokens), sum(output_tokens), sum(cached_tokens)
  FROM vigil.${t} WHERE tenant = 'bench' AND trace_id IN {ids:Array(String)} GROUP BY trace_id`;
const byId = (t: string): string => `SELECT span_id, name, attributes, attributes_types FROM vigil.${t} WHERE tenant = 'bench' AND trace_id = {id:String} ORDER BY start_time, span_id`;

try {
  for (const [i, layout] of Object.values(layouts).entries()) {
    const t = tables[i]!;
    await cmd(`DROP TABLE IF EXISTS vigil.${t} SYNC`);
    await cmd(ddl!.statement.replace('CREATE TABLE vigil.spans', `CREATE TABLE vigil.${t}`).replace(PROJECTION_RE, layout).replace(/\nTTL [^\n]*/, ''));
    const t0 = performance.now();
    await cmd(`INSERT INTO vigil.${t} SELECT * FROM vigil.spans WHERE ${window}`);
    await cmd(`OPTIMIZE TABLE vigil.${t} FINAL`);
    const [p] = await q(`SELECT sum(rows) AS rows, sum(data_compressed_bytes) AS c FROM system.parts WHERE database = 'vigil' AND table = '${t}' AND active`);
    const [pp] = await q(`SELECT sum(data_compressed_bytes) AS c, sum(marks) AS marks FROM system.projection_parts WHERE database = 'vigil' AND table = '${t}' AND active`);
    const rows = Number(p!.rows);
    console.log(
      `${t}: ${rows} rows; table ${(Number(p!.c) / rows).toFixed(1)} B/span, projection ${(Number(pp!.c) / rows).toFixed(1)} B/span and ${String(pp!.marks)} marks, compressed (built in ${((performance.now() - t0) / 1000).toFixed(0)} s)`,
    );
  }
  const ids = (await q(`SELECT DISTINCT trace_id FROM vigil.${tables[0]} WHERE cityHash64(trace_id) % 1000 = 3 LIMIT 2000`)).map((r) => r.trace_id as string);
  let next = 0;
  const take = (n: number): string[] => Array.from({ length: n }, () => ids[next++ % ids.length]!);
  for (const t of tables) {
    const plan = (await q(`EXPLAIN indexes = 1 ${summaries(t)}`, { ids: take(59) })).map((r) => String(r.explain).trim());
    const reads = plan.find((l) => l.includes('ReadFromMergeTree'))?.replace(/^\W+/, '') ?? '?';
    console.log(`${t}: the summaries plan: ${reads}, granules ${plan.filter((l) => /^Granules: \d+\/\d+/.test(l)).pop()?.slice(10) ?? '?'}`);
  }
  await timeInterleaved(
    tables,
    [
      { name: '59 summaries', sql: summaries, params: () => ({ ids: take(59) }) },
      { name: 'trace by id', sql: byId, params: () => ({ id: take(1)[0] }) },
    ],
    ROUNDS,
    q,
  );
} finally {
  // The copies go whatever happened: the kept directory stays as bench:query left it.
  for (const t of tables) await cmd(`DROP TABLE IF EXISTS vigil.${t} SYNC`);
}
process.exit(0);
