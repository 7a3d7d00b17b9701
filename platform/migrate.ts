/**
 * Versioned SQL migrations for ClickHouse and Postgres.
 *
 * Files are `NNNN_name.sql` under `migrations/clickhouse/` and
 * `migrations/postgres/` (package root), applied in version order and recorded
 * in a `vigil_migrations` table (version, name, checksum = sha256 hex of the raw
 * file, applied_at). Re-running applies only new files. If a file that was
 * already applied has changed, nothing runs and VIGIL_ERR_MIGRATION_CHANGED
 * names the file and both checksums: ship a new migration instead of editing.
 *
 * ClickHouse files use `{{database}}` and `{{retention_days}}` placeholders and
 * may hold several statements, each ending with `;` at the end of a line. A
 * statement that starts a mutation (`ALTER TABLE … UPDATE | DELETE |
 * MATERIALIZE …`) is followed by a wait until ClickHouse has applied every
 * mutation of that table, so the next statement sees the rewritten rows or
 * the built projection, index or column (short polls of
 * system.mutations: no request outlives the client's timeout however long
 * the mutation runs).
 * Postgres files run in one transaction each, under a session advisory lock so
 * concurrently starting processes apply each migration once.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { ClickHouseHandle } from './clickhouse.js';
import { checkClickHouseVersion } from './clickhouse-version.js';
import { VigilError } from './errors.js';
import type { Logger } from './logger.js';
import { packageRoot } from './paths.js';

/** One migration file read from disk. */
export interface MigrationFile {
  version: number;
  /** File name, e.g. `0001_spans.sql`. */
  name: string;
  /** sha256 (hex) of the raw file content. */
  checksum: string;
  sql: string;
}

/** Outcome of a run: file names applied now (empty when already up to date). */
export interface MigrationResult {
  applied: string[];
}

const FILE_RE = /^(\d{4})_[A-Za-z0-9_-]+\.sql$/;
/** Advisory lock key for Postgres migrations (arbitrary, fixed: "vigilmig"). */
const PG_LOCK_KEY = 0x7669_6769_6c6d_6967n;

/**
 * Default migrations directory for `kind`: `<package root>/migrations/<kind>`
 * (same from source and from dist/, see platform/paths.ts).
 */
export function migrationsDir(kind: 'clickhouse' | 'postgres'): string {
  return path.join(packageRoot(), 'migrations', kind);
}

/**
 * Read and order the migration files of a directory.
 * @throws VigilError VIGIL_ERR_MIGRATION_FAILED for a missing directory, a
 *   `.sql` file not named `NNNN_name.sql`, or two files with one version.
 */
export function readMigrations(dir: string): MigrationFile[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.sql'));
  } catch (err) {
    throw new VigilError('VIGIL_ERR_MIGRATION_FAILED', `cannot read migrations directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const files = names.map((name): MigrationFile => {
    const m = FILE_RE.exec(name);
    if (m === null) {
      throw new VigilError('VIGIL_ERR_MIGRATION_FAILED', `migration file ${path.join(dir, name)} must be named NNNN_name.sql`);
    }
    const raw = fs.readFileSync(path.join(dir, name));
    return {
      version: Number(m[1]),
      name,
      checksum: createHash('sha256').update(raw).digest('hex'),
      sql: raw.toString('utf8'),
    };
  });
  files.sort((a, b) => a.version - b.version);
  for (let i = 1; i < files.length; i++) {
    if (files[i]!.version === files[i - 1]!.version) {
      throw new VigilError('VIGIL_ERR_MIGRATION_FAILED', `migrations ${files[i - 1]!.name} and ${files[i]!.name} in ${dir} share version ${files[i]!.version}`);
    }
  }
  return files;
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

/**
 * Refuse when an applied migration's file changed (or was renamed).
 * @returns the files not applied yet, in order.
 * @throws VigilError VIGIL_ERR_MIGRATION_CHANGED naming the file and both checksums.
 */
function pending(files: MigrationFile[], applied: AppliedRow[], dir: string, log: Logger): MigrationFile[] {
  const byVersion = new Map(applied.map((a) => [a.version, a]));
  for (const f of files) {
    const a = byVersion.get(f.version);
    if (a === undefined) continue;
    if (a.checksum !== f.checksum || a.name !== f.name) {
      throw new VigilError(
        'VIGIL_ERR_MIGRATION_CHANGED',
        `migration ${path.join(dir, f.name)} changed after it was applied as ${a.name}: ` +
          `applied checksum ${a.checksum}, file checksum ${f.checksum}. ` +
          'Restore the original file and put the change in a new migration.',
      );
    }
  }
  const known = new Set(files.map((f) => f.version));
  for (const a of applied) {
    if (!known.has(a.version)) log.warn({ migration: a.name, dir }, 'applied migration has no file (newer version of Vigil ran here?)');
  }
  return files.filter((f) => !byVersion.has(f.version));
}

/**
 * Split a ClickHouse migration into statements: a statement ends with `;` at the
 * end of a line. Whole-line `--` comments are dropped. (Statements in these files
 * hold no `;` inside string literals.)
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current: string[] = [];
  for (const line of sql.split(/\r?\n/)) {
    if (line.trim().startsWith('--')) continue;
    const trimmed = line.trimEnd();
    if (trimmed.endsWith(';')) {
      current.push(trimmed.slice(0, -1));
      out.push(current.join('\n'));
      current = [];
    } else {
      current.push(line);
    }
  }
  out.push(current.join('\n'));
  return out.map((s) => s.trim()).filter((s) => s !== '');
}

/** A statement that starts a mutation (UPDATE, DELETE, MATERIALIZE of a projection, index or column); group 1 is the table. */
const MUTATION_RE = /^ALTER\s+TABLE\s+(?:[A-Za-z_][A-Za-z0-9_]*\.)?([A-Za-z_][A-Za-z0-9_]*)\s+(?:UPDATE|DELETE|MATERIALIZE)\b/i;

/**
 * Wait until no mutation of `table` is pending (system.mutations), polling
 * every `pollMs` (ms); logs progress (parts to do) every 10 s. No deadline on
 * purpose: a migration's rewrite of a large table takes as long as it takes,
 * and a failure stops the wait (below), so only a mutation that neither
 * progresses nor fails would wait forever — the log then shows it stuck.
 * @throws VigilError VIGIL_ERR_MIGRATION_FAILED when ClickHouse reports a
 *   failure of a pending mutation (it keeps retrying it; the message names the
 *   reason and the way out).
 */
async function awaitMutations(handle: ClickHouseHandle, table: string, file: string, log: Logger, pollMs = 250): Promise<void> {
  let logged = Date.now();
  for (;;) {
    const rs = await handle.client.query({
      query: `SELECT count() AS pending, sum(parts_to_do) AS parts, max(latest_fail_reason) AS reason
        FROM system.mutations WHERE database = {db:String} AND table = {table:String} AND NOT is_done`,
      query_params: { db: handle.database, table },
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<{ pending: string | number; parts: string | number; reason: string }>();
    if (row === undefined || Number(row.pending) === 0) return;
    if (row.reason !== '') {
      throw new VigilError(
        'VIGIL_ERR_MIGRATION_FAILED',
        `ClickHouse migration ${file}: the mutation of ${handle.database}.${table} fails: ${row.reason}; ClickHouse retries it — fix the cause (or KILL MUTATION) and run the migration again`,
      );
    }
    if (Date.now() - logged >= 10_000) {
      log.info({ migration: file, table, partsToDo: Number(row.parts) }, 'waiting for a ClickHouse mutation');
      logged = Date.now();
    }
    await sleep(pollMs);
  }
}

/**
 * Apply pending ClickHouse migrations (creates the database and the
 * `{db}.vigil_migrations` MergeTree first).
 * @param handle client and database name (a validated identifier).
 * @param opts.retentionDays value for `{{retention_days}}` (days, positive integer).
 * @param opts.dir migrations directory; defaults to `<package root>/migrations/clickhouse`.
 * @returns names of the files applied by this call.
 * @throws VigilError VIGIL_ERR_CLICKHOUSE_VERSION (server older than
 *   platform/clickhouse-version.ts's minimum; checked before anything is
 *   created), VIGIL_ERR_MIGRATION_CHANGED (applied file edited),
 *   VIGIL_ERR_MIGRATION_FAILED (a statement failed; names file and statement),
 *   VIGIL_ERR_CLICKHOUSE_UNAVAILABLE (cannot reach ClickHouse).
 */
export async function migrateClickHouse(
  handle: ClickHouseHandle,
  opts: { retentionDays: number; dir?: string; log: Logger },
): Promise<MigrationResult> {
  const log = opts.log.child({ component: 'migrate', store: 'clickhouse' });
  const dir = opts.dir ?? migrationsDir('clickhouse');
  const db = handle.database;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(db)) {
    throw new VigilError('VIGIL_ERR_CONFIG', `CLICKHOUSE_DATABASE ${JSON.stringify(db)} is not a plain identifier`);
  }
  if (!Number.isInteger(opts.retentionDays) || opts.retentionDays <= 0) {
    throw new VigilError('VIGIL_ERR_CONFIG', `retention days must be a positive integer, got ${opts.retentionDays}`);
  }
  const files = readMigrations(dir);
  const { client } = handle;
  await checkClickHouseVersion(handle);

  try {
    await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
    await client.command({
      query: `CREATE TABLE IF NOT EXISTS ${db}.vigil_migrations
        (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC'))
        ENGINE = MergeTree ORDER BY version`,
    });
  } catch (err) {
    throw new VigilError('VIGIL_ERR_CLICKHOUSE_UNAVAILABLE', `cannot prepare ClickHouse database ${db} at ${handle.location}: ${(err as Error).message}`, { cause: err });
  }
  const rs = await client.query({
    query: 'SELECT version, any(name) AS name, any(checksum) AS checksum FROM {db:Identifier}.vigil_migrations GROUP BY version ORDER BY version',
    query_params: { db },
    format: 'JSONEachRow',
  });
  const applied = (await rs.json<{ version: number | string; name: string; checksum: string }>()).map((r) => ({
    version: Number(r.version),
    name: r.name,
    checksum: r.checksum,
  }));

  const todo = pending(files, applied, dir, log);
  const done: string[] = [];
  for (const f of todo) {
    const sql = f.sql.replaceAll('{{database}}', db).replaceAll('{{retention_days}}', String(opts.retentionDays));
    for (const stmt of splitStatements(sql)) {
      try {
        await client.command({ query: stmt });
        const mutated = MUTATION_RE.exec(stmt)?.[1];
        if (mutated !== undefined) await awaitMutations(handle, mutated, f.name, log);
      } catch (err) {
        if (err instanceof VigilError) throw err;
        throw new VigilError(
          'VIGIL_ERR_MIGRATION_FAILED',
          `ClickHouse migration ${f.name} failed: ${(err as Error).message}; statement: ${stmt.slice(0, 200)}`,
          { cause: err },
        );
      }
    }
    await client.insert({
      table: `${db}.vigil_migrations`,
      values: [{ version: f.version, name: f.name, checksum: f.checksum, applied_at: new Date().toISOString().replace('T', ' ').replace('Z', '') }],
      format: 'JSONEachRow',
    });
    log.info({ migration: f.name }, 'applied clickhouse migration');
    done.push(f.name);
  }
  return { applied: done };
}

/**
 * Apply pending Postgres migrations, each file in its own transaction, under a
 * session advisory lock held for the whole run (concurrent callers wait).
 * @param pool connection pool of the target database.
 * @param opts.dir migrations directory; defaults to `<package root>/migrations/postgres`.
 * @returns names of the files applied by this call.
 * @throws VigilError VIGIL_ERR_MIGRATION_CHANGED (applied file edited),
 *   VIGIL_ERR_MIGRATION_FAILED (a file failed; it was rolled back),
 *   VIGIL_ERR_POSTGRES_UNAVAILABLE (cannot connect).
 */
export async function migratePostgres(pool: pg.Pool, opts: { dir?: string; log: Logger }): Promise<MigrationResult> {
  const log = opts.log.child({ component: 'migrate', store: 'postgres' });
  const dir = opts.dir ?? migrationsDir('postgres');
  const files = readMigrations(dir);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw new VigilError('VIGIL_ERR_POSTGRES_UNAVAILABLE', `cannot connect to postgres to migrate: ${(err as Error).message}`, { cause: err });
  }
  let broken = false;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PG_LOCK_KEY.toString()]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS vigil_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const res = await client.query<AppliedRow>('SELECT version, name, checksum FROM vigil_migrations ORDER BY version');
      const todo = pending(files, res.rows, dir, log);
      const done: string[] = [];
      for (const f of todo) {
        try {
          await client.query('BEGIN');
          await client.query(f.sql);
          await client.query('INSERT INTO vigil_migrations (version, name, checksum) VALUES ($1, $2, $3)', [f.version, f.name, f.checksum]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {
            broken = true;
          });
          throw new VigilError('VIGIL_ERR_MIGRATION_FAILED', `Postgres migration ${path.join(dir, f.name)} failed and was rolled back: ${(err as Error).message}`, { cause: err });
        }
        log.info({ migration: f.name }, 'applied postgres migration');
        done.push(f.name);
      }
      return { applied: done };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [PG_LOCK_KEY.toString()]).catch(() => {
        broken = true;
      });
    }
  } finally {
    // A connection whose unlock/rollback failed must not go back to the pool.
    client.release(broken);
  }
}
