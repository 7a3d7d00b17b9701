/**
 * ClickHouse client factory: one `@clickhouse/client` API for both the
 * embedded default (chDB in-process through `chdb/connection`, data under
 * `<dataDir>/clickhouse`) and a real server (`CLICKHOUSE_URL`, over HTTP).
 *
 * chDB binds one data directory per process: create at most one embedded
 * client per process and share it.
 *
 * SQL must qualify tables with the database through a typed identifier
 * parameter (`FROM {db:Identifier}.spans`, `query_params: { db }`), since chDB
 * ignores the client's `database` option. Values always go through typed
 * query parameters, never string interpolation.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import path from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import { isolateSessionSettings } from './chdb-session.js';
import { VigilError } from './errors.js';
import type { VigilConfig } from './config.js';

export type { ClickHouseClient };

/** The created client and what it points at. */
export interface ClickHouseHandle {
  client: ClickHouseClient;
  /** Database holding Vigil's tables (validated identifier). */
  database: string;
  /** 'chdb' (embedded, in-process) or 'http' (server at CLICKHOUSE_URL). */
  mode: 'chdb' | 'http';
  /** Where it points: the chDB data directory or the server URL. */
  location: string;
  /**
   * Insert a body already encoded (see {@link InsertBody}) into
   * `{database}.{table}` with per-insert `settings`.
   * - JSONEachRow. chDB: chdb-node's raw passthrough (`rawInsert`, the
   *   engine's parallel parser reads the buffer); HTTP: `INSERT … FORMAT
   *   JSONEachRow` with the text as the request body.
   * - Native. chDB: the block is written to a spool file beside the data
   *   (`<chdb dir>/vigil-inserts/<pid>-<n>.native`, removed after the insert;
   *   files of dead processes are removed at start-up) and inserted
   *   with `INSERT INTO t (columns) SELECT * FROM file(path, 'Native')`:
   *   chdb-node's raw insert takes text formats only, and this is ~4× cheaper
   *   than JSONEachRow (bench/README.md, "Insert format"); the dedup token
   *   applies to INSERT … SELECT as to any insert. HTTP: `INSERT INTO t
   *   (columns) FORMAT Native` with the block as the request body.
   * @throws errors carrying the ClickHouse numeric `code` (as @clickhouse/client's),
   *   or a Node system error code (e.g. ENOSPC writing the spool file).
   */
  insertRaw(table: string, body: InsertBody, settings: Record<string, string | number>): Promise<void>;
  /**
   * chDB: the directory where Native insert bodies are spooled
   * (`<chdb dir>/vigil-inserts`); worker threads write `NativeFiles` bodies
   * here (files named `<pid>-…`, so start-up removes those of dead
   * processes). Undefined for a ClickHouse server.
   */
  spoolDir?: string;
}

/**
 * An encoded insert body: JSONEachRow text (one object per line), or
 * ClickHouse Native (platform/clickhouse-native.ts): one block, or several
 * blocks of the same `columns` (in block order) that form one Native stream
 * when written one after another (each block carries its own header).
 */
export type InsertBody =
  | { format: 'JSONEachRow'; data: string | Uint8Array }
  | { format: 'Native'; data: Uint8Array | readonly Uint8Array[]; columns: readonly string[] }
  | NativeFilesBody;

/**
 * A Native stream already in files (written by a worker thread), read in
 * `paths` order; the files lie in one directory (the handle's `spoolDir` for
 * chDB). The caller owns the files: insertRaw reads them and leaves them, so
 * a retried insert reads them again; `bytes` is their total size.
 */
export interface NativeFilesBody {
  format: 'NativeFiles';
  paths: readonly string[];
  columns: readonly string[];
  bytes: number;
}

const SPOOL_NAME = /^[A-Za-z0-9_.-]+$/;

/** Remove the files of the `NativeFiles` bodies among `bodies` (missing files are fine). Never throws. */
export async function removeSpoolFiles(bodies: Readonly<Record<string, InsertBody>>): Promise<void> {
  const paths = Object.values(bodies).flatMap((b) => (b.format === 'NativeFiles' ? b.paths : []));
  await Promise.all(paths.map((p) => fs.promises.rm(p, { force: true }).catch(() => undefined)));
}

/**
 * The `file()` path of `paths`: the file itself, or a `{a,b}` alternation in their common directory.
 * @throws VigilError VIGIL_ERR_INTERNAL (not retryable: a caller bug) on names outside [A-Za-z0-9_.-] or different directories.
 */
function fileGlob(paths: readonly string[]): string {
  const dir = path.dirname(paths[0]!);
  const names = paths.map((p) => {
    const name = path.basename(p);
    if (path.dirname(p) !== dir || !SPOOL_NAME.test(name)) throw new VigilError('VIGIL_ERR_INTERNAL', `spool files must share a directory and have plain names: ${JSON.stringify(p)}`);
    return name;
  });
  return path.join(dir, names.length === 1 ? names[0]! : `{${names.join(',')}}`);
}

/** `'…'` SQL string literal of a path. */
function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The chunks of a body's data, in order. */
function bodyChunks(data: string | Uint8Array | readonly Uint8Array[]): Array<string | Uint8Array> {
  return typeof data === 'string' || data instanceof Uint8Array ? [data] : [...data];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `(a, b, …)` of a Native body's columns. @throws VigilError VIGIL_ERR_INTERNAL (not retryable: a caller bug) on a name that is not a plain identifier. */
function columnList(columns: readonly string[]): string {
  for (const c of columns) if (!IDENTIFIER.test(c)) throw new VigilError('VIGIL_ERR_INTERNAL', `invalid column name ${JSON.stringify(c)}`);
  return `(${columns.join(', ')})`;
}

/**
 * Remove spool files (`<pid>-<n>.native`) left by processes that no longer
 * run (a crash between writing and removing one). Files of a live process
 * are kept: removing them would fail its insert in flight.
 */
export function removeOrphanSpoolFiles(spool: string): void {
  for (const name of fs.readdirSync(spool)) {
    const pid = Number(/^(\d+)-/.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid !== process.pid && processAlive(pid)) continue;
    fs.rmSync(path.join(spool, name), { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * chdb-node reports engine exceptions as ChdbInsertError (code 'CHDB_INSERT')
 * whose text starts with ClickHouse's `Code: <n>. DB::Exception: …` line —
 * the same text @clickhouse/client parses the numeric code from for HTTP
 * answers. Re-throw with that numeric `code` so callers classify by code.
 */
function withEngineCode(err: unknown): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  const m = /^Code: (\d+)\. /.exec(e.message);
  if (m) return Object.assign(new Error(e.message, { cause: e }), { code: m[1], type: 'chdb' });
  return e;
}

/**
 * Create the ClickHouse client.
 * @param cfg the `clickhouse` config slice.
 * @param dataDir Vigil's data directory; chDB data goes to `<dataDir>/clickhouse`
 *   unless `chdbPath` is given.
 * @param chdbPath optional explicit chDB session directory.
 * @returns a handle; call `client.close()` at shutdown.
 */
export function createClickHouse(
  cfg: VigilConfig['clickhouse'],
  dataDir: string,
  chdbPath?: string,
): ClickHouseHandle {
  if (cfg.url !== undefined) {
    const client = createClient({
      url: cfg.url,
      username: cfg.username ?? 'default',
      password: cfg.password ?? '',
      request_timeout: 60_000,
      clickhouse_settings: { date_time_input_format: 'best_effort' },
    });
    const database = cfg.database;
    return {
      client,
      database,
      mode: 'http',
      location: cfg.url,
      async insertRaw(table, body, settings) {
        const cols = body.format === 'JSONEachRow' ? '' : ` ${columnList(body.columns)}`;
        const values = body.format === 'NativeFiles'
          ? Readable.from((async function* () {
            for (const p of body.paths) yield* fs.createReadStream(p);
          })())
          : Readable.from(bodyChunks(body.data).map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
        const r = await client.exec({
          query: `INSERT INTO ${database}.${table}${cols} FORMAT ${body.format === 'JSONEachRow' ? 'JSONEachRow' : 'Native'}`,
          values,
          clickhouse_settings: settings,
        });
        r.stream.resume();
      },
    };
  }
  const dir = chdbPath ?? path.join(dataDir, 'clickhouse');
  fs.mkdirSync(dir, { recursive: true });
  // chdb implements @clickhouse/client-common's Connection; @clickhouse/client
  // bundles its own copy of those (identical) types, hence the cast.
  // Settings must not outlive their call in chDB's one session (platform/chdb-session.ts).
  const chdb = isolateSessionSettings(createChdbConnection({ path: dir }));
  // Native insert bodies pass through files here (see insertRaw); a crash may leave some.
  const spool = path.join(dir, 'vigil-inserts');
  fs.mkdirSync(spool, { recursive: true });
  removeOrphanSpoolFiles(spool);
  let spooled = 0;
  const connection = chdb as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection'];
  const client = createClient({ connection });
  const database = cfg.database;
  return {
    client,
    database,
    mode: 'chdb',
    location: dir,
    spoolDir: spool,
    async insertRaw(table, body, settings) {
      if (body.format === 'NativeFiles') {
        try {
          await client.command({
            query: `INSERT INTO ${database}.${table} ${columnList(body.columns)} SELECT * FROM file(${sqlString(fileGlob(body.paths))}, 'Native')`,
            clickhouse_settings: { ...settings, schema_inference_use_cache_for_file: 0 },
          });
        } catch (err) {
          throw withEngineCode(err);
        }
        return;
      }
      if (body.format === 'JSONEachRow') {
        try {
          await chdb.chdb.rawInsert({ table: `${database}.${table}`, values: body.data, format: 'JSONEachRow', settings });
        } catch (err) {
          throw withEngineCode(err);
        }
        return;
      }
      const cols = columnList(body.columns);
      const file = path.join(spool, `${process.pid}-${++spooled}.native`);
      try {
        await fs.promises.writeFile(file, bodyChunks(body.data));
        await client.command({
          query: `INSERT INTO ${database}.${table} ${cols} SELECT * FROM file(${sqlString(file)}, 'Native')`,
          // Every spool file is new: keep their schemas out of the inference cache.
          clickhouse_settings: { ...settings, schema_inference_use_cache_for_file: 0 },
        });
      } catch (err) {
        throw withEngineCode(err);
      } finally {
        await fs.promises.rm(file, { force: true });
      }
    },
  };
}
