/**
 * One run of the local broker's JVM: spawn, readiness probe, bounded
 * termination, exit watchdog and log tails. local-broker.ts supervises
 * successive runs (restarts after an unexpected exit).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { Kafka, logLevel as KafkaLogLevel } from 'kafkajs';
import type { Logger } from '../logger.js';

/** JVM flags: small heap, G1, headless. */
const JVM_OPTS = ['-Xms128m', '-Xmx512m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-Djava.awt.headless=true'];

/** How a JVM run ended (`error` when it could not be spawned at all). */
export interface BrokerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: string;
}

/** A spawned broker JVM. */
export interface BrokerProcess {
  /** JVM process id (0 when spawning failed; `exited` is then already resolved). */
  pid: number;
  /** Epoch ms when it was spawned. */
  startedAt: number;
  /** Resolves with the exit status once the JVM has exited (never rejects). */
  exited: Promise<BrokerExit>;
  /** The exit status, or undefined while the JVM runs. */
  exit(): BrokerExit | undefined;
  /**
   * SIGTERM, then SIGKILL after `graceMs`, then wait up to `killWaitMs` more.
   * @returns true when the JVM is known to have exited; false when it still had
   *   not after SIGKILL + `killWaitMs` (a stuck process; logged, not thrown).
   */
  terminate(graceMs: number, log: Logger, killWaitMs?: number): Promise<boolean>;
}

/** Files of one broker data directory that a JVM run uses. */
export interface BrokerFiles {
  classpath: string;
  propsFile: string;
  log4jFile: string;
  dataDir: string;
  /** JVM stdout/stderr (appended). */
  stdoutLog: string;
}

/**
 * Spawn the broker JVM in its own process group (a terminal's Ctrl-C must not
 * stop it before Vigil has flushed and committed offsets). The JVM is
 * SIGKILLed if this Node process exits (an 'exit' listener), and a tiny `sh`
 * watchdog SIGTERMs/SIGKILLs it if this process dies of a signal; both are
 * removed when the JVM exits.
 */
export function spawnBroker(f: BrokerFiles): BrokerProcess {
  const out = fs.openSync(f.stdoutLog, 'a');
  let child: ChildProcess;
  try {
    child = spawn('java', [...JVM_OPTS, `-Dlog4j.configuration=file:${f.log4jFile}`, '-cp', f.classpath, 'kafka.Kafka', f.propsFile], {
      cwd: f.dataDir,
      stdio: ['ignore', out, out],
      detached: true,
    });
  } finally {
    fs.closeSync(out);
  }
  const startedAt = Date.now();
  let status: BrokerExit | undefined;
  let watchdog: ChildProcess | undefined;
  const killOnExit = (): void => {
    if (status === undefined) child.kill('SIGKILL');
  };
  const exited = new Promise<BrokerExit>((resolve) => {
    const done = (s: BrokerExit): void => {
      if (status !== undefined) return;
      status = s;
      process.removeListener('exit', killOnExit);
      watchdog?.kill('SIGKILL');
      resolve(s);
    };
    child.once('exit', (code, signal) => done({ code, signal }));
    child.once('error', (err) => done({ code: null, signal: null, error: err.message }));
  });
  const pid = child.pid ?? 0;
  if (pid !== 0) {
    process.on('exit', killOnExit);
    watchdog = startWatchdog(pid);
  }

  const terminate = async (graceMs: number, log: Logger, killWaitMs = 5_000): Promise<boolean> => {
    if (status !== undefined) return true;
    child.kill('SIGTERM');
    if (await settledWithin(exited, graceMs)) return true;
    log.warn({ pid, graceMs }, 'local Kafka did not stop after SIGTERM; SIGKILL');
    child.kill('SIGKILL');
    if (await settledWithin(exited, killWaitMs)) return true;
    log.error({ pid }, 'local Kafka JVM still running after SIGKILL; giving up waiting for it');
    return false;
  };

  return { pid, startedAt, exited, exit: () => status, terminate };
}

/** True when `p` settles within `ms`. */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * 'exit' handlers do not run when Node dies of a signal (Ctrl-C without a
 * handler, SIGTERM, SIGKILL). A tiny `sh` watchdog holds a pipe from this
 * process; when the pipe closes (this process is gone) it SIGTERMs the JVM,
 * then SIGKILLs it 15 s later. It is killed when the JVM exits.
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
 * Poll until a kafkajs admin describes a cluster with a broker and a
 * controller, then warm up the group coordinator.
 * @param abort returns a reason to stop waiting (e.g. 'JVM exited'), checked before each probe.
 * @throws Error when `abort` gives a reason or after `timeoutMs` (message starts with 'timed out').
 */
export async function waitReady(brokers: string[], timeoutMs: number, abort: () => string | undefined): Promise<void> {
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
    const reason = abort();
    if (reason !== undefined) throw new Error(reason);
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

/** Last `lines` lines of a file ('' when missing). Reads at most the final 64 KiB. */
export function tail(file: string, lines = 40): string {
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

/** The recent ERROR/FATAL lines (each with the exception line after it) and tails of the broker's logs, for error messages. */
export function describeBrokerLogs(serverLog: string, stdoutLog: string): string {
  const recent = tail(serverLog, 400).split('\n');
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
}
