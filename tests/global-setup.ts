/**
 * vitest global setup: runs once in the main vitest process, before any test
 * file. Starts ONE local Kafka broker (jars cached in `<repo>/.cache/vigil`,
 * broker data in a fresh temp dir) unless KAFKA_BROKERS is set, and ONE
 * embedded Postgres (fresh temp dir, not persistent, user/password `vigil`)
 * unless DATABASE_URL is set, and a per-run temp root for tempDir(). Test
 * files read them with the helpers in tests/support/harness.ts. The returned
 * teardown stops both servers and deletes the temp root.
 *
 * Postgres is started by platform/postgres.ts' startPostgres, exactly as
 * `npm start` does (as root: the `postgres` user, reachable directories, a
 * pre-flight check). Any start-up failure is printed to stderr with its
 * causes before vitest reports it (regression, issue 5 item 8: as root from a
 * clone in a 0700 directory, `npm test` exited 1 printing nothing).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { startLocalKafka } from '../platform/kafka/local-broker.js';
import { defaultCacheDir } from '../platform/kafka/maven.js';
import { startPostgres } from '../platform/postgres.js';
import type {} from './support/harness.js'; // ProvidedContext augmentation
import { formatStartupFailure } from './support/startup.js';

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
    // mkdtemp makes the directory 0700; startPostgres makes it traversable for the `postgres` user when root.
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-test-pg-'));
    stops.push(async () => fs.rmSync(base, { recursive: true, force: true }));
    const handle = await startPostgres({
      url: undefined,
      dataDir: base,
      port: 0,
      log,
      persistent: false,
      // Throw-away test cluster: durability is not needed; many test processes connect at once.
      settings: { max_connections: '300', fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
    });
    stops.push(handle.stop);
    const url = new URL(handle.url);
    url.pathname = '/postgres'; // tests get the maintenance database (harness: postgresUrl())
    console.info(`[vigil tests] embedded Postgres at ${url.host} (ready in ${Date.now() - t0} ms)`);
    return url.toString();
  };

  // Root of every tempDir() of this run (test workers may be killed before their exit hooks run).
  const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-test-run-'));
  fs.chmodSync(tempRoot, 0o711);
  stops.push(async () => fs.rmSync(tempRoot, { recursive: true, force: true }));
  project.provide('tempRoot', tempRoot);

  // A library's unhandled 'error' event (e.g. a spawn EACCES) during start-up
  // would end the process without a word; turn it into a failed setup instead.
  let onCrash: (err: unknown) => void = () => undefined;
  const crashed = new Promise<never>((_, reject) => {
    onCrash = reject;
  });
  process.on('uncaughtException', onCrash);
  try {
    const settled = Promise.allSettled([kafkaTask(), postgresTask()]);
    const [kafka, postgres] = await Promise.race([settled, crashed]).catch(async (err: unknown) => {
      // Give the other task a chance to finish so that teardown stops what it started.
      await Promise.race([settled, new Promise((r) => setTimeout(r, 30_000).unref())]);
      throw err;
    });
    const failures = [['Kafka', kafka], ['Postgres', postgres]] as const;
    const failed = failures.filter(([, r]) => r.status === 'rejected');
    if (failed.length > 0) {
      for (const [what, r] of failed) reportStartupFailure(what, (r as PromiseRejectedResult).reason);
      throw (failed[0]![1] as PromiseRejectedResult).reason;
    }
    project.provide('kafkaBrokers', (kafka as PromiseFulfilledResult<string[]>).value);
    project.provide('postgresUrl', (postgres as PromiseFulfilledResult<string>).value);
  } catch (err) {
    if (!reported.has(err)) reportStartupFailure('test services', err);
    await teardown();
    throw err;
  } finally {
    process.removeListener('uncaughtException', onCrash);
  }
  return teardown;
}

const reported = new Set<unknown>();

/** Print why a test service did not start on stderr (see {@link formatStartupFailure}). */
function reportStartupFailure(what: string, err: unknown): void {
  reported.add(err);
  process.stderr.write(formatStartupFailure(what, err));
}
