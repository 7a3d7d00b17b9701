/**
 * Shared test helpers. Services come from tests/global-setup.ts (one local
 * Kafka broker, one embedded Postgres per `vitest run`), passed in with
 * vitest's provide/inject. Each test file runs in its own process (pool
 * 'forks'), so isolate by name: give topics, consumer groups and databases
 * names from {@link uniqueName}, and files a {@link tempDir}.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Bootstrap brokers of the run's Kafka (local broker or KAFKA_BROKERS). */
    kafkaBrokers: string[];
    /** URL of the run's Postgres server, database `postgres` (embedded or DATABASE_URL). */
    postgresUrl: string;
    /** Per-run directory under the OS temp dir; global teardown removes it with everything in it. */
    tempRoot: string;
  }
}

/** Bootstrap brokers (`host:port`) of the Kafka the harness started (or KAFKA_BROKERS). */
export function kafkaBrokers(): string[] {
  const brokers = inject('kafkaBrokers');
  if (!Array.isArray(brokers) || brokers.length === 0) {
    throw new Error('kafkaBrokers not provided: run tests through vitest with tests/global-setup.ts');
  }
  return brokers;
}

/** URL of the harness Postgres server (maintenance database). Prefer {@link createTestDatabase}. */
export function postgresUrl(): string {
  const url = inject('postgresUrl');
  if (typeof url !== 'string' || url === '') {
    throw new Error('postgresUrl not provided: run tests through vitest with tests/global-setup.ts');
  }
  return url;
}

/**
 * Create a fresh, empty database with a unique name on the harness Postgres.
 * Databases are not dropped (the embedded server's data is deleted at the end of the run).
 * @returns its connection URL (same server and credentials as {@link postgresUrl}).
 */
export async function createTestDatabase(): Promise<string> {
  const name = uniqueName('vigil_test');
  const client = new pg.Client({ connectionString: postgresUrl() });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const url = new URL(postgresUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

let counter = 0;

/**
 * A name unique across processes and runs: `<prefix>_<pid36><n>_<random>`,
 * lowercase `[a-z0-9_]` after the prefix, so it is valid as a Kafka topic,
 * consumer group, Postgres or ClickHouse database name (≤ 63 chars if the prefix is ≤ 40).
 */
export function uniqueName(prefix: string): string {
  counter += 1;
  const rand = crypto.randomBytes(4).toString('hex');
  return `${prefix}_${process.pid.toString(36)}${counter.toString(36)}_${rand}`;
}

const tempDirs: string[] = [];
let exitHookInstalled = false;

/**
 * A fresh directory `vigil-<prefix>-XXXXXX` under the run's temp root (inside
 * the OS temp dir). Removed when this test process exits normally and, in any
 * case, by the global teardown, which deletes the whole temp root (vitest
 * may kill fork workers without running their 'exit' handlers).
 */
export function tempDir(prefix: string): string {
  let root: string | undefined;
  try {
    root = inject('tempRoot');
  } catch {
    root = undefined;
  }
  const base = typeof root === 'string' && root !== '' && fs.existsSync(root) ? root : os.tmpdir();
  const dir = fs.mkdtempSync(path.join(base, `vigil-${prefix}-`));
  tempDirs.push(dir);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const d of tempDirs) {
        try {
          fs.rmSync(d, { recursive: true, force: true });
        } catch {
          // best effort
        }
      }
    });
  }
  return dir;
}
