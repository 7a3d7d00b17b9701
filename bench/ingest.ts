/**
 * Ingestion benchmarks (see bench/README.md for the method and the results).
 *
 *   npm run bench                       # all cases
 *   npm run bench -- --quick            # fewer/shorter runs (smoke check)
 *   npm run bench -- --no-kafka         # skip case 3 (no Java/Maven needed)
 *   npm run bench -- --out FILE         # also write the figures as JSON
 *
 * Cases:
 *   1. decode + validate + envelope (no HTTP, no publisher): protobuf vs JSON, gzip vs identity
 *   2. full HTTP path: buildIngestApp + app.inject(), in-process publisher that only counts
 *   3. same, with the real Kafka publisher against a local broker (startLocalKafka), c=1 and c=16
 *   4. processors/worker.ts: processBatch on version 1 envelopes (JSON, the object path), and
 *      processBatchEncoded on the protobuf requests as ingest forwards them (version 2: the
 *      columnar reader and Native blocks, the path `vigil` runs); single thread, Piscina (1 and 2 threads)
 *
 * Speed is measured here, never asserted in tests.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { makeSpans, SPANS_PER_REQUEST, SPANS_PER_TRACE, TRACES_PER_REQUEST } from './workload.js';
import type { FastifyInstance } from 'fastify';
import { buildIngestApp } from '../ingest/app.js';
import { envelopeMessage } from '../ingest/envelopes.js';
import { decodeTracesJson, decodeTracesProtobuf } from '../ingest/otlp/decode.js';
import { validateTraces } from '../ingest/otlp/validate.js';
import { createInProcessPublisher, createKafkaPublisher, type Publisher } from '../ingest/publisher.js';
import type { KeyVerifier } from '../platform/auth/keys.js';
import { createKafka } from '../platform/kafka/client.js';
import { startLocalKafka, type LocalKafka } from '../platform/kafka/local-broker.js';
import { ensureTopics } from '../platform/kafka/topics.js';
import { createLogger } from '../platform/logger.js';
import { cacheDir } from '../platform/paths.js';
import { createWorkerPool } from '../processors/pool.js';
import { processBatch, processBatchEncoded, type WorkerItem } from '../processors/worker.js';

// ------------------------------------------------------------------ settings

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const NO_KAFKA = argv.includes('--no-kafka');
const outIdx = argv.indexOf('--out');
const OUT = outIdx >= 0 ? argv[outIdx + 1] : undefined;

/** Runs per case; the median and min–max of the per-run figures are reported. */
const RUNS = QUICK ? 3 : 7;
/** Each CPU-bound run lasts at least this long (ms) and at least MIN_ITERS iterations. */
const RUN_MS = QUICK ? 300 : 1_000;
const MIN_ITERS = 5;
/** Warm-up before the runs of a case (ms of iterations, not measured). */
const WARMUP_MS = QUICK ? 300 : 1_500;
/** Kafka case: per run at most this many requests or this much time. */
const KAFKA_RUN_REQUESTS = QUICK ? 100 : 400;
const KAFKA_RUN_MS = QUICK ? 2_000 : 5_000;
const KAFKA_RUNS = QUICK ? 2 : 5;
/** Processor batch: the Kafka message values of this many requests (100 spans each). */
const REQUESTS_PER_BATCH = 10;

const log = createLogger('error');
const KEY = 'vgl_bench_key';
const TENANT = 'bench-project';
const keys: KeyVerifier = { verify: async (k) => (k === KEY ? { projectId: TENANT } : null) };
const LIMITS = {
  maxBodyBytes: 20 * 1024 * 1024,
  maxInflightBytes: 64 * 1024 * 1024,
  maxInflightRequests: 256,
  // under-pressure would answer 429 when the benchmark itself saturates the loop; measure the path, not the shedder.
  maxEventLoopDelayMs: 0,
};

// ------------------------------------------------------------------ stats

interface Stat {
  median: number;
  min: number;
  max: number;
  runs: number[];
}
function stat(values: number[]): Stat {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, runs: values };
}
function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
/** "median (min–max)" with a spread in % of the median. */
function fmt(s: Stat, digits = 0): string {
  const f = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const spread = s.median === 0 ? 0 : ((s.max - s.min) / s.median) * 100;
  return `${f(s.median)} (${f(s.min)}–${f(s.max)}, ±${(spread / 2).toFixed(0)}%)`;
}

/** Run `fn` for WARMUP_MS, then RUNS runs of ≥ RUN_MS; returns the iterations/s of each run. */
async function measure(fn: () => unknown | Promise<unknown>): Promise<number[]> {
  const t0 = performance.now();
  while (performance.now() - t0 < WARMUP_MS) await fn();
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let n = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < RUN_MS || n < MIN_ITERS) {
      await fn();
      n++;
      elapsed = performance.now() - start;
    }
    rates.push((n / elapsed) * 1000);
  }
  return rates;
}

// ------------------------------------------------------------------ input

type Variant = 'protobuf' | 'protobuf+gzip' | 'json' | 'json+gzip';
const VARIANTS: Variant[] = ['protobuf', 'protobuf+gzip', 'json', 'json+gzip'];

interface Body {
  variant: Variant;
  bytes: Buffer;
  /** Uncompressed size (what decode sees). */
  rawBytes: number;
  headers: Record<string, string>;
}

function makeBodies(spans: ReadableSpan[]): Record<Variant, Body> {
  const pb = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
  const js = Buffer.from(JsonTraceSerializer.serializeRequest(spans)!);
  const auth = { authorization: `Bearer ${KEY}` };
  const mk = (variant: Variant, raw: Buffer, type: string, gzip: boolean): Body => ({
    variant,
    bytes: gzip ? zlib.gzipSync(raw) : raw,
    rawBytes: raw.length,
    headers: { ...auth, 'content-type': type, ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
  });
  return {
    protobuf: mk('protobuf', pb, 'application/x-protobuf', false),
    'protobuf+gzip': mk('protobuf+gzip', pb, 'application/x-protobuf', true),
    json: mk('json', js, 'application/json', false),
    'json+gzip': mk('json+gzip', js, 'application/json', true),
  };
}

// ------------------------------------------------------------------ case 1

/** What the route does between body and publisher, plus the Kafka message encoding (envelopeMessage). */
function decodeValidateEnvelope(b: Body): number {
  const raw = b.variant.endsWith('+gzip') ? zlib.gunzipSync(b.bytes) : b.bytes;
  const decoded = b.variant.startsWith('protobuf') ? decodeTracesProtobuf(raw) : decodeTracesJson(raw);
  const v = validateTraces(decoded, TENANT, Date.now());
  if (v.accepted !== SPANS_PER_REQUEST) throw new Error(`accepted ${v.accepted}/${SPANS_PER_REQUEST}: ${v.problems.join('; ')}`);
  let bytes = 0;
  for (const e of v.envelopes) bytes += envelopeMessage(e).value.length;
  return bytes;
}

// ------------------------------------------------------------------ case 2/3 helpers

function countingPublisher(): { publisher: Publisher; spans: () => number } {
  let spans = 0;
  const publisher = createInProcessPublisher(async (_kind, envelopes) => {
    // Encode like the Kafka publisher does, so case 3 − case 2 is Kafka (client + broker) only.
    for (const e of envelopes) {
      envelopeMessage(e);
      spans += e.records.length;
    }
  });
  return { publisher, spans: () => spans };
}

async function post(app: FastifyInstance, b: Body): Promise<void> {
  const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: b.headers, payload: b.bytes });
  if (res.statusCode !== 200) throw new Error(`POST /v1/traces → ${res.statusCode}: ${res.body}`);
}

interface LoadResult {
  requests: number;
  seconds: number;
  latencies: number[];
}

/** `concurrency` loops posting `b` until `maxRequests` were sent or `maxMs` passed. */
async function load(app: FastifyInstance, b: Body, concurrency: number, maxRequests: number, maxMs: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let started = 0;
  const t0 = performance.now();
  const loop = async (): Promise<void> => {
    while (started < maxRequests && performance.now() - t0 < maxMs) {
      started++;
      const s = performance.now();
      await post(app, b);
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { requests: latencies.length, seconds: (performance.now() - t0) / 1000, latencies };
}

interface LoadStat {
  reqPerSec: Stat;
  spansPerSec: Stat;
  p50: Stat;
  p99: Stat;
  requests: number;
}

async function loadRuns(app: FastifyInstance, b: Body, concurrency: number, runs: number, maxRequests: number, maxMs: number, warmupRequests: number): Promise<LoadStat> {
  await load(app, b, concurrency, warmupRequests, maxMs);
  const rps: number[] = [];
  const p50: number[] = [];
  const p99: number[] = [];
  let requests = 0;
  for (let r = 0; r < runs; r++) {
    const res = await load(app, b, concurrency, maxRequests, maxMs);
    const sorted = [...res.latencies].sort((a, c) => a - c);
    rps.push(res.requests / res.seconds);
    p50.push(pct(sorted, 50));
    p99.push(pct(sorted, 99));
    requests += res.requests;
  }
  return { reqPerSec: stat(rps), spansPerSec: stat(rps.map((x) => x * SPANS_PER_REQUEST)), p50: stat(p50), p99: stat(p99), requests };
}

// ------------------------------------------------------------------ main

const results: Record<string, unknown> = {};
const out = (line = ''): void => {
  process.stdout.write(line + '\n');
};

async function main(): Promise<void> {
  const cpus = os.cpus();
  const machine = {
    node: process.version,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.type()} ${os.release()}`,
    date: new Date().toISOString(),
    quick: QUICK,
  };
  results['machine'] = machine;
  out(`# Vigil ingestion benchmark — ${machine.date}`);
  out(`node ${machine.node}, ${machine.cpus} × ${machine.cpuModel}, ${machine.memGiB} GiB, ${machine.platform}${QUICK ? ' (QUICK)' : ''}`);
  out(`runs ${RUNS} × ≥${RUN_MS} ms after ${WARMUP_MS} ms warm-up; figures: median (min–max, ±half-range % of median)`);

  const spans = makeSpans();
  const bodies = makeBodies(spans);
  out(`\ninput: 1 request = ${TRACES_PER_REQUEST} traces × ${SPANS_PER_TRACE} spans, ~20 attributes each (30 with gen_ai.*)`);
  const sizes: Record<string, { wire: number; raw: number }> = {};
  for (const v of VARIANTS) {
    sizes[v] = { wire: bodies[v].bytes.length, raw: bodies[v].rawBytes };
    out(`  ${v.padEnd(14)} ${String(bodies[v].bytes.length).padStart(7)} B on the wire (${bodies[v].rawBytes} B decoded)`);
  }
  const envBytes = decodeValidateEnvelope(bodies.protobuf);
  out(`  envelopes: ${validateTraces(decodeTracesProtobuf(bodies.protobuf.bytes), TENANT, Date.now()).envelopes.length} per request, ${envBytes} B of Kafka message values`);
  results['input'] = { spansPerRequest: SPANS_PER_REQUEST, traces: TRACES_PER_REQUEST, sizes, envelopeBytes: envBytes };

  // ---- case 1
  out('\n## 1. decode + validate + envelope (no HTTP)');
  out('| variant | requests/s | spans/s | MB/s (wire) | MB/s (decoded) |');
  out('|---|---|---|---|---|');
  const c1: Record<string, unknown> = {};
  for (const v of VARIANTS) {
    const rates = await measure(() => decodeValidateEnvelope(bodies[v]));
    const rps = stat(rates);
    const sps = stat(rates.map((x) => x * SPANS_PER_REQUEST));
    const mbw = stat(rates.map((x) => (x * bodies[v].bytes.length) / 1e6));
    const mbr = stat(rates.map((x) => (x * bodies[v].rawBytes) / 1e6));
    c1[v] = { reqPerSec: rps, spansPerSec: sps, mbPerSecWire: mbw, mbPerSecDecoded: mbr };
    out(`| ${v} | ${fmt(rps)} | ${fmt(sps)} | ${fmt(mbw, 1)} | ${fmt(mbr, 1)} |`);
  }
  // Breakdown of the identity variants: which stage costs what.
  out('\nstage breakdown (identity bodies), spans/s:');
  out('| variant | decode | decode+validate | decode+validate+envelopeMessage (above) |');
  out('|---|---|---|---|');
  for (const v of ['protobuf', 'json'] as const) {
    const dec = v === 'protobuf' ? decodeTracesProtobuf : decodeTracesJson;
    const r1 = stat((await measure(() => dec(bodies[v].bytes))).map((x) => x * SPANS_PER_REQUEST));
    const r2 = stat((await measure(() => validateTraces(dec(bodies[v].bytes), TENANT, Date.now()))).map((x) => x * SPANS_PER_REQUEST));
    c1[`${v}:stages`] = { decode: r1, decodeValidate: r2 };
    out(`| ${v} | ${fmt(r1)} | ${fmt(r2)} | ${fmt((c1[v] as { spansPerSec: Stat }).spansPerSec)} |`);
  }
  results['decode'] = c1;

  // ---- case 2
  out('\n## 2. HTTP path: buildIngestApp + app.inject(), counting in-process publisher (sequential)');
  out('| variant | requests/s | spans/s | MB/s (wire) |');
  out('|---|---|---|---|');
  const counting = countingPublisher();
  const app2 = buildIngestApp({ log, publisher: counting.publisher, keys, limits: LIMITS });
  await app2.ready();
  const c2: Record<string, unknown> = {};
  for (const v of VARIANTS) {
    const rates = await measure(() => post(app2, bodies[v]));
    const rps = stat(rates);
    const sps = stat(rates.map((x) => x * SPANS_PER_REQUEST));
    const mbw = stat(rates.map((x) => (x * bodies[v].bytes.length) / 1e6));
    c2[v] = { reqPerSec: rps, spansPerSec: sps, mbPerSecWire: mbw };
    out(`| ${v} | ${fmt(rps)} | ${fmt(sps)} | ${fmt(mbw, 1)} |`);
  }
  // Same load shape as case 3 (protobuf, c=1 and c=16) for the Kafka overhead ratio.
  out('\nin-process publisher, load shape of case 3 (protobuf identity):');
  out('| concurrency | requests/s | spans/s | p50 ms | p99 ms |');
  out('|---|---|---|---|---|');
  const c2load: Record<string, LoadStat> = {};
  for (const c of [1, 16]) {
    const s = await loadRuns(app2, bodies.protobuf, c, KAFKA_RUNS, KAFKA_RUN_REQUESTS * 4, KAFKA_RUN_MS, 100);
    c2load[`c${c}`] = s;
    out(`| ${c} | ${fmt(s.reqPerSec)} | ${fmt(s.spansPerSec)} | ${fmt(s.p50, 2)} | ${fmt(s.p99, 2)} |`);
  }
  await app2.close();
  results['http'] = { ...c2, load: c2load, spansCounted: counting.spans() };

  // ---- case 3
  if (NO_KAFKA) {
    out('\n## 3. Kafka publisher — skipped (--no-kafka)');
  } else {
    out('\n## 3. HTTP path + real Kafka publisher (local broker, acks=all, gzip, linger 5 ms, 6 partitions)');
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-kafka-'));
    let broker: LocalKafka | undefined;
    let publisher: (Publisher & { connect(): Promise<void> }) | undefined;
    let app3: FastifyInstance | undefined;
    try {
      const tb = performance.now();
      broker = await startLocalKafka({ version: process.env['VIGIL_KAFKA_VERSION'] ?? '3.9.1', cacheDir: cacheDir(), dataDir, log });
      out(`broker up in ${((performance.now() - tb) / 1000).toFixed(1)} s at ${broker.brokers.join(',')}`);
      const kafka = createKafka({ brokers: broker.brokers, clientId: 'vigil-bench', log });
      const topics = { spans: 'bench.spans', logs: 'bench.logs' };
      await ensureTopics(kafka, { topics: [topics.spans, topics.logs], partitions: 6, replication: 1 });
      publisher = createKafkaPublisher({ kafka, topics, lingerMs: 5, log });
      await publisher.connect();
      app3 = buildIngestApp({ log, publisher, keys, limits: LIMITS });
      await app3.ready();
      // A fresh KRaft broker can answer NOT_LEADER for a moment after its metadata
      // names the leaders; the publisher sends once (ingest/publisher.ts), so those
      // first requests get 503. Start timing once one request was acknowledged.
      for (const until = performance.now() + 30_000; ;) {
        try {
          await post(app3, bodies.protobuf);
          break;
        } catch (err) {
          if (performance.now() > until) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      out(`runs ${KAFKA_RUNS} per row, each ≤ ${KAFKA_RUN_REQUESTS} requests or ≤ ${KAFKA_RUN_MS} ms, after 50 warm-up requests`);
      out('| body | concurrency | requests/s | spans/s | p50 ms | p99 ms |');
      out('|---|---|---|---|---|---|');
      const c3: Record<string, LoadStat> = {};
      for (const v of ['protobuf', 'json+gzip'] as const) {
        for (const c of [1, 16]) {
          const s = await loadRuns(app3, bodies[v], c, KAFKA_RUNS, KAFKA_RUN_REQUESTS, KAFKA_RUN_MS, 50);
          c3[`${v}/c${c}`] = s;
          out(`| ${v} | ${c} | ${fmt(s.reqPerSec)} | ${fmt(s.spansPerSec)} | ${fmt(s.p50, 2)} | ${fmt(s.p99, 2)} |`);
        }
      }
      results['kafka'] = c3;
    } finally {
      await app3?.close().catch(() => undefined);
      await publisher?.close().catch(() => undefined);
      await broker?.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (broker) out('broker stopped, data dir removed');
    }
  }

  // ---- case 4
  out(`\n## 4. processors: processBatch on the Kafka message values (batch = ${REQUESTS_PER_BATCH} requests = ${REQUESTS_PER_BATCH * SPANS_PER_REQUEST} spans)`);
  const envelopes = validateTraces(decodeTracesProtobuf(bodies.protobuf.bytes), TENANT, Date.now()).envelopes;
  const values = envelopes.map((e) => envelopeMessage(e).value);
  const batch: string[] = [];
  for (let i = 0; i < REQUESTS_PER_BATCH; i++) batch.push(...values);
  const batchSpans = REQUESTS_PER_BATCH * SPANS_PER_REQUEST;
  const check = processBatch(batch);
  if (check.spans.length !== batchSpans || check.rejected.length > 0) throw new Error(`processBatch: ${check.spans.length} rows, ${check.rejected.length} rejected`);
  out(`  rows per batch: ${check.spans.length} spans, ${check.metrics.length} minute aggregates`);
  const c4: Record<string, unknown> = {};
  /**
   * Time one processor path: inline on this thread, then through Piscina pools
   * of 1 and 2 threads with 2 × threads batches in flight (so no thread waits
   * on the main thread). Figures go to c4 under `${key}inline` / `${key}piscinaN`
   * (key '' keeps the historical names inline / piscina1 / piscina2).
   */
  async function timeProcessors(key: string, inline: () => unknown, viaPool: (pool: ReturnType<typeof createWorkerPool>) => Promise<unknown>): Promise<void> {
    out('| mode | batches/s | spans/s |');
    out('|---|---|---|');
    const name = (k: string): string => (key === '' ? k : key + k[0]!.toUpperCase() + k.slice(1));
    const rates = await measure(inline);
    const s = { batchesPerSec: stat(rates), spansPerSec: stat(rates.map((x) => x * batchSpans)) };
    c4[name('inline')] = s;
    out(`| in-process, main thread | ${fmt(s.batchesPerSec, 1)} | ${fmt(s.spansPerSec)} |`);
    for (const threads of [1, 2]) {
      const pool = createWorkerPool({ threads, maxQueue: 64 });
      try {
        const inflight = threads * 2;
        const r = await measure(() => Promise.all(Array.from({ length: inflight }, () => viaPool(pool))));
        const t = { batchesPerSec: stat(r.map((x) => x * inflight)), spansPerSec: stat(r.map((x) => x * inflight * batchSpans)) };
        c4[name(`piscina${threads}`)] = t;
        out(`| Piscina, ${threads} thread${threads > 1 ? 's' : ''} (${inflight} batches in flight) | ${fmt(t.batchesPerSec, 1)} | ${fmt(t.spansPerSec)} |`);
      } finally {
        await pool.close();
      }
    }
  }
  await timeProcessors('', () => processBatch(batch), (pool) => pool.run(batch));
  // Version 2 messages: the protobuf request as received, decoded by the worker (processBatchEncoded).
  out(`\n  processBatchEncoded on the forwarded protobuf requests (version 2 messages; batch = ${REQUESTS_PER_BATCH} requests = ${batchSpans} spans)`);
  const items: WorkerItem[] = Array.from({ length: REQUESTS_PER_BATCH }, (_, i) => ({
    offset: String(i),
    raw: bodies.protobuf.bytes,
    meta: { tenant: TENANT, format: 'otlp-proto' as const, kind: 'spans' as const, receivedAtMs: Date.now() },
  }));
  const encoded = processBatchEncoded(items);
  if (encoded.counts.spans !== batchSpans || encoded.rejected.length > 0) throw new Error(`processBatchEncoded: ${encoded.counts.spans} rows, ${encoded.rejected.length} rejected`);
  await timeProcessors('encoded', () => processBatchEncoded(items), (pool) => pool.runEncoded(items));
  results['processors'] = c4;

  // ---- ratios
  const med = (x: unknown): number => (x as { median: number }).median;
  const d = results['decode'] as Record<Variant, { spansPerSec: Stat }>;
  const h = results['http'] as Record<Variant, { spansPerSec: Stat }> & { load: Record<string, LoadStat> };
  out('\n## ratios (medians)');
  const ratios: Record<string, number> = {
    'decode: protobuf / json (spans/s)': med(d.protobuf.spansPerSec) / med(d.json.spansPerSec),
    'decode: protobuf gzip / identity': med(d['protobuf+gzip'].spansPerSec) / med(d.protobuf.spansPerSec),
    'decode: json gzip / identity': med(d['json+gzip'].spansPerSec) / med(d.json.spansPerSec),
    'http: protobuf / json': med(h.protobuf.spansPerSec) / med(h.json.spansPerSec),
    'http: protobuf gzip / identity': med(h['protobuf+gzip'].spansPerSec) / med(h.protobuf.spansPerSec),
    'http: json gzip / identity': med(h['json+gzip'].spansPerSec) / med(h.json.spansPerSec),
    'http / decode-only (protobuf)': med(h.protobuf.spansPerSec) / med(d.protobuf.spansPerSec),
  };
  const k = results['kafka'] as Record<string, LoadStat> | undefined;
  if (k) {
    for (const c of [1, 16]) {
      ratios[`kafka / in-process, protobuf c=${c} (req/s)`] = med(k[`protobuf/c${c}`]!.reqPerSec) / med(h.load[`c${c}`]!.reqPerSec);
      ratios[`kafka − in-process p50 latency, c=${c} (ms)`] = med(k[`protobuf/c${c}`]!.p50) - med(h.load[`c${c}`]!.p50);
    }
  }
  const p = results['processors'] as Record<string, { spansPerSec: Stat }>;
  ratios['piscina 2 threads / inline'] = med(p['piscina2']!.spansPerSec) / med(p['inline']!.spansPerSec);
  ratios['piscina 2 threads / 1 thread'] = med(p['piscina2']!.spansPerSec) / med(p['piscina1']!.spansPerSec);
  for (const [name, r] of Object.entries(ratios)) out(`  ${name.padEnd(46)} ${r.toFixed(2)}`);
  results['ratios'] = ratios;

  if (OUT) {
    fs.mkdirSync(path.dirname(path.resolve(OUT)), { recursive: true });
    fs.writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n');
    out(`\nJSON written to ${OUT}`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
