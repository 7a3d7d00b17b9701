/**
 * Anomaly routes (authenticated, tenant-confined):
 * - GET /api/v1/anomalies → { from, to, points: AnomalyPoint[] } newest first,
 *   filtered by service, operation, model, signal, min_score;
 * - GET / PUT /api/v1/anomalies/settings → { enabled } (per-project switch,
 *   Postgres anomaly_settings; served when a Postgres pool is given).
 * Scores are written by the processors (anomaly/scorer.ts) into
 * anomaly_scores (ReplacingMergeTree, read with FINAL).
 */
import type { FastifyPluginAsync } from 'fastify';
import type pg from 'pg';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { tenantOf } from '../auth.js';
import { num, selectRows } from '../clickhouse.js';
import { parseParams, resolveWindow } from '../params.js';
import { parseBody } from '../../alerts/rule-schema.js';
import { isEnabled, setEnabled } from '../../anomaly/shards.js';
import { AnomaliesQuery, SettingsBody, anomaliesDoc, settingsGetDoc, settingsPutDoc, type AnomalyPoint } from './anomalies.schemas.js';

export interface AnomalyRoutesOptions {
  clickhouse: ClickHouseHandle;
  /** Postgres pool for the settings routes (omitted: not served). */
  pool?: pg.Pool;
}

interface Row {
  m: unknown;
  series_kind: 'operation' | 'model';
  service: string;
  name: string;
  signal: string;
  observed: number;
  expected: number;
  lower: number;
  upper: number;
  score: number;
  is_anomaly: unknown;
}

/** Fastify plugin with the anomaly routes; expects an auth hook in an enclosing scope. */
export const anomalyRoutes: FastifyPluginAsync<AnomalyRoutesOptions> = async (app, opts) => {
  app.get('/api/v1/anomalies', { schema: anomaliesDoc }, async (request) => {
    const q = parseParams(AnomaliesQuery, request.query);
    const win = resolveWindow(q.from, q.to);
    const fromS = Number(win.from / 1_000_000_000n);
    const toS = Number((win.to + 999_999_999n) / 1_000_000_000n);
    const where = ['tenant = {tenant:String}', "minute >= toDateTime({from_s:UInt32}, 'UTC')", "minute < toDateTime({to_s:UInt32}, 'UTC')"];
    const params: Record<string, unknown> = { tenant: tenantOf(request), from_s: fromS, to_s: toS, limit: q.limit, min_score: q.min_score ?? 0 };
    if (q.service !== undefined) (where.push('service = {service:String}'), (params.service = q.service));
    if (q.operation !== undefined) (where.push("series_kind = 'operation' AND name = {operation:String}"), (params.operation = q.operation));
    if (q.model !== undefined) (where.push("series_kind = 'model' AND name = {model:String}"), (params.model = q.model));
    if (q.signal !== undefined) (where.push('signal = {signal:String}'), (params.signal = q.signal));
    where.push('score >= {min_score:Float32}');
    const rows = await selectRows<Row>(
      opts.clickhouse,
      `SELECT toUInt32(minute) AS m, series_kind, service, name, signal, observed, expected, lower, upper, score, is_anomaly
       FROM {db:Identifier}.anomaly_scores FINAL WHERE ${where.join(' AND ')}
       ORDER BY minute DESC, score DESC, service, series_kind, name, signal LIMIT {limit:UInt32}`,
      params,
    );
    const points: AnomalyPoint[] = rows.map((r) => ({
      t: new Date(num(r.m) * 1000).toISOString(),
      series_kind: r.series_kind,
      service: r.service,
      operation: r.series_kind === 'operation' ? r.name : null,
      model: r.series_kind === 'model' ? r.name : null,
      signal: r.signal,
      observed: Number(r.observed),
      expected: Number(r.expected),
      lower: Number(r.lower),
      upper: Number(r.upper),
      score: Math.round(Number(r.score) * 1e6) / 1e6,
      is_anomaly: num(r.is_anomaly) === 1,
    }));
    return { from: new Date(fromS * 1000).toISOString(), to: new Date(toS * 1000).toISOString(), points };
  });

  const pool = opts.pool;
  if (pool === undefined) return;
  app.get('/api/v1/anomalies/settings', { schema: settingsGetDoc }, async (request) => ({ enabled: await isEnabled(pool, tenantOf(request)) }));
  app.put('/api/v1/anomalies/settings', { schema: settingsPutDoc }, async (request) => {
    const body = parseBody(SettingsBody, request.body);
    await setEnabled(pool, tenantOf(request), body.enabled);
    return { enabled: body.enabled };
  });
};
