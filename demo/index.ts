/**
 * Starts the demo workload for `vigil start` and end-to-end tests.
 *
 * The instrumented service runs in a CHILD PROCESS (demo/main.ts): the OTel
 * SDK patches `node:http`, undici and `pg` process-wide, so running it inside
 * Vigil's own process would trace Vigil's HTTP servers/clients and loop
 * Vigil's telemetry back into itself. A child keeps instrumentation isolated,
 * gives the demo its own global tracer/logger providers, and lets stop() end
 * it cleanly. From TypeScript source the child is started with
 * `node --import <tsx loader> demo/main.ts`, from a build with
 * `node dist/demo/main.js`; which one follows from this module's own URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { VigilError } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import type { DemoChildConfig, FromChild, ToChild } from './ipc.js';
import type { OtlpProtocol } from './telemetry.js';

/** Options of {@link startDemo}. */
export interface StartDemoOptions {
  /** OTLP/HTTP base URL of Vigil's ingest, e.g. `http://127.0.0.1:4318` (no `/v1/...` suffix). */
  ingestUrl: string;
  /** API key the demo exports with (`Authorization: Bearer <apiKey>`). */
  apiKey: string;
  /** Postgres URL; the demo creates and seeds table `vigil_demo.orders` (own schema) there. */
  databaseUrl: string;
  /** Logger the child's diagnostics are relayed to (pass a child, e.g. `log.child({ component: 'demo' })`). */
  log: Logger;
  /** OTLP encoding (default `http/protobuf`). */
  protocol?: OtlpProtocol;
  /** Demo service port (default 0 = any free port). */
  port?: number;
  /** Run the load generator (default true). */
  load?: boolean;
  /** `service.name` of the demo telemetry (default `vigil-demo-shop`). */
  serviceName?: string;
  /** Batch export delay in the child, ms (default 500). */
  scheduledDelayMillis?: number;
  /** How long to wait for the child to be ready, ms (default 30000). */
  startTimeoutMs?: number;
  /** Vigil's query API URL: the demo evaluates its flag there over OFREP (demo/flags.ts); unset = no flag. */
  queryUrl?: string;
}

/** A running demo. */
export interface Demo {
  /** Base URL of the demo service, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Child process id. */
  pid: number;
  /**
   * Stop load and service, flush buffered telemetry to the ingest URL, and
   * wait for the child to exit (SIGKILL after `timeoutMs`, default 10000 ms).
   * Idempotent; never throws.
   */
  stop(timeoutMs?: number): Promise<void>;
}

/** Node arguments that run demo/main with this module's flavour (TS source or dist JS). */
function childEntry(): { args: string[] } {
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    const tsx = createRequire(self).resolve('tsx');
    return { args: ['--import', pathToFileURL(tsx).href, fileURLToPath(new URL('./main.ts', self))] };
  }
  return { args: [fileURLToPath(new URL('./main.js', self))] };
}

/**
 * Spawn the instrumented demo service (+ load generator) and wait until it listens.
 * @throws VigilError `VIGIL_ERR_DEADLINE` if not ready within `startTimeoutMs`;
 *   `VIGIL_ERR_INTERNAL` if the child exits first (e.g. Postgres unreachable;
 *   the child's reason is logged at error level).
 */
export async function startDemo(opts: StartDemoOptions): Promise<Demo> {
  const log = opts.log;
  const config: DemoChildConfig = {
    endpoint: opts.ingestUrl,
    apiKey: opts.apiKey,
    protocol: opts.protocol ?? 'http/protobuf',
    databaseUrl: opts.databaseUrl,
    serviceName: opts.serviceName ?? 'vigil-demo-shop',
    port: opts.port ?? 0,
    load: opts.load ?? true,
    scheduledDelayMillis: opts.scheduledDelayMillis ?? 500,
    ...(opts.queryUrl === undefined ? {} : { ofrepUrl: opts.queryUrl }),
  };
  const child = spawn(process.execPath, childEntry().args, {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json',
  });
  relayOutput(child, log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  child.on('message', (m: FromChild) => {
    if (m.type === 'log') log[m.level]({ ...m.data }, m.msg);
  });

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new VigilError('VIGIL_ERR_DEADLINE', `demo service not ready within ${opts.startTimeoutMs ?? 30_000} ms`));
    }, opts.startTimeoutMs ?? 30_000);
    child.on('message', (m: FromChild) => {
      if (m.type !== 'ready') return;
      clearTimeout(timer);
      resolve(m.url);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new VigilError('VIGIL_ERR_INTERNAL', `demo process exited with code ${code} before it was ready`));
    });
    child.once('spawn', () => send(child, { type: 'config', config }));
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new VigilError('VIGIL_ERR_INTERNAL', 'could not spawn the demo process', { cause: err }));
    });
  });

  let stopping: Promise<void> | undefined;
  return {
    url,
    pid: child.pid ?? -1,
    stop(timeoutMs = 10_000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        send(child, { type: 'stop' });
        const timer = setTimeout(() => {
          log.warn({ timeoutMs }, 'demo did not stop in time; killing it');
          child.kill('SIGKILL');
        }, timeoutMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

function send(child: ChildProcess, msg: ToChild): void {
  if (child.connected) child.send(msg);
  else child.kill('SIGTERM'); // SIGTERM triggers the same clean stop in the child
}

/** Relay stray stdout/stderr of the child (normally silent) to the logger, line by line. */
function relayOutput(child: ChildProcess, log: Logger): void {
  for (const [stream, level] of [
    [child.stdout, 'info'],
    [child.stderr, 'warn'],
  ] as const) {
    let buf = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trimEnd();
        buf = buf.slice(nl + 1);
        if (line) log[level]({ stream: level === 'info' ? 'stdout' : 'stderr' }, line);
      }
    });
  }
}
