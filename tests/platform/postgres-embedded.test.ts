/**
 * Issue 5 item 8 (part): run as root from a clone inside a mode-0700
 * directory, `npm test` exited 1 printing nothing — the harness started
 * embedded Postgres its own way (binaries and data unreachable for the
 * `postgres` user, an unhandled spawn error). The harness now starts it with
 * platform/postgres.ts' startPostgres, as `npm start` does, and reports any
 * start-up failure with its causes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VigilError } from '../../platform/errors.js';
import { createLogger } from '../../platform/logger.js';
import { startPostgres, type PostgresHandle } from '../../platform/postgres.js';
import { tempDir } from '../support/harness.js';
import { formatStartupFailure } from '../support/startup.js';

describe('issue 5 item 8: embedded Postgres from inside a mode-0700 directory, and start-up failures that say why', () => {
  let handle: PostgresHandle | undefined;
  afterAll(async () => {
    await handle?.stop();
  });

  it('starts a throw-away embedded server whose data directory is below two 0700 directories', { timeout: 180_000 }, async () => {
    const outer = tempDir('pg-private');
    fs.chmodSync(outer, 0o700);
    const inner = path.join(outer, 'private');
    fs.mkdirSync(inner, { mode: 0o700 });
    handle = await startPostgres({
      url: undefined,
      dataDir: inner,
      port: 0,
      log: createLogger('silent'),
      persistent: false,
      settings: { fsync: 'off', max_connections: '50' },
    });
    expect(handle.embedded).toBe(true);
    const res = await handle.pool.query<{ fsync: string; max: string; ok: number }>(
      "SELECT current_setting('fsync') AS fsync, current_setting('max_connections') AS max, 1 AS ok",
    );
    expect(res.rows[0]).toEqual({ fsync: 'off', max: '50', ok: 1 });
    const dataDir = path.join(inner, 'postgres');
    expect(fs.existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true);
    await handle.stop();
    handle = undefined;
    // persistent: false removes the cluster's files on stop.
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  it('formats a start-up failure with its code and every cause', () => {
    const err = new VigilError('VIGIL_ERR_POSTGRES_UNAVAILABLE', 'embedded postgres failed to start', {
      cause: Object.assign(new Error('spawn /x/bin/postgres EACCES'), { code: 'EACCES' }),
    });
    const text = formatStartupFailure('Postgres', err);
    expect(text).toContain('[vigil tests] could not start Postgres:');
    expect(text).toContain('VIGIL_ERR_POSTGRES_UNAVAILABLE: embedded postgres failed to start');
    expect(text).toContain('caused by: EACCES: spawn /x/bin/postgres EACCES');
    expect(text.endsWith('\n')).toBe(true);
    expect(formatStartupFailure('Kafka', undefined)).toContain('no error detail');
  });
});
