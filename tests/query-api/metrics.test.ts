import { DDSketch } from '@datadog/sketches-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { insert, metricRow, testApp, type TestApp } from './support.js';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});

const mapping = new DDSketch({ relativeAccuracy: 0.01 }).mapping;

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bins (index → count) of durations in ms, with the DDSketch logarithmic mapping. */
function bins(values: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) {
    const k = String(mapping.key(v));
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** Exact sample quantile with DDSketch's rank definition (rank = q·(n−1), lower value). */
function exact(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(q * (s.length - 1))]!;
}

/** Start (epoch ms) of a 5-minute-aligned window ~1 h ago. */
function aligned5m(): number {
  return Math.floor(Date.now() / 300_000) * 300_000 - 3_600_000;
}

async function get(auth: Record<string, string>, path: string, query: Record<string, string | number>) {
  return t.app.inject({ url: path, headers: auth, query: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])) });
}

describe('GET /api/v1/metrics/latency', () => {
  it('merges stored bins across minutes, partial rows and series: p99 within 1 % of exact', async () => {
    const { tenant, auth } = t.tenant();
    const other = t.tenant();
    const base = aligned5m();
    const rand = rng(42);
    const all: Record<'checkout' | 'search', number[]> = { checkout: [], search: [] };
    const rows = [];
    for (let m = 0; m < 5; m++) {
      for (const service of ['checkout', 'search'] as const) {
        // log-normal-ish latencies: checkout slower than search
        const scale = service === 'checkout' ? 200 : 20;
        const vals = Array.from({ length: 2000 }, () => scale * Math.exp(1.2 * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())));
        all[service].push(...vals);
        // two partial rows per minute and series, as two processor batches would write
        for (const part of [vals.slice(0, 700), vals.slice(700)]) {
          rows.push(metricRow({ tenant, minuteMs: base + m * 60_000, service, operation: 'op', count: part.length, sketch_bins: bins(part) }));
        }
      }
    }
    // another tenant's slow spans in the same minutes must not leak in
    rows.push(metricRow({ tenant: other.tenant, minuteMs: base, service: 'checkout', count: 1000, sketch_bins: bins(Array(1000).fill(1e6)) }));
    await insert(t.ch, 'span_metrics_1m', rows);
    const window = { from: base, to: base + 300_000 };

    const res = await get(auth, '/api/v1/metrics/latency', { ...window, step: 300 });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as any;
    expect(body).toMatchObject({ step: 300, group_by: null, from: new Date(base).toISOString() });
    expect(body.points).toHaveLength(1);
    const combined = [...all.checkout, ...all.search];
    const p = body.points[0];
    expect(p).toMatchObject({ t: new Date(base).toISOString(), group: null, count: 20_000 });
    for (const [q, key] of [[0.5, 'p50_ms'], [0.95, 'p95_ms'], [0.99, 'p99_ms']] as const) {
      const e = exact(combined, q);
      expect(Math.abs(p[key] - e) / e, `${key} ${p[key]} vs ${e}`).toBeLessThanOrEqual(0.01);
    }

    const grouped = (await get(auth, '/api/v1/metrics/latency', { ...window, step: 300, group_by: 'service' })).json() as any;
    expect(grouped.points.map((x: any) => x.group)).toEqual(['checkout', 'search']);
    for (const g of grouped.points) {
      const e = exact(all[g.group as 'checkout' | 'search'], 0.99);
      expect(g.count).toBe(10_000);
      expect(Math.abs(g.p99_ms - e) / e).toBeLessThanOrEqual(0.01);
    }

    const perMinute = (await get(auth, '/api/v1/metrics/latency', { ...window, service: 'search' })).json() as any;
    expect(perMinute.step).toBe(60);
    expect(perMinute.points.map((x: any) => x.t)).toEqual([0, 1, 2, 3, 4].map((m) => new Date(base + m * 60_000).toISOString()));
    expect(perMinute.points.every((x: any) => x.count === 2000 && x.group === null)).toBe(true);
  });

  it('rejects too many buckets with the fix, and a step that is not a multiple of 60', async () => {
    const { auth } = t.tenant();
    const to = Date.now();
    const tooMany = await get(auth, '/api/v1/metrics/latency', { from: to - 2 * 86_400_000, to, step: 60 });
    expect(tooMany.statusCode).toBe(400);
    const err = (tooMany.json() as any).error;
    expect(err.code).toBe('VIGIL_ERR_VALIDATION');
    const m = /^step: \d+ buckets exceed the limit of 1440; use step=(\d+) or larger/.exec(err.message);
    expect(m, err.message).not.toBeNull();
    const fixed = await get(auth, '/api/v1/metrics/latency', { from: to - 2 * 86_400_000, to, step: Number(m![1]) });
    expect(fixed.statusCode).toBe(200);
    expect(Number(m![1]) % 60).toBe(0);
    const badStep = await get(auth, '/api/v1/metrics/latency', { step: 90 });
    expect(badStep.statusCode).toBe(400);
    expect((badStep.json() as any).error.message).toMatch(/^step: expected seconds, a multiple of 60/);
    const badGroup = await get(auth, '/api/v1/metrics/latency', { group_by: 'user' });
    expect((badGroup.json() as any).error.message).toMatch(/^group_by: expected one of service \| operation \| model/);
  });
});

describe('GET /api/v1/metrics/cost', () => {
  it('sums cost and tokens, counts unpriced spans, groups and filters', async () => {
    const { tenant, auth } = t.tenant();
    const other = t.tenant();
    const base = aligned5m() - 600_000;
    const row = (m: number, model: string, provider: string, user: string, cost: number, unpriced: number, count: number) =>
      metricRow({ tenant, minuteMs: base + m * 60_000, service: 'chat', operation: 'llm', model, provider, user_id: user, count, cost_usd: cost, unpriced_count: unpriced, input_tokens: 100 * count, output_tokens: 10 * count, cached_tokens: count });
    await insert(t.ch, 'span_metrics_1m', [
      row(0, 'gpt-4o', 'openai', 'alice', 0.25, 0, 5),
      row(0, 'gpt-4o', 'openai', 'alice', 0.5, 0, 5), // second partial row of the same series
      row(1, 'gpt-4o', 'openai', 'bob', 0.125, 0, 2),
      row(1, 'claude-x', 'anthropic', 'bob', 1, 0, 4),
      row(2, 'mystery-1', 'acme', 'alice', 0, 3, 3),
      metricRow({ tenant: other.tenant, minuteMs: base, model: 'gpt-4o', count: 99, cost_usd: 99 }),
    ]);
    const window = { from: base, to: base + 300_000, step: 300 };

    const total = (await get(auth, '/api/v1/metrics/cost', window)).json() as any;
    expect(total.points).toEqual([
      { t: new Date(base).toISOString(), group: null, cost_usd: 1.875, input_tokens: 1900, output_tokens: 190, cached_tokens: 19, unpriced_spans: 3, spans: 19 },
    ]);

    const byModel = (await get(auth, '/api/v1/metrics/cost', { ...window, group_by: 'model' })).json() as any;
    expect(byModel.points.map((p: any) => [p.group, p.cost_usd, p.unpriced_spans, p.spans])).toEqual([
      ['claude-x', 1, 0, 4],
      ['gpt-4o', 0.875, 0, 12],
      ['mystery-1', 0, 3, 3],
    ]);
    const byUser = (await get(auth, '/api/v1/metrics/cost', { ...window, group_by: 'user' })).json() as any;
    expect(byUser.points.map((p: any) => [p.group, p.cost_usd, p.spans])).toEqual([
      ['alice', 0.75, 13],
      ['bob', 1.125, 6],
    ]);
    const byProvider = (await get(auth, '/api/v1/metrics/cost', { ...window, group_by: 'provider', model: 'gpt-4o' })).json() as any;
    expect(byProvider.points.map((p: any) => [p.group, p.cost_usd])).toEqual([['openai', 0.875]]);

    const perMinute = (await get(auth, '/api/v1/metrics/cost', { from: base, to: base + 300_000 })).json() as any;
    expect(perMinute.points.map((p: any) => [p.t, p.cost_usd])).toEqual([
      [new Date(base).toISOString(), 0.75],
      [new Date(base + 60_000).toISOString(), 1.125],
      [new Date(base + 120_000).toISOString(), 0],
    ]);
  });
});
