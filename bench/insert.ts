/**
 * chDB insert cost per row of Vigil's own rows, by rows per insert (issue 6).
 *
 *   npx tsx bench/insert.ts [--sizes 1000,5000,20000] [--rows 60000] [--rounds 2]
 *
 * Method: rows are the real output of the processors' worker
 * (`processBatchEncoded` on the bench's OTLP request, bench/e2e/request.ts):
 * the encoded bodies (spans: a Native block; aggregates: JSONEachRow) of `spans`, `span_metrics_1m`, `span_user_costs_1m`
 * and `flag_variant_metrics_1m`, made before timing. Each size inserts the same
 * total number of spans (`--rows`) in sub-batches of that size, through
 * `ClickHouseHandle.insertRaw` (chDB raw insert, dedup token per insert, as
 * processors/writer.ts does) into a freshly migrated database. Measured: CPU
 * time of the whole process (user + system, so chDB's own threads count;
 * merges that run after the last insert are not waited for) and wall time,
 * per span row. Sizes are interleaved over `--rounds` rounds, each round in
 * its own data directory opened in a child process (chDB allows one data
 * directory per process). CPU time is reported because wall time on a shared
 * machine varies with other load.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { EncodedResult } from '../processors/worker.js';

const { values: opt } = parseArgs({
  options: { sizes: { type: 'string' }, rows: { type: 'string' }, rounds: { type: 'string' }, child: { type: 'string' } },
  strict: true,
});

interface Figure {
  size: number;
  cpuUsPerRow: number;
  wallUsPerRow: number;
  bytesPerRow: number;
}

async function child(size: number, total: number): Promise<Figure> {
  const { default: pino } = await import('pino');
  const { makeTemplate, RequestFactory, SPANS_PER_REQUEST } = await import('./e2e/request.js');
  const { processBatchEncoded } = await import('../processors/worker.js');
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
    for (let done = 0; done < total; done += size) {
      const items = Array.from({ length: Math.ceil(size / SPANS_PER_REQUEST) }, (_, j) => ({
        offset: String(j),
        raw: new Uint8Array(factory.next().body),
        meta: { tenant: 'bench', format: 'otlp-proto' as const, kind: 'spans' as const, receivedAtMs: Date.now() },
      }));
      const r = processBatchEncoded(items);
      bytes += r.bodies.spans.data.length;
      batches.push(r.bodies);
    }
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < batches.length; i++) {
      for (const table of TABLE_ORDER) {
        const body = batches[i]![table];
        if (body === undefined || body.data.length === 0) continue;
        await ch.insertRaw(table, body, { insert_deduplicate: 1, insert_deduplication_token: `b-${i}-${table}` });
      }
    }
    const c = process.cpuUsage(c0);
    const wall = performance.now() - t0;
    const rows = batches.length * size;
    await ch.client.close();
    return { size, cpuUsPerRow: (c.user + c.system) / rows, wallUsPerRow: (wall * 1000) / rows, bytesPerRow: bytes / rows };
  } finally {
    // chDB's background merges may still be writing parts: retry the removal.
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 300 });
  }
}

if (opt.child !== undefined) {
  const [size, total] = opt.child.split(':').map(Number) as [number, number];
  process.stdout.write(JSON.stringify(await child(size, total)) + '\n');
  process.exit(0);
}

const sizes = (opt.sizes ?? '1000,5000,20000').split(',').map(Number);
const total = Number(opt.rows ?? 60_000);
const rounds = Number(opt.rounds ?? 2);
const self = fileURLToPath(import.meta.url);
const results = new Map<number, Figure[]>();
for (let r = 0; r < rounds; r++) {
  for (const size of sizes) {
    const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', `${size}:${total}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const f = JSON.parse(out.trim().split('\n').pop()!) as Figure;
    results.set(size, [...(results.get(size) ?? []), f]);
    process.stderr.write(`round ${r + 1}: ${size} rows/insert: ${f.cpuUsPerRow.toFixed(1)} µs CPU, ${f.wallUsPerRow.toFixed(1)} µs wall per row\n`);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(results.get(sizes[sizes.length - 1]!)!.map((f) => f.cpuUsPerRow));
process.stdout.write(`\n${total} span rows per size, ${rounds} rounds, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}\n\n`);
process.stdout.write('| rows per insert | CPU µs per span row (median) | wall µs per span row (median) | CPU vs largest | spans body bytes per row |\n|---|---|---|---|---|\n');
for (const size of sizes) {
  const fs_ = results.get(size)!;
  const cpu = median(fs_.map((f) => f.cpuUsPerRow));
  process.stdout.write(`| ${size.toLocaleString('en-US')} | ${cpu.toFixed(1)} | ${median(fs_.map((f) => f.wallUsPerRow)).toFixed(1)} | ${(cpu / base).toFixed(2)}× | ${Math.round(fs_[0]!.bytesPerRow).toLocaleString('en-US')} |\n`);
}
