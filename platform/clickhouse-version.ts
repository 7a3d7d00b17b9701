/**
 * The oldest ClickHouse server Vigil runs against, checked before migrations.
 *
 * Vigil is tested with the engine of the embedded chDB (ClickHouse 26.7).
 * Migration 0020 defines a projection with its own settings
 * (`PROJECTION … WITH SETTINGS (index_granularity = 256, …)`), which
 * ClickHouse 25.8 (the image docker-compose.yml used before) cannot parse, and
 * the trace lookups set `min_table_rows_to_use_projection_index`, which 25.8
 * does not know (query-api/clickhouse.ts). Checked by replaying
 * migrations/clickhouse/ statement by statement on chDB engines of other
 * versions: 25.8.2.1 fails at 0020, 26.9.2.1 applies every file. Versions
 * between 25.8 and 26.7 are untested, so the minimum is 26.7.
 */
import type { ClickHouseHandle } from './clickhouse.js';
import { VigilError } from './errors.js';

/** Oldest supported ClickHouse server, `major.minor`. */
export const MIN_CLICKHOUSE_VERSION = '26.7';

/**
 * Whether `version` (as `SELECT version()` returns it, e.g. `26.7.2.1`) is at
 * least `minimum` (`major.minor[.patch…]`), comparing numeric components left
 * to right; missing components count as 0.
 * @throws VigilError VIGIL_ERR_CLICKHOUSE_VERSION when `version` does not
 *   start with a number.
 */
export function isAtLeast(version: string, minimum: string): boolean {
  const parse = (v: string): number[] => v.split('.').map((p) => Number.parseInt(p, 10));
  const have = parse(version);
  if (!Number.isFinite(have[0])) {
    throw new VigilError('VIGIL_ERR_CLICKHOUSE_VERSION', `cannot read the ClickHouse server version ${JSON.stringify(version)}; expected major.minor.patch`);
  }
  const need = parse(minimum);
  for (let i = 0; i < Math.max(have.length, need.length); i++) {
    const a = Number.isFinite(have[i]) ? have[i]! : 0;
    const b = Number.isFinite(need[i]) ? need[i]! : 0;
    if (a !== b) return a > b;
  }
  return true;
}

/**
 * Check that the server behind `handle` is at least {@link MIN_CLICKHOUSE_VERSION}.
 * @returns the server's version string.
 * @throws VigilError VIGIL_ERR_CLICKHOUSE_VERSION (too old: names the version,
 *   the minimum and the fix), VIGIL_ERR_CLICKHOUSE_UNAVAILABLE (the query failed).
 */
export async function checkClickHouseVersion(handle: ClickHouseHandle): Promise<string> {
  let version: string;
  try {
    const rs = await handle.client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
    version = String((await rs.json<{ v: string }>())[0]?.v ?? '');
  } catch (err) {
    throw new VigilError('VIGIL_ERR_CLICKHOUSE_UNAVAILABLE', `cannot read the ClickHouse version at ${handle.location}: ${(err as Error).message}`, { cause: err });
  }
  if (!isAtLeast(version, MIN_CLICKHOUSE_VERSION)) {
    throw new VigilError(
      'VIGIL_ERR_CLICKHOUSE_VERSION',
      `ClickHouse at ${handle.location} is version ${version}; Vigil needs ${MIN_CLICKHOUSE_VERSION} or newer ` +
        `(its migrations define projections with their own settings). Upgrade the server ` +
        `(docker-compose.yml uses clickhouse/clickhouse-server:${MIN_CLICKHOUSE_VERSION}) and start Vigil again`,
    );
  }
  return version;
}
