/**
 * Postgres side of online scoring (migrations/postgres/0004): shard leases,
 * detector snapshots, scorer heartbeats and the per-project switch.
 *
 * Leases follow the alert evaluator's pattern: a shard is claimed with
 * `FOR UPDATE SKIP LOCKED` when its lease is free or expired, renewed every
 * tick, and every write (snapshot, release) is conditional on still holding
 * it. Each scorer takes ⌈64 / live scorers⌉ shards at most (heartbeats in
 * anomaly_scorers), so a joining process gets its share as others release
 * their extras, and a leaving (or crashed) one's shards are claimed once its
 * lease expires. Times are passed in (`now`), never read from the clock here.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type pg from 'pg';
import { decodeState, encodeState, isCompatibleState } from './detector.js';
import { configOf, signalsOf, type SeriesKind, type SeriesState } from './series.js';
import { SHARDS } from './store.js';

/** A shard this process holds, with its state loaded. */
export interface OwnedShard {
  shard: number;
  /** Last minute (epoch s) scored for every series of the shard. */
  scoredThrough: number;
  series: Map<string, SeriesState>;
}

type Snapshot = Array<[string, SeriesKind, string, string, number, string[]]>;

/** Snapshot bytes of a shard's series (gzip JSON: tenant, kind, service, name, lastSeenS, base64 states). */
export function encodeSnapshot(series: Map<string, SeriesState>): Buffer {
  const rows: Snapshot = [...series.values()].map((s) => [s.key.tenant, s.key.kind, s.key.service, s.key.name, s.lastSeenS, s.states.map(encodeState)]);
  return gzipSync(JSON.stringify(rows));
}

/** Decode {@link encodeSnapshot}; series whose states are of another layout start afresh (dropped). */
export function decodeSnapshot(buf: Buffer | null): Map<string, SeriesState> {
  const out = new Map<string, SeriesState>();
  if (buf === null || buf.length === 0) return out;
  const rows = JSON.parse(gunzipSync(buf).toString('utf8')) as Snapshot;
  for (const [tenant, kind, service, name, lastSeenS, states] of rows) {
    const sigs = signalsOf(kind);
    const decoded = states.map((b, i) => (sigs[i] === undefined ? undefined : decodeState(b, configOf(sigs[i]!))));
    if (decoded.length !== sigs.length || decoded.some((d, i) => d === undefined || !isCompatibleState(d, configOf(sigs[i]!)))) continue;
    const key = { tenant, kind, service, name };
    out.set(`${tenant}\u0000${kind}\u0000${service}\u0000${name}`, { key, states: decoded as Float64Array[], lastSeenS });
  }
  return out;
}

/**
 * Heartbeat, then claim free or expired shards up to the fair share.
 * @param startS scored_through of a shard never scored before (epoch s, whole minute).
 * @returns the newly claimed shards with their snapshots, and the fair share.
 */
export async function claimShards(db: pg.Pool, owner: string, now: Date, leaseMs: number, held: number, startS: number): Promise<{ claimed: OwnedShard[]; share: number }> {
  await db.query(
    `INSERT INTO anomaly_scorers (owner, seen_until) VALUES ($1, $2::timestamptz + make_interval(secs => $3::double precision / 1000))
     ON CONFLICT (owner) DO UPDATE SET seen_until = EXCLUDED.seen_until`,
    [owner, now, leaseMs],
  );
  await db.query(`DELETE FROM anomaly_scorers WHERE seen_until < $1`, [now]);
  const live = Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM anomaly_scorers`)).rows[0]?.n ?? 1);
  const share = Math.ceil(SHARDS / Math.max(live, 1));
  // Rows for every shard exist from the first claim on.
  await db.query(
    `INSERT INTO anomaly_shards (shard, scored_through) SELECT g, $1 FROM generate_series(0, ${SHARDS - 1}) g ON CONFLICT (shard) DO NOTHING`,
    [startS],
  );
  const want = share - held;
  if (want <= 0) return { claimed: [], share };
  const res = await db.query<{ shard: number; scored_through: string; state: Buffer | null }>(
    `WITH free AS (
       SELECT shard FROM anomaly_shards WHERE owner IS NULL OR lease_until < $1
       ORDER BY shard LIMIT $3 FOR UPDATE SKIP LOCKED
     )
     UPDATE anomaly_shards s SET owner = $2, lease_until = $1::timestamptz + make_interval(secs => $4::double precision / 1000), updated_at = now()
     FROM free WHERE s.shard = free.shard
     RETURNING s.shard, s.scored_through, s.state`,
    [now, owner, want, leaseMs],
  );
  return {
    claimed: res.rows.map((r) => ({ shard: r.shard, scoredThrough: Number(r.scored_through), series: decodeSnapshot(r.state) })),
    share,
  };
}

/**
 * Renew the leases of `shards`.
 * @returns the shards still held (others were taken over: drop them).
 */
export async function renewLeases(db: pg.Pool, owner: string, shards: readonly number[], now: Date, leaseMs: number): Promise<Set<number>> {
  if (shards.length === 0) return new Set();
  const res = await db.query<{ shard: number }>(
    `UPDATE anomaly_shards SET lease_until = $1::timestamptz + make_interval(secs => $4::double precision / 1000)
     WHERE owner = $2 AND shard = ANY($3::int[]) AND lease_until >= $1 RETURNING shard`,
    [now, owner, [...shards], leaseMs],
  );
  return new Set(res.rows.map((r) => r.shard));
}

/**
 * Save a shard's snapshot and scored_through, optionally releasing it.
 * @returns false when the lease was lost (nothing written).
 */
export async function saveSnapshot(db: pg.Pool, owner: string, s: OwnedShard, release: boolean): Promise<boolean> {
  const res = await db.query(
    `UPDATE anomaly_shards SET scored_through = $3, state = $4, updated_at = now()${release ? ', owner = NULL, lease_until = NULL' : ''}
     WHERE shard = $1 AND owner = $2`,
    [s.shard, owner, s.scoredThrough, encodeSnapshot(s.series)],
  );
  return (res.rowCount ?? 0) > 0;
}

/** Forget this scorer's heartbeat (on stop). */
export async function leave(db: pg.Pool, owner: string): Promise<void> {
  await db.query(`DELETE FROM anomaly_scorers WHERE owner = $1`, [owner]);
}

/** Projects whose scoring is switched off. */
export async function disabledProjects(db: pg.Pool): Promise<string[]> {
  const res = await db.query<{ project_id: string }>(`SELECT project_id FROM anomaly_settings WHERE NOT enabled ORDER BY project_id`);
  return res.rows.map((r) => r.project_id);
}

/** Whether scoring is on for a project (default on). */
export async function isEnabled(db: pg.Pool, project: string): Promise<boolean> {
  const res = await db.query<{ enabled: boolean }>(`SELECT enabled FROM anomaly_settings WHERE project_id = $1`, [project]);
  return res.rows[0]?.enabled ?? true;
}

/** Switch scoring on or off for a project. */
export async function setEnabled(db: pg.Pool, project: string, enabled: boolean): Promise<void> {
  await db.query(
    `INSERT INTO anomaly_settings (project_id, enabled) VALUES ($1, $2)
     ON CONFLICT (project_id) DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = now()`,
    [project, enabled],
  );
}
