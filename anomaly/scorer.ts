/**
 * Online anomaly scoring in the processor role: every closed minute of every
 * series (./series.ts) is scored once, in order per series, in the anomaly
 * Piscina pool (./pool.ts), and written to ClickHouse `anomaly_scores`.
 *
 * A tick ({@link AnomalyScorer.runOnce}, clock injected):
 * 1. renew the leases of the shards held, claim free or expired shards up to
 *    the fair share, release extras (./shards.ts);
 * 2. a minute m is closed when now ≥ m + 60 s + lateness; for the held
 *    shards, grouped by their scored_through, read the next closed minutes
 *    (at most `maxMinutesPerTick`) in chunks of `snapshotEveryMin` minutes
 *    from span_metrics_1m (./store.ts), score each chunk in batches of
 *    `batchSeries` series in the pool, insert the points, advance
 *    scored_through, and snapshot the detector states in Postgres when
 *    `snapshotEveryMin` minutes passed since the last snapshot.
 * A series starts at its first minute with spans; after that a minute
 * without spans is scored as zero requests (rates) and no observation
 * (error rate, latency); a series without spans for `idleDropMin` minutes
 * is forgotten. A restart or a takeover continues from the snapshot: at most
 * the minutes since it are scored again, giving identical rows (deterministic
 * detector) that ReplacingMergeTree keeps once; none is skipped. Spans
 * arriving after a minute was scored (later than the lateness) do not change its score.
 */
import crypto from 'node:crypto';
import type pg from 'pg';
import type { ClickHouseHandle } from '../platform/clickhouse.js';
import type { Logger } from '../platform/logger.js';
import { createAnomalyPool, type AnomalyPool } from './pool.js';
import { newSeries, seriesId, type MinuteObs, type ScoredPoint, type SeriesState } from './series.js';
import { claimShards, disabledProjects, leave, renewLeases, saveSnapshot, type OwnedShard } from './shards.js';
import { insertScores, readMinutes } from './store.js';
import type { BatchTask } from './worker.js';

export interface ScorerOptions {
  clickhouse: ClickHouseHandle;
  pool: pg.Pool;
  log: Logger;
  /** Worker threads of the anomaly pool (default 1). */
  threads?: number;
  /** Allowed lateness after a minute ends before it is scored, s (default 60). */
  latenessS?: number;
  /** Score at which is_anomaly is set (default 0.9). */
  threshold?: number;
  /**
   * Per-project switch from feature flags (flag `vigil.anomaly.enabled`,
   * flags/switches.ts); a project is scored only when both this and its
   * anomaly_settings row (default on) say so.
   */
  projectEnabled?: (project: string) => Promise<boolean>;
  /** Lease length, ms (default 60000). */
  leaseMs?: number;
  /** Snapshot period, minutes of scored data (default 10). */
  snapshotEveryMin?: number;
  /** Most minutes scored per shard group per tick (default 240). */
  maxMinutesPerTick?: number;
  /** How far back a never-scored shard starts, minutes (default 60). */
  backfillMin?: number;
  /** Series per pool task (default 2000). */
  batchSeries?: number;
  /** Forget a series after this many minutes without spans (default 1440). */
  idleDropMin?: number;
  /** Lease owner id (default `anomaly-<pid>-<random>`). */
  owner?: string;
}

/** Summary of one tick. */
export interface TickStats {
  shards: number;
  minutes: number;
  points: number;
}

export interface AnomalyScorer {
  readonly owner: string;
  /** One tick as of `now` (see the module comment). Errors propagate (the loop logs them). */
  runOnce(now: Date): Promise<TickStats>;
  /** Shards held, ascending. */
  shards(): number[];
  /** Run runOnce(new Date()) every `tickMs` until stop(). */
  start(tickMs: number): void;
  /**
   * Stop the loop, finish the running tick, snapshot and release the shards
   * held, close the pool. `release: false` skips the snapshot and the release
   * (what a crash leaves: the leases expire and the next owner replays from
   * the last periodic snapshot).
   */
  stop(opts?: { release?: boolean }): Promise<void>;
}

/** Create a scorer (nothing runs until runOnce() or start()). */
export function createAnomalyScorer(opts: ScorerOptions): AnomalyScorer {
  const owner = opts.owner ?? `anomaly-${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const latenessS = opts.latenessS ?? 60;
  const threshold = opts.threshold ?? 0.9;
  const leaseMs = opts.leaseMs ?? 60_000;
  const every = opts.snapshotEveryMin ?? 10;
  const maxMinutes = opts.maxMinutesPerTick ?? 240;
  const backfill = opts.backfillMin ?? 60;
  const batchSeries = opts.batchSeries ?? 2000;
  const idleS = (opts.idleDropMin ?? 1440) * 60;
  const log = opts.log;
  const db = opts.pool;
  let pool: AnomalyPool | undefined;
  const held = new Map<number, OwnedShard & { snapshotS: number }>();

  async function drop(shards: readonly number[], why: string): Promise<void> {
    for (const s of shards) held.delete(s);
    if (shards.length > 0) log.warn({ shards, why }, 'anomaly shards dropped');
  }

  /** Score minutes (c, to] of a group of shards sharing scored_through c, in snapshot-sized chunks. */
  async function scoreGroup(group: Array<OwnedShard & { snapshotS: number }>, c: number, to: number, off: readonly string[]): Promise<{ minutes: number; points: number }> {
    let minutes = 0;
    let points = 0;
    for (let from = c + 60; from <= to; from += every * 60) {
      const last = Math.min(to, from + (every - 1) * 60);
      const mins: number[] = [];
      for (let m = from; m <= last; m += 60) mins.push(m);
      const rows = await readMinutes(opts.clickhouse, group.map((g) => g.shard), from, last + 60, off);
      const byShard = new Map(group.map((g) => [g.shard, g]));
      const obs = new Map<string, { shard: number; fromS: number; obs: Array<[number, MinuteObs]> }>();
      for (const r of rows) {
        const id = seriesId(r.key);
        let o = obs.get(id);
        if (o === undefined) {
          o = { shard: r.shard, fromS: r.minuteS, obs: [] };
          obs.set(id, o);
          const g = byShard.get(r.shard);
          if (g !== undefined && !g.series.has(id)) g.series.set(id, newSeries(r.key));
        }
        o.obs.push([r.minuteS, r.obs]);
      }
      const items: Array<{ shard: number; item: BatchTask['series'][number] }> = [];
      for (const g of group) {
        for (const [id, st] of g.series) {
          const o = obs.get(id);
          if (off.includes(st.key.tenant) || (o === undefined && st.lastSeenS < from - idleS)) {
            g.series.delete(id);
            continue;
          }
          items.push({ shard: g.shard, item: { state: st, fromS: o !== undefined && st.lastSeenS === 0 ? o.fromS : from, obs: o?.obs ?? [] } });
        }
      }
      pool ??= createAnomalyPool(opts.threads ?? 1);
      const p = pool;
      const results = await Promise.all(
        chunk(items, batchSeries).map(async (batch) => {
          const res = await p.run({ minutes: mins, series: batch.map((b) => b.item) });
          return { batch, res };
        }),
      );
      const all: ScoredPoint[] = [];
      for (const { batch, res } of results) {
        batch.forEach((b, i) => byShard.get(b.shard)!.series.set(seriesId(b.item.state.key), res.states[i]!));
        all.push(...res.points);
      }
      const body = all.map((x) => `${seriesId(x.key)}|${x.signal}|${x.minuteS}|${x.score}`).join('\n');
      await insertScores(opts.clickhouse, all, threshold, `anomaly-${crypto.createHash('sha256').update(body).digest('hex').slice(0, 32)}`);
      minutes += mins.length;
      points += all.length;
      for (const g of group) {
        g.scoredThrough = last;
        if (last - g.snapshotS >= every * 60) {
          if (await saveSnapshot(db, owner, g, false)) g.snapshotS = last;
          else await drop([g.shard], 'lease lost while saving a snapshot');
        }
      }
      group = group.filter((g) => held.has(g.shard));
      if (group.length === 0) break;
    }
    return { minutes, points };
  }

  async function runOnce(now: Date): Promise<TickStats> {
    const nowS = Math.floor(now.getTime() / 1000);
    const kept = await renewLeases(db, owner, [...held.keys()], now, leaseMs);
    await drop([...held.keys()].filter((s) => !kept.has(s)), 'lease expired or taken over');
    const startS = Math.floor(nowS / 60) * 60 - backfill * 60 - 60;
    const { claimed, share } = await claimShards(db, owner, now, leaseMs, held.size, startS);
    for (const c of claimed) held.set(c.shard, { ...c, snapshotS: c.scoredThrough });
    if (claimed.length > 0) log.info({ shards: claimed.map((c) => c.shard) }, 'anomaly shards claimed');
    // Above the fair share (another scorer joined): hand the extras over.
    const extras = [...held.keys()].sort((a, b) => b - a).slice(0, Math.max(0, held.size - share));
    for (const s of extras) {
      await saveSnapshot(db, owner, held.get(s)!, true);
      held.delete(s);
    }
    const closedThrough = Math.floor((nowS - latenessS - 60) / 60) * 60;
    const off = await disabledProjects(db);
    if (opts.projectEnabled !== undefined) {
      const projects = await db.query<{ id: string }>('SELECT id FROM projects ORDER BY id');
      for (const { id } of projects.rows) if (!off.includes(id) && !(await opts.projectEnabled(id))) off.push(id);
    }
    const groups = new Map<number, Array<OwnedShard & { snapshotS: number }>>();
    for (const g of held.values()) if (g.scoredThrough < closedThrough) groups.set(g.scoredThrough, [...(groups.get(g.scoredThrough) ?? []), g]);
    let minutes = 0;
    let points = 0;
    for (const [c, group] of [...groups.entries()].sort((a, b) => a[0] - b[0])) {
      const r = await scoreGroup(group, c, Math.min(closedThrough, c + maxMinutes * 60), off);
      minutes += r.minutes;
      points += r.points;
    }
    return { shards: held.size, minutes, points };
  }

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let failing = false;
  return {
    owner,
    runOnce,
    shards: () => [...held.keys()].sort((a, b) => a - b),
    start(tickMs) {
      if (timer !== undefined || stopped) return;
      const loop = (): void => {
        if (stopped) return;
        running ??= runOnce(new Date())
          .then(
            () => {
              if (failing) log.info('anomaly scoring recovered');
              failing = false;
            },
            (err: unknown) => {
              if (!failing) log.error({ err }, 'anomaly scoring tick failed; retrying every tick, logging once until it recovers');
              failing = true;
            },
          )
          .finally(() => {
            running = undefined;
          });
        timer = setTimeout(loop, tickMs);
        timer.unref();
      };
      loop();
    },
    async stop(stopOpts = {}) {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
      try {
        if (stopOpts.release !== false) for (const g of held.values()) await saveSnapshot(db, owner, g, true);
        held.clear();
        if (stopOpts.release !== false) await leave(db, owner);
      } catch (err) {
        log.warn({ err }, 'anomaly scorer: could not save snapshots on stop; the next owner replays from the last one');
      } finally {
        await pool?.close();
      }
    },
  };
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
