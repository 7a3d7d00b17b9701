/**
 * Issue 8 — cost forecast (seed 001): the model on synthetic series with a
 * known trend (ARIMA(0,2,2) / Holt's linear trend recovers it; the interval
 * covers the truth), the mean method for short histories, and
 * GET /api/v1/cost/forecast on hourly rollups in the real test chDB.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { forecastDaily, projectPeriod } from '../../query-api/routes/forecast-model.js';
import { periodOf } from '../../query-api/routes/forecast.js';
import { testApp, type TestApp } from './support.js';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});

const DAY = 86_400_000;
/** Known trend: 2 USD/day rising 0.1 USD per day, with a small deterministic wobble. */
const trend = (i: number): number => 2 + 0.1 * i + 0.05 * Math.sin(i * 2.1);

describe('forecast model', () => {
  it('recovers a linear trend with ARIMA(0,2,2) and widens its interval with the horizon', () => {
    const history = Array.from({ length: 60 }, (_, i) => trend(i));
    const f = forecastDaily(history, 10);
    expect(f.method).toBe('arima(0,2,2)');
    for (let h = 0; h < 10; h++) expect(Math.abs(f.mean[h]! - (2 + 0.1 * (60 + h)))).toBeLessThan(0.15);
    for (let h = 1; h < 10; h++) expect(f.variance[h]!).toBeGreaterThanOrEqual(f.variance[h - 1]!);
    const p = projectPeriod(history, 50, 0.5, 9);
    const truth = 50 + 0.5 * trend(60) + Array.from({ length: 9 }, (_, h) => trend(61 + h)).reduce((a, b) => a + b, 0);
    expect(Math.abs(p.projected - truth) / truth).toBeLessThan(0.02);
    expect(p.lower).toBeLessThanOrEqual(truth);
    expect(p.upper).toBeGreaterThanOrEqual(truth);
    expect(p.lower).toBeGreaterThanOrEqual(50);
  });

  it('uses the mean method below 14 days and for constant series; nothing without history', () => {
    expect(forecastDaily([1, 2, 3], 2)).toEqual({ method: 'mean', mean: [2, 2], variance: [1 * (1 + 1 / 3), 1 * (1 + 1 / 3)] });
    expect(forecastDaily(Array(20).fill(4), 1)).toMatchObject({ method: 'mean', mean: [4], variance: [0] });
    expect(projectPeriod([], 0, 1, 3)).toMatchObject({ method: 'none', projected: 0, lower: 0, upper: 0 });
  });

  it('periods are UTC months and ISO weeks', () => {
    const now = Date.UTC(2026, 1, 18, 15); // Wednesday
    expect(periodOf('month', now)).toEqual({ start: Date.UTC(2026, 1, 1), end: Date.UTC(2026, 2, 1) });
    expect(periodOf('week', now)).toEqual({ start: Date.UTC(2026, 1, 16), end: Date.UTC(2026, 1, 23) });
  });
});

describe('GET /api/v1/cost/forecast', () => {
  it('spent so far, projected total with an interval, per model; from the daily history in span_metrics_1h', async () => {
    const { tenant, auth } = t.tenant();
    const today = Math.floor(Date.now() / DAY) * DAY;
    // 25 complete days before today (inside the test tables' 30-day TTL): model a follows the trend,
    // model b a flat 1 USD/day; one row per day at 12:00.
    const N = 25;
    const rows: object[] = [];
    for (let i = 0; i < N; i++) {
      const hour = new Date(today - (N - i) * DAY + 12 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
      const base = { tenant, hour, service: 'chat', operation: 'llm', provider: 'p', count: 1, error_count: 0, duration_sum_ns: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, unpriced_count: 0, sketch_bins: {}, sketch_zero: 0 };
      rows.push({ ...base, model: 'a', cost_usd: trend(i) }, { ...base, model: 'b', cost_usd: 1 });
    }
    await t.ch.client.insert({ table: `${t.ch.database}.span_metrics_1h`, format: 'JSONEachRow', values: rows });

    const r = await t.app.inject({ method: 'GET', url: '/api/v1/cost/forecast?period=month&group_by=model', headers: auth });
    expect(r.statusCode, r.body).toBe(200);
    const body = r.json() as any;
    const { start, end } = periodOf('month', Date.now());
    expect(body).toMatchObject({ period: 'month', period_start: new Date(start).toISOString(), period_end: new Date(end).toISOString(), group_by: 'model' });
    expect(body.history).toHaveLength(N);
    const spentA = Array.from({ length: N }, (_, i) => i).filter((i) => today - (N - i) * DAY >= start).reduce((a, i) => a + trend(i), 0);
    const a = body.groups.find((g: any) => g.group === 'a');
    const b = body.groups.find((g: any) => g.group === 'b');
    expect(a.spent_usd).toBeCloseTo(spentA, 6);
    expect(a.method).toBe('arima(0,2,2)');
    // Truth for a: spent + rest of today + every later day of the month on the trend.
    const left = (today + DAY - Date.parse(body.as_of)) / DAY;
    const later = Math.round((end - today) / DAY) - 1;
    const truthA = spentA + left * trend(N) + Array.from({ length: later }, (_, h) => trend(N + 1 + h)).reduce((x, y) => x + y, 0);
    expect(Math.abs(a.projected_usd - truthA) / Math.max(truthA, 1)).toBeLessThan(0.03);
    expect(a.lower_usd).toBeLessThanOrEqual(a.projected_usd);
    expect(a.upper_usd).toBeGreaterThanOrEqual(a.projected_usd);
    // b is flat at 1 USD/day: the mean method (constant series), exact.
    expect(b.method).toBe('mean');
    expect(b.projected_usd).toBeCloseTo(b.spent_usd + left + later, 6);
    expect(body.total.projected_usd).toBeGreaterThan(b.projected_usd);
    expect(body.total.spent_usd).toBeCloseTo(a.spent_usd + b.spent_usd, 6);

    const empty = await t.app.inject({ method: 'GET', url: '/api/v1/cost/forecast', headers: t.tenant().auth });
    expect(empty.json()).toMatchObject({ total: { spent_usd: 0, projected_usd: 0, method: 'none' }, groups: null, history: [] });
    const bad = await t.app.inject({ method: 'GET', url: '/api/v1/cost/forecast?period=year', headers: auth });
    expect(bad.statusCode).toBe(400);
  });
});
