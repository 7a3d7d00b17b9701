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
   * Insert a body already encoded in `format` (one JSON object per line for
   * JSONEachRow) into `{database}.{table}` with per-insert `settings`.
   * chDB: chdb-node's raw passthrough (`connection.chdb.rawInsert`: the
   * buffer goes to the engine zero-copy, ClickHouse's parallel parser reads
   * it). HTTP: `client.exec` with the body as the request body.
   * @throws errors carrying the ClickHouse numeric `code` (as @clickhouse/client's).
   */
  insertRaw(table: string, format: 'JSONEachRow', body: string | Buffer, settings: Record<string, string | number>): Promise<void>;
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
      async insertRaw(table, format, body, settings) {
        const r = await client.exec({
          query: `INSERT INTO ${database}.${table} FORMAT ${format}`,
          values: Readable.from([typeof body === 'string' ? Buffer.from(body) : body]),
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
  const connection = chdb as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection'];
  const client = createClient({ connection });
  const database = cfg.database;
  return {
    client,
    database,
    mode: 'chdb',
    location: dir,
    async insertRaw(table, format, body, settings) {
      try {
        await chdb.chdb.rawInsert({ table: `${database}.${table}`, values: body, format, settings });
      } catch (err) {
        throw withEngineCode(err);
      }
    },
  };
}
