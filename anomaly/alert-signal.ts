/**
 * The `anomaly_score` alert signal (alerts/signals.ts delegates here): the
 * highest anomaly score (0–1) of the rule's series over the window, read from
 * anomaly_scores (FINAL). Group and filter dimensions map onto the scored
 * series: service → service; operation → operation series; model → model
 * series; provider is not a scored dimension (no series match it).
 * Example rule: score ≥ 0.9 for 2 minutes on any series of a service —
 * `{ signal: anomaly_score, group_by: [service], window: 1m, operator: >=, threshold: 0.9 }`,
 * `for: 2m`, `evaluation_delay: 120s` (scores land after the lateness).
 */
import type { ClickHouseHandle } from '../platform/clickhouse.js';
import { num, selectRows } from '../query-api/clickhouse.js';
import type { Condition, Dimension } from '../alerts/rule-schema.js';

/** Max score per group of the rule over [fromSec, toSec) — per minute when `perMinute`. */
export async function readAnomalyScores(
  ch: ClickHouseHandle,
  tenant: string,
  cond: Condition,
  fromSec: number,
  toSec: number,
  perMinute: boolean,
): Promise<Array<{ labels: Record<string, string>; score: number; minuteS: number }>> {
  const where = ['tenant = {tenant:String}', "minute >= toDateTime({from_s:UInt32}, 'UTC')", "minute < toDateTime({to_s:UInt32}, 'UTC')"];
  const params: Record<string, unknown> = { tenant, from_s: fromSec, to_s: toSec };
  if (cond.filters.provider !== undefined || cond.group_by.includes('provider')) return [];
  if ((cond.filters.operation !== undefined || cond.group_by.includes('operation')) && (cond.filters.model !== undefined || cond.group_by.includes('model'))) return [];
  if (cond.filters.service !== undefined) (where.push('service = {f_service:String}'), (params.f_service = cond.filters.service));
  for (const d of ['operation', 'model'] as const) {
    if (cond.filters[d] !== undefined || cond.group_by.includes(d)) where.push(`series_kind = '${d}'`);
    if (cond.filters[d] !== undefined) (where.push(`name = {f_${d}:String}`), (params[`f_${d}`] = cond.filters[d]));
  }
  const cols = cond.group_by.map((g: Dimension) => (g === 'service' ? 'service' : `name AS ${g}`));
  const keys = [...(perMinute ? ['toUInt32(minute) AS minute_s'] : []), ...cond.group_by];
  const rows = await selectRows<Record<string, unknown>>(
    ch,
    `SELECT ${[...(perMinute ? ['toUInt32(minute) AS minute_s'] : []), ...cols, 'max(score) AS s'].join(', ')}
     FROM {db:Identifier}.anomaly_scores FINAL WHERE ${where.join(' AND ')}
     ${keys.length > 0 ? `GROUP BY ${keys.join(', ')}` : ''} HAVING count() > 0 LIMIT 200000`,
    params,
  );
  return rows.map((r) => {
    const labels: Record<string, string> = {};
    for (const g of cond.group_by) labels[g] = String(r[g] ?? '');
    return { labels, score: Number(r.s), minuteS: num(r.minute_s) };
  });
}
