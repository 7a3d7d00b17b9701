/**
 * Start the system under test for bench:e2e: `node dist/bin/vigil.js start
 * --no-demo` as a separate process (embedded default: chDB, embedded Postgres,
 * local Kafka broker as its child JVM), on its own temp data directory and free
 * ports, with a generated VIGIL_API_KEY. Also: the OpenTelemetry Collector
 * (otlp receiver → kafka exporter) for the comparison, and /metrics scraping.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { request } from 'undici';
import { childrenOf, descendantsOf } from './proc.js';

function readOr(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** A free TCP port on 127.0.0.1 (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A key of the form Vigil accepts: vgl_<12 lowercase hex>_<32 base64url>. */
export function generateApiKey(): string {
  return `vgl_${randomBytes(6).toString('hex')}_${randomBytes(24).toString('base64url')}`;
}

/** Compile the TypeScript if a source changed since the last build (scripts/build-if-stale.mjs). */
export function buildIfStale(root: string): void {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/build-if-stale.mjs')], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`scripts/build-if-stale.mjs failed (exit ${r.status ?? r.signal})`);
}

export interface RunningVigilProcess {
  pid: number;
  ingestUrl: string;
  queryUrl: string;
  apiKey: string;
  brokers: string[];
  dataDir: string;
  stderrFile: string;
  /** The broker JVM: Vigil's child process named java (re-read: the supervisor may restart it). */
  brokerPid(): number | undefined;
  /** Embedded Postgres processes (descendants named postgres). */
  postgresPids(): number[];
  /** Log lines at warn (40) or above seen on stderr so far, by message. */
  warnings(): Record<string, number>;
  exited(): boolean;
  /** SIGTERM, wait for a clean exit (≤ timeoutMs), then SIGKILL. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: string | null }>;
}

export interface StartVigilOptions {
  root: string;
  runDir: string;
  /** node --cpu-prof --cpu-prof-dir DIR for the Vigil process. */
  cpuProfDir?: string;
  /** More node options for the Vigil process, before the script (e.g. `--trace-gc`, which NODE_OPTIONS refuses). */
  nodeArgs?: readonly string[];
  startTimeoutMs?: number;
  log: (line: string) => void;
}

/** Env passed to Vigil: the caller's, minus anything that points at external servers, plus ours. */
function vigilEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['KAFKA_BROKERS', 'CLICKHOUSE_URL', 'DATABASE_URL']) delete env[k];
  return { ...env, ...extra };
}

export async function startVigilProcess(opts: StartVigilOptions): Promise<RunningVigilProcess> {
  const dataDir = path.join(opts.runDir, 'vigil-data');
  fs.mkdirSync(dataDir, { recursive: true });
  const [ingestPort, queryPort] = [await freePort(), await freePort()];
  const apiKey = generateApiKey();
  const stderrFile = path.join(opts.runDir, 'vigil.stderr.log');
  const errOut = fs.createWriteStream(stderrFile);
  const args = [...(opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : []), ...(opts.nodeArgs ?? []), path.join(opts.root, 'dist/bin/vigil.js'), 'start', '--no-demo'];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: opts.root,
    env: vigilEnv({
      VIGIL_DATA_DIR: dataDir,
      VIGIL_HOST: '127.0.0.1',
      VIGIL_INGEST_PORT: String(ingestPort),
      VIGIL_QUERY_PORT: String(queryPort),
      VIGIL_API_KEY: apiKey,
      // warn: the query API logs every request at info, and the probes poll it ~10×/s.
      VIGIL_LOG_LEVEL: process.env['VIGIL_LOG_LEVEL'] ?? 'warn',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn vigil');
  let exitStatus: { code: number | null; signal: string | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      exitStatus = { code, signal };
      resolve(exitStatus);
    });
  });

  let stdout = '';
  let brokers: string[] = [];
  const warnings: Record<string, number> = {};
  let errTail: string[] = [];
  let partial = '';
  // The banner is parsed from the first output; everything is also kept in vigil.stdout.log (e.g. NODE_OPTIONS=--trace-gc).
  const out = fs.createWriteStream(path.join(opts.runDir, 'vigil.stdout.log'));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    if (stdout.length < 1_000_000) stdout += d;
    out.write(d);
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    errOut.write(d);
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      errTail.push(line);
      if (errTail.length > 30) errTail = errTail.slice(-30);
      if (!line.startsWith('{')) continue;
      try {
        const j = JSON.parse(line) as { level?: number; msg?: string; brokers?: string[] };
        if (j.msg === 'local Kafka ready' && Array.isArray(j.brokers)) brokers = j.brokers;
        if ((j.level ?? 0) >= 40) warnings[j.msg ?? '?'] = (warnings[j.msg ?? '?'] ?? 0) + 1;
      } catch {
        /* not JSON */
      }
    }
  });

  const deadline = Date.now() + (opts.startTimeoutMs ?? 240_000);
  while (!stdout.includes('Ctrl-C to stop')) {
    if (exitStatus) throw new Error(`vigil exited during start-up (${JSON.stringify(exitStatus)}):\n${errTail.join('\n')}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`vigil did not print its banner within ${opts.startTimeoutMs ?? 240_000} ms:\n${errTail.join('\n')}`);
    }
    await sleep(100);
  }
  if (brokers.length === 0) {
    // At log level warn the "local Kafka ready" line is not printed: read the broker's listener from its config.
    const props = readOr(path.join(dataDir, 'kafka', 'server.properties'));
    const m = props?.match(/^advertised\.listeners=PLAINTEXT:\/\/(\S+)$/m);
    if (m) brokers = [m[1]!];
  }
  const grab = (label: string): string | undefined => stdout.match(new RegExp(`${label}\\s+(\\S+)`))?.[1];
  const ingestUrl = (grab('OTLP/HTTP ingest') ?? `http://127.0.0.1:${ingestPort}/v1/traces`).replace(/\/v1\/traces$/, '');
  const queryUrl = (grab('query API') ?? `http://127.0.0.1:${queryPort}/api/v1/traces`).replace(/\/api\/v1\/traces$/, '');
  const transport = grab('transport');
  if (transport !== 'kafka-local') throw new Error(`vigil runs with transport ${transport ?? '?'}; bench:e2e needs the local Kafka broker (Java 17+ and Maven)`);
  opts.log(stdout.trim().split('\n').filter((l) => !/API key|try:/.test(l)).map((l) => `  | ${l}`).join('\n'));

  return {
    pid,
    ingestUrl,
    queryUrl,
    apiKey,
    get brokers() {
      return brokers;
    },
    dataDir,
    stderrFile,
    brokerPid: () => childrenOf(pid).find((c) => c.comm === 'java')?.pid,
    postgresPids: () => descendantsOf(pid).filter((c) => c.comm.startsWith('postgres')).map((c) => c.pid),
    warnings: () => ({ ...warnings }),
    exited: () => exitStatus !== undefined,
    stop: async (timeoutMs = 45_000) => {
      if (!exitStatus) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const s = await exited;
      clearTimeout(t);
      errOut.end();
      return s;
    },
  };
}

// ------------------------------------------------------------------ /metrics

/** Prometheus text → map of `name{k="v",…}` (labels sorted by key) → value. */
export function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = m[3] ? [...m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => `${x[1]}="${x[2]}"`).sort() : [];
    out.set(labels.length ? `${m[1]}{${labels.join(',')}}` : m[1]!, Number(m[4]));
  }
  return out;
}

export async function scrapeMetrics(baseUrl: string): Promise<Map<string, number>> {
  const res = await request(`${baseUrl}/metrics`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${baseUrl}/metrics → ${res.statusCode}`);
  return parseProm(text);
}

/** Sum of every series of `name` whose labels include all of `match`. */
export function metric(m: Map<string, number>, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  const want = Object.entries(match).map(([k, v]) => `${k}="${v}"`);
  for (const [key, v] of m) {
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    if (want.every((w) => key.includes(w))) sum += v;
  }
  return sum;
}

// ------------------------------------------------------------------ OTel Collector

export interface RunningCollector {
  pid: number;
  url: string;
  topic: string;
  stop(): Promise<void>;
}

/**
 * Start an OpenTelemetry Collector binary (otlp receiver → kafka exporter) against `brokers`:
 * OTLP/HTTP on a free port, topic `topic` created first with `partitions`, acks from all
 * replicas (required_acks: -1), gzip like Vigil's producer, keyed by trace id, no
 * sending queue and no batch processor — so the 200 comes after Kafka acked, as in Vigil.
 */
export async function startCollector(opts: { bin: string; brokers: string[]; runDir: string; topic: string; partitions: number; log: (s: string) => void }): Promise<RunningCollector> {
  const kafka = new Kafka({ clientId: 'vigil-bench-e2e', brokers: opts.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: opts.topic, numPartitions: opts.partitions, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  const port = await freePort();
  const config = [
    'receivers:',
    '  otlp:',
    '    protocols:',
    '      http:',
    `        endpoint: 127.0.0.1:${port}`,
    'exporters:',
    '  kafka:',
    `    brokers: [${opts.brokers.map((b) => `"${b}"`).join(', ')}]`,
    '    traces:',
    `      topic: ${opts.topic}`,
    '      encoding: otlp_proto',
    '    partition_traces_by_id: true',
    '    timeout: 30s',
    '    producer:',
    '      required_acks: -1',
    '      compression: gzip',
    '      max_message_bytes: 1000000',
    '      allow_auto_topic_creation: false',
    '    sending_queue:',
    '      enabled: false',
    '    retry_on_failure:',
    '      enabled: false',
    'service:',
    '  telemetry:',
    '    logs:',
    '      level: warn',
    '    metrics:',
    '      level: none',
    '  pipelines:',
    '    traces:',
    '      receivers: [otlp]',
    '      exporters: [kafka]',
    '',
  ].join('\n');
  const configFile = path.join(opts.runDir, 'otelcol.yaml');
  fs.writeFileSync(configFile, config);
  const logFile = fs.openSync(path.join(opts.runDir, 'otelcol.log'), 'a');
  const child = spawn(opts.bin, ['--config', configFile], { stdio: ['ignore', logFile, logFile] });
  let exited = false;
  const done = new Promise<void>((r) => child.on('exit', () => ((exited = true), r())));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`the collector exited during start-up; see ${path.join(opts.runDir, 'otelcol.log')}`);
    try {
      const r = await request(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.alloc(0) });
      await r.body.dump();
      break;
    } catch {
      if (Date.now() > deadline) throw new Error('the collector did not listen within 60 s');
      await sleep(200);
    }
  }
  opts.log(`  collector pid ${child.pid} listening on ${url}, topic ${opts.topic} (${opts.partitions} partitions), config ${configFile}`);
  return {
    pid: child.pid!,
    url,
    topic: opts.topic,
    stop: async () => {
      if (!exited) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await done;
      clearTimeout(t);
    },
  };
}
