/**
 * Profile helper for the processors' worker: runs processBatchEncoded on
 * version 2 messages (the bench's realistic OTLP request, as forwarded by
 * ingest) in a loop on the main thread, so `node --cpu-prof` shows where a
 * worker thread spends its time per span. Prints µs per span.
 *
 *   npx tsx bench/worker-profile.ts [seconds]
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/worker-profile.ts 10
 */
import { makeTemplate, SPANS_PER_REQUEST } from './e2e/request.js';
import { processBatchEncoded } from '../processors/worker.js';

const seconds = Number(process.argv[2] ?? 5);
const template = makeTemplate();
const body = new Uint8Array(template.body);
const batch = Array.from({ length: 10 }, (_, i) => ({
  offset: String(i),
  raw: body,
  meta: { tenant: 't', format: 'otlp-proto' as const, kind: 'spans' as const, receivedAtMs: Date.now() },
}));
const check = processBatchEncoded(batch);
if (check.counts.spans !== 10 * SPANS_PER_REQUEST || check.rejected.length > 0) throw new Error(`unexpected result ${JSON.stringify(check.counts)} ${JSON.stringify(check.rejected)}`);
let spans = 0;
const t0 = performance.now();
const c0 = process.cpuUsage();
while (performance.now() - t0 < seconds * 1000) {
  processBatchEncoded(batch);
  spans += 10 * SPANS_PER_REQUEST;
}
const c = process.cpuUsage(c0);
const wall = ((performance.now() - t0) * 1000) / spans;
const cpu = (c.user + c.system) / spans;
// CPU time (user + system of this process, incl. GC threads) is steadier than wall time on a shared machine.
process.stdout.write(`processBatchEncoded (v2 protobuf messages): ${cpu.toFixed(1)} µs CPU per span (${wall.toFixed(1)} µs wall), ${spans} spans\n`);
