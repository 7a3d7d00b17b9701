/**
 * Test ClickHouse: embedded chDB in a fresh temp directory with all migrations
 * applied (database `vigil`, retention 30 days).
 *
 * chDB binds one data directory per process, so there is one instance per test
 * process: every call returns the same handle. Tests must isolate their data by
 * tenant (e.g. a random tenant per test), not by database. Do not close
 * `handle.client` in a test; the process exit releases it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClickHouse, type ClickHouseHandle } from '../../platform/clickhouse.js';
import { createLogger } from '../../platform/logger.js';
import { migrateClickHouse } from '../../platform/migrate.js';

export const TEST_CLICKHOUSE_DATABASE = 'vigil';
export const TEST_RETENTION_DAYS = 30;

// Kept on globalThis (not only a module variable) so that a module graph
// re-evaluated in the same process still finds the one chDB session.
const KEY = Symbol.for('vigil.tests.clickhouse');
type Holder = { [KEY]?: Promise<ClickHouseHandle> };

/**
 * The process-wide test ClickHouse (chDB), created and migrated on first call.
 * @returns a shared handle; query with `{db:Identifier}` = `handle.database`.
 */
export function createTestClickHouse(): Promise<ClickHouseHandle> {
  const holder = globalThis as Holder;
  holder[KEY] ??= (async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-test-chdb-'));
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    const handle = createClickHouse(
      {
        url: undefined,
        username: undefined,
        password: undefined,
        database: TEST_CLICKHOUSE_DATABASE,
        retentionDays: TEST_RETENTION_DAYS,
      },
      dir,
      path.join(dir, 'clickhouse'),
    );
    await migrateClickHouse(handle, { retentionDays: TEST_RETENTION_DAYS, log: createLogger('silent') });
    return handle;
  })();
  const pending = holder[KEY];
  // A failed start must not poison later calls.
  pending.catch(() => {
    if (holder[KEY] === pending) delete holder[KEY];
  });
  return pending;
}
