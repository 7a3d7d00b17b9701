/**
 * Anomaly scores through the query API (app.inject, test chDB) and the
 * `anomaly_score` alert signal: GET /api/v1/anomalies (filters, newest first,
 * tenant confinement, validation, OpenAPI), anomaly=true on
 * /api/v1/metrics/latency and /cost, and readWindow / parseRule of alerting.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { insertScores } from '../../anomaly/store.js';
import type { ScoredPoint, SeriesKey } from '../../anomaly/series.js';
import { readWindow, signalValue } from '../../alerts/signals.js';
import { parseRule } from '../../alerts/rule-schema.js';
import { insert, metricRow, minuteAgo, testApp, type TestApp } from '../query-api/support.js';

let t: TestApp;
let tenant: ReturnType<TestApp['tenant']>;
const M = [minuteAgo(5), minuteAgo(4), minuteAgo(3)];

function point(key: SeriesKey, ms: number, signal: ScoredPoint['signal'], score: number, observed = 100): ScoredPoint {
  return { key, minuteS: ms / 1000, signal, observed, expected: 50, lower: 20, upper: 80, score, component: score > 0.5 ? 1 : 0 };
}

beforeAll(async () => {
  t = await testApp();
  tenant = t.tenant();
  const op: SeriesKey = { tenant: tenant.tenant, kind: 'operation', service: 'checkout', name: 'POST /pay' };
  const model: SeriesKey = { tenant: tenant.tenant, kind: 'model', service: 'checkout', name: 'gpt-4o' };
  await insertScores(
    t.ch,
    [
      point(op, M[0]!, 'latency_p99_ms', 0.1),
      point(op, M[1]!, 'latency_p99_ms', 0.95, 300),
      point(op, M[2]!, 'latency_p99_ms', 0.2),
      point(op, M[1]!, 'request_rate', 0.3),
      point(model, M[2]!, 'cost_usd', 0.97, 2.5),
    ],
    0.9,
    `api-test-${tenant.tenant}`,
  );
  await insert(
    t.ch,
    'span_metrics_1m',
    M.map((ms) => ({ tenant: tenant.tenant, ...metricRow({ tenant: tenant.tenant, minuteMs: ms, service: 'checkout', operation: 'POST /pay', count: 10, sketch_bins: { '300': 10 } }) })),
  );
  await insert(t.ch, 'span_metrics_1m', [{ tenant: tenant.tenant, ...metricRow({ tenant: tenant.tenant, minuteMs: M[2]!, service: 'checkout', operation: 'chat', model: 'gpt-4o', provider: 'openai', count: 2, cost_usd: 2.5 }) }]);
});

const get = (url: string, auth = tenant.auth) => t.app.inject({ method: 'GET', url, headers: auth });

describe('GET /api/v1/anomalies', () => {
  it('returns scored points newest first with observed and expected values, filtered by min_score', async () => {
    const res = await get(`/api/v1/anomalies?from=${M[0]}&min_score=0.9`);
    expect(res.statusCode).toBe(200);
    const body = res.json() as { points: Array<Record<string, unknown>> };
    expect(body.points).toHaveLength(2);
    expect(body.points[0]).toMatchObject({ t: new Date(M[2]!).toISOString(), series_kind: 'model', service: 'checkout', model: 'gpt-4o', operation: null, signal: 'cost_usd', observed: 2.5, expected: 50, score: 0.97, is_anomaly: true });
    expect(body.points[1]).toMatchObject({ t: new Date(M[1]!).toISOString(), operation: 'POST /pay', signal: 'latency_p99_ms', observed: 300, lower: 20, upper: 80, is_anomaly: true });
  });

  it('filters by operation, model and signal, and confines to the tenant', async () => {
    const ops = (await get(`/api/v1/anomalies?from=${M[0]}&operation=${encodeURIComponent('POST /pay')}&signal=latency_p99_ms`)).json() as { points: Array<{ score: number }> };
    expect(ops.points.map((p) => p.score)).toEqual([0.2, 0.95, 0.1]);
    const models = (await get(`/api/v1/anomalies?from=${M[0]}&model=gpt-4o`)).json() as { points: unknown[] };
    expect(models.points).toHaveLength(1);
    const other = t.tenant();
    expect(((await get(`/api/v1/anomalies?from=${M[0]}`, other.auth)).json() as { points: unknown[] }).points).toHaveLength(0);
  });

  it('answers 400 naming a bad parameter, and is in the OpenAPI document', async () => {
    const bad = await get('/api/v1/anomalies?min_score=2');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'VIGIL_ERR_VALIDATION' } });
    expect((bad.json() as { error: { message: string } }).error.message).toMatch(/^min_score/);
    const sig = await get('/api/v1/anomalies?signal=cpu');
    expect(sig.statusCode).toBe(400);
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/api/v1/anomalies');
  });
});

describe('anomaly=true on the metrics routes', () => {
  it('adds the highest score of the bucket to latency points and cost points', async () => {
    const lat = (await get(`/api/v1/metrics/latency?from=${M[0]}&to=${M[2]! + 60_000}&group_by=operation&service=checkout&anomaly=true`)).json() as {
      points: Array<{ t: string; group: string; anomaly_score: number | null }>;
    };
    const pay = lat.points.filter((p) => p.group === 'POST /pay');
    expect(pay.map((p) => p.anomaly_score)).toEqual([0.1, 0.95, 0.2]);
    const cost = (await get(`/api/v1/metrics/cost?from=${M[0]}&to=${M[2]! + 60_000}&group_by=model&anomaly=true`)).json() as {
      points: Array<{ group: string; anomaly_score: number | null }>;
    };
    expect(cost.points.find((p) => p.group === 'gpt-4o')?.anomaly_score).toBe(0.97);
    const plain = (await get(`/api/v1/metrics/latency?from=${M[0]}&to=${M[2]! + 60_000}`)).json() as { points: Array<Record<string, unknown>> };
    expect(plain.points[0]).not.toHaveProperty('anomaly_score');
  });
});

describe('anomaly_score alert signal', () => {
  it('is accepted by the rule schema (0–1) and reads the highest score per group', async () => {
    const rule = parseRule({ name: 'anomalies', condition: { signal: 'anomaly_score', group_by: ['service'], window: '1m', operator: '>=', threshold: 0.9 }, for: '2m' });
    expect(rule.condition.signal).toBe('anomaly_score');
    expect(() => parseRule({ name: 'x', condition: { signal: 'anomaly_score', window: '1m', operator: '>=', threshold: 1.5 } })).toThrow(/condition.threshold/);
    const aggs = await readWindow(t.ch, tenant.tenant, rule.condition, M[1]! / 1000, M[1]! / 1000 + 60);
    expect(aggs).toHaveLength(1);
    expect(aggs[0]!.labels).toEqual({ service: 'checkout' });
    expect(signalValue(rule.condition, aggs[0]!)).toEqual({ value: 0.95, judged: true });
    const byOp = await readWindow(t.ch, tenant.tenant, { ...rule.condition, group_by: ['operation'] }, M[0]! / 1000, M[2]! / 1000 + 60);
    expect(byOp.map((a) => [a.labels.operation, a.score])).toEqual([['POST /pay', 0.95]]);
  });
});
