/**
 * What the spans table's merge settings cost while inserts arrive (issue 6):
 * ClickHouse's background merges rewrite every inserted span several times
 * (write amplification), on the same cores as the pipeline.
 *
 *   npx tsx bench/merge-selector.ts [--set merge_selector_base=10,...] [--rows 3000000]
 *     [--size 16000] [--rate 24000] [--out FILE]
 *
 * Method: one process per variant (chDB's counters are per process; run the
 * variants alternately, several times). The bench's OTLP requests
 * (bench/e2e/request.ts) go through the worker (`processBatchEncoded`) into
 * 20 distinct Native blocks of `--size` spans, before timing. A fresh chDB
 * directory is migrated; `--set` is applied with `ALTER TABLE spans MODIFY
 * SETTING`. Blocks are then inserted as the embedded writer does (`INSERT …
 * SELECT * FROM file(…, 'Native')`, a dedup token per insert), paced to
 * `--rate` spans/s, with background merges running, until `--rows` spans;
 * then the run waits until no merge has run for 5 s. Reported per span: the
 * process's CPU (user + system, all threads: inserts, merges and the
 * bench's pacing loop), chDB's `MergedRows` (rows written by merges; ÷ rows
 * inserted = write amplification) and `MergeTotalMilliseconds`; the most
 * active parts seen during the run and at the end; and the median of 20
 * `SELECT … WHERE trace_id = X` lookups of distinct traces at the end
 * (with the query API's `TRACE_LOOKUP_SETTINGS`)
 * (every part's projection is probed, so more parts cost lookups time).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../platform/logger.js';
import { createClickHouse } from '../platform/clickhouse.js';
import { migrateClickHouse } from '../platform/migrate.js';
import { processBatchEncoded } from '../processors/worker.js';
import { TRACE_LOOKUP_SETTINGS } from '../query-api/clickhouse.js';
import { makeTemplate, RequestFactory, SPANS_PER_REQUEST } from './e2e/request.js';

const { values: opt } = parseArgs({
  options: {
    set: { type: 'string', default: '' },
    rows: { type: 'string', default: '3000000' },
    size: { type: 'string', default: '16000' },
    rate: { type: 'string', default: '24000' },
    out: { type: 'string' },
  },
  strict: true,
});
const rows = Number(opt.rows);
const size = Number(opt.size);
const rate = Number(opt.rate);
const settings = opt.set.split(',').map((s) => s.trim()).filter(Boolean);
for (const s of settings) if (!/^[a-z_]+\s*=\s*[0-9A-Za-z_.]+$/.test(s)) throw new Error(`--set: expected name=value[,name=value], got ${JSON.stringify(s)}`);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-merge-selector-'));
const ch = createClickHouse({ url: undefined, username: undefined, password: undefined, database: 'vigil', retentionDays: 30 }, dir);
await migrateClickHouse(ch, { retentionDays: 30, log: createLogger('warn') });
if (settings.length > 0) await ch.client.command({ query: `ALTER TABLE vigil.spans MODIFY SETTING ${settings.join(', ')}` });

const asBuffer = (d: unknown): Buffer => (Array.isArray(d) ? Buffer.concat(d as Buffer[]) : Buffer.from(d as Uint8Array));
const factory = new RequestFactory(makeTemplate());
const traceIds: string[] = [];
const blocks: Array<{ file: string; columns: readonly string[] }> = [];
for (let i = 0; i < 20; i++) {
  const items = Array.from({ length: Math.ceil(size / SPANS_PER_REQUEST) }, (_, j) => ({
    offset: String(j), raw: new Uint8Array(factory.next().body),
    meta: { tenant: 'bench', format: 'otlp-proto' as const, kind: 'spans' as const, receivedAtMs: Date.now() },
  }));
  const body = processBatchEncoded(items, {}).bodies.spans as { format: string; data: unknown; columns?: readonly string[] };
  if (body.format !== 'Native' || body.columns === undefined) throw new Error('the worker did not encode spans as Native');
  const file = path.join(dir, `block-${i}.native`);
  fs.writeFileSync(file, asBuffer(body.data));
  blocks.push({ file, columns: body.columns });
}

const query = async <T>(sql: string): Promise<T[]> => (await (await ch.client.query({ query: sql, format: 'JSONEachRow' })).json()) as T[];
const events = async (): Promise<Record<string, number>> =>
  Object.fromEntries((await query<{ event: string; value: string }>("SELECT event, value FROM system.events WHERE event IN ('MergedRows', 'MergeTotalMilliseconds', 'InsertedRows')")).map((r) => [r.event, Number(r.value)]));
const activeParts = async (): Promise<number> => Number((await query<{ n: string }>("SELECT count() AS n FROM system.parts WHERE active AND database = 'vigil' AND table = 'spans'"))[0]!.n);

const e0 = await events();
const c0 = process.cpuUsage();
const t0 = performance.now();
let maxParts = 0;
let inserted = 0;
for (let i = 0; inserted < rows; i++) {
  const { file, columns } = blocks[i % blocks.length]!;
  await ch.client.command({
    query: `INSERT INTO vigil.spans (${columns.join(', ')}) SELECT * FROM file('${file}', 'Native')`,
    clickhouse_settings: { insert_deduplicate: 1, insert_deduplication_token: `block-${i}` },
  });
  inserted += size;
  if (i % 5 === 0) maxParts = Math.max(maxParts, await activeParts());
  const ahead = (inserted / rate) * 1000 - (performance.now() - t0);
  if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
}
const insertSeconds = (performance.now() - t0) / 1000;
// Wait for the merges to finish: no MergedRows growth for 5 s.
for (let last = -1, still = 0; still < 5;) {
  await new Promise((r) => setTimeout(r, 1000));
  const m = (await events())['MergedRows'] ?? 0;
  still = m === last ? still + 1 : 0;
  last = m;
}
const cpu = process.cpuUsage(c0);
const e1 = await events();
const delta = (k: string): number => (e1[k] ?? 0) - (e0[k] ?? 0);
for (const b of blocks.slice(0, 2)) {
  const ids = await query<{ t: string }>(`SELECT DISTINCT trace_id AS t FROM file('${b.file}', 'Native') LIMIT 10`);
  traceIds.push(...ids.map((r) => r.t));
}
const lookups: number[] = [];
for (const t of traceIds) {
  const s = performance.now();
  await (await ch.client.query({ query: `SELECT span_id, name, start_time, attributes FROM vigil.spans WHERE trace_id = '${t}'`, format: 'JSONEachRow', clickhouse_settings: TRACE_LOOKUP_SETTINGS })).json();
  lookups.push(performance.now() - s);
}
lookups.sort((a, b) => a - b);
const result = {
  set: settings.join(',') || 'defaults',
  rows: inserted,
  size,
  rate,
  insertSeconds: Number(insertSeconds.toFixed(1)),
  cpuUsPerSpan: Number(((cpu.user + cpu.system) / inserted).toFixed(2)),
  writeAmplification: Number((delta('MergedRows') / inserted).toFixed(2)),
  mergeMsPerKSpans: Number(((delta('MergeTotalMilliseconds') / inserted) * 1000).toFixed(1)),
  maxActiveParts: maxParts,
  activePartsAtEnd: await activeParts(),
  lookupMedianMs: Number(lookups[Math.floor(lookups.length / 2)]!.toFixed(1)),
  loadavg: os.loadavg()[0]!.toFixed(2),
};
console.log(JSON.stringify(result));
if (opt.out) fs.appendFileSync(opt.out, JSON.stringify(result) + '\n');
await ch.client.close();
fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 300 });
process.exit(0);
