/**
 * Issue 8 "Query API" — time params and RED series: relative times
 * (now-15m …), bucket alignment, fill=zero|null|none (ClickHouse WITH FILL),
 * GET /api/v1/metrics/requests (count, rate_per_s, error_count, error_rate,
 * duration_avg_ms per bucket and group; filters; status split), and fill on
 * the latency and cost series, against the real test chDB.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { alignWindow, parseTimeNs } from '../../query-api/params.js';
import { insert, metricRow, minuteAgo, testApp, type TestApp } from './support.js';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});

async function get(auth: Record<string, string>, url: string): Promise<{ status: number; body: any }> {
  const res = await t.app.inject({ method: 'GET', url, headers: auth });
  return { status: res.statusCode, body: res.json() };
}

/** Start of the 5-minute bucket (epoch ms) `n` buckets before the current one. */
const bucket5 = (n: number): number => (Math.floor(Date.now() / 300_000) - n) * 300_000;

describe('time parameters', () => {
  it('relative forms resolve against now; epoch ms and ISO-8601 are equivalent', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(parseTimeNs('now', now)).toBe(BigInt(now) * 1_000_000n);
    expect(parseTimeNs('now-15m', now)).toBe(BigInt(now - 900_000) * 1_000_000n);
    expect(parseTimeNs('now-2h', now)).toBe(BigInt(now - 7_200_000) * 1_000_000n);
    expect(parseTimeNs('now-7d', now)).toBe(BigInt(now - 7 * 86_400_000) * 1_000_000n);
    expect(parseTimeNs(String(now))).toBe(parseTimeNs('2026-01-01T12:00:00Z'));
  });

  it('buckets align to the step in UTC, starting with the bucket containing from', () => {
    const from = BigInt(Date.UTC(2026, 0, 1, 10, 7, 30)) * 1_000_000n;
    const to = BigInt(Date.UTC(2026, 0, 1, 11, 0, 0)) * 1_000_000n;
    const w = alignWindow(from, to, 900);
    expect(new Date(w.fromSec * 1000).toISOString()).toBe('2026-01-01T10:00:00.000Z');
    expect(w.buckets).toBe(4);
  });

  it('the README example from=now-15m answers 200 on every series route', async () => {
    const { auth } = t.tenant();
    for (const url of ['/api/v1/metrics/latency', '/api/v1/metrics/cost', '/api/v1/metrics/requests', '/api/v1/traces', '/api/v1/logs']) {
      const r = await get(auth, `${url}?from=now-15m&to=now`);
      expect(r.status, `${url}: ${JSON.stringify(r.body)}`).toBe(200);
    }
  });
});

describe('GET /api/v1/metrics/requests', () => {
  it('RED per bucket and group from the aggregates; filters; status split; fill', async () => {
    const { tenant, auth } = t.tenant();
    const b0 = bucket5(6); // a 5-minute bucket half an hour ago
    await insert(t.ch, 'span_metrics_1m', [
      metricRow({ tenant, minuteMs: b0, service: 'checkout', operation: 'POST /pay', count: 10, error_count: 2, duration_sum_ns: 10 * 50e6 }),
      metricRow({ tenant, minuteMs: b0 + 60_000, service: 'checkout', operation: 'POST /pay', count: 20, error_count: 1, duration_sum_ns: 20 * 20e6 }),
      metricRow({ tenant, minuteMs: b0 + 60_000, service: 'cart', operation: 'GET /cart', count: 5, error_count: 0, duration_sum_ns: 5 * 10e6 }),
      // Two buckets later: checkout only.
      metricRow({ tenant, minuteMs: b0 + 600_000, service: 'checkout', operation: 'POST /pay', count: 3, error_count: 3, duration_sum_ns: 3 * 100e6 }),
    ]);
    const from = new Date(b0).toISOString();
    const to = new Date(b0 + 900_000).toISOString();

    const all = await get(auth, `/api/v1/metrics/requests?from=${from}&to=${to}&step=300`);
    expect(all.status).toBe(200);
    expect(all.body.points).toEqual([
      { t: from, group: null, count: 35, rate_per_s: 35 / 300, error_count: 3, error_rate: 3 / 35, duration_avg_ms: (500 + 400 + 50) / 35 },
      { t: new Date(b0 + 600_000).toISOString(), group: null, count: 3, rate_per_s: 0.01, error_count: 3, error_rate: 1, duration_avg_ms: 100 },
    ]);

    const bySvc = await get(auth, `/api/v1/metrics/requests?from=${from}&to=${to}&step=300&group_by=service&service=checkout`);
    expect(bySvc.body.points.map((p: any) => [p.group, p.count, p.error_count])).toEqual([
      [{ service: 'checkout' }, 30, 3],
      [{ service: 'checkout' }, 3, 3],
    ]);
    expect(bySvc.body.points[0].duration_avg_ms).toBeCloseTo(30, 9);

    const byStatus = await get(auth, `/api/v1/metrics/requests?from=${from}&to=${to}&step=300&group_by=service,status&operation=POST%20/pay`);
    expect(byStatus.body.points.map((p: any) => [p.t, p.group, p.count, p.duration_avg_ms])).toEqual([
      [from, { service: 'checkout', status: 'error' }, 3, null],
      [from, { service: 'checkout', status: 'ok' }, 27, null],
      [new Date(b0 + 600_000).toISOString(), { service: 'checkout', status: 'error' }, 3, null],
    ]);
    const errorsOnly = await get(auth, `/api/v1/metrics/requests?from=${from}&to=${to}&step=300&status=error`);
    expect(errorsOnly.body.points.map((p: any) => p.count)).toEqual([3, 3]);

    // fill=zero: the empty middle bucket for every group present; fill=null: values null.
    const zero = await get(auth, `/api/v1/metrics/requests?from=${from}&to=${to}&step=300&group_by=service&fill=zero`);
    expect(zero.status).toBe(200);
    const rows = zero.body.points.map((p: any) => [p.t, p.group.service, p.count, p.error_rate]);
    expect(rows).toEqual([
      [from, 'cart', 5, 0],
      [from, 'checkout', 30, 0.1],
      [new Date(b0 + 300_000).toISOString(), 'cart', 0, null],
      [new Date(b0 + 300_000).toISOString(), 'checkout', 0, null],
      [new Date(b0 + 600_000).toISOString(), 'cart', 0, null],
      [new Date(b0 + 600_000).toISOString(), 'checkout', 3, 1],
    ]);
    const nul = await get(auth, `/api/v1/metrics/requests?from=${from}&to=${to}&step=300&fill=null`);
    expect(nul.body.points.map((p: any) => p.count)).toEqual([35, null, 3]);
    expect(nul.body.points[1]).toMatchObject({ rate_per_s: null, error_count: null, duration_avg_ms: null });
    const none = await get(auth, `/api/v1/metrics/requests?from=${from}&to=${to}&step=300&fill=none`);
    expect(none.body.points).toHaveLength(2);
  });

  it('validates group_by, status, fill and step', async () => {
    const { auth } = t.tenant();
    for (const [q, field] of [['group_by=user', 'group_by'], ['group_by=service,service', 'group_by'], ['status=unset', 'status'], ['fill=previous', 'fill'], ['step=61', 'step']]) {
      const r = await get(auth, `/api/v1/metrics/requests?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.message.startsWith(`${field}: `), r.body.error.message).toBe(true);
    }
  });
});

describe('fill on latency and cost; cost null when unpriced', () => {
  it('latency fill=zero adds empty buckets with null quantiles; cost_usd is null where every LLM span is unpriced', async () => {
    const { tenant, auth } = t.tenant();
    const m0 = minuteAgo(30);
    await insert(t.ch, 'span_metrics_1m', [
      metricRow({ tenant, minuteMs: m0, count: 2, sketch_bins: { '100': 2 }, model: 'gpt-x', provider: 'openai', cost_usd: 0.1 + 0.2, input_tokens: 10 }),
      metricRow({ tenant, minuteMs: m0 + 120_000, count: 1, sketch_bins: { '100': 1 }, model: 'mystery', provider: 'acme', unpriced_count: 1 }),
    ]);
    const from = new Date(m0).toISOString();
    const to = new Date(m0 + 180_000).toISOString();
    const lat = await get(auth, `/api/v1/metrics/latency?from=${from}&to=${to}&fill=zero`);
    expect(lat.body.points.map((p: any) => [p.count, p.p50_ms === null])).toEqual([[2, false], [0, true], [1, false]]);
    const cost = await get(auth, `/api/v1/metrics/cost?from=${from}&to=${to}&fill=zero`);
    expect(cost.body.points.map((p: any) => p.cost_usd)).toEqual([0.3, 0, null]);
    expect(cost.body.points.map((p: any) => p.spans)).toEqual([2, 0, 1]);
    const costNull = await get(auth, `/api/v1/metrics/cost?from=${from}&to=${to}&fill=null`);
    expect(costNull.body.points[1]).toMatchObject({ spans: null, cost_usd: null });
  });
});
