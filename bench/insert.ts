/**
 * chDB insert cost per row of Vigil's own rows, by insert format and rows
 * per insert (issue 6).
 *
 *   npx tsx bench/insert.ts [--sizes 1000,5000,20000] [--formats native,json] [--rows 60000] [--rounds 2]
 *
 * Method: rows are the real output of the processors' worker
 * (`processBatchEncoded` on the bench's OTLP request, bench/e2e/request.ts),
 * made before timing: `span_metrics_1m`, `span_user_costs_1m` and
 * `flag_variant_metrics_1m` as JSONEachRow, and the spans either as the
 * worker sends them (`native`: one ClickHouse Native block, inserted through
 * a spool file and `INSERT … SELECT FROM file()`) or as the JSONEachRow text
 * Vigil sent before (`json`: `JSON.stringify` per row, chdb-node's raw
 * insert). The CPU to encode the spans (Native block, or JSON text) is timed
 * separately, on the same rows. Each (format, size) inserts the same total
 * number of spans (`--rows`) in sub-batches of that size, through
 * `ClickHouseHandle.insertRaw` (dedup token per insert, as
 * processors/writer.ts does) into a freshly migrated database. Measured: CPU
 * time of the whole process (user + system, so chDB's own threads count;
 * merges that run after the last insert are not waited for) and wall time,
 * per span row; and, as "with merges", the same CPU counted until background
 * merges have been idle for 3 s after the last insert (at most 90 s), since
 * each insert makes parts that merges later rewrite. Cases are interleaved over `--rounds` rounds, each in its own
 * data directory opened in a child process (chDB allows one data directory
 * per process). CPU time is reported because wall time on a shared machine
 * varies with other load.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { EncodedResult } from '../processors/worker.js';

const { values: opt } = parseArgs({
  options: { sizes: { type: 'string' }, formats: { type: 'string' }, rows: { type: 'string' }, rounds: { type: 'string' }, child: { type: 'string' } },
  strict: true,
});

type Format = 'native' | 'json';

interface Figure {
  format: Format;
  size: number;
  /** CPU to encode the spans of a sub-batch, per span (µs). */
  encodeUsPerRow: number;
  cpuUsPerRow: number;
  wallUsPerRow: number;
  /** CPU per span row until merges went idle (see module doc). */
  settledCpuUsPerRow: number;
  bytesPerRow: number;
}

async function child(format: Format, size: number, total: number): Promise<Figure> {
  const { default: pino } = await import('pino');
  const { makeTemplate, RequestFactory, SPANS_PER_REQUEST } = await import('./e2e/request.js');
  const { processBatch, processBatchEncoded } = await import('../processors/worker.js');
  const { encodeSpansNative, SPAN_COLUMN_NAMES } = await import('../processors/encode-native.js');
  const { createClickHouse } = await import('../platform/clickhouse.js');
  const { migrateClickHouse } = await import('../platform/migrate.js');
  const { TABLE_ORDER } = await import('../processors/store.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-insert-'));
  try {
    const ch = createClickHouse({ url: undefined, username: undefined, password: undefined, database: 'vigil', retentionDays: 30 }, dir);
    await migrateClickHouse(ch, { retentionDays: 30, log: pino({ level: 'warn' }) });
    const factory = new RequestFactory(makeTemplate());
    const batches: Array<EncodedResult['bodies']> = [];
    let bytes = 0;
    let encodeUs = 0;
    for (let done = 0; done < total; done += size) {
      const items = Array.from({ length: Math.ceil(size / SPANS_PER_REQUEST) }, (_, j) => ({
        offset: String(j),
        raw: new Uint8Array(factory.next().body),
        meta: { tenant: 'bench', format: 'otlp-proto' as const, kind: 'spans' as const, receivedAtMs: Date.now() },
      }));
      const r = processBatchEncoded(items);
      const spans = processBatch(items).spans;
      const e0 = process.cpuUsage();
      if (format === 'native') r.bodies.spans = { format: 'Native', data: encodeSpansNative(spans), columns: SPAN_COLUMN_NAMES };
      else {
        let text = '';
        for (const row of spans) text += JSON.stringify(row) + '\n';
        r.bodies.spans = { format: 'JSONEachRow', data: text };
      }
      const e = process.cpuUsage(e0);
      encodeUs += e.user + e.system;
      bytes += (r.bodies.spans as { data: string | Uint8Array }).data.length; // set just above: bytes, not files
      batches.push(r.bodies);
    }
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < batches.length; i++) {
      for (const table of TABLE_ORDER) {
        const body = batches[i]![table];
        if (body === undefined || body.format === 'NativeFiles' || body.data.length === 0) continue;
        await ch.insertRaw(table, body, { insert_deduplicate: 1, insert_deduplication_token: `b-${i}-${table}` });
      }
    }
    const c = process.cpuUsage(c0);
    const wall = performance.now() - t0;
    const rows = batches.length * size;
    // Wait for background merges to go idle: 6 checks 500 ms apart with none running.
    const settleStart = Date.now();
    for (let quiet = 0; quiet < 6 && Date.now() - settleStart < 90_000;) {
      const rs = await ch.client.query({ query: 'SELECT count() AS n FROM system.merges', format: 'JSONEachRow' });
      quiet = Number(((await rs.json()) as Array<{ n: string | number }>)[0]!.n) === 0 ? quiet + 1 : 0;
      await new Promise((r) => setTimeout(r, 500));
    }
    const settled = process.cpuUsage(c0);
    await ch.client.close();
    return {
      format, size, encodeUsPerRow: encodeUs / rows, cpuUsPerRow: (c.user + c.system) / rows, wallUsPerRow: (wall * 1000) / rows,
      settledCpuUsPerRow: (settled.user + settled.system) / rows, bytesPerRow: bytes / rows,
    };
  } finally {
    // chDB's background merges may still be writing parts: retry the removal.
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 300 });
  }
}

if (opt.child !== undefined) {
  const [format, size, total] = opt.child.split(':') as [Format, string, string];
  process.stdout.write(JSON.stringify(await child(format, Number(size), Number(total))) + '\n');
  process.exit(0);
}

const sizes = (opt.sizes ?? '1000,5000,20000').split(',').map(Number);
const formats = (opt.formats ?? 'native,json').split(',') as Format[];
const total = Number(opt.rows ?? 60_000);
const rounds = Number(opt.rounds ?? 2);
const self = fileURLToPath(import.meta.url);
const results = new Map<string, Figure[]>();
for (let r = 0; r < rounds; r++) {
  for (const size of sizes) {
    for (const format of formats) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', `${format}:${size}:${total}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      const f = JSON.parse(out.trim().split('\n').pop()!) as Figure;
      results.set(`${format}:${size}`, [...(results.get(`${format}:${size}`) ?? []), f]);
      process.stderr.write(`round ${r + 1}: ${format}, ${size} rows/insert: insert ${f.cpuUsPerRow.toFixed(1)} µs CPU, encode ${f.encodeUsPerRow.toFixed(1)} µs CPU per row\n`);
    }
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
process.stdout.write(`\n${total} span rows per case, ${rounds} rounds, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}\n\n`);
process.stdout.write('| spans format | rows per insert | insert CPU µs per span row | insert CPU with merges | encode CPU µs per span | encode + insert | wall µs per span row (insert) | spans body bytes per row |\n|---|---|---|---|---|---|---|---|\n');
for (const size of sizes) {
  for (const format of formats) {
    const fs_ = results.get(`${format}:${size}`)!;
    const cpu = median(fs_.map((f) => f.cpuUsPerRow));
    const enc = median(fs_.map((f) => f.encodeUsPerRow));
    process.stdout.write(`| ${format === 'native' ? 'Native' : 'JSONEachRow'} | ${size.toLocaleString('en-US')} | ${cpu.toFixed(1)} | ${median(fs_.map((f) => f.settledCpuUsPerRow)).toFixed(1)} | ${enc.toFixed(1)} | ${(cpu + enc).toFixed(1)} | ${median(fs_.map((f) => f.wallUsPerRow)).toFixed(1)} | ${Math.round(fs_[0]!.bytesPerRow).toLocaleString('en-US')} |\n`);
  }
}
