/**
 * The project's own single-node Apache Kafka broker (KRaft, combined
 * broker+controller), run from jars resolved from Maven Central (see
 * maven.ts). Used by `vigil` when KAFKA_BROKERS is unset and by the test
 * harness.
 *
 * Supervision: when the JVM exits without `stop()` having been called (a
 * crash, the OOM killer, `kill -9`), the broker is started again on the same
 * port with the same data directory, after a backoff (1 s, doubling to 30 s;
 * reset once a run lasted a minute), for as long as it takes. `health()`,
 * `healthy()` and `onHealthChange()` expose the state for readiness checks.
 * `stop()` always finishes in bounded time: SIGTERM, SIGKILL after
 * `stopTimeoutMs`, and at most 5 s more.
 *
 * Files under `dataDir`: `server.properties`, `log4j.properties`,
 * `kraft-logs/` (topic data and metadata log), `logs/server.log` (broker
 * log4j output), `logs/stdout.log` (JVM stdout/stderr).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../logger.js';
import { VigilError } from '../errors.js';
import { resolveKafkaJars } from './maven.js';
import { describeBrokerLogs, spawnBroker, tail, waitReady, type BrokerExit, type BrokerFiles, type BrokerProcess } from './broker-process.js';
import { formatKafkaStorage } from './storage.js';

export { randomClusterId } from './storage.js';

const execFileAsync = promisify(execFile);

/** Options of {@link startLocalKafka}. */
export interface LocalKafkaOptions {
  /** Apache Kafka version, e.g. '3.9.1'. kafkajs 2.2.4 needs 3.x (4.x dropped the protocol versions it speaks). */
  version: string;
  /** Project cache; jars go to `<cacheDir>/kafka-<version>/libs`, Maven's repo to `<cacheDir>/m2`. */
  cacheDir: string;
  /** Broker state and logs go under here; reused (not re-formatted) on the next start. */
  dataDir: string;
  /** PLAINTEXT port on 127.0.0.1; 0 or undefined picks a free one. */
  port?: number;
  log: Logger;
  /** How long to wait for the broker to answer, in ms (default 120000); also per restart attempt. */
  readyTimeoutMs?: number;
  /** Cluster id used when the data directory is formatted (first start only); default: a random one. */
  clusterId?: string;
  /** Restart the broker when its JVM exits unexpectedly (default true). */
  supervise?: boolean;
  /** Delay before restart attempt n (ms): `min(max, initial · 2^(n-1))`; default 1000 and 30000. */
  restartBackoffMs?: { initial?: number; max?: number };
  /** `stop()`: wait this long (ms) after SIGTERM before SIGKILL (default 20000). */
  stopTimeoutMs?: number;
}

/** Lifecycle state of a supervised local broker. */
export type LocalKafkaState = 'running' | 'restarting' | 'stopping' | 'stopped';

/** Health of the local broker, for readiness checks and logs. */
export interface LocalKafkaHealth {
  state: LocalKafkaState;
  /** True exactly when `state` is 'running' (the broker answered after its last (re)start). */
  healthy: boolean;
  /** pid of the current (or last) JVM. */
  pid: number;
  /** Completed restarts after unexpected exits. */
  restarts: number;
  /** Epoch ms of the last state change. */
  since: number;
  /** The last unexpected JVM exit, if any (`at`: epoch ms). */
  lastExit?: BrokerExit & { at: number };
  /** Why the broker is not running (set while 'restarting', or 'stopped' after an unsupervised exit). */
  reason?: string;
}

/** A running local broker. */
export interface LocalKafka {
  /** Bootstrap list, e.g. ['127.0.0.1:39093']; unchanged across restarts. */
  brokers: string[];
  /** pid of the current JVM (changes when the supervisor restarts it). */
  readonly pid: number;
  /** The KRaft cluster id of the data directory. */
  clusterId: string | undefined;
  /** True while the broker runs and answered after its last (re)start. */
  healthy(): boolean;
  /** A snapshot of the broker's health. */
  health(): LocalKafkaHealth;
  /**
   * Call `listener` with a new snapshot on every state change (not with the current one).
   * @returns a function that removes the listener.
   */
  onHealthChange(listener: (health: LocalKafkaHealth) => void): () => void;
  /** Stop supervising, SIGTERM, SIGKILL after `stopTimeoutMs`; resolves within `stopTimeoutMs` + 5 s. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Check that `java` (≥ 17) and `mvn` are on PATH.
 * @returns `{ ok: true }` or `{ ok: false, reason }` naming what is missing.
 */
export async function checkJavaAndMaven(): Promise<{ ok: boolean; reason?: string }> {
  let javaOut: string;
  try {
    const r = await execFileAsync('java', ['-version'], { timeout: 30_000 });
    javaOut = `${r.stderr}${r.stdout}`;
  } catch (err) {
    return { ok: false, reason: `java not found on PATH (need Java >= 17): ${(err as Error).message}` };
  }
  const m = /version "(\d+)(?:\.(\d+))?/.exec(javaOut);
  const major = m ? (m[1] === '1' ? Number(m[2]) : Number(m[1])) : NaN;
  if (!(major >= 17)) {
    return { ok: false, reason: `Java >= 17 required, found: ${javaOut.split('\n')[0] ?? 'unknown'}` };
  }
  try {
    await execFileAsync('mvn', ['-v'], { timeout: 60_000 });
  } catch (err) {
    return { ok: false, reason: `mvn (Maven) not found on PATH: ${(err as Error).message}` };
  }
  return { ok: true };
}

/**
 * A currently free TCP port on 127.0.0.1 (bind port 0, read it, close).
 * Racy by nature; good enough for a local broker started right after.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** True when 127.0.0.1:`port` can be bound right now. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function serverProperties(o: { port: number; ctrlPort: number; logDir: string }): string {
  return [
    '# Written by vigil platform/kafka/local-broker.ts on every start.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${o.ctrlPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.ctrlPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${o.port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${o.logDir}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'auto.create.topics.enable=false',
    'delete.topic.enable=true',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=10',
    'group.initial.rebalance.delay.ms=0',
    'num.network.threads=2',
    'num.io.threads=4',
    'num.recovery.threads.per.data.dir=1',
    'log.retention.hours=24',
    'log.segment.bytes=67108864',
    '',
  ].join('\n');
}

function log4jProperties(logFile: string): string {
  // Backslashes are escapes in .properties files.
  const file = logFile.replace(/\\/g, '/');
  return [
    'log4j.rootLogger=INFO, file',
    'log4j.appender.file=org.apache.log4j.RollingFileAppender',
    `log4j.appender.file.File=${file}`,
    'log4j.appender.file.MaxFileSize=20MB',
    'log4j.appender.file.MaxBackupIndex=2',
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    'log4j.logger.kafka=INFO',
    'log4j.logger.org.apache.kafka=INFO',
    'log4j.logger.state.change.logger=WARN',
    'log4j.logger.kafka.request.logger=WARN',
    'log4j.logger.kafka.log.LogCleaner=WARN',
    'log4j.logger.kafka.authorizer.logger=WARN',
    '',
  ].join('\n');
}


/** Poll until 127.0.0.1:`port` can be bound, up to `timeoutMs`. */
async function waitPortFree(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await portIsFree(port)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function describeExit(e: BrokerExit): string {
  return e.error !== undefined ? `could not run java: ${e.error}` : `code ${String(e.code)}, signal ${String(e.signal)}`;
}

/**
 * Resolve the jars (cached), write the config, format the storage (first
 * start only) and start a single-node KRaft broker on 127.0.0.1; resolves once
 * a kafkajs admin can describe the cluster. From then on the broker is
 * supervised (see the module comment). The JVM is killed if this Node process
 * exits without calling `stop()`.
 * @returns the bootstrap brokers, health accessors and `stop()`.
 * @throws VigilError VIGIL_ERR_KAFKA_LOCAL when Java/Maven are missing, Maven
 *   fails, formatting fails, the port is taken, the JVM exits early or the
 *   broker does not answer within `readyTimeoutMs` (the message carries the
 *   tail of the broker log).
 */
export async function startLocalKafka(opts: LocalKafkaOptions): Promise<LocalKafka> {
  const log = opts.log.child({ component: 'local-kafka' });
  const started = Date.now();
  const check = await checkJavaAndMaven();
  if (!check.ok) throw new VigilError('VIGIL_ERR_KAFKA_LOCAL', `cannot run the local Kafka broker: ${check.reason}`);

  const jars = await resolveKafkaJars({ version: opts.version, cacheDir: opts.cacheDir, log });
  const dataDir = path.resolve(opts.dataDir);
  const logDir = path.join(dataDir, 'kraft-logs');
  const logsDir = path.join(dataDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  fs.mkdirSync(logsDir, { recursive: true });
  const port = opts.port !== undefined && opts.port > 0 ? opts.port : await freePort();
  if (!(await portIsFree(port))) {
    throw new VigilError('VIGIL_ERR_KAFKA_LOCAL', `cannot start the local Kafka broker: 127.0.0.1:${port} is already in use`);
  }
  const ctrlPort = await freePort();
  const propsFile = path.join(dataDir, 'server.properties');
  const log4jFile = path.join(dataDir, 'log4j.properties');
  const serverLog = path.join(logsDir, 'server.log');
  const stdoutLog = path.join(logsDir, 'stdout.log');
  fs.writeFileSync(propsFile, serverProperties({ port, ctrlPort, logDir }));
  fs.writeFileSync(log4jFile, log4jProperties(serverLog));

  const { clusterId } = await formatKafkaStorage({ classpath: jars.classpath, propsFile, logDir, log4jFile, clusterId: opts.clusterId, log });

  const files: BrokerFiles = { classpath: jars.classpath, propsFile, log4jFile, dataDir, stdoutLog };
  const brokers = [`127.0.0.1:${port}`];
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 20_000;
  const backoffInitial = opts.restartBackoffMs?.initial ?? 1_000;
  const backoffMax = opts.restartBackoffMs?.max ?? 30_000;
  const exitedEarly = (p: BrokerProcess): string | undefined => {
    const e = p.exit();
    return e === undefined ? undefined : `the JVM exited early (${describeExit(e)})`;
  };

  let current = spawnBroker(files);
  try {
    await waitReady(brokers, readyTimeoutMs, () => exitedEarly(current));
  } catch (err) {
    await current.terminate(stopTimeoutMs, log);
    throw new VigilError(
      'VIGIL_ERR_KAFKA_LOCAL',
      `local Kafka ${opts.version} on ${brokers[0]} did not start: ${(err as Error).message}${describeBrokerLogs(serverLog, stdoutLog)}`,
      { cause: err },
    );
  }

  let state: LocalKafkaState = 'running';
  let since = Date.now();
  let reason: string | undefined;
  let restarts = 0;
  let failures = 0; // consecutive crashes / failed attempts, for the backoff
  let lastExit: LocalKafkaHealth['lastExit'];
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  const listeners = new Set<(h: LocalKafkaHealth) => void>();

  const health = (): LocalKafkaHealth => ({
    state,
    healthy: state === 'running',
    pid: current.pid,
    restarts,
    since,
    ...(lastExit !== undefined ? { lastExit } : {}),
    ...(reason !== undefined ? { reason } : {}),
  });
  const setState = (next: LocalKafkaState, why?: string): void => {
    state = next;
    since = Date.now();
    reason = why;
    const snapshot = health();
    for (const l of listeners) {
      try {
        l(snapshot);
      } catch (err) {
        log.warn({ err }, 'local Kafka health listener threw');
      }
    }
  };
  const nextDelay = (): number => Math.min(backoffMax, backoffInitial * 2 ** Math.min(failures++, 30));

  const scheduleRestart = (delay: number): void => {
    restartTimer = setTimeout(() => void restartOnce(), delay);
    restartTimer.unref();
  };

  /** Watch a ready JVM: an exit that stop() did not ask for schedules a restart. */
  const watch = (proc: BrokerProcess): void => {
    void proc.exited.then((exit) => {
      if (stopping || proc !== current) return;
      lastExit = { ...exit, at: Date.now() };
      const upMs = Date.now() - proc.startedAt;
      const why = `the broker JVM (pid ${proc.pid}) exited unexpectedly (${describeExit(exit)})`;
      if (opts.supervise === false) {
        log.error({ pid: proc.pid, ...exit, upMs, serverLog: tail(serverLog, 5) }, `${why}; not supervised, not restarting`);
        setState('stopped', why);
        return;
      }
      if (upMs >= 60_000) failures = 0;
      const delay = nextDelay();
      log.error({ pid: proc.pid, ...exit, upMs, restartInMs: delay, serverLog: tail(serverLog, 5) }, `${why}; restarting it`);
      setState('restarting', why);
      scheduleRestart(delay);
    });
  };

  const restartOnce = async (): Promise<void> => {
    restartTimer = undefined;
    if (stopping) return;
    let proc: BrokerProcess | undefined;
    try {
      if (!(await waitPortFree(port, 10_000))) throw new Error(`127.0.0.1:${port} is in use by another process`);
      if (stopping) return;
      proc = spawnBroker(files);
      current = proc;
      const p = proc;
      await waitReady(brokers, readyTimeoutMs, () => (stopping ? 'stopping' : exitedEarly(p)));
      if (stopping) return;
      restarts += 1;
      log.info({ pid: p.pid, restarts, brokers }, 'local Kafka broker restarted');
      setState('running');
      watch(p);
    } catch (err) {
      if (stopping) return;
      await proc?.terminate(stopTimeoutMs, log);
      if (stopping) return;
      const delay = nextDelay();
      const why = `restart attempt ${failures} failed: ${(err as Error).message}`;
      log.warn({ restartInMs: delay, serverLog: tail(serverLog, 5) }, `local Kafka ${why}; trying again`);
      setState('restarting', why);
      scheduleRestart(delay);
    }
  };

  watch(current);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      if (restartTimer !== undefined) clearTimeout(restartTimer);
      setState('stopping');
      const proc = current;
      await proc.terminate(stopTimeoutMs, log);
      setState('stopped');
      log.info({ pid: proc.pid, ...proc.exit() }, 'local Kafka stopped');
    })();
    return stopped;
  };

  log.info({ brokers, pid: current.pid, version: opts.version, dataDir, ms: Date.now() - started }, 'local Kafka ready');
  return {
    brokers,
    get pid() {
      return current.pid;
    },
    clusterId,
    healthy: () => state === 'running',
    health,
    onHealthChange: (listener) => {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    stop,
  };
}
