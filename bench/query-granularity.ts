/**
 * Side measurement for bench/README.md (issue 6, "Dashboard queries", trace
 * lookups): how much of a trace lookup's time is the spans table's granule
 * size, and how much its size and number of parts.
 *
 *   npx tsx bench/query-granularity.ts --dir D [--hours 3] [--rounds 4]
 *
 * D is a directory kept by `npm run bench:query -- --dir D --keep` (100M
 * spans of one day, all migrations applied). Method: `--hours` hours of the
 * day's spans are copied into two new tables with the spans table's own
 * definition (projection included, TTL dropped), one with
 * `index_granularity = 8192` (the spans table's) and one with 1024, each
 * merged to one part. Then, per round (the order of the three tables
 * alternating), 12 lookups of one trace (the trace-by-id API's columns) and
 * 12 trace-list summaries of 59 traces (the columns of
 * query-api/trace-list.ts's summary query), every lookup a different trace of
 * the copied hours, on the copies and on the full spans table: wall-clock
 * median and p90 per table, direct SQL (no API). The copies are dropped at
 * the end.
 */
import { openKept, sideArgs, timeInterleaved } from './query-side.js';

const { dir: DIR, hours: HOURS, rounds: ROUNDS } = sideArgs();
const { q, cmd } = openKept(DIR);

const [day] = await q(`SELECT toStartOfDay(min(start_time)) AS d FROM vigil.spans WHERE tenant = 'bench'`);
const from = `toDateTime64('${String(day!.d)}', 9, 'UTC')`;
const window = `start_time >= ${from} AND start_time < ${from} + toIntervalHour(${HOURS})`;
const [ddl] = (await q('SHOW CREATE TABLE vigil.spans')) as Array<{ statement: string }>;
const copies = [8192, 1024].map((g) => `spans_g${g}`);
for (const [i, g] of [8192, 1024].entries()) {
  const t = copies[i]!;
  await cmd(`DROP TABLE IF EXISTS vigil.${t} SYNC`);
  await cmd(ddl!.statement.replace('CREATE TABLE vigil.spans', `CREATE TABLE vigil.${t}`).replace(/index_granularity = \d+/, `index_granularity = ${g}`).replace(/\nTTL [^\n]*/, ''));
  const t0 = performance.now();
  await cmd(`INSERT INTO vigil.${t} SELECT * FROM vigil.spans WHERE ${window}`);
  await cmd(`OPTIMIZE TABLE vigil.${t} FINAL`);
  const [p] = await q(`SELECT sum(rows) AS rows, count() AS parts, sum(marks) AS marks FROM system.parts WHERE database = 'vigil' AND table = '${t}' AND active`);
  console.log(`${t}: ${String(p!.rows)} rows, ${String(p!.parts)} part, ${String(p!.marks)} marks (built in ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}
const [full] = await q(`SELECT sum(rows) AS rows, count() AS parts FROM system.parts WHERE database = 'vigil' AND table = 'spans' AND active`);
console.log(`spans: ${String(full!.rows)} rows, ${String(full!.parts)} parts`);

const ids = (await q(`SELECT DISTINCT trace_id FROM vigil.${copies[0]} WHERE cityHash64(trace_id) % 1000 = 3 LIMIT 2000`)).map((r) => r.trace_id as string);
const COLS = `span_id, parent_span_id, name, kind, service, toUnixTimestamp64Nano(start_time), toUnixTimestamp64Nano(end_time), duration_ns,
  status_code, status_message, attributes, resource_attributes, events, model, provider, input_tokens, output_tokens, cached_tokens,
  cost_usd, unpriced, trace_state, flags, links, dropped_attributes_count, dropped_events_count, dropped_links_count,
  attributes_types, resource_attributes_types`;
const byId = (t: string): string => `SELECT ${COLS} FROM vigil.${t} WHERE tenant = 'bench' AND trace_id = {id:String} ORDER BY start_time, span_id`;
const summaries = (t: string): string => `SELECT trace_id, min(start_time), max(end_time), count(), countIf(status_code = 'error'),
  arraySort(groupUniqArray(service)), argMinIf(name, start_time, parent_span_id = ''), argMinIf(service, start_time, parent_span_id = ''),
  round(sum(cost_usd), 9), sum(unpriced), sum(input_tokens), sum(output_tokens), sum(cached_tokens)
  FROM vigil.${t} WHERE tenant = 'bench' AND trace_id IN {ids:Array(String)} GROUP BY trace_id`;

let next = 0;
const take = (n: number): string[] => Array.from({ length: n }, () => ids[next++ % ids.length]!);
const tables = [...copies, 'spans'];
try {
  await timeInterleaved(
    tables,
    [
      { name: 'trace by id', sql: byId, params: () => ({ id: take(1)[0] }) },
      { name: '59 summaries', sql: summaries, params: () => ({ ids: take(59) }) },
    ],
    ROUNDS,
    q,
  );
} finally {
  // The copies go whatever happened: the kept directory stays as bench:query left it.
  for (const t of copies) await cmd(`DROP TABLE IF EXISTS vigil.${t} SYNC`);
}
process.exit(0);
