/**
 * End-to-end benchmark (issue 6): OTLP/HTTP protobuf → Vigil ingest → Kafka →
 * processors → ClickHouse (chDB) → query API, on this machine, at increasing
 * rates. Method and results: bench/README.md, "End to end (issue 6)".
 *
 *   npm run bench:e2e                                    # 5k…60k spans/s + max, 30 s per step
 *   npm run bench:e2e -- --rates 30000 --duration 300    # the 5-minute sustained run
 *   npm run bench:e2e -- --collector .cache/otelcol/build/otelcol-vigil-bench   # + the OTel Collector, same broker, same run
 *   npm run bench:e2e -- --target http://host:4318 [--header 'k: v']           # same load against another OTLP endpoint
 *   npm run bench:e2e -- --quick                         # smoke run (2 short steps)
 *
 * Options: --rates LIST (spans/s, comma-separated, `max` = closed loop),
 * --step S / --duration S (seconds per step), --warmup S, --settle S (max wait
 * after a step for storage to catch up), --connections N, --probe-ms MS,
 * --out FILE (JSON; default bench/results/e2e-<timestamp>.json), --cpu-prof
 * (node --cpu-prof on the Vigil process; profile kept in the run directory),
 * --keep (keep the temp run directory), --node-arg ARG (repeatable: a node
 * option for the Vigil process, e.g. --node-arg=--trace-gc; its output goes to
 * vigil.stdout.log in the run directory).
 *
 * Processes: this one (orchestration, /metrics scrapes, probe polling, /proc
 * sampling), the load generator (bench/e2e/loadgen.ts, forked), Vigil
 * (`node dist/bin/vigil.js start --no-demo`) with its broker JVM and embedded
 * Postgres as children, and optionally the collector.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import type { StepResult } from './e2e/loadgen.js';
import { LoadgenClient } from './e2e/loadgen-client.js';
import { ProbePoller, type ProbeStats } from './e2e/probes.js';
import { cpuSeconds, machineCpu, rssBytes, threadCpu, threadGroups } from './e2e/proc.js';
import { SPANS_PER_REQUEST } from './e2e/request.js';
import { buildIfStale, metric, scrapeMetrics, startCollector, startVigilProcess, type RunningCollector, type RunningVigilProcess } from './e2e/vigil.js';

// ------------------------------------------------------------------ options

const { values: opt } = parseArgs({
  options: {
    rates: { type: 'string' },
    step: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    settle: { type: 'string' },
    connections: { type: 'string' },
    'probe-ms': { type: 'string' },
    target: { type: 'string' },
    header: { type: 'string', multiple: true },
    collector: { type: 'string' },
    out: { type: 'string' },
    'cpu-prof': { type: 'boolean' },
    'node-arg': { type: 'string', multiple: true },
    keep: { type: 'boolean' },
    quick: { type: 'boolean' },
  },
  strict: true,
});

const QUICK = opt.quick === true;
const num = (v: string | undefined, d: number): number => {
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`not a number: ${v}`);
  return n;
};
const RATES: (number | null)[] = (opt.rates ?? (QUICK ? '5000,max' : '5000,10000,20000,30000,45000,60000,max'))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean)
  .map((s) => (s === 'max' ? null : num(s, 0)));
const STEP_S = num(opt.duration ?? opt.step, QUICK ? 8 : 30);
const WARMUP_S = num(opt.warmup, QUICK ? 3 : 10);
const SETTLE_S = num(opt.settle, QUICK ? 15 : 60);
const CONNECTIONS = num(opt.connections, 32);
const PROBE_MS = num(opt['probe-ms'], 250);
/** Storage keeps up at a step when ack→queryable p99 ≤ this and the backlog at the end is ≤ this much of the load. */
const KEEP_UP_MS = 2_000;

function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const f = path.join(dir, 'package.json');
    if (fs.existsSync(f) && (JSON.parse(fs.readFileSync(f, 'utf8')) as { name?: string }).name === 'vigil') return dir;
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the vigil package root');
}
const ROOT = findRoot();
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const OUT = opt.out ?? path.join(ROOT, 'bench/results', `e2e-${stamp}.json`);

const out = (line = ''): void => {
  process.stdout.write(line + '\n');
};
const note = (line: string): void => {
  process.stderr.write(`[bench:e2e ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};
const now = (): number => performance.timeOrigin + performance.now();

// ------------------------------------------------------------------ formatting

const f0 = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : n === Infinity ? '∞' : '–');
const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : n === Infinity ? '∞' : '–');
const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : n === Infinity ? '∞' : '–');
const ms = (n: number): string => (n === Infinity ? 'not seen' : !Number.isFinite(n) ? '–' : n >= 10_000 ? `${(n / 1000).toFixed(0)} s` : n >= 1000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`);
const mib = (b: number): string => (Number.isFinite(b) ? `${Math.round(b / 2 ** 20)}` : '–');
const rateName = (r: number | null): string => (r === null ? 'max' : f0(r));
function errorsText(r: StepResult): string {
  const parts = [...Object.entries(r.statuses).map(([k, v]) => `${k}×${v}`), ...Object.entries(r.errors).map(([k, v]) => `${k}×${v}`)];
  if (r.spansRejected > 0) parts.push(`${r.spansRejected} spans rejected`);
  return parts.length ? parts.join(', ') : '0';
}
const errorCount = (r: StepResult): number => Object.values(r.statuses).reduce((a, b) => a + b, 0) + Object.values(r.errors).reduce((a, b) => a + b, 0);

// ------------------------------------------------------------------ sampling

interface CpuSnap {
  t: number;
  sut?: number;
  broker?: number;
  brokerPid?: number;
  loadgen?: number;
  bench: number;
  postgres: number;
  machine: { busy: number; total: number };
  threads?: Map<number, { comm: string; cpu: number }>;
}

function snap(sutPid: number | undefined, brokerPid: number | undefined, loadgenPid: number, postgres: number[] = []): CpuSnap {
  const b = process.cpuUsage();
  return {
    t: now(),
    sut: sutPid === undefined ? undefined : cpuSeconds(sutPid),
    broker: brokerPid === undefined ? undefined : cpuSeconds(brokerPid),
    brokerPid,
    loadgen: cpuSeconds(loadgenPid),
    bench: (b.user + b.system) / 1e6,
    postgres: postgres.reduce((a, p) => a + (cpuSeconds(p) ?? 0), 0),
    machine: machineCpu(),
    threads: sutPid === undefined ? undefined : threadCpu(sutPid),
  };
}

interface CpuDelta {
  seconds: number;
  sut: number;
  broker: number;
  loadgen: number;
  bench: number;
  postgres: number;
  machineBusy: number;
  /** Busy CPU of the machine not used by the processes above (other sessions on the box), seconds. */
  others: number;
}

function delta(a: CpuSnap, b: CpuSnap): CpuDelta {
  const d = (x?: number, y?: number): number => (x !== undefined && y !== undefined ? y - x : NaN);
  const broker = a.brokerPid === b.brokerPid ? d(a.broker, b.broker) : NaN; // the JVM was restarted in between
  const machineBusy = b.machine.busy - a.machine.busy;
  const mine = [d(a.sut, b.sut), broker, d(a.loadgen, b.loadgen), b.bench - a.bench, b.postgres - a.postgres].filter(Number.isFinite).reduce((x, y) => x + y, 0);
  return {
    seconds: (b.t - a.t) / 1000,
    sut: d(a.sut, b.sut),
    broker,
    loadgen: d(a.loadgen, b.loadgen),
    bench: b.bench - a.bench,
    postgres: b.postgres - a.postgres,
    machineBusy,
    others: Math.max(0, machineBusy - mine),
  };
}

/** Samples RSS (and, for Vigil, the stored/accepted counters) every second while a step runs. */
class Sampler {
  readonly series: { t: number; sutRss?: number; brokerRss?: number; stored?: number; accepted?: number; lagMessages?: number }[] = [];
  maxSutRss = NaN;
  maxBrokerRss = NaN;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  constructor(
    private readonly sutPid: () => number | undefined,
    private readonly brokerPid: () => number | undefined,
    private readonly metricsUrl?: string,
  ) {}
  start(): void {
    this.timer = setInterval(() => void this.sample(), 1_000);
    void this.sample();
  }
  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const s = this.sutPid();
      const b = this.brokerPid();
      const sutRss = s === undefined ? undefined : rssBytes(s);
      const brokerRss = b === undefined ? undefined : rssBytes(b);
      if (sutRss !== undefined) this.maxSutRss = Number.isNaN(this.maxSutRss) ? sutRss : Math.max(this.maxSutRss, sutRss);
      if (brokerRss !== undefined) this.maxBrokerRss = Number.isNaN(this.maxBrokerRss) ? brokerRss : Math.max(this.maxBrokerRss, brokerRss);
      const row: (typeof this.series)[number] = { t: Math.round(now()), sutRss, brokerRss };
      if (this.metricsUrl) {
        try {
          const m = await scrapeMetrics(this.metricsUrl);
          row.stored = metric(m, 'vigil_clickhouse_rows_total', { table: 'spans' });
          row.accepted = metric(m, 'vigil_ingest_records_total', { signal: 'spans', outcome: 'accepted' });
          row.lagMessages = metric(m, 'vigil_processor_lag_messages');
        } catch {
          /* a slow scrape under load; the next one counts */
        }
      }
      this.series.push(row);
    } finally {
      this.busy = false;
    }
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

// ------------------------------------------------------------------ steps

interface VigilCounters {
  stored: number;
  accepted: number;
  eventLoopLagP99: number;
  gcSeconds: number;
  /** Histogram sums (s) and counts. */
  insertSpansSum: number;
  insertSpansCount: number;
  publishSum: number;
  publishCount: number;
  tracePollSum: number;
  tracePollCount: number;
}

async function counters(v: RunningVigilProcess): Promise<VigilCounters> {
  const m = await scrapeMetrics(v.queryUrl);
  return {
    stored: metric(m, 'vigil_clickhouse_rows_total', { table: 'spans' }),
    accepted: metric(m, 'vigil_ingest_records_total', { signal: 'spans', outcome: 'accepted' }),
    eventLoopLagP99: metric(m, 'vigil_nodejs_eventloop_lag_p99_seconds'),
    gcSeconds: metric(m, 'vigil_nodejs_gc_duration_seconds_sum'),
    insertSpansSum: metric(m, 'vigil_clickhouse_insert_duration_seconds_sum', { table: 'spans' }),
    insertSpansCount: metric(m, 'vigil_clickhouse_insert_duration_seconds_count', { table: 'spans' }),
    publishSum: metric(m, 'vigil_kafka_publish_duration_seconds_sum'),
    publishCount: metric(m, 'vigil_kafka_publish_duration_seconds_count'),
    tracePollSum: metric(m, 'vigil_query_duration_seconds_sum', { route: '/api/v1/traces/:traceId' }),
    tracePollCount: metric(m, 'vigil_query_duration_seconds_count', { route: '/api/v1/traces/:traceId' }),
  };
}

interface StepReport {
  system: 'vigil' | 'collector' | 'target';
  step: string;
  target: number | null;
  load: StepResult;
  ackedPerSec: number;
  cpu: CpuDelta;
  /** CPU from the start of the step to the end of its settle phase (Vigil: includes draining its backlog). */
  cpuWithSettle: CpuDelta;
  sutRssMax: number;
  brokerRssMax: number;
  threads?: Record<string, { threads: number; cpu: number }>;
  // Vigil only
  storedPerSec?: number;
  storedOverAcked?: number;
  backlogAtEnd?: number;
  backlogAtStart?: number;
  drainedAfterMs?: number | null;
  probes?: ProbeStats;
  eventLoopLagP99Ms?: number;
  gcSecondsPerSecond?: number;
  /** Spans inserts during the step: count, mean rows per insert, mean duration (ms). */
  inserts?: { count: number; rowsPerInsert: number; meanMs: number };
  /** Producer flushes during the step: count and mean flush→ack (ms). */
  publish?: { count: number; meanMs: number };
  /** Probe polls (GET /api/v1/traces/:id) during the step: count and mean server time (ms). */
  probePolls?: { count: number; meanMs: number };
  loadavg1?: number;
  keepsUp?: boolean;
  keepsUpWhy?: string[];
  series?: Sampler['series'];
}

async function runStep(opts: {
  system: StepReport['system'];
  step: string;
  rate: number | null;
  seconds: number;
  lg: LoadgenClient;
  sutPid?: () => number | undefined;
  brokerPid?: () => number | undefined;
  postgresPids?: () => number[];
  vigil?: RunningVigilProcess;
  probes?: ProbePoller;
}): Promise<StepReport> {
  const sut = opts.sutPid ?? (() => undefined);
  const brk = opts.brokerPid ?? (() => undefined);
  const pg = opts.postgresPids ?? (() => []);
  const sampler = new Sampler(sut, brk, opts.vigil?.queryUrl);
  const c0 = opts.vigil ? await counters(opts.vigil) : undefined;
  const s0 = snap(sut(), brk(), opts.lg.pid, pg());
  sampler.start();
  const load = await opts.lg.step({ step: opts.step, rate: opts.rate, durationMs: opts.seconds * 1000, probeEveryMs: opts.probes ? PROBE_MS : 0 });
  const s1 = snap(sut(), brk(), opts.lg.pid, pg());
  const c1 = opts.vigil ? await counters(opts.vigil) : undefined;
  const ackedPerSec = load.spansAcked / load.secondsWithDrain;
  const loadavg1 = os.loadavg()[0];
  const cpu = delta(s0, s1);
  const report: StepReport = {
    system: opts.system,
    step: opts.step,
    target: opts.rate,
    load,
    ackedPerSec,
    cpu,
    cpuWithSettle: cpu,
    sutRssMax: NaN,
    brokerRssMax: NaN,
    threads: s0.threads && s1.threads ? threadGroups(sut()!, s0.threads, s1.threads) : undefined,
    loadavg1,
  };
  if (opts.vigil && c0 && c1) {
    // Settle: wait until everything acked is stored and the step's probes are visible (bounded).
    const t0 = now();
    let drainedAfterMs: number | null = null;
    for (;;) {
      let c: VigilCounters | undefined;
      try {
        c = await counters(opts.vigil);
      } catch {
        /* slow scrape */
      }
      if (c && drainedAfterMs === null && c.stored >= c.accepted) drainedAfterMs = now() - t0;
      if (drainedAfterMs !== null && opts.probes!.outstanding(opts.step) === 0) break;
      if (now() - t0 > SETTLE_S * 1000) break;
      await sleep(250);
    }
    const s2 = snap(sut(), brk(), opts.lg.pid, pg());
    report.cpuWithSettle = delta(s0, s2);
    report.storedPerSec = (c1.stored - c0.stored) / cpu.seconds;
    report.storedOverAcked = report.storedPerSec / ackedPerSec;
    report.backlogAtStart = c0.accepted - c0.stored;
    report.backlogAtEnd = c1.accepted - c1.stored;
    report.drainedAfterMs = drainedAfterMs;
    report.probes = opts.probes!.stats(opts.step);
    report.eventLoopLagP99Ms = c1.eventLoopLagP99 * 1000;
    report.gcSecondsPerSecond = (c1.gcSeconds - c0.gcSeconds) / cpu.seconds;
    const ni = c1.insertSpansCount - c0.insertSpansCount;
    report.inserts = { count: ni, rowsPerInsert: ni > 0 ? (c1.stored - c0.stored) / ni : NaN, meanMs: ni > 0 ? ((c1.insertSpansSum - c0.insertSpansSum) / ni) * 1000 : NaN };
    const np = c1.publishCount - c0.publishCount;
    report.publish = { count: np, meanMs: np > 0 ? ((c1.publishSum - c0.publishSum) / np) * 1000 : NaN };
    const nq = c1.tracePollCount - c0.tracePollCount;
    report.probePolls = { count: nq, meanMs: nq > 0 ? ((c1.tracePollSum - c0.tracePollSum) / nq) * 1000 : NaN };
    const why: string[] = [];
    if (errorCount(load) > 0 || load.spansRejected > 0) why.push('errors');
    if (opts.rate !== null && ackedPerSec < 0.9 * opts.rate) why.push(`acked ${f0(ackedPerSec)} < 90 % of target`);
    if (!(report.probes.p99 <= KEEP_UP_MS)) why.push(`ack→queryable p99 ${ms(report.probes.p99)} > ${KEEP_UP_MS / 1000} s`);
    if (report.backlogAtEnd > (KEEP_UP_MS / 1000) * ackedPerSec) why.push(`backlog ${f0(report.backlogAtEnd)} spans at the end (> ${KEEP_UP_MS / 1000} s of load)`);
    if (drainedAfterMs === null) why.push(`not drained within ${SETTLE_S} s`);
    report.keepsUp = why.length === 0;
    report.keepsUpWhy = why;
  }
  sampler.stop();
  report.sutRssMax = sampler.maxSutRss;
  report.brokerRssMax = sampler.maxBrokerRss;
  report.series = sampler.series;
  return report;
}

function stepLine(r: StepReport): string {
  const base = `${r.system} ${r.step}: acked ${f0(r.ackedPerSec)} spans/s (p50 ${ms(r.load.latency.p50)}, p99 ${ms(r.load.latency.p99)}), errors ${errorsText(r.load)}`;
  if (r.system !== 'vigil') return base;
  return `${base}; stored ${f0(r.storedPerSec ?? NaN)}/s, backlog ${f0(r.backlogAtEnd ?? NaN)}, queryable p50 ${ms(r.probes?.p50 ?? NaN)} p99 ${ms(r.probes?.p99 ?? NaN)}; keeps up: ${r.keepsUp ? 'yes' : `no (${(r.keepsUpWhy ?? []).join('; ')})`}`;
}

// ------------------------------------------------------------------ tables

const us = (cpuSec: number, spans: number): number => (spans > 0 ? (cpuSec * 1e6) / spans : NaN);

function vigilTables(rows: StepReport[]): string[] {
  const L: string[] = [];
  L.push('| step (target spans/s) | acked spans/s | errors | ack p50 / p99 | stored spans/s | stored / acked | backlog at end (spans) | drained after | ack→queryable p50 / p99 (probes) | keeps up |');
  L.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const p = r.probes!;
    L.push(
      `| ${r.step} | ${f0(r.ackedPerSec)} | ${errorsText(r.load)} | ${ms(r.load.latency.p50)} / ${ms(r.load.latency.p99)} | ${f0(r.storedPerSec!)} | ${f2(r.storedOverAcked!)} | ${f0(r.backlogAtEnd!)} | ${r.drainedAfterMs === null ? `> ${SETTLE_S} s` : ms(r.drainedAfterMs!)} | ${ms(p.p50)} / ${ms(p.p99)} (${p.visible}/${p.sent}) | ${r.keepsUp ? '**yes**' : 'no'} |`,
    );
  }
  L.push('');
  L.push('CPU per acked span (µs; step + settle, i.e. including storing the step\'s backlog), cores used during the step, peak RSS:');
  L.push('');
  L.push('| step | Vigil µs/span | broker µs/span | Vigil + broker µs/span | Vigil cores | Vigil main thread cores | broker cores | load generator cores | other load on the box (cores) | Vigil RSS MiB | broker RSS MiB | event-loop lag p99 | GC s/s |');
  L.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const c = r.cpuWithSettle;
    const spans = r.load.spansAcked;
    const main = r.threads?.['main']?.cpu ?? NaN;
    L.push(
      `| ${r.step} | ${f1(us(c.sut, spans))} | ${f1(us(c.broker, spans))} | ${f1(us(c.sut + c.broker, spans))} | ${f2(r.cpu.sut / r.cpu.seconds)} | ${f2(main / r.cpu.seconds)} | ${f2(r.cpu.broker / r.cpu.seconds)} | ${f2(r.cpu.loadgen / r.cpu.seconds)} | ${f2(r.cpu.others / r.cpu.seconds)} | ${mib(r.sutRssMax)} | ${mib(r.brokerRssMax)} | ${ms(r.eventLoopLagP99Ms ?? NaN)} | ${f2(r.gcSecondsPerSecond ?? NaN)} |`,
    );
  }
  L.push('');
  L.push('Inside Vigil during each step (from its /metrics): ClickHouse inserts into spans, Kafka producer flushes, probe polls of the query API:');
  L.push('');
  L.push('| step | span inserts/s | rows per insert | insert mean | producer flushes/s | flush→ack mean | probe polls/s | poll mean (server) | load average (1 min) |');
  L.push('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const sec = r.cpu.seconds;
    L.push(
      `| ${r.step} | ${f1(r.inserts!.count / sec)} | ${f0(r.inserts!.rowsPerInsert)} | ${ms(r.inserts!.meanMs)} | ${f1(r.publish!.count / sec)} | ${ms(r.publish!.meanMs)} | ${f1(r.probePolls!.count / sec)} | ${ms(r.probePolls!.meanMs)} | ${f1(r.loadavg1 ?? NaN)} |`,
    );
  }
  return L;
}

function threadTable(r: StepReport): string[] {
  if (!r.threads) return [];
  const L = [`Vigil threads during step ${r.step} (cores = CPU s / ${r.cpu.seconds.toFixed(0)} s; grouped by thread name, main = the event loop):`, '', '| thread | count | cores |', '|---|---|---|'];
  const groups = Object.entries(r.threads).filter(([, g]) => g.cpu > 0).sort((a, b) => b[1].cpu - a[1].cpu);
  for (const [name, g] of groups.slice(0, 10)) L.push(`| ${name} | ${g.threads} | ${f2(g.cpu / r.cpu.seconds)} |`);
  const rest = groups.slice(10).reduce((a, [, g]) => a + g.cpu, 0);
  if (rest > 0) L.push(`| (others) | ${groups.length - 10} groups | ${f2(rest / r.cpu.seconds)} |`);
  return L;
}

function loadOnlyTable(rows: StepReport[], label: string): string[] {
  const L: string[] = [];
  L.push(`| step (target spans/s) | acked spans/s | errors | ack p50 / p99 | ${label} µs/span | broker µs/span | sum µs/span | ${label} cores | broker cores | load generator cores | other load (cores) | ${label} RSS MiB |`);
  L.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const c = r.cpu;
    const spans = r.load.spansAcked;
    L.push(
      `| ${r.step} | ${f0(r.ackedPerSec)} | ${errorsText(r.load)} | ${ms(r.load.latency.p50)} / ${ms(r.load.latency.p99)} | ${f1(us(c.sut, spans))} | ${f1(us(c.broker, spans))} | ${f1(us(c.sut + (Number.isFinite(c.broker) ? c.broker : 0), spans))} | ${f2(c.sut / c.seconds)} | ${f2(c.broker / c.seconds)} | ${f2(c.loadgen / c.seconds)} | ${f2(c.others / c.seconds)} | ${mib(r.sutRssMax)} |`,
    );
  }
  return L;
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const cpus = os.cpus();
  let git = 'unknown';
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    git = dirty ? `${head} + uncommitted changes in ${dirty.split('\n').length} tracked files` : head;
  } catch {
    /* not a git checkout */
  }
  const machine = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.type()} ${os.release()}`,
    loadavgAtStart: os.loadavg(),
    git,
  };
  const settings = { rates: RATES, stepSeconds: STEP_S, warmupSeconds: WARMUP_S, settleSeconds: SETTLE_S, connections: CONNECTIONS, probeEveryMs: PROBE_MS, keepUpMs: KEEP_UP_MS, target: opt.target, collector: opt.collector, cpuProf: opt['cpu-prof'] === true };
  out(`# Vigil end-to-end benchmark — ${machine.date}`);
  out(`node ${machine.node}, ${machine.cpus} × ${machine.cpuModel}, ${machine.memGiB} GiB, ${machine.platform}; load average at start ${machine.loadavgAtStart.map((x) => x.toFixed(1)).join(' ')}; git ${git}`);
  out(`steps ${RATES.map(rateName).join(', ')} spans/s × ${STEP_S} s (warm-up ${WARMUP_S} s, settle ≤ ${SETTLE_S} s), ${CONNECTIONS} connections, 1 request = ${SPANS_PER_REQUEST} spans (OTLP protobuf)`);

  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-e2e-'));
  const results: Record<string, unknown> = { machine, settings, runDir };
  const vigilRows: StepReport[] = [];
  const collectorRows: StepReport[] = [];
  const targetRows: StepReport[] = [];
  let vigil: RunningVigilProcess | undefined;
  let collector: RunningCollector | undefined;
  let probes: ProbePoller | undefined;
  const loadgens: LoadgenClient[] = [];
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    note('interrupted: stopping after the current step (Ctrl-C again to exit at once)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    if (opt.target) {
      // ---------------------------------------------------------- another OTLP endpoint
      const u = new URL(opt.target);
      const headers: Record<string, string> = { 'content-type': 'application/x-protobuf' };
      for (const h of opt.header ?? []) {
        const i = h.indexOf(':');
        if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
      }
      const lg = await LoadgenClient.start({ origin: u.origin, path: u.pathname === '/' ? '/v1/traces' : u.pathname, headers, connections: CONNECTIONS, instance: 3 }, () => undefined);
      loadgens.push(lg);
      note(`target ${opt.target}: warm-up ${WARMUP_S} s`);
      await lg.step({ step: 'warm-up', rate: RATES.find((r) => r !== null) ?? 5000, durationMs: WARMUP_S * 1000, probeEveryMs: 0 });
      for (const rate of RATES) {
        if (interrupted) break;
        const r = await runStep({ system: 'target', step: rateName(rate), rate, seconds: STEP_S, lg });
        note(stepLine(r));
        targetRows.push(r);
      }
    } else {
      // ---------------------------------------------------------- Vigil (and the collector)
      note('building (scripts/build-if-stale.mjs)');
      buildIfStale(ROOT);
      note(`starting vigil (data dir ${runDir}/vigil-data)`);
      const tStart = now();
      vigil = await startVigilProcess({ root: ROOT, runDir, cpuProfDir: opt['cpu-prof'] ? path.join(runDir, 'cpu-prof') : undefined, nodeArgs: opt['node-arg'], log: note });
      const startSeconds = (now() - tStart) / 1000;
      note(`vigil pid ${vigil.pid} up in ${startSeconds.toFixed(1)} s; broker ${vigil.brokers.join(',')} pid ${vigil.brokerPid() ?? '?'}`);
      results['vigil'] = { pid: vigil.pid, startSeconds, ingestUrl: vigil.ingestUrl, queryUrl: vigil.queryUrl, brokers: vigil.brokers, env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('VIGIL_'))) };
      const v = vigil;

      if (opt.collector) {
        // The collector runs first, while Vigil is idle (no backlog competing for the CPUs).
        if (v.brokers.length === 0) throw new Error('could not read the local broker address from Vigil\'s log ("local Kafka ready")');
        collector = await startCollector({ bin: path.resolve(opt.collector), brokers: v.brokers, runDir, topic: 'bench.otelcol.spans', partitions: Number(process.env['VIGIL_KAFKA_PARTITIONS'] ?? 2), log: note });
        const c = collector;
        let version = 'unknown';
        try {
          const comps = execFileSync(path.resolve(opt.collector), ['components'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
          version = [...comps.matchAll(/module: (\S*(?:otlpreceiver|kafkaexporter) \S+)/g)].map((m) => m[1]).join(', ') || 'unknown';
        } catch {
          /* ignore */
        }
        note(`collector components: ${version}`);
        results['collector'] = { bin: opt.collector, version, url: c.url, topic: c.topic };
        const lg = await LoadgenClient.start({ origin: c.url, path: '/v1/traces', headers: { 'content-type': 'application/x-protobuf' }, connections: CONNECTIONS, instance: 2 }, () => undefined);
        loadgens.push(lg);
        note(`collector: warm-up ${WARMUP_S} s`);
        await lg.step({ step: 'warm-up', rate: RATES.find((r) => r !== null) ?? 5000, durationMs: WARMUP_S * 1000, probeEveryMs: 0 });
        for (const rate of RATES) {
          if (interrupted) break;
          const r = await runStep({ system: 'collector', step: rateName(rate), rate, seconds: STEP_S, lg, sutPid: () => c.pid, brokerPid: () => v.brokerPid() });
          note(stepLine(r));
          collectorRows.push(r);
          await sleep(2_000);
        }
        await lg.stop();
        await c.stop();
        collector = undefined;
      }

      probes = new ProbePoller(v.queryUrl, v.apiKey);
      const p = probes;
      const lg = await LoadgenClient.start(
        { origin: v.ingestUrl, path: '/v1/traces', headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${v.apiKey}` }, connections: CONNECTIONS, instance: 1 },
        (m) => p.add(m.step, m.traceId, m.ackedAt),
      );
      loadgens.push(lg);
      note(`vigil: warm-up ${WARMUP_S} s`);
      const warm = await runStep({ system: 'vigil', step: 'warm-up', rate: RATES.find((r) => r !== null) ?? 5000, seconds: WARMUP_S, lg, sutPid: () => v.pid, brokerPid: () => v.brokerPid(), postgresPids: () => v.postgresPids(), vigil: v, probes: p });
      note(stepLine(warm));
      results['vigilWarmup'] = warm;
      for (const rate of RATES) {
        if (interrupted || v.exited()) break;
        const r = await runStep({ system: 'vigil', step: rateName(rate), rate, seconds: STEP_S, lg, sutPid: () => v.pid, brokerPid: () => v.brokerPid(), postgresPids: () => v.postgresPids(), vigil: v, probes: p });
        note(stepLine(r));
        vigilRows.push(r);
      }
      // Probes still outstanding (a backlog): give them up to --settle more, then count them as not seen.
      const tw = now();
      while (p.outstanding() > 0 && now() - tw < SETTLE_S * 1000 && !interrupted) await sleep(500);
      for (const r of [warm, ...vigilRows]) r.probes = p.stats(r.step);
      const final = await counters(v).catch(() => undefined);
      results['vigilTotals'] = final && { accepted: final.accepted, stored: final.stored, storedMinusAccepted: final.stored - final.accepted };
      results['vigilWarnings'] = v.warnings();
      results['probePollErrors'] = p.pollErrors;
    }
  } finally {
    for (const lg of loadgens) await lg.stop().catch(() => undefined);
    await probes?.close().catch(() => undefined);
    await collector?.stop().catch(() => undefined);
    if (vigil) {
      note('stopping vigil (SIGTERM)');
      const s = await vigil.stop();
      results['vigilExit'] = s;
      if (opt['cpu-prof']) {
        const dir = path.join(runDir, 'cpu-prof');
        const files = fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => path.join(dir, f)) : [];
        results['cpuProfiles'] = files;
        note(`CPU profiles: ${files.join(', ') || 'none written'}`);
      }
    }
    if (!opt.keep && !opt['cpu-prof']) fs.rmSync(runDir, { recursive: true, force: true });
    else note(`run directory kept: ${runDir}`);
  }

  // ---------------------------------------------------------- report
  machine.loadavgAtStart = machine.loadavgAtStart.map((x) => Math.round(x * 100) / 100);
  results['loadavgAtEnd'] = os.loadavg();
  out('');
  if (targetRows.length) {
    out(`## ${opt.target}`);
    out('');
    for (const l of loadOnlyTable(targetRows, 'target')) out(l);
  }
  if (vigilRows.length) {
    out('## Vigil (embedded: chDB, local Kafka broker), OTLP/HTTP protobuf');
    out('');
    for (const l of vigilTables(vigilRows)) out(l);
    const top = [...vigilRows].sort((a, b) => b.ackedPerSec - a.ackedPerSec)[0]!;
    out('');
    for (const l of threadTable(top)) out(l);
  }
  if (collectorRows.length) {
    out('');
    out('## OpenTelemetry Collector (otlp → kafka, required_acks −1, gzip, no queue), same broker');
    out('');
    for (const l of loadOnlyTable(collectorRows, 'collector')) out(l);
  }
  if (vigilRows.length) {
    const keep = vigilRows.filter((r) => r.keepsUp);
    const best = keep.sort((a, b) => b.ackedPerSec - a.ackedPerSec)[0];
    const vMax = [...vigilRows].sort((a, b) => b.ackedPerSec - a.ackedPerSec)[0]!;
    const cMax = collectorRows.length ? [...collectorRows].sort((a, b) => b.ackedPerSec - a.ackedPerSec)[0] : undefined;
    const ratio = (a: number, b: number | undefined): string => (b !== undefined && b > 0 && Number.isFinite(a) ? f2(a / b) : '–');
    const sumUs = (r: StepReport): number => us(r.cpuWithSettle.sut + r.cpuWithSettle.broker, r.load.spansAcked);
    const cSumUs = (r: StepReport): number => us(r.cpu.sut + r.cpu.broker, r.load.spansAcked);
    out('');
    out('## Summary (same run)');
    out('');
    out('| | Vigil | OTel Collector | Vigil / Collector |');
    out('|---|---|---|---|');
    out(`| highest acked rate (step) | ${f0(vMax.ackedPerSec)} spans/s (${vMax.step}), p99 ${ms(vMax.load.latency.p99)} | ${cMax ? `${f0(cMax.ackedPerSec)} spans/s (${cMax.step}), p99 ${ms(cMax.load.latency.p99)}` : '–'} | ${ratio(vMax.ackedPerSec, cMax?.ackedPerSec)} |`);
    out(`| stored while at that rate | ${f0(vMax.storedPerSec!)} spans/s | – | ${ratio(vMax.storedPerSec!, cMax?.ackedPerSec)} |`);
    out(`| ack→queryable at that rate, p50 / p99 | ${ms(vMax.probes!.p50)} / ${ms(vMax.probes!.p99)} | – | |`);
    out(`| highest step where storage keeps up (p99 ≤ 2 s, stored = acked) | ${best ? `${f0(best.ackedPerSec)} spans/s (step ${best.step})` : 'none'} | – | ${best ? ratio(best.ackedPerSec, cMax?.ackedPerSec) : '–'} |`);
    out(`| CPU per span at the highest acked rate (incl. broker) | ${f1(sumUs(vMax))} µs | ${cMax ? `${f1(cSumUs(cMax))} µs` : '–'} | ${cMax ? ratio(sumUs(vMax), cSumUs(cMax)) : '–'} |`);
    out(`| spans per CPU-second (incl. broker) at that rate | ${f0(1e6 / sumUs(vMax))} | ${cMax ? f0(1e6 / cSumUs(cMax)) : '–'} | ${cMax ? ratio(1e6 / sumUs(vMax), 1e6 / cSumUs(cMax)) : '–'} |`);
    out(`| Vigil RSS, peak over the run | ${mib(Math.max(...vigilRows.map((r) => r.sutRssMax)))} MiB | ${cMax ? `${mib(Math.max(...collectorRows.map((r) => r.sutRssMax)))} MiB` : '–'} | |`);
    const totals = results['vigilTotals'] as { accepted: number; stored: number } | undefined;
    if (totals) out(`\nTotals at the end: ${f0(totals.accepted)} spans acked by Vigil, ${f0(totals.stored)} rows inserted into spans (difference ${f0(totals.stored - totals.accepted)}).`);
    const warnings = results['vigilWarnings'] as Record<string, number> | undefined;
    if (warnings && Object.keys(warnings).length) out(`Vigil warnings/errors logged: ${Object.entries(warnings).map(([k, n]) => `${n}× "${k}"`).join('; ')}`);
    results['summary'] = { bestKeepUp: best?.step ?? null, bestKeepUpAcked: best?.ackedPerSec ?? null, maxAcked: vMax.ackedPerSec, maxAckedStep: vMax.step, collectorMaxAcked: cMax?.ackedPerSec ?? null };
  }
  out(`\nload average at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  results['steps'] = { vigil: vigilRows, collector: collectorRows, target: targetRows };
  fs.mkdirSync(path.dirname(path.resolve(OUT)), { recursive: true });
  fs.writeFileSync(OUT, JSON.stringify(results, (_k, val: unknown) => (val instanceof Map ? undefined : val === Infinity ? 'Infinity' : val), 2) + '\n');
  out(`JSON written to ${path.relative(process.cwd(), OUT)}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:e2e failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
