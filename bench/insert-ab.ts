/**
 * The spans insert of two checkouts side by side, in one process (issue 6):
 * what a change to the span rows or the spans schema costs ClickHouse.
 *
 *   git worktree add /tmp/vigil-a <rev> && ln -s "$PWD/node_modules" /tmp/vigil-a/node_modules
 *   npx tsx bench/insert-ab.ts --a /tmp/vigil-a [--rows 100000] [--size 10000] [--order ab|ba]
 *
 * Method: the bench's OTLP requests (bench/e2e/request.ts) are processed by
 * each checkout's worker (`processBatchEncoded`, before timing) into Native
 * blocks of `--size` spans, written to files; database `a` is migrated with
 * the other checkout's migrations, `b` with this one's, in one chDB data
 * directory. Background merges are stopped, then every block is inserted as
 * the embedded writer does (`INSERT INTO db.spans (columns) SELECT * FROM
 * file(…, 'Native')`, dedup token per insert) into `a` and `b` in turn (the
 * order alternating per block), so that the noise of a shared machine falls
 * on both alike; CPU time of the process (user + system, chDB's threads
 * included) is summed per database. Then, per database in `--order`, merges
 * are started and `OPTIMIZE TABLE … FINAL` merges its parts: the CPU of that
 * merge is the cost the inserted bytes carry into background merges.
 * Reported: Native bytes per span, insert and merge CPU per span with the
 * ratio b / a, and the stored bytes per span (compressed and uncompressed,
 * system.parts). One run is one sample: repeat it, in both orders.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLogger } from '../platform/logger.js';
import { createClickHouse } from '../platform/clickhouse.js';
import { migrateClickHouse } from '../platform/migrate.js';
import { makeTemplate, RequestFactory, SPANS_PER_REQUEST } from './e2e/request.js';
import * as B from '../processors/worker.js';

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`--${name} is required (see the usage in bench/insert-ab.ts)`);
  return v;
}

const otherDir = path.resolve(arg('a'));
const rows = Number(arg('rows', '100000'));
const size = Number(arg('size', '10000'));
const order = arg('order', 'ab') === 'ba' ? (['b', 'a'] as const) : (['a', 'b'] as const);
const A = (await import(pathToFileURL(path.join(otherDir, 'processors/worker.ts')).href)) as typeof B;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-insert-ab-'));
const ch = createClickHouse({ url: undefined, username: undefined, password: undefined, database: 'b', retentionDays: 30 }, dir);
const log = createLogger('warn');
await migrateClickHouse({ ...ch, database: 'a' }, { retentionDays: 30, log, dir: path.join(otherDir, 'migrations/clickhouse') });
await migrateClickHouse({ ...ch, database: 'b' }, { retentionDays: 30, log });

type Db = 'a' | 'b';
const asBuffer = (d: unknown): Buffer => (Array.isArray(d) ? Buffer.concat(d as Buffer[]) : Buffer.from(d as Uint8Array));
const factory = new RequestFactory(makeTemplate());
const blocks: Array<Record<Db, { file: string; columns: readonly string[]; bytes: number }>> = [];
for (let done = 0, i = 0; done < rows; done += size, i++) {
  const items = Array.from({ length: Math.ceil(size / SPANS_PER_REQUEST) }, (_, j) => ({
    offset: String(j), raw: new Uint8Array(factory.next().body),
    meta: { tenant: 'bench', format: 'otlp-proto' as const, kind: 'spans' as const, receivedAtMs: Date.now() },
  }));
  const block = {} as Record<Db, { file: string; columns: readonly string[]; bytes: number }>;
  for (const [db, worker] of [['a', A], ['b', B]] as const) {
    const body = worker.processBatchEncoded(items, {}).bodies.spans as { format: string; data: unknown; columns?: readonly string[] };
    if (body.format !== 'Native' || body.columns === undefined) throw new Error(`checkout ${db} did not encode spans as Native`);
    const data = asBuffer(body.data);
    const file = path.join(dir, `${db}-${i}.native`);
    fs.writeFileSync(file, data);
    block[db] = { file, columns: body.columns, bytes: data.length };
  }
  blocks.push(block);
}
const spans = blocks.length * size;

const cpuOf = async (f: () => Promise<unknown>): Promise<number> => {
  const c0 = process.cpuUsage();
  await f();
  const c = process.cpuUsage(c0);
  return c.user + c.system;
};
const insertCpu: Record<Db, number> = { a: 0, b: 0 };
const mergeCpu: Record<Db, number> = { a: 0, b: 0 };
for (const db of ['a', 'b']) await ch.client.command({ query: `SYSTEM STOP MERGES ${db}.spans` });
for (let i = 0; i < blocks.length; i++) {
  for (const db of (i % 2 === 0 ? ['a', 'b'] : ['b', 'a']) as Db[]) {
    const { file, columns } = blocks[i]![db];
    insertCpu[db] += await cpuOf(() => ch.client.command({
      query: `INSERT INTO ${db}.spans (${columns.join(', ')}) SELECT * FROM file('${file}', 'Native')`,
      clickhouse_settings: { insert_deduplicate: 1, insert_deduplication_token: `${db}-${i}` },
    }));
  }
}
for (const db of order) {
  await ch.client.command({ query: `SYSTEM START MERGES ${db}.spans` });
  mergeCpu[db] = await cpuOf(() => ch.client.command({ query: `OPTIMIZE TABLE ${db}.spans FINAL` }));
}
const rs = await ch.client.query({
  query: "SELECT database, sum(data_compressed_bytes) AS c, sum(data_uncompressed_bytes) AS u, sum(rows) AS r FROM system.parts WHERE active AND table = 'spans' AND database IN ('a', 'b') GROUP BY database ORDER BY database",
  format: 'JSONEachRow',
});
const stored = (await rs.json()) as Array<{ database: Db; c: string; u: string; r: string }>;

const per = (x: number): string => (x / spans).toFixed(2);
const bytes = (db: Db): number => blocks.reduce((s, b) => s + b[db].bytes, 0) / spans;
console.log(`${spans} spans in blocks of ${size}; a = ${otherDir}, b = ${process.cwd()}; merge order ${order.join('')}`);
console.log(`Native bytes per span   a ${bytes('a').toFixed(0)}  b ${bytes('b').toFixed(0)}  b/a ${(bytes('b') / bytes('a')).toFixed(3)}`);
console.log(`insert CPU µs per span   a ${per(insertCpu.a)}  b ${per(insertCpu.b)}  b/a ${(insertCpu.b / insertCpu.a).toFixed(3)}`);
console.log(`merge CPU µs per span    a ${per(mergeCpu.a)}  b ${per(mergeCpu.b)}  b/a ${(mergeCpu.b / mergeCpu.a).toFixed(3)}`);
for (const s of stored) console.log(`stored ${s.database}: ${(Number(s.c) / Number(s.r)).toFixed(1)} B/span compressed, ${(Number(s.u) / Number(s.r)).toFixed(0)} B/span uncompressed`);
await ch.client.close();
fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 300 });
process.exit(0);
