/**
 * `anomaly=true` on GET /api/v1/metrics/latency and /cost: the anomaly score
 * next to each point — the highest score of the matching series' signal
 * (latency_p99_ms, cost_usd) over the bucket's minutes, from anomaly_scores;
 * null when nothing was scored there (warm-up, no series, group_by provider or user).
 */
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { num, selectRows } from '../clickhouse.js';

/** The parts of a metrics request that select series. */
export interface ScoreScope {
  service?: string | undefined;
  operation?: string | undefined;
  model?: string | undefined;
  group_by?: string | undefined;
}

/**
 * Attach `anomaly_score` to every point (mutates them).
 * @param fromSec / toSec the aligned window, epoch s; step the bucket width, s.
 * @throws VigilError as classified by query-api/clickhouse.ts.
 */
export async function attachAnomalyScores<P extends { t: string; group: string | null; anomaly_score?: number | null }>(
  ch: ClickHouseHandle,
  tenant: string,
  signal: 'latency_p99_ms' | 'cost_usd',
  win: { fromSec: number; toSec: number; step: number },
  q: ScoreScope,
  points: P[],
): Promise<void> {
  for (const p of points) p.anomaly_score = null;
  if (points.length === 0 || q.group_by === 'provider' || q.group_by === 'user' || (q.operation !== undefined && q.model !== undefined)) return;
  const kind = q.model !== undefined || q.group_by === 'model' || signal === 'cost_usd' ? 'model' : 'operation';
  if (kind === 'model' && q.operation !== undefined) return;
  const where = ['tenant = {tenant:String}', 'series_kind = {kind:String}', 'signal = {signal:String}', "minute >= toDateTime({from_s:UInt32}, 'UTC')", "minute < toDateTime({to_s:UInt32}, 'UTC')"];
  const params: Record<string, unknown> = { tenant, kind, signal, from_s: win.fromSec, to_s: win.toSec, step: win.step };
  if (q.service !== undefined) (where.push('service = {service:String}'), (params.service = q.service));
  const name = q.operation ?? q.model;
  if (name !== undefined) (where.push('name = {name:String}'), (params.name = name));
  const grp = q.group_by === 'service' ? 'service' : q.group_by === 'operation' || q.group_by === 'model' ? 'name' : "''";
  const rows = await selectRows<{ t_s: unknown; grp: string; s: number }>(
    ch,
    `SELECT toUInt32(intDiv(toUInt32(minute), {step:UInt32}) * {step:UInt32}) AS t_s, ${grp} AS grp, max(score) AS s
     FROM {db:Identifier}.anomaly_scores FINAL WHERE ${where.join(' AND ')} GROUP BY t_s, grp`,
    params,
  );
  const by = new Map(rows.map((r) => [`${num(r.t_s)}|${r.grp}`, Math.round(Number(r.s) * 1e6) / 1e6]));
  for (const p of points) p.anomaly_score = by.get(`${Date.parse(p.t) / 1000}|${p.group ?? ''}`) ?? null;
}
