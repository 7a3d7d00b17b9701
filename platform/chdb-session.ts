/**
 * Per-query settings for the embedded chDB connection.
 *
 * chdb-node turns a call's `clickhouse_settings` into `SET k = v; <query>` on
 * its one session, so the settings outlive the call (unlike the HTTP
 * interface, where they are per request). Observed: after an insert with
 * `insert_deduplication_token`, a later insert without a token inherited it
 * and was silently dropped as a duplicate; the query API's 30 s
 * `max_execution_time` leaked into migrations.
 *
 * {@link isolateSessionSettings} wraps the connection so that every call
 * first puts back, to their defaults (read once from `system.settings`),
 * the settings an earlier call changed and this one does not set. The
 * resets ride in the same `SET …;` prefix chdb-node already sends, so they
 * cost no extra round trip. Keys `system.settings` does not know (the
 * adapter's HTTP-only options) are passed through untouched.
 */

/** The connection methods that take `clickhouse_settings`. */
const METHODS = new Set(['query', 'command', 'exec', 'insert']);

type Params = { clickhouse_settings?: Record<string, unknown> } & Record<string, unknown>;

/** What the wrapper needs from the chDB connection: the methods, and a raw query for the defaults. */
export interface ChdbLikeConnection {
  chdb: { queryAsync(sql: string, opts?: { format?: string }): Promise<{ text(): string }> };
}

/**
 * Wrap a chdb-node connection (see module doc).
 * @param conn the connection from `createChdbConnection`.
 * @returns a proxy with the same interface.
 */
export function isolateSessionSettings<C extends ChdbLikeConnection>(conn: C): C {
  /** Setting → default value (as system.settings gives it); null = not a session setting. */
  const defaults = new Map<string, string | null>();
  /** Settings some call changed in the session. */
  const dirty = new Set<string>();

  async function learn(keys: string[]): Promise<void> {
    const unknown = keys.filter((k) => !defaults.has(k) && /^[A-Za-z_][A-Za-z0-9_]*$/.test(k));
    if (unknown.length === 0) return;
    const list = unknown.map((k) => `'${k}'`).join(', ');
    const res = await conn.chdb.queryAsync(`SELECT name, default FROM system.settings WHERE name IN (${list})`, { format: 'JSONEachRow' });
    const found = new Map<string, string>();
    for (const line of res.text().split('\n')) {
      if (line.trim() === '') continue;
      const row = JSON.parse(line) as { name: string; default: string };
      found.set(row.name, row.default);
    }
    for (const k of unknown) defaults.set(k, found.get(k) ?? null);
  }

  async function withResets(params: Params): Promise<Params> {
    const given = params.clickhouse_settings ?? {};
    const keys = Object.keys(given).filter((k) => given[k] !== undefined);
    await learn(keys);
    const settings: Record<string, unknown> = {};
    for (const k of dirty) if (!(k in given)) settings[k] = defaults.get(k);
    for (const k of keys) {
      settings[k] = given[k];
      if (defaults.get(k) !== null) dirty.add(k);
    }
    return Object.keys(settings).length === 0 ? params : { ...params, clickhouse_settings: settings };
  }

  return new Proxy(conn, {
    get(target, prop) {
      // The target is the receiver: chdb-node's getters read private fields (#chdb).
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof prop !== 'string' || !METHODS.has(prop) || typeof value !== 'function') {
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      }
      return async (params: Params, ...rest: unknown[]) =>
        (value as (p: Params, ...r: unknown[]) => Promise<unknown>).call(target, await withResets(params), ...rest);
    },
  });
}
