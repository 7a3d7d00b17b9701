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
import path from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
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
    return { client, database: cfg.database, mode: 'http', location: cfg.url };
  }
  const dir = chdbPath ?? path.join(dataDir, 'clickhouse');
  fs.mkdirSync(dir, { recursive: true });
  // chdb implements @clickhouse/client-common's Connection; @clickhouse/client
  // bundles its own copy of those (identical) types, hence the cast.
  const connection = createChdbConnection({ path: dir }) as unknown as NonNullable<
    Parameters<typeof createClient>[0]
  >['connection'];
  const client = createClient({ connection });
  return { client, database: cfg.database, mode: 'chdb', location: dir };
}
