/**
 * Per-project retention applied by ClickHouse TTL (no DELETE jobs).
 *
 * A project's retention (days) is stored in Postgres (`projects.retention_days`,
 * NULL = VIGIL_RETENTION_DAYS; migration 0005). Every table with a TTL (spans,
 * logs, the per-minute and hourly aggregates, anomaly scores) gets one TTL
 * expression naming each project with its own retention:
 *
 *     TTL toDateTime(start_time) + toIntervalDay(transform(tenant, ['free', 'pro'], [7, 90], 30))
 *
 * (`transform(x, from, to, default)`; just `toIntervalDay(30)` when no project
 * has its own). {@link applyRetention} compares it with each table's current
 * TTL (system.tables.engine_full) and runs `ALTER TABLE … MODIFY TTL` only
 * where it differs, so it is idempotent and cheap at start; ClickHouse then
 * materialises the new TTL for existing parts (a background mutation,
 * `materialize_ttl_after_modify`) and deletes expired rows in merges.
 * `vigil start` applies it after the migrations (so a changed
 * VIGIL_RETENTION_DAYS applies to existing tables), and the admin API after a
 * project's retention changes.
 */
import type pg from 'pg';
import type { ClickHouseHandle } from './clickhouse.js';
import { VigilError } from './errors.js';
import type { Logger } from './logger.js';

/** Retention of every project, days. */
export interface RetentionPolicy {
  /** Days for projects without their own (VIGIL_RETENTION_DAYS). */
  defaultDays: number;
  /** Project id → days, for projects with their own retention. */
  perProject: ReadonlyMap<string, number>;
}

/** What {@link applyRetention} did. */
export interface RetentionResult {
  /** Tables whose TTL was changed now. */
  changed: string[];
  /** Tables whose TTL already matched. */
  unchanged: string[];
}

function quote(s: string): string {
  return `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

function checkDays(days: number, what: string): void {
  if (!Number.isInteger(days) || days < 1 || days > 36_500) {
    throw new VigilError('VIGIL_ERR_CONFIG', `${what}: retention must be a whole number of days from 1 to 36500, got ${days}`);
  }
}

/**
 * The TTL interval expression of a policy, formatted as ClickHouse prints it in
 * `engine_full` (so it can be compared): `toIntervalDay(30)` or
 * `toIntervalDay(transform(tenant, ['a', 'b'], [7, 90], 30))` (projects sorted).
 * @throws VigilError VIGIL_ERR_CONFIG for a retention outside 1…36500 days.
 */
export function intervalExpression(policy: RetentionPolicy): string {
  checkDays(policy.defaultDays, 'default (VIGIL_RETENTION_DAYS)');
  const own = [...policy.perProject].filter(([, d]) => d !== policy.defaultDays).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [p, d] of own) checkDays(d, `project "${p}"`);
  if (own.length === 0) return `toIntervalDay(${policy.defaultDays})`;
  return `toIntervalDay(transform(tenant, [${own.map(([p]) => quote(p)).join(', ')}], [${own.map(([, d]) => d).join(', ')}], ${policy.defaultDays}))`;
}

/**
 * Reads the policy from Postgres.
 * @param defaultDays VIGIL_RETENTION_DAYS.
 * @throws what `pg` throws.
 */
export async function loadRetention(pool: pg.Pool, defaultDays: number): Promise<RetentionPolicy> {
  const res = await pool.query<{ id: string; retention_days: number }>('SELECT id, retention_days FROM projects WHERE retention_days IS NOT NULL');
  return { defaultDays, perProject: new Map(res.rows.map((r) => [r.id, r.retention_days])) };
}

/**
 * Make every TTL table of `ch`'s database expire rows by `policy` (see module doc).
 * @param opts.wait wait until existing parts are re-evaluated (mutations_sync = 2; tests); default false.
 * @returns the tables changed and unchanged.
 * @throws the ClickHouse client's errors; VigilError VIGIL_ERR_CONFIG for a bad retention.
 */
export async function applyRetention(ch: ClickHouseHandle, policy: RetentionPolicy, opts: { log?: Logger; wait?: boolean } = {}): Promise<RetentionResult> {
  const interval = intervalExpression(policy);
  const rs = await ch.client.query({
    query: "SELECT name, engine_full FROM system.tables WHERE database = {db:String} AND engine_full LIKE '%TTL %' ORDER BY name",
    query_params: { db: ch.database },
    format: 'JSONEachRow',
  });
  const tables = (await rs.json()) as Array<{ name: string; engine_full: string }>;
  const result: RetentionResult = { changed: [], unchanged: [] };
  for (const t of tables) {
    const m = /\bTTL (.+?) \+ (toIntervalDay\(.*\))(?: SETTINGS |$)/.exec(t.engine_full);
    if (m === null) continue; // a TTL Vigil did not write
    if (m[2] === interval) {
      result.unchanged.push(t.name);
      continue;
    }
    await ch.client.command({
      query: `ALTER TABLE ${ch.database}.${t.name} MODIFY TTL ${m[1]} + ${interval}`,
      clickhouse_settings: opts.wait ? { mutations_sync: '2' } : {},
    });
    result.changed.push(t.name);
  }
  if (result.changed.length > 0) opts.log?.info({ tables: result.changed, ttl: interval }, 'retention: table TTLs changed');
  return result;
}
