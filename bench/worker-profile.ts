/**
 * Profile helper for the processors' worker: runs processBatchEncoded on
 * version 2 messages (the bench's realistic OTLP request, as forwarded by
 * ingest) in a loop on the main thread, so `node --cpu-prof` shows where a
 * worker thread spends its time per span. Prints µs per span.
 *
 *   npx tsx bench/worker-profile.ts [seconds] [--stages] [--alloc] [--sizes LIST]
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/worker-profile.ts 10
 *
 * `--stages` also times the stages one by one on 50 distinct requests
 * (5,000 spans), median of 6 runs each: decode (protobuf → OTLP shapes),
 * normalise (rows), aggregates, Native encoding of the span rows.
 *
 * `--alloc` prints bytes allocated per span by function (V8 sampling heap
 * profiler, objects already collected by GC included; 20 distinct requests
 * per batch).
 *
 * `--sizes 10,50,200` times whole batches of that many distinct requests
 * (1,000 / 5,000 / 20,000 spans; drawn in turn from 400 made up front), each
 * encoded in blocks of 1,024 rows as the worker does and as one block (rows
 * held until the end, as before), interleaved over 3 rounds of 4 s; process
 * CPU per span (GC threads included), median of the rounds.
 */
import { makeTemplate, RequestFactory, SPANS_PER_REQUEST } from './e2e/request.js';
import { processBatchEncoded } from '../processors/worker.js';
import { decodeTracesProtobuf } from '../ingest/otlp/decode.js';
import { otlpSpanToRow } from '../processors/normalize/spans.js';
import { aggregateBatch } from '../processors/aggregate.js';
import { aggregateFlagVariants } from '../processors/flag-variants.js';
import { encodeSpansNative } from '../processors/encode-native.js';
import type { SpanRow } from '../schemas/rows.js';

const seconds = Number(process.argv.slice(2).find((a) => /^\d/.test(a)) ?? 5);
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

if (process.argv.includes('--stages')) {
  const factory = new RequestFactory(template);
  const bodies = Array.from({ length: 50 }, () => new Uint8Array(factory.next().body));
  const n = bodies.length * SPANS_PER_REQUEST;
  const stage = <T>(label: string, fn: () => T): T => {
    let out!: T;
    const xs: number[] = [];
    for (let i = 0; i < 6; i++) {
      const c0 = process.cpuUsage();
      out = fn();
      const c = process.cpuUsage(c0);
      xs.push((c.user + c.system) / n);
    }
    xs.sort((a, b) => a - b);
    process.stdout.write(`  ${label}: ${xs[3]!.toFixed(1)} µs CPU per span\n`);
    return out;
  };
  const reqs = stage('decode (protobuf → OTLP shapes)', () => bodies.map((b) => decodeTracesProtobuf(b)));
  const rows = stage('normalise (rows, prices)', () => {
    const out: SpanRow[] = [];
    for (const req of reqs) for (const rs of req.resourceSpans) for (const ss of rs.scopeSpans) for (const sp of ss.spans) out.push(otlpSpanToRow('t', rs.resource, ss.scope, sp));
    return out;
  });
  stage('aggregates (series, user costs)', () => aggregateBatch(rows));
  stage('flag variants', () => aggregateFlagVariants(rows));
  stage('Native encoding of the span rows', () => encodeSpansNative(rows));
}

const sizesArg = process.argv.indexOf('--sizes');
if (sizesArg > 0) {
  const sizes = process.argv[sizesArg + 1]!.split(',').map(Number);
  const factory = new RequestFactory(template);
  const bodies = Array.from({ length: 400 }, () => new Uint8Array(factory.next().body));
  let next = 0;
  const batchOf = (n: number) => Array.from({ length: n }, (_, i) => ({
    offset: String(i),
    raw: bodies[next++ % bodies.length]!,
    meta: { tenant: 't', format: 'otlp-proto' as const, kind: 'spans' as const, receivedAtMs: Date.now() },
  }));
  const results = new Map<string, number[]>();
  for (let round = 0; round < 3; round++) {
    for (const size of sizes) {
      for (const [label, blockRows] of [['blocks of 1,024 rows', undefined], ['one block', Number.POSITIVE_INFINITY]] as const) {
        processBatchEncoded(batchOf(size), { blockRows });
        let n = 0;
        const t = performance.now();
        const c0 = process.cpuUsage();
        while (performance.now() - t < 4000) {
          processBatchEncoded(batchOf(size), { blockRows });
          n += size * SPANS_PER_REQUEST;
        }
        const c = process.cpuUsage(c0);
        const key = `${size}|${label}`;
        results.set(key, [...(results.get(key) ?? []), (c.user + c.system) / n]);
      }
    }
  }
  process.stdout.write('\n| messages per batch | spans | encoded | process CPU µs per span (median of 3) |\n|---|---|---|---|\n');
  for (const [key, xs] of results) {
    const [size, label] = key.split('|') as [string, string];
    xs.sort((a, b) => a - b);
    process.stdout.write(`| ${size} | ${(Number(size) * SPANS_PER_REQUEST).toLocaleString('en-US')} | ${label} | ${xs[1]!.toFixed(1)} |\n`);
  }
}

if (process.argv.includes('--alloc')) {
  // Bytes allocated per span by function, objects already collected included
  // (V8's sampling heap profiler, one sample per 4 KiB on average).
  const { Session } = await import('node:inspector/promises');
  const factory = new RequestFactory(template);
  const items = Array.from({ length: 20 }, (_, i) => ({
    offset: String(i),
    raw: new Uint8Array(factory.next().body),
    meta: { tenant: 't', format: 'otlp-proto' as const, kind: 'spans' as const, receivedAtMs: Date.now() },
  }));
  for (let i = 0; i < 100; i++) processBatchEncoded(items);
  interface ProfileNode { callFrame: { functionName: string; url: string }; selfSize: number; children: ProfileNode[] }
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
  const rounds = 200;
  for (let i = 0; i < rounds; i++) processBatchEncoded(items);
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
  session.disconnect();
  const bytes = new Map<string, number>();
  let total = 0;
  const walk = (n: ProfileNode): void => {
    const where = n.callFrame.url.includes('node_modules') ? n.callFrame.url.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, '$1') : n.callFrame.url.split('/').slice(-2).join('/');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${where}`;
    bytes.set(key, (bytes.get(key) ?? 0) + n.selfSize);
    total += n.selfSize;
    n.children.forEach(walk);
  };
  walk(profile.head);
  const spans = rounds * items.length * SPANS_PER_REQUEST;
  process.stdout.write(`\nallocated ~${(total / spans).toFixed(0)} bytes per span (sampled); top functions:\n`);
  for (const [key, b] of [...bytes].sort((x, y) => y[1] - x[1]).slice(0, 20)) process.stdout.write(`  ${(b / spans).toFixed(0).padStart(6)} B/span  ${key}\n`);
}
