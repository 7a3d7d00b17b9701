/**
 * Cost forecast (issue 8, seed 001):
 * GET /api/v1/cost/forecast?period=month|week&group_by=model|service&history_days=90&limit=20
 * → { period, period_start, period_end, as_of, total: ForecastFigures, groups: GroupForecast[] | null, history: DailyCost[] }
 *
 * Source: span_metrics_1h (hourly rollups, filled from every minute insert,
 * so the current hour is included), summed per UTC day. Periods are UTC
 * calendar months or ISO weeks (Monday 00:00 UTC). History: the complete days
 * before today, from `history_days` back (or the first day with spend, if
 * later). Method: ./forecast-model.ts (ARIMA(0,2,2) ≡ Holt's linear trend from
 * 14 days of history, the mean method below; 95 % interval). Amounts in USD
 * rounded to 1e-9. The total is forecast from the total series (not the sum
 * of the groups' forecasts).
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { tenantOf } from '../auth.js';
import { num, selectRows } from '../clickhouse.js';
import { docSchema, intParam, parseParams, roundUsd } from '../params.js';
import { projectPeriod, type Projection } from './forecast-model.js';

const DAY_MS = 86_400_000;

/** Query of GET /api/v1/cost/forecast. */
export const ForecastQuery = z.strictObject({
  period: z.enum(['month', 'week']).optional().transform((p) => p ?? 'month').meta({ description: 'month (UTC calendar month, default) or week (ISO week from Monday 00:00 UTC)' }),
  group_by: z.enum(['model', 'service']).optional().meta({ description: 'forecast each model or service too' }),
  history_days: intParam(7, 365, 'days of daily history')
    .optional()
    .transform((d) => d ?? 90)
    .meta({ description: 'days of history the forecast is fitted on, 7 … 365; default 90' }),
  limit: intParam(1, 100, 'the number of groups')
    .optional()
    .transform((l) => l ?? 20)
    .meta({ description: 'groups with the most spend in the history and period, 1 … 100; default 20' }),
});

/** Spend so far and projected spend to the end of the period, USD. */
export interface ForecastFigures {
  spent_usd: number;
  projected_usd: number;
  /** 95 % interval of projected_usd. */
  lower_usd: number;
  upper_usd: number;
  /** 'arima(0,2,2)' (Holt's linear trend), 'mean' or 'none'. */
  method: string;
  /** Days of history used. */
  history_days: number;
}

export const forecastDoc = {
  summary: 'Projected LLM spend to the end of the month (or week), with a 95 % interval, in total and per model or service',
  description:
    'Daily spend from span_metrics_1h (UTC days). With at least 14 days of history: ARIMA(0,2,2) fitted with the arima package, the model of ' +
    "Holt's linear-trend exponential smoothing (Hyndman & Athanasopoulos, FPP3 §9.10); with fewer: the mean of the history. " +
    'projected = spent so far + Σ daily forecasts (today weighted by the part still to come); the 95 % interval uses Σ √variance as an upper ' +
    'bound of the sum\'s standard deviation (conservative) and never goes below the spend so far. Errors: 400 VIGIL_ERR_VALIDATION, 401.',
  tags: ['cost'],
  security: [{ bearer: [] }],
  querystring: docSchema(ForecastQuery),
};

/** Period [start, end) containing `nowMs`, epoch ms UTC. */
export function periodOf(period: 'month' | 'week', nowMs: number): { start: number; end: number } {
  const d = new Date(nowMs);
  if (period === 'month') {
    return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
  }
  const today = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  const start = today - ((d.getUTCDay() + 6) % 7) * DAY_MS;
  return { start, end: start + 7 * DAY_MS };
}

function figures(p: Projection, historyDays: number): ForecastFigures {
  return {
    spent_usd: roundUsd(p.spent),
    projected_usd: roundUsd(p.projected),
    lower_usd: roundUsd(p.lower),
    upper_usd: roundUsd(p.upper),
    method: p.method,
    history_days: historyDays,
  };
}

/** Fastify plugin with GET /api/v1/cost/forecast; expects an auth hook in an enclosing scope. */
export const forecastRoutes: FastifyPluginAsync<{ clickhouse: ClickHouseHandle }> = async (app, opts) => {
  const ch = opts.clickhouse;

  app.get('/api/v1/cost/forecast', { schema: forecastDoc }, async (request) => {
    const q = parseParams(ForecastQuery, request.query);
    const now = Date.now();
    const today = Math.floor(now / DAY_MS) * DAY_MS;
    const { start, end } = periodOf(q.period, now);
    const histStart = today - q.history_days * DAY_MS;
    const from = Math.min(histStart, start);
    const params: Record<string, unknown> = { tenant: tenantOf(request), from_s: from / 1000 };
    if (q.group_by !== undefined) params.group_col = q.group_by;
    const rows = await selectRows<{ d: unknown; grp: string; cost: unknown }>(
      ch,
      `SELECT toUInt32(toStartOfDay(hour)) AS d, ${q.group_by === undefined ? "''" : 'toString({group_col:Identifier})'} AS grp, sum(cost_usd) AS cost
       FROM {db:Identifier}.span_metrics_1h
       WHERE tenant = {tenant:String} AND hour >= toDateTime({from_s:UInt32}, 'UTC')
       GROUP BY d, grp`,
      params,
    );
    // Daily totals per group (and overall), keyed by day start in epoch ms.
    const byGroup = new Map<string, Map<number, number>>();
    const total = new Map<number, number>();
    for (const r of rows) {
      const day = num(r.d) * 1000;
      const cost = num(r.cost);
      total.set(day, (total.get(day) ?? 0) + cost);
      if (q.group_by !== undefined) {
        const g = byGroup.get(r.grp) ?? new Map<number, number>();
        g.set(day, (g.get(day) ?? 0) + cost);
        byGroup.set(r.grp, g);
      }
    }
    // History: from the first day with spend (not before histStart) to yesterday.
    const firstDay = [...total.entries()].filter(([d, c]) => d >= histStart && d < today && c !== 0).map(([d]) => d).sort((a, b) => a - b)[0];
    const historyDays: number[] = [];
    if (firstDay !== undefined) for (let d = firstDay; d < today; d += DAY_MS) historyDays.push(d);
    const todayLeft = (today + DAY_MS - now) / DAY_MS;
    const daysAfterToday = Math.max(0, Math.round((end - today) / DAY_MS) - 1);
    const project = (series: Map<number, number>): Projection => {
      let spent = 0;
      for (const [d, c] of series) if (d >= start && d <= today) spent += c;
      return projectPeriod(historyDays.map((d) => series.get(d) ?? 0), spent, todayLeft, daysAfterToday);
    };
    let groups: Array<{ group: string } & ForecastFigures> | null = null;
    if (q.group_by !== undefined) {
      const weight = (s: Map<number, number>): number => [...s.values()].reduce((a, b) => a + b, 0);
      groups = [...byGroup.entries()]
        .sort((a, b) => weight(b[1]) - weight(a[1]) || a[0].localeCompare(b[0]))
        .slice(0, q.limit)
        .map(([group, series]) => ({ group, ...figures(project(series), historyDays.length) }));
    }
    return {
      period: q.period,
      period_start: new Date(start).toISOString(),
      period_end: new Date(end).toISOString(),
      as_of: new Date(now).toISOString(),
      group_by: q.group_by ?? null,
      total: figures(project(total), historyDays.length),
      groups,
      history: historyDays.map((d) => ({ date: new Date(d).toISOString().slice(0, 10), cost_usd: roundUsd(total.get(d) ?? 0) })),
    };
  });
};
