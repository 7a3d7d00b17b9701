/**
 * The project's own single-node Apache Kafka broker (KRaft, combined
 * broker+controller), run from jars resolved from Maven Central (see
 * maven.ts). Used by `vigil` when KAFKA_BROKERS is unset and by the test
 * harness.
 *
 * Files under `dataDir`: `server.properties`, `log4j.properties`,
 * `kraft-logs/` (topic data and metadata log), `logs/server.log` (broker
 * log4j output), `logs/stdout.log` (JVM stdout/stderr).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel as KafkaLogLevel } from 'kafkajs';
import type { Logger } from '../logger.js';
import { VigilError } from '../errors.js';
import { resolveKafkaJars } from './maven.js';

const execFileAsync = promisify(execFile);

/** JVM flags: small heap, G1, headless. */
const JVM_OPTS = ['-Xms128m', '-Xmx512m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-Djava.awt.headless=true'];

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
  /** How long to wait for the broker to answer, in ms (default 120000). */
  readyTimeoutMs?: number;
}

/** A running local broker. */
export interface LocalKafka {
  /** Bootstrap list, e.g. ['127.0.0.1:39093']. */
  brokers: string[];
  /** JVM process id. */
  pid: number;
  /** SIGTERM, wait up to 20 s for a clean exit, then SIGKILL. Idempotent. */
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

/** A random Kafka cluster id: 16 random bytes, base64url without padding (what `StorageTool random-uuid` prints). */
export function randomClusterId(): string {
  return crypto.randomBytes(16).toString('base64url');
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

/** Last `lines` lines of a file ('' when missing). Reads at most the final 64 KiB. */
function tail(file: string, lines = 40): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8').split('\n').slice(-lines).join('\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

async function formatStorage(o: {
  classpath: string;
  propsFile: string;
  logDir: string;
  log4jFile: string;
  log: Logger;
}): Promise<void> {
  if (fs.existsSync(path.join(o.logDir, 'meta.properties'))) return;
  const clusterId = randomClusterId();
  try {
    await execFileAsync(
      'java',
      [
        '-Xmx256m',
        `-Dlog4j.configuration=file:${o.log4jFile}`,
        '-cp',
        o.classpath,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        o.propsFile,
        '--ignore-formatted',
      ],
      { timeout: 120_000, maxBuffer: 8 * 1024 * 1024 },
    );
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new VigilError(
      'VIGIL_ERR_KAFKA_LOCAL',
      `kafka StorageTool format failed: ${`${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message}`,
      { cause: err },
    );
  }
  o.log.debug({ clusterId, logDir: o.logDir }, 'formatted local Kafka storage');
}

/**
 * Resolve the jars (cached), write the config, format the storage (first
 * start only) and start a single-node KRaft broker on 127.0.0.1; resolves once
 * a kafkajs admin can describe the cluster. The JVM is SIGKILLed if this Node
 * process exits without calling `stop()`.
 * @returns the bootstrap brokers, the JVM pid and `stop()`.
 * @throws VigilError VIGIL_ERR_KAFKA_LOCAL when Java/Maven are missing, Maven
 *   fails, the JVM exits early or the broker does not answer within
 *   `readyTimeoutMs` (the message carries the tail of the broker log).
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

  await formatStorage({ classpath: jars.classpath, propsFile, logDir, log4jFile, log });

  const out = fs.openSync(stdoutLog, 'a');
  const child: ChildProcess = spawn(
    'java',
    [...JVM_OPTS, `-Dlog4j.configuration=file:${log4jFile}`, '-cp', jars.classpath, 'kafka.Kafka', propsFile],
    // Own process group: a terminal's Ctrl-C (SIGINT to the foreground group)
    // must not stop the broker before Vigil has flushed and committed offsets;
    // stop() and the exit watchdog stop it in order.
    { cwd: dataDir, stdio: ['ignore', out, out], detached: true },
  );
  fs.closeSync(out);
  const pid = child.pid;
  if (pid === undefined) {
    throw new VigilError('VIGIL_ERR_KAFKA_LOCAL', 'could not spawn java for the local Kafka broker');
  }
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  const killOnExit = (): void => {
    if (exited === undefined) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  const watchdog = startWatchdog(pid);

  const brokers = [`127.0.0.1:${port}`];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exited === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (exited === undefined) {
            log.warn({ pid }, 'local Kafka did not stop within 20 s; SIGKILL');
            child.kill('SIGKILL');
          }
        }, 20_000);
        await exitPromise;
        clearTimeout(timer);
      }
      process.removeListener('exit', killOnExit);
      watchdog?.kill('SIGKILL');
      log.info({ pid, ...exited }, 'local Kafka stopped');
    })();
    return stopping;
  };

  const describeLogs = (): string => {
    const recent = tail(serverLog, 400).split('\n');
    // Each ERROR/FATAL line plus the exception line that follows it, if any.
    const errors = recent
      .flatMap((l, i) => {
        if (!/ (ERROR|FATAL) /.test(l)) return [];
        const next = recent[i + 1];
        return next !== undefined && !next.startsWith('[') ? [l, next] : [l];
      })
      .slice(-12);
    return (
      (errors.length > 0 ? `\n--- ERROR lines of ${serverLog} ---\n${errors.join('\n')}` : '') +
      `\n--- ${serverLog} (tail) ---\n${recent.slice(-20).join('\n')}` +
      `\n--- ${stdoutLog} (tail) ---\n${tail(stdoutLog, 20)}`
    );
  };
  try {
    await waitReady(brokers, opts.readyTimeoutMs ?? 120_000, () => exited);
  } catch (err) {
    await stop().catch(() => undefined);
    const why = exited && !(err instanceof Error && /timed out/.test(err.message))
      ? `the JVM exited early (code ${String(exited.code)}, signal ${String(exited.signal)})`
      : (err as Error).message;
    throw new VigilError('VIGIL_ERR_KAFKA_LOCAL', `local Kafka ${opts.version} on ${brokers[0]} did not start: ${why}${describeLogs()}`, {
      cause: err,
    });
  }
  log.info({ brokers, pid, version: opts.version, dataDir, ms: Date.now() - started }, 'local Kafka ready');
  return { brokers, pid, stop };
}

/**
 * 'exit' handlers do not run when Node dies of a signal (Ctrl-C without a
 * handler, SIGTERM, SIGKILL). A tiny `sh` watchdog holds a pipe from this
 * process; when the pipe closes (this process is gone) it SIGTERMs the JVM,
 * then SIGKILLs it 15 s later. `stop()` kills the watchdog first.
 */
function startWatchdog(jvmPid: number): ChildProcess | undefined {
  try {
    const script =
      'while read -r _; do :; done; kill -TERM "$1" 2>/dev/null || exit 0; ' +
      'i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt 15 ]; do sleep 1; i=$((i+1)); done; kill -KILL "$1" 2>/dev/null; exit 0';
    const wd = spawn('sh', ['-c', script, 'vigil-kafka-watchdog', String(jvmPid)], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    wd.on('error', () => undefined);
    wd.unref();
    (wd.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return wd;
  } catch {
    return undefined;
  }
}

/**
 * Make the broker create `__consumer_offsets` now (FindCoordinator does), so
 * the first consumer group does not log GROUP_COORDINATOR_NOT_AVAILABLE.
 * Best effort: a failure here is left for the first real consumer to retry.
 */
async function warmUpGroupCoordinator(brokers: string[]): Promise<void> {
  const kafka = new Kafka({
    clientId: 'vigil-local-kafka-probe',
    brokers,
    logLevel: KafkaLogLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.describeGroups(['vigil-local-kafka-warmup']);
  } catch {
    // ignored, see above
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Poll until a kafkajs admin describes a cluster with ≥ 1 broker; fail fast if the JVM exits. */
async function waitReady(
  brokers: string[],
  timeoutMs: number,
  exited: () => unknown,
): Promise<void> {
  const kafka = new Kafka({
    clientId: 'vigil-local-kafka-probe',
    brokers,
    logLevel: KafkaLogLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  });
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt';
  while (Date.now() < deadline) {
    if (exited() !== undefined) throw new Error('JVM exited');
    const admin = kafka.admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length > 0 && cluster.controller !== null) {
        await warmUpGroupCoordinator(brokers);
        return;
      }
      last = 'cluster has no brokers/controller yet';
    } catch (err) {
      last = (err as Error).message;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for the broker (last: ${last})`);
}
