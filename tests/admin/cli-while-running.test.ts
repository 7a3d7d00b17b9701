/**
 * Issue 8 "Administration": `vigil keys list|create|revoke` and
 * `vigil projects list|create` work while another process runs the data
 * directory's embedded Postgres (the cluster is locked to it): they use the
 * URL that process wrote to <dataDir>/postgres.url (platform/admin.ts), as
 * `vigil start` does. The CLI runs as a separate process (tsx, sources).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeRunningPostgresUrl, writeRunningPostgresUrl, RUNNING_POSTGRES_FILE } from '../../platform/admin.js';
import { clearKeyCache, isAdminKey, verifyApiKey } from '../../platform/auth/keys.js';
import { createLogger } from '../../platform/logger.js';
import { migratePostgres } from '../../platform/migrate.js';
import { startPostgres, type PostgresHandle } from '../../platform/postgres.js';
import { cleanEnv, ROOT, runNode, type Ran } from '../cli/support.js';
import { tempDir } from '../support/harness.js';
import fs from 'node:fs';

let dataDir: string;
let pg: PostgresHandle;

beforeAll(async () => {
  dataDir = tempDir('admin');
  // "The running instance": this process runs the data directory's embedded Postgres.
  pg = await startPostgres({ url: undefined, dataDir, port: 0, log: createLogger('silent'), persistent: false });
  await migratePostgres(pg.pool, { log: createLogger('silent') });
  writeRunningPostgresUrl(dataDir, pg.url);
}, 120_000);

afterAll(async () => {
  removeRunningPostgresUrl(dataDir, pg.url);
  await pg?.stop();
});

/** Run `vigil <args>` from the sources in a child process against `dataDir`. */
function cli(args: string[]): Promise<Ran> {
  return runNode(['--import', 'tsx', path.join(ROOT, 'bin', 'vigil.ts'), ...args], {
    env: cleanEnv({ VIGIL_DATA_DIR: dataDir, VIGIL_LOG_LEVEL: 'silent' }),
    timeoutMs: 60_000,
  });
}

describe('admin CLI while the data directory is in use', () => {
  it('the URL file is private to the user', () => {
    expect(fs.statSync(path.join(dataDir, RUNNING_POSTGRES_FILE)).mode & 0o777).toBe(0o600);
  });

  it('projects create|list, keys create|list|revoke through the running Postgres', async () => {
    const created = await cli(['projects', 'create', 'acme']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toBe('acme\n');

    const key = await cli(['keys', 'create', '--project', 'acme']);
    expect(key.code, key.stderr).toBe(0);
    const plaintext = key.stdout.trim();
    expect(plaintext).toMatch(/^vgl_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
    expect(await verifyApiKey(pg.pool, plaintext)).toEqual({ projectId: 'acme' });
    const keyId = plaintext.slice(4, 16);

    const projects = await cli(['projects', 'list', '--json']);
    expect(projects.code, projects.stderr).toBe(0);
    expect(JSON.parse(projects.stdout)).toEqual([expect.objectContaining({ id: 'acme', active_keys: 1 })]);

    const keys = await cli(['keys', 'list']);
    expect(keys.code, keys.stderr).toBe(0);
    const lines = keys.stdout.trim().split('\n');
    expect(lines[0]).toBe('key_id\tproject\tstatus\tcreated_at\tlast_used_at\trevoked_at');
    expect(lines[1]).toMatch(new RegExp(`^${keyId}\tacme\tactive\t`));
    expect(keys.stdout).not.toContain(plaintext.slice(17)); // never the secret

    const revoked = await cli(['keys', 'revoke', keyId]);
    expect(revoked.code, revoked.stderr).toBe(0);
    clearKeyCache(pg.pool); // this process verified it above; its 60 s positive cache is per process (keys.ts)
    expect(await verifyApiKey(pg.pool, plaintext)).toBeNull();
    const again = await cli(['keys', 'revoke', keyId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/VIGIL_ERR_NOT_FOUND/);
    const listed = JSON.parse((await cli(['keys', 'list', '--project', 'acme', '--json'])).stdout);
    expect(listed).toEqual([expect.objectContaining({ key_id: keyId, project: 'acme', revoked_at: expect.any(String) })]);
    const usage = await cli(['keys', 'revoke', 'not-a-key']);
    expect(usage.code).toBe(2);
  });
});

describe('vigil keys create --admin', () => {
  it('keys create --admin makes an admin key (api_keys.admin, /api/v1/admin); without it, not', async () => {
    const adminKey = await cli(['keys', 'create', '--project', 'ops', '--admin']);
    expect(adminKey.code, adminKey.stderr).toBe(0);
    expect(adminKey.stderr).toContain('created an admin key for project "ops"');
    expect(await isAdminKey(pg.pool, adminKey.stdout.trim())).toBe(true);
    const plainKey = await cli(['keys', 'create', '--project', 'ops']);
    expect(await isAdminKey(pg.pool, plainKey.stdout.trim())).toBe(false);
  });
});
