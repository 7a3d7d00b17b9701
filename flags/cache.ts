/**
 * In-memory flag snapshots per project, kept fresh by Postgres LISTEN/NOTIFY,
 * so evaluations are memory-only and survive Postgres blips.
 *
 * - A project's snapshot (its flags, parsed; their overrides; its revision =
 *   highest feature_flag_changes id) is loaded on first use in one
 *   REPEATABLE READ transaction.
 * - Every change commits a feature_flag_changes row whose trigger sends
 *   `NOTIFY vigil_flag_changes {"project_id", "flag_key", "id"}` (migration
 *   0003); every cache listening on that Postgres marks the project stale and
 *   reloads it on its next evaluation. A change is thus seen by every process
 *   as soon as the notification arrives (milliseconds), well within a second.
 * - While the LISTEN connection is down (reconnected after 1 s, 2 s … 30 s),
 *   notifications may be missed: snapshots older than `unlistenedMaxAgeMs`
 *   (1 s) are reloaded on use, and all are marked stale on reconnect.
 * - A snapshot is reloaded on use after `maxAgeMs` (60 s) whatever happens.
 * - When a reload fails (Postgres unreachable) the last snapshot keeps being
 *   served (logged once per outage); only a project never loaded fails, with
 *   VIGIL_ERR_POSTGRES_UNAVAILABLE.
 */
import type pg from 'pg';
import { VigilError } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import { evaluateFlag, type EvalContext, type EvalResult, type FlagOverrides } from './evaluate.js';
import type { FlagSpec } from './model.js';
import { rowToSpec, type FlagRow } from './store.js';

export const FLAG_CHANGES_CHANNEL = 'vigil_flag_changes';

/** One flag in a snapshot: its spec, or why its stored definition does not parse. */
export interface SnapshotFlag {
  key: string;
  spec: FlagSpec | undefined;
  parseError: string | undefined;
  overrides: FlagOverrides;
}

/** A project's flags at one revision. */
export interface ProjectSnapshot {
  project: string;
  /** Highest feature_flag_changes id of the project ('0' before any change); changes with every change. */
  revision: string;
  flags: ReadonlyMap<string, SnapshotFlag>;
  /** Date.now() when loaded. */
  loadedAt: number;
}

export interface FlagCacheOptions {
  pool: pg.Pool;
  log: Logger;
  /** Reload a snapshot on use after this long even without a notification (ms, default 60000). */
  maxAgeMs?: number;
  /** While not listening, reload snapshots older than this on use (ms, default 1000). */
  unlistenedMaxAgeMs?: number;
}

export interface FlagCache {
  /** The project's current snapshot (loads or reloads as needed; stale when Postgres is down). */
  snapshot(project: string): Promise<ProjectSnapshot>;
  /** Evaluate one flag; FLAG_NOT_FOUND / PARSE_ERROR failures for unknown or unparsable flags. */
  evaluate(project: string, key: string, ctx: EvalContext): Promise<EvalResult>;
  /** Evaluate every flag of the project, by key, with the snapshot's revision. */
  evaluateAll(project: string, ctx: EvalContext): Promise<{ revision: string; results: EvalResult[] }>;
  /** Mark one project (or all) stale. */
  invalidate(project?: string): void;
  /** Resolves once the LISTEN connection is up (tests). */
  ready(): Promise<void>;
  /** Notifications received so far (tests, metrics). */
  readonly notifications: number;
  close(): Promise<void>;
}

interface Entry {
  snap: ProjectSnapshot;
  stale: boolean;
}

/** Evaluate one flag of a snapshot. */
export function evaluateIn(snap: ProjectSnapshot, key: string, ctx: EvalContext): EvalResult {
  const f = snap.flags.get(key);
  if (f === undefined) return { ok: false, key, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag ${key} was not found in this project` };
  if (f.spec === undefined) return { ok: false, key, reason: 'ERROR', errorCode: 'PARSE_ERROR', errorDetails: `the stored definition of flag ${key} does not parse: ${f.parseError ?? ''}` };
  return evaluateFlag(f.spec, ctx, f.overrides);
}

/** Load a project's snapshot from Postgres (one consistent read). */
export async function loadSnapshot(pool: pg.Pool, project: string): Promise<ProjectSnapshot> {
  const db = await pool.connect();
  try {
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const flags = await db.query<FlagRow>(
      'SELECT project_id, key, description, type, variants, default_variant, enabled, targeting, metadata, version, created_at, updated_at FROM feature_flags WHERE project_id = $1',
      [project],
    );
    const ovr = await db.query<{ flag_key: string; scope: string; subject: string; variant: string }>(
      'SELECT flag_key, scope, subject, variant FROM feature_flag_overrides WHERE project_id = $1',
      [project],
    );
    const rev = await db.query<{ rev: string }>('SELECT COALESCE(max(id), 0)::text AS rev FROM feature_flag_changes WHERE project_id = $1', [project]);
    await db.query('COMMIT');
    const byFlag = new Map<string, { users: Map<string, string>; workspaces: Map<string, string> }>();
    for (const o of ovr.rows) {
      let m = byFlag.get(o.flag_key);
      if (m === undefined) byFlag.set(o.flag_key, (m = { users: new Map(), workspaces: new Map() }));
      (o.scope === 'user' ? m.users : m.workspaces).set(o.subject, o.variant);
    }
    const map = new Map<string, SnapshotFlag>();
    for (const r of flags.rows) {
      let spec: FlagSpec | undefined;
      let parseError: string | undefined;
      try {
        spec = rowToSpec(r);
      } catch (err) {
        parseError = (err as Error).message;
      }
      map.set(r.key, { key: r.key, spec, parseError, overrides: byFlag.get(r.key) ?? { users: new Map(), workspaces: new Map() } });
    }
    return { project, revision: rev.rows[0]!.rev, flags: map, loadedAt: Date.now() };
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    db.release();
  }
}

/** Create a cache on `pool`; it starts listening at once. Close it with close(). */
export function createFlagCache(opts: FlagCacheOptions): FlagCache {
  const { pool, log } = opts;
  const maxAgeMs = opts.maxAgeMs ?? 60_000;
  const unlistenedMaxAgeMs = opts.unlistenedMaxAgeMs ?? 1_000;
  const entries = new Map<string, Entry>();
  const loading = new Map<string, Promise<ProjectSnapshot>>();
  let client: pg.PoolClient | undefined;
  let connecting: Promise<void> | undefined;
  let closed = false;
  let backoffMs = 1000;
  let notifications = 0;
  let outage = false;
  // Bumped by every notification (per project) and every reconnect (epoch):
  // a load that started before a bump is stale on arrival.
  const gen = new Map<string, number>();
  let epoch = 0;

  const onNotification = (msg: pg.Notification): void => {
    if (msg.channel !== FLAG_CHANGES_CHANNEL || msg.payload === undefined) return;
    notifications += 1;
    try {
      const p = JSON.parse(msg.payload) as { project_id?: string; id?: number };
      if (typeof p.project_id !== 'string') throw new Error('no project_id');
      gen.set(p.project_id, (gen.get(p.project_id) ?? 0) + 1);
      const e = entries.get(p.project_id);
      if (e !== undefined && !(typeof p.id === 'number' && BigInt(p.id) <= BigInt(e.snap.revision))) e.stale = true;
    } catch {
      epoch += 1;
      for (const e of entries.values()) e.stale = true;
    }
  };

  /** The 'error' handler on the listening client, removed when it goes back to the pool. */
  let listenerErrorHandler: ((err: Error) => void) | undefined;

  function connect(): Promise<void> {
    connecting ??= (async () => {
      const c = await pool.connect();
      c.on('notification', onNotification);
      const onError = (err: Error): void => {
        if (closed) return; // the pool ending at shutdown, not a failure
        log.warn({ err }, 'flag change listener connection failed; reconnecting');
        drop(c);
      };
      c.on('error', onError);
      listenerErrorHandler = onError;
      try {
        await c.query(`LISTEN ${FLAG_CHANGES_CHANNEL}`);
      } catch (err) {
        c.removeListener('notification', onNotification);
        c.release(true);
        throw err;
      }
      if (closed) {
        c.removeListener('notification', onNotification);
        c.removeListener('error', onError);
        c.release();
        return;
      }
      client = c;
      backoffMs = 1000;
      // Changes made while not listening were not announced to us.
      epoch += 1;
      for (const e of entries.values()) e.stale = true;
    })().catch((err: unknown) => {
      connecting = undefined;
      log.warn({ err, retryInMs: backoffMs }, 'cannot LISTEN for flag changes; retrying');
      scheduleReconnect();
      throw err;
    });
    return connecting;
  }

  function scheduleReconnect(): void {
    if (closed) return;
    const t = setTimeout(() => void connect().catch(() => undefined), backoffMs);
    t.unref();
    backoffMs = Math.min(30_000, backoffMs * 2);
  }

  function drop(c: pg.PoolClient): void {
    if (client !== c) return;
    client = undefined;
    connecting = undefined;
    c.removeListener('notification', onNotification);
    c.release(true);
    scheduleReconnect();
  }

  void connect().catch(() => undefined);

  async function reload(project: string): Promise<ProjectSnapshot> {
    let p = loading.get(project);
    if (p === undefined) {
      const g0 = gen.get(project) ?? 0;
      const e0 = epoch;
      p = loadSnapshot(pool, project)
        .then((snap) => {
          entries.set(project, { snap, stale: (gen.get(project) ?? 0) !== g0 || epoch !== e0 });
          return snap;
        })
        .finally(() => loading.delete(project));
      loading.set(project, p);
    }
    const snap = await p;
    if (outage) {
      outage = false;
      log.info('flag snapshots load again from Postgres');
    }
    return snap;
  }

  async function snapshot(project: string): Promise<ProjectSnapshot> {
    const e = entries.get(project);
    const age = e === undefined ? Infinity : Date.now() - e.snap.loadedAt;
    const fresh = e !== undefined && !e.stale && age < maxAgeMs && (client !== undefined || age < unlistenedMaxAgeMs);
    if (fresh) return e.snap;
    try {
      return await reload(project);
    } catch (err) {
      if (e !== undefined) {
        if (!outage) {
          outage = true;
          log.warn({ err, project }, 'cannot reload flags from Postgres; serving the last snapshot');
        }
        return e.snap;
      }
      throw new VigilError('VIGIL_ERR_POSTGRES_UNAVAILABLE', `cannot load the flags of this project: ${(err as Error).message}`, { cause: err, retryAfterSeconds: 1 });
    }
  }

  return {
    snapshot,
    async evaluate(project, key, ctx) {
      return evaluateIn(await snapshot(project), key, ctx);
    },
    async evaluateAll(project, ctx) {
      const snap = await snapshot(project);
      const keys = [...snap.flags.keys()].sort();
      return { revision: snap.revision, results: keys.map((k) => evaluateIn(snap, k, ctx)) };
    },
    invalidate(project) {
      if (project === undefined) for (const e of entries.values()) e.stale = true;
      else {
        const e = entries.get(project);
        if (e !== undefined) e.stale = true;
      }
    },
    ready: () => (client !== undefined ? Promise.resolve() : connect()),
    get notifications() {
      return notifications;
    },
    async close() {
      closed = true;
      const c = client;
      client = undefined;
      if (c !== undefined) {
        c.removeListener('notification', onNotification);
        await c.query(`UNLISTEN ${FLAG_CHANGES_CHANNEL}`).catch(() => undefined);
        // Back to the pool without our handler (the pool adds its own idle-error listener on release).
        if (listenerErrorHandler !== undefined) c.removeListener('error', listenerErrorHandler);
        c.release();
      }
    },
  };
}
