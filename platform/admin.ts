/**
 * Administration of projects and API keys (issue 8, "Administration a team
 * needs"), shared by the CLI (`vigil keys …`, `vigil projects …`) and usable
 * while `vigil start` runs.
 *
 * The embedded Postgres of a data directory can only be run by one process
 * (its postmaster.pid locks the cluster). So `vigil start` writes the URL of
 * the server it runs to `<dataDir>/postgres.url` (mode 0600, removed on a
 * clean stop), and {@link connectAdminPostgres} connects to that server when
 * the file names one that answers — the running instance's own Postgres —
 * instead of starting a second server on the locked cluster. With
 * DATABASE_URL set it connects there; with neither it starts the embedded
 * server itself (nothing is running).
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from './logger.js';
import { startPostgres, type PostgresHandle } from './postgres.js';

/** File in the data directory holding the URL of the running instance's embedded Postgres. */
export const RUNNING_POSTGRES_FILE = 'postgres.url';

/** Write `<dataDir>/postgres.url` (0600: the URL holds the embedded server's password). */
export function writeRunningPostgresUrl(dataDir: string, url: string): void {
  const file = path.join(dataDir, RUNNING_POSTGRES_FILE);
  fs.writeFileSync(file, `${url}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

/** Remove `<dataDir>/postgres.url` if it still names `url` (another instance may have replaced it). */
export function removeRunningPostgresUrl(dataDir: string, url: string): void {
  const file = path.join(dataDir, RUNNING_POSTGRES_FILE);
  try {
    if (fs.readFileSync(file, 'utf8').trim() === url) fs.rmSync(file, { force: true });
  } catch {
    // already gone
  }
}

/**
 * A Postgres connection for administration.
 * @param opts.url DATABASE_URL (used when set); opts.dataDir the data directory; opts.port the embedded port.
 * @returns a handle; `via` says which: 'database-url', 'running-instance' (the URL file of a running
 *   `vigil start`) or 'embedded' (started here; stopped by `stop()`).
 * @throws VigilError VIGIL_ERR_POSTGRES_UNAVAILABLE as startPostgres does.
 */
export async function connectAdminPostgres(opts: {
  url: string | undefined;
  dataDir: string;
  port: number;
  log: Logger;
}): Promise<PostgresHandle & { via: 'database-url' | 'running-instance' | 'embedded' }> {
  if (opts.url !== undefined) return { ...(await startPostgres({ url: opts.url, dataDir: opts.dataDir, port: opts.port, log: opts.log })), via: 'database-url' };
  let running: string | undefined;
  try {
    running = fs.readFileSync(path.join(opts.dataDir, RUNNING_POSTGRES_FILE), 'utf8').trim();
  } catch {
    running = undefined;
  }
  if (running !== undefined && running !== '') {
    const pool = new pg.Pool({ connectionString: running, max: 2, connectionTimeoutMillis: 3_000 });
    pool.on('error', () => undefined);
    try {
      await pool.query('SELECT 1');
      opts.log.debug('using the running instance\'s Postgres (postgres.url in the data directory)');
      let stopped = false;
      return {
        pool,
        url: running,
        embedded: false,
        via: 'running-instance',
        stop: async () => {
          if (stopped) return;
          stopped = true;
          await pool.end();
        },
      };
    } catch {
      await pool.end().catch(() => undefined);
      opts.log.debug('postgres.url names a server that does not answer (stale); starting the embedded server');
    }
  }
  fs.mkdirSync(opts.dataDir, { recursive: true });
  return { ...(await startPostgres({ url: undefined, dataDir: opts.dataDir, port: opts.port, log: opts.log })), via: 'embedded' };
}

/** A project as listed. */
export interface ProjectInfo {
  id: string;
  name: string;
  created_at: string;
  /** Active (not revoked) keys. */
  active_keys: number;
}

/** Every project, oldest first. */
export async function listProjects(pool: pg.Pool): Promise<ProjectInfo[]> {
  const res = await pool.query<{ id: string; name: string; created_at: Date; active_keys: string }>(
    `SELECT p.id, p.name, p.created_at, count(k.id) FILTER (WHERE k.revoked_at IS NULL) AS active_keys
     FROM projects p LEFT JOIN api_keys k ON k.project_id = p.id
     GROUP BY p.id ORDER BY p.created_at, p.id`,
  );
  return res.rows.map((r) => ({ id: r.id, name: r.name, created_at: r.created_at.toISOString(), active_keys: Number(r.active_keys) }));
}

/**
 * Create a project (id = slug; name defaults to the id).
 * @returns true when created now, false when it existed.
 * @throws ValidationError for a malformed id (via the CHECK constraint message below).
 */
export async function createProject(pool: pg.Pool, id: string, name?: string): Promise<boolean> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) {
    const { ValidationError } = await import('./errors.js');
    throw new ValidationError('project', `${JSON.stringify(id)} is not a valid project id: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  const res = await pool.query('INSERT INTO projects (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING', [id, name ?? id]);
  return res.rowCount === 1;
}

/** A key as listed: never its secret. */
export interface KeyInfo {
  key_id: string;
  project: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** Keys (all projects, or one), newest first. */
export async function listKeys(pool: pg.Pool, project?: string): Promise<KeyInfo[]> {
  const res = await pool.query<{ key_id: string; project_id: string; created_at: Date; last_used_at: Date | null; revoked_at: Date | null }>(
    `SELECT key_id, project_id, created_at, last_used_at, revoked_at FROM api_keys
     WHERE $1::text IS NULL OR project_id = $1 ORDER BY created_at DESC, key_id`,
    [project ?? null],
  );
  return res.rows.map((r) => ({
    key_id: r.key_id,
    project: r.project_id,
    created_at: r.created_at.toISOString(),
    last_used_at: r.last_used_at?.toISOString() ?? null,
    revoked_at: r.revoked_at?.toISOString() ?? null,
  }));
}
