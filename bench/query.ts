/**
 * Dashboard query benchmark (issue 6; method and results in bench/README.md).
 *
 *   npm run bench:query                                   # 100M spans, after only
 *   npm run bench:query -- --before-ref <git ref>         # also time the query API of <ref> on the pre-0004 schema
 *   npm run bench:query -- --spans 20000000 --runs 10     # smaller day, fewer runs
 *   npm run bench:query -- --out bench/results/query.json # also write every figure as JSON
 *   npm run bench:query -- --dir D --keep                 # keep the data in D; a later run with --dir D resumes
 *                                                         # (applies new migrations, re-times this checkout)
 *   npm run bench:query -- --dir D --keep --before-ref R --stop-before-migrate
 *                                                         # build and time R only; repeat to re-time R, then resume
 *   npm run bench:query -- --dir D --keep --only "trace list" --compare-ref R
 *                                                         # reuse D (migrated): time only the queries whose name
 *                                                         # contains one of the comma-separated words, with the
 *                                                         # query API of R (same schema) then this checkout, and
 *                                                         # compare their answers
 *
 * Steps, in one process with one embedded chDB (fresh temp directory, removed
 * at the end unless --keep):
 *  1. migrations up to 0003 (the schema before issue 6);
 *  2. one day of spans (bench/query-data.ts) inserted with INSERT … SELECT
 *     from numbers() in hourly chunks, and the pre-0004 span_metrics_1m (keyed
 *     by user, DDSketch per row) built from them; background merges awaited;
 *  3. with --before-ref: the query API of that commit (a temporary git
 *     worktree, imported through tsx) is timed on this state;
 *  4. the remaining migrations (0004+) are applied — the upgrade at scale — and
 *     the answers of the metrics queries are compared with step 3's;
 *  5. the day's series aggregates are copied to the 29 previous days (so 7-
 *     and 30-day ranges hold a month of aggregates), the series tables are
 *     merged (OPTIMIZE … FINAL: the state background merges reach for
 *     day-old data), and this checkout's query API is timed.
 * Requests go through `app.inject` (Fastify routing, auth, zod, ClickHouse,
 * JSON), sequentially; per query: warm-up runs, then --runs timed runs;
 * median, p90, min and max are printed in ms.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import { createClickHouse, type ClickHouseHandle } from '../platform/clickhouse.js';
import { createLogger } from '../platform/logger.js';
import { migrateClickHouse, migrationsDir, readMigrations } from '../platform/migrate.js';
import { packageRoot } from '../platform/paths.js';
import { SKETCH_RELATIVE_ACCURACY, newSketch } from '../processors/sketch.js';
import { OLD_METRICS_SQL, SPANS_SQL, SPREAD_METRICS_SQL } from './query-data.js';

// ------------------------------------------------------------------ settings

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const SPANS = Math.floor(Number(opt('--spans') ?? 100_000_000) / 10) * 10;
const RUNS = Number(opt('--runs') ?? 20);
const WARMUP = 3;
const BEFORE_REF = opt('--before-ref');
const OUT = opt('--out');
const KEEP = argv.includes('--keep');
const STOP_BEFORE_MIGRATE = argv.includes('--stop-before-migrate');
/** Time only the queries whose name contains one of these (comma-separated); all when absent. */
const ONLY = opt('--only')?.split(',').map((w) => w.trim()).filter((w) => w !== '');
/** Also time the query API of this ref on the migrated schema (before/after of a query-API change, same run). */
const COMPARE_REF = opt('--compare-ref');
const DIR = opt('--dir') ?? fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-query-'));
const CHUNKS = 24;
/** TTL of the bench tables: 31 days, so the 30 days before today stay whole while a run lasts. */
const RETENTION_DAYS = 31;
const TENANT = 'bench';
const KEY = 'vgl_bench_query';
const DB = 'vigil';
if (!Number.isInteger(SPANS) || SPANS < 10 * CHUNKS) throw new Error('--spans must be an integer ≥ 240 (rounded down to whole traces of 10 spans)');

const log = createLogger('silent');
const DAY_MS = 86_400_000;
/** The benchmark day: yesterday (UTC), so the 30-day retention keeps it and "now" lies after it (kept in the state file). */
let DAY = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;
let END = DAY + DAY_MS;

const say = (s: string): void => void process.stderr.write(`${s}\n`);
const secs = (t0: number): string => ((performance.now() - t0) / 1000).toFixed(1);

// ------------------------------------------------------------------ ClickHouse helpers

async function rows<T>(ch: ClickHouseHandle, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await ch.client.query({ query, query_params: { db: DB, ...params }, format: 'JSONEachRow' });
  return rs.json<T>();
}

async function command(ch: ClickHouseHandle, query: string, params: Record<string, unknown> = {}): Promise<void> {
  await ch.client.command({ query, query_params: { db: DB, ...params }, clickhouse_settings: { max_execution_time: 0 } });
}

/** Wait until no merge or mutation runs in the database for 3 polls in a row (at most 30 min). */
async function settle(ch: ClickHouseHandle, what: string): Promise<void> {
  const t0 = performance.now();
  let quiet = 0;
  while (quiet < 3 && performance.now() - t0 < 30 * 60_000) {
    const [m] = await rows<{ n: string }>(
      ch,
      'SELECT (SELECT count() FROM system.merges WHERE database = {db:String}) + (SELECT count() FROM system.mutations WHERE database = {db:String} AND NOT is_done) AS n',
    );
    quiet = Number(m!.n) === 0 ? quiet + 1 : 0;
    await new Promise((r) => setTimeout(r, 2_000));
  }
  say(`  merges settled after ${what}: ${secs(t0)} s`);
}

interface TableSize {
  table: string;
  rows: number;
  parts: number;
  compressed_mb: number;
}

async function tableSizes(ch: ClickHouseHandle): Promise<TableSize[]> {
  const r = await rows<{ table: string; rows: string; parts: string; bytes: string }>(
    ch,
    `SELECT table, sum(rows) AS rows, count() AS parts, sum(data_compressed_bytes) AS bytes
     FROM system.parts WHERE database = {db:String} AND active GROUP BY table ORDER BY table`,
  );
  return r.map((x) => ({ table: x.table, rows: Number(x.rows), parts: Number(x.parts), compressed_mb: Math.round(Number(x.bytes) / 1e6) }));
}

// ------------------------------------------------------------------ data

/** Migrate to 0003, insert the day of spans and the old per-user aggregates. */
async function build(ch: ClickHouseHandle): Promise<Record<string, number>> {
  const oldDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-migrations-'));
  for (const f of readMigrations(migrationsDir('clickhouse')).filter((m) => m.version <= 3)) {
    fs.copyFileSync(path.join(migrationsDir('clickhouse'), f.name), path.join(oldDir, f.name));
  }
  await migrateClickHouse(ch, { retentionDays: RETENTION_DAYS, dir: oldDir, log });
  fs.rmSync(oldDir, { recursive: true, force: true });

  const m = newSketch().mapping;
  const gm = (2 * SKETCH_RELATIVE_ACCURACY) / (1 - SKETCH_RELATIVE_ACCURACY);
  const multiplier = Math.LN2 / Math.log1p(gm);
  for (const x of [0.0123, 1, 7.5, 812.3, 65_000]) {
    if (Math.ceil(Math.log2(x) * multiplier) !== m.key(x)) throw new Error(`bin mapping differs from the library at ${x}`);
  }

  const t0 = performance.now();
  // Chunk boundaries at whole traces; span numbers are in time order, so chunk c is about hour c.
  const edge = (c: number): number => Math.round((c * SPANS) / CHUNKS / 10) * 10;
  for (let c = 0; c < CHUNKS; c++) {
    await command(ch, SPANS_SQL, { n_traces: SPANS / 10, day_ns: String(BigInt(DAY) * 1_000_000n), tenant: TENANT, first: edge(c), count: edge(c + 1) - edge(c) });
    say(`  spans: chunk ${c + 1}/${CHUNKS} (${secs(t0)} s)`);
  }
  const spansS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  for (let h = 0; h < 24; h++) {
    const from = BigInt(DAY + h * 3_600_000) * 1_000_000n;
    await command(ch, OLD_METRICS_SQL, { tenant: TENANT, multiplier, from_ns: String(from), to_ns: String(from + 3_600_000_000_000n) });
    say(`  old span_metrics_1m: hour ${h + 1}/24 (${secs(t1)} s)`);
  }
  const metricsS = (performance.now() - t1) / 1000;
  await settle(ch, 'the build');
  return { spans_insert_s: spansS, old_metrics_build_s: metricsS };
}

// ------------------------------------------------------------------ queries

interface Query {
  name: string;
  goalMs: number;
  /**
   * URL of run k (k counts up over all runs of the benchmark). Windows move
   * back by k minutes and trace ids differ per run, so no run repeats an
   * earlier query's filter (ClickHouse's query condition cache would
   * otherwise answer the granule selection of a repeated query from memory).
   */
  url: (k: number, nudgeMs?: number) => string;
  /** Time the page after the first: each run first asks url(k) (untimed) and then times url(k) + its next_cursor. */
  nextPage?: boolean;
}

/** Root-span trace ids, one per 5 minutes of the day (288, in time order), for the by-id lookups. */
async function sampleTraceIds(ch: ClickHouseHandle): Promise<string[]> {
  const r = await rows<{ trace_id: string }>(
    ch,
    `SELECT trace_id FROM {db:Identifier}.spans WHERE tenant = {tenant:String} AND service = 'gateway' AND parent_span_id = ''
     ORDER BY toStartOfFiveMinutes(start_time), trace_id LIMIT 1 BY toStartOfFiveMinutes(start_time)`,
    { tenant: TENANT },
  );
  return r.map((x) => x.trace_id);
}

function queries(traceIds: string[]): Query[] {
  const q = (p: Record<string, string | number>): string => new URLSearchParams(Object.entries(p).map(([k, v]) => [k, String(v)])).toString();
  const back = (k: number): number => k * 60_000;
  // Trace ids visited in a scattered order over the day (a stride coprime with 288).
  const id = (k: number): string => traceIds[(k * 97) % traceIds.length]!;
  return [
    { name: 'p99 by service, 24 h (step 1 h)', goalMs: 50, url: (k) => `/api/v1/metrics/latency?${q({ from: DAY - back(k), to: END - back(k), step: 3600, group_by: 'service' })}` },
    { name: 'p99 by service, 24 h (step 5 min)', goalMs: 50, url: (k) => `/api/v1/metrics/latency?${q({ from: DAY - back(k), to: END - back(k), step: 300, group_by: 'service' })}` },
    { name: 'cost by model, 30 d (step 1 d)', goalMs: 50, url: (k) => `/api/v1/metrics/cost?${q({ from: END - 30 * DAY_MS - back(k), to: END - back(k), step: 86_400, group_by: 'model' })}` },
    { name: 'RED one operation, 7 d (step 1 h)', goalMs: 50, url: (k) => `/api/v1/metrics/latency?${q({ from: END - 7 * DAY_MS - back(k), to: END - back(k), step: 3600, operation: 'chat.op11' })}` },
    { name: 'cost by user, 24 h (step 1 d)', goalMs: 0, url: (k) => `/api/v1/metrics/cost?${q({ from: DAY - back(k), to: END - back(k), step: 86_400, group_by: 'user' })}` },
    { name: 'trace list, newest 50 in 1 h', goalMs: 100, url: (k) => `/api/v1/traces?${q({ from: END - 3_600_000 - back(k), to: END - back(k), limit: 50 })}` },
    { name: 'trace list, page 2 (cursor)', goalMs: 0, nextPage: true, url: (k, nudge = 0) => `/api/v1/traces?${q({ from: END - 3_600_000 - back(k) - nudge, to: END - back(k) - nudge, limit: 50 })}` },
    { name: 'trace list, status=error (no goal)', goalMs: 0, url: (k) => `/api/v1/traces?${q({ from: END - 3_600_000 - back(k), to: END - back(k), limit: 50, status: 'error' })}` },
    { name: 'trace by id', goalMs: 20, url: (k) => `/api/v1/traces/${id(k)}` },
  ];
}

interface Timing {
  name: string;
  goal_ms: number;
  /** Median CPU time of the whole process (Node + chDB threads) per request, ms: less sensitive to other load than wall time. */
  cpu_ms: number;
  median_ms: number;
  p90_ms: number;
  min_ms: number;
  max_ms: number;
}

const pct = (s: number[], p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;

/** Run index: each timing phase continues where the previous one stopped (see {@link Query.url}). */
let runIndex = 1;

/** Time every query. */
async function timeAll(app: FastifyInstance, qs: Query[]): Promise<{ timings: Timing[]; load: number[] }> {
  const timings: Timing[] = [];
  const first = runIndex;
  const load = [os.loadavg()[0]!];
  for (const q of qs) {
    const ms: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const url = await pageUrl(app, q, first + i);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const res = await app.inject({ url, headers: { authorization: `Bearer ${KEY}` } });
      const dt = performance.now() - t0;
      const c = process.cpuUsage(c0);
      if (res.statusCode !== 200) throw new Error(`${q.name}: GET ${url} → ${res.statusCode} ${res.body.slice(0, 300)}`);
      if (i >= WARMUP) (ms.push(dt), cpu.push((c.user + c.system) / 1000));
    }
    ms.sort((a, b) => a - b);
    cpu.sort((a, b) => a - b);
    const t: Timing = { name: q.name, goal_ms: q.goalMs, cpu_ms: pct(cpu, 0.5), median_ms: pct(ms, 0.5), p90_ms: pct(ms, 0.9), min_ms: ms[0]!, max_ms: ms[ms.length - 1]! };
    say(`  ${q.name}: median ${t.median_ms.toFixed(1)} ms (p90 ${t.p90_ms.toFixed(1)}, ${t.min_ms.toFixed(1)}–${t.max_ms.toFixed(1)}), CPU ${t.cpu_ms.toFixed(1)} ms`);
    timings.push(t);
  }
  runIndex = first + WARMUP + RUNS;
  load.push(os.loadavg()[0]!);
  say(`  load average (1 min) at start and end: ${load.map((l) => l.toFixed(1)).join(', ')}`);
  return { timings, load };
}

/** URL of run k of `q`; for a next-page query, asks the first page (untimed) for its cursor. */
async function pageUrl(app: FastifyInstance, q: Query, k: number): Promise<string> {
  if (!q.nextPage) return q.url(k);
  // The bench data's trace ids are hex(UInt64) pairs, which drop leading zeros
  // (~0.8 % are 30–31 characters) and the API accepts only 32-hex cursors:
  // when page 1 ends on such a trace, move the window back by 1 s and retry.
  for (let nudge = 0; nudge < 10_000; nudge += 1_000) {
    const url = q.url(k, nudge);
    const res = await app.inject({ url, headers: { authorization: `Bearer ${KEY}` } });
    const body = res.json() as { traces?: Array<{ trace_id: string }>; next_cursor?: string | null };
    if (res.statusCode !== 200 || !body.next_cursor) throw new Error(`${q.name}: no next page at ${url}: ${res.statusCode} ${res.body.slice(0, 300)}`);
    if (/^[0-9a-f]{32}$/.test(body.traces!.at(-1)!.trace_id)) return `${url}&cursor=${encodeURIComponent(body.next_cursor)}`;
  }
  throw new Error(`${q.name}: no page 1 ending on a 32-hex trace id near run ${k}`);
}

/** Answer bodies of run 0 of every query but the by-id lookup (for the before/after comparison). */
async function answers(app: FastifyInstance, qs: Query[]): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (const q of qs) {
    if (q.name === 'trace by id') continue;
    const res = await app.inject({ url: await pageUrl(app, q, 0), headers: { authorization: `Bearer ${KEY}` } });
    if (res.statusCode !== 200) throw new Error(`${q.name}: ${res.statusCode} ${res.body.slice(0, 300)}`);
    out.set(q.name, res.json());
  }
  return out;
}

/**
 * Compare a before answer `a` with an after answer `b`: every value of `a` must
 * be in `b` and equal (floats within 1e-9 relative); fields only `b` has (added
 * to the API since) are not differences.
 */
function sameAnswer(a: unknown, b: unknown, where = ''): string | null {
  if (typeof a === 'number' && typeof b === 'number') {
    return a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)) ? null : `${where}: ${a} ≠ ${b}`;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${where}: ${a.length} ≠ ${b.length} items`;
    for (let i = 0; i < a.length; i++) {
      const d = sameAnswer(a[i], b[i], `${where}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    for (const k of Object.keys(a)) {
      const d = sameAnswer((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${where}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return a === b ? null : `${where}: ${JSON.stringify(a)} ≠ ${JSON.stringify(b)}`;
}

// ------------------------------------------------------------------ apps

type BuildApp = (o: { log: typeof log; clickhouse: ClickHouseHandle; keys: { verify: (k: string) => Promise<{ projectId: string } | null> } }) => FastifyInstance;

async function appFrom(root: string, ch: ClickHouseHandle): Promise<FastifyInstance> {
  const mod = (await import(path.join(root, 'query-api', 'app.ts'))) as { buildQueryApp: BuildApp };
  const app = mod.buildQueryApp({ log, clickhouse: ch, keys: { verify: async (k) => (k === KEY ? { projectId: TENANT } : null) } });
  await app.ready();
  return app;
}

/** A detached worktree of `ref` with this checkout's node_modules; removed by the returned function. */
function worktree(ref: string): { dir: string; remove: () => void } {
  const root = packageRoot();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-before-'));
  execFileSync('git', ['-C', root, 'worktree', 'add', '--detach', dir, ref], { stdio: 'ignore' });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  return { dir, remove: () => execFileSync('git', ['-C', root, 'worktree', 'remove', '--force', dir], { stdio: 'ignore' }) };
}

// ------------------------------------------------------------------ main

function table(title: string, cols: string[], body: (string | number)[][]): string {
  return [`### ${title}`, '', `| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`), ''].join('\n');
}

const f1 = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(1));

/**
 * Progress of a run, kept in `<dir>/bench-state.json` so that a run with the
 * same --dir resumes after the slow steps (build, before timings, copy) that
 * already happened: `--dir D --keep`, then later `--dir D` again to re-time
 * the query API of this checkout after new migrations or code changes.
 */
interface State {
  day: number;
  spans: number;
  build?: Record<string, number>;
  sizes_before?: TableSize[];
  before_ref?: string;
  before?: Timing[];
  before_load?: number[];
  /** Answer bodies of the before API (run 0 of each query but the by-id lookup). */
  before_answers?: Record<string, unknown>;
  /** Differences between the before and after answers (checked once, before the copy). */
  answers_differ?: string[];
  migrations: { applied: string[]; seconds: number }[];
  copied?: { seconds: number };
  /** OPTIMIZE … FINAL of the series tables after the copy (seconds). */
  optimized?: { seconds: number };
}

async function main(): Promise<void> {
  const stateFile = path.join(DIR, 'bench-state.json');
  const state: State = fs.existsSync(stateFile)
    ? (JSON.parse(fs.readFileSync(stateFile, 'utf8')) as State)
    : { day: DAY, spans: SPANS, migrations: [] };
  const save = (): void => fs.writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
  if (state.spans !== SPANS) throw new Error(`${DIR} holds a run with --spans ${state.spans}`);
  DAY = state.day;
  END = DAY + DAY_MS;
  say(`bench:query — ${SPANS.toLocaleString('en')} spans on ${new Date(DAY).toISOString().slice(0, 10)}, chDB at ${DIR}${state.build ? ' (resumed)' : ''}`);
  const ch = createClickHouse({ url: undefined, username: undefined, password: undefined, database: DB, retentionDays: 30 }, DIR, path.join(DIR, 'clickhouse'));
  try {
    if (!state.build) {
      say('1–2. schema 0003, spans, old aggregates');
      state.build = await build(ch);
      state.sizes_before = await tableSizes(ch);
      save();
    }
    const qs = queries(await sampleTraceIds(ch)).filter((q) => ONLY === undefined || ONLY.some((w) => q.name.includes(w)));

    if (BEFORE_REF !== undefined) {
      // (Re-)time the before API as long as the directory is still at schema 0003.
      if (state.migrations.length > 0) throw new Error('--before-ref needs the schema 0003: this directory was migrated already');
      say(`3. query API of ${BEFORE_REF} (schema 0003)`);
      const wt = worktree(BEFORE_REF);
      try {
        const app = await appFrom(wt.dir, ch);
        const bodies = await answers(app, qs);
        const before = await timeAll(app, qs);
        await app.close();
        Object.assign(state, { before_ref: BEFORE_REF, before: before.timings, before_load: before.load, before_answers: Object.fromEntries(bodies) });
      } finally {
        wt.remove();
      }
      save();
      if (STOP_BEFORE_MIGRATE) {
        say(`stopped before the migrations (--stop-before-migrate); resume with --dir ${DIR}`);
        return;
      }
    }

    say('4. migrations 0004+');
    // chDB keeps per-query settings in its session: the query API's
    // max_execution_time (30 s) would otherwise still apply to the migration.
    await command(ch, 'SELECT 1');
    const t0 = performance.now();
    const applied = await migrateClickHouse(ch, { retentionDays: RETENTION_DAYS, log });
    if (applied.applied.length > 0) state.migrations.push({ applied: applied.applied, seconds: (performance.now() - t0) / 1000 });
    save();
    say(`  applied ${applied.applied.join(', ') || 'nothing'} in ${secs(t0)} s`);
    await settle(ch, 'the migrations');
    const app = await appFrom(packageRoot(), ch);
    if (state.before_answers !== undefined && !state.copied) {
      const diffs: string[] = [];
      for (const [name, body] of await answers(app, qs)) {
        const d = sameAnswer(state.before_answers[name], body, name);
        if (d) diffs.push(d);
      }
      state.answers_differ = diffs;
      save();
      say(diffs.length === 0 ? '  same answers as before' : `  ANSWERS DIFFER:\n    ${diffs.join('\n    ')}`);
    }

    if (!state.copied) {
      say('5. series aggregates copied to the 29 previous days');
      const t1 = performance.now();
      await command(ch, SPREAD_METRICS_SQL, { tenant: TENANT, days: 29, day_s: DAY / 1000 });
      state.copied = { seconds: (performance.now() - t1) / 1000 };
      save();
      say(`  copied in ${secs(t1)} s`);
      await settle(ch, 'the copy');
    }
    if (!state.optimized) {
      // The copy's view inserts leave many small parts; a day-old partition in
      // production has been merged by then (background merges), so merge now.
      say('   merging the series tables (OPTIMIZE … FINAL)');
      const t2 = performance.now();
      for (const t of ['span_metrics_1m', 'span_metrics_5m', 'span_metrics_1h']) await command(ch, 'OPTIMIZE TABLE {db:Identifier}.{t:Identifier} FINAL', { t });
      state.optimized = { seconds: (performance.now() - t2) / 1000 };
      save();
      await settle(ch, 'the merge');
    }
    const sizesAfter = await tableSizes(ch);
    let compared: { ref: string; timings: Timing[]; load: number[]; answers_differ: string[] } | undefined;
    if (COMPARE_REF !== undefined) {
      say(`   query API of ${COMPARE_REF} (same schema)`);
      const wt = worktree(COMPARE_REF);
      try {
        const refApp = await appFrom(wt.dir, ch);
        const mine = await answers(app, qs);
        const differ: string[] = [];
        for (const [name, body] of await answers(refApp, qs)) {
          // Both ways: the same values, and no field only one side has.
          const d = sameAnswer(body, mine.get(name), name) ?? sameAnswer(mine.get(name), body, name);
          if (d) differ.push(d);
        }
        say(differ.length === 0 ? `  same answers as ${COMPARE_REF}` : `  ANSWERS DIFFER from ${COMPARE_REF}:\n    ${differ.join('\n    ')}`);
        const r = await timeAll(refApp, qs);
        await refApp.close();
        compared = { ref: COMPARE_REF, timings: r.timings, load: r.load, answers_differ: differ };
      } finally {
        wt.remove();
      }
    }
    say('   query API of this checkout');
    const after = await timeAll(app, qs);
    await app.close();

    const out: string[] = [];
    out.push(
      table(
        `Dashboard queries, ${SPANS.toLocaleString('en')} spans/day, ms through app.inject (wall median and p90 of ${RUNS} runs; CPU: median process CPU time per request)`,
        ['query', 'goal', 'before median', 'before p90', 'before CPU', 'after median', 'after p90', 'after CPU', 'after / before'],
        after.timings.map((a) => {
          const b = state.before?.find((x) => x.name === a.name);
          return [a.name, a.goal_ms ? `≤ ${a.goal_ms}` : '–', f1(b?.median_ms), f1(b?.p90_ms), f1(b?.cpu_ms), f1(a.median_ms), f1(a.p90_ms), f1(a.cpu_ms), b ? (a.median_ms / b.median_ms).toFixed(3) : '–'];
        }),
      ),
    );
    if (compared) {
      const ref = compared.ref;
      out.push(
        table(
          `Query API of ${ref} vs this checkout, same schema and data, ms through app.inject (wall median and p90 of ${RUNS} runs; CPU per request)`,
          ['query', 'goal', `${ref} median`, `${ref} p90`, `${ref} CPU`, 'this median', 'this p90', 'this CPU', 'this / ref'],
          after.timings.map((a) => {
            const b = compared.timings.find((x) => x.name === a.name)!;
            return [a.name, a.goal_ms ? `≤ ${a.goal_ms}` : '–', f1(b.median_ms), f1(b.p90_ms), f1(b.cpu_ms), f1(a.median_ms), f1(a.p90_ms), f1(a.cpu_ms), (a.median_ms / b.median_ms).toFixed(3)];
          }),
        ),
      );
    }
    const sizes = (s: TableSize[] = []): (string | number)[][] => s.map((x) => [x.table, x.rows.toLocaleString('en'), x.parts, x.compressed_mb]);
    out.push(table('Tables before the migrations', ['table', 'rows', 'parts', 'MB compressed'], sizes(state.sizes_before)));
    out.push(table('Tables after the migrations and the 29-day copy', ['table', 'rows', 'parts', 'MB compressed'], sizes(sizesAfter)));
    const notes = [
      `build: ${JSON.stringify(state.build)}`,
      `migrations: ${JSON.stringify(state.migrations)}`,
      `copy to 29 days: ${JSON.stringify(state.copied)}; series tables merged: ${JSON.stringify(state.optimized)}`,
      `answers: ${state.answers_differ === undefined ? 'not compared' : state.answers_differ.length === 0 ? 'same as before' : state.answers_differ.join('; ')}`,
      `load average (1 min) before / after timings: ${JSON.stringify(state.before_load ?? null)} / ${JSON.stringify(after.load)}`,
      ...(compared ? [`${compared.ref}: answers ${compared.answers_differ.length === 0 ? 'the same' : compared.answers_differ.join('; ')}; load average (1 min) during its timings ${JSON.stringify(compared.load)}`] : []),
    ];
    process.stdout.write(`${out.join('\n')}\n${notes.join('\n')}\n`);
    // The before answers (MBs with 10,000 users) stay in the state file only.
    const { before_answers: _answers, ...figures } = state;
    if (OUT) fs.writeFileSync(OUT, `${JSON.stringify({ ...figures, runs: RUNS, ...(compared && { compared }), after: after.timings, after_load: after.load, sizes_after: sizesAfter }, null, 2)}\n`);
  } finally {
    await ch.client.close();
    if (!KEEP && opt('--dir') === undefined) fs.rmSync(DIR, { recursive: true, force: true });
  }
}

await main();
