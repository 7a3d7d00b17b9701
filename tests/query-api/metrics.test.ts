import { DDSketch } from '@datadog/sketches-js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import type { SpanMetricRow, SpanUserCostRow } from '../../schemas/rows.js';
import { msToNs, nsToMinute } from '../../schemas/time.js';
import { planTiers, tablesOf } from '../../query-api/routes/metrics.sources.js';
import { testApp, type TestApp } from './support.js';
import { mulberry32 as rng } from '../support/prng.js';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});

const mapping = new DDSketch({ relativeAccuracy: 0.01 }).mapping;

/**
 * A partial aggregate in the shape span_metrics_1m had until migration 0003
 * (one series per user). {@link store} writes it the way the processors write
 * since 0004: its series part to span_metrics_1m, its user part to
 * span_user_costs_1m; the materialized views of 0005 fill the hourly tables.
 */
type LegacyRow = SpanMetricRow & { user_id: string };

function metricRow(p: Partial<LegacyRow> & { tenant: string; minuteMs: number }): LegacyRow {
  const { minuteMs, ...rest } = p;
  return {
    minute: nsToMinute(msToNs(minuteMs)),
    service: 'svc', operation: 'op', model: '', provider: '', user_id: '',
    count: 0, error_count: 0, duration_sum_ns: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0,
    cost_usd: 0, unpriced_count: 0, sketch_bins: {}, sketch_zero: 0,
    ...rest,
  };
}

async function insertInto(ch: ClickHouseHandle, table: string, values: object[]): Promise<void> {
  await ch.client.insert({ table: `${ch.database}.${table}`, format: 'JSONEachRow', values });
}

/** Insert legacy-shaped rows as series rows and user-cost rows (see {@link LegacyRow}). */
async function store(ch: ClickHouseHandle, rows: LegacyRow[]): Promise<void> {
  const series: SpanMetricRow[] = rows.map(({ user_id: _u, ...r }) => r);
  const users: SpanUserCostRow[] = rows.map((r) => ({
    tenant: r.tenant, minute: r.minute, service: r.service, model: r.model, provider: r.provider, user_id: r.user_id,
    count: r.count, input_tokens: r.input_tokens, output_tokens: r.output_tokens, cached_tokens: r.cached_tokens,
    cost_usd: r.cost_usd, unpriced_count: r.unpriced_count,
  }));
  await insertInto(ch, 'span_metrics_1m', series);
  await insertInto(ch, 'span_user_costs_1m', users);
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
    await store(t.ch, rows);
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
    await store(t.ch, [
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
      ['mystery-1', null, 3, 3], // issue 8: null, not 0, when every span is unpriced
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
      [new Date(base + 120_000).toISOString(), null], // issue 8: every span of this minute is unpriced
    ]);
  });
});

describe('hourly rollups', () => {
  /** Start (epoch ms) of a whole hour ~`hoursAgo` hours ago. */
  const hourAgo = (hoursAgo: number): number => (Math.floor(Date.now() / 3_600_000) - hoursAgo) * 3_600_000;

  it('step a multiple of 3600 reads whole hours from span_metrics_1h and the edges from minutes: the same answer as minutes', async () => {
    const { tenant, auth } = t.tenant();
    const h0 = hourAgo(12);
    const rand = rng(7);
    const rows: LegacyRow[] = [];
    // 10 hours of minutes with data every 7 minutes, two operations, some errors.
    for (let m = 0; m < 600; m += 7) {
      for (const operation of ['a', 'b']) {
        const vals = Array.from({ length: 20 }, () => (operation === 'a' ? 5 : 50) * Math.exp(rand()));
        rows.push(metricRow({ tenant, minuteMs: h0 + m * 60_000, operation, count: 20, error_count: m % 3, sketch_bins: bins(vals), cost_usd: 0.5, model: 'm', user_id: `u${m % 4}` }));
      }
    }
    await store(t.ch, rows);
    // The materialized views filled the hourly tables.
    const hourly = await t.ch.client.query({
      query: 'SELECT sum(count) AS n, count() AS r FROM {db:Identifier}.span_metrics_1h WHERE tenant = {tenant:String}',
      query_params: { db: t.ch.database, tenant },
      format: 'JSONEachRow',
    });
    const [h] = (await hourly.json()) as { n: string; r: string }[];
    expect(Number(h!.n)).toBe(rows.reduce((a, r) => a + r.count, 0));
    expect(Number(h!.r)).toBeLessThanOrEqual(2 * 10 * 2); // ≤ 2 partial rows per hour and operation before merges

    // Window starting mid-hour and ending mid-hour: edges come from minutes.
    const from = h0 + 25 * 60_000;
    const to = h0 + 9 * 3_600_000 + 17 * 60_000;
    for (const query of [{ step: 3600 }, { step: 7200, group_by: 'operation' }, { step: 3600, operation: 'b' }, { step: 300, group_by: 'operation' }, { step: 900 }, { step: 1800, operation: 'a' }]) {
      const viaHours = (await get(auth, '/api/v1/metrics/latency', { from, to, ...query })).json() as any;
      // Expected from the minute rows alone, merged in JS the way the API merges them.
      const stepMs = query.step * 1000;
      const expected = new Map<string, { count: number; errors: number; bins: Record<string, number> }>();
      for (const r of rows) {
        const ms = Date.parse(r.minute.replace(' ', 'T') + 'Z');
        if (ms < Math.floor(from / stepMs) * stepMs || ms >= to || (query.operation && r.operation !== query.operation)) continue;
        const k = `${new Date(Math.floor(ms / stepMs) * stepMs).toISOString()}|${query.group_by ? r.operation : ''}`;
        const e = expected.get(k) ?? { count: 0, errors: 0, bins: {} };
        e.count += r.count;
        e.errors += r.error_count;
        for (const [b, c] of Object.entries(r.sketch_bins)) e.bins[b] = (e.bins[b] ?? 0) + c;
        expected.set(k, e);
      }
      expect(viaHours.points.map((p: any) => `${p.t}|${p.group ?? ''}`)).toEqual([...expected.keys()]);
      viaHours.points.forEach((p: any) => {
        const e = expected.get(`${p.t}|${p.group ?? ''}`)!;
        expect(p.count).toBe(e.count);
        expect(p.error_count).toBe(e.errors);
        for (const [q, key] of [[0.5, 'p50_ms'], [0.99, 'p99_ms']] as const) {
          const sketch = new DDSketch({ relativeAccuracy: 0.01 });
          for (const [b, c] of Object.entries(e.bins)) sketch.accept(mapping.value(Number(b)), c);
          expect(p[key]).toBe(sketch.getValueAtQuantile(q));
        }
      });
    }

    const cost = (await get(auth, '/api/v1/metrics/cost', { from, to, step: 3600, group_by: 'user' })).json() as any;
    const costPerMinute = (await get(auth, '/api/v1/metrics/cost', { from, to, step: 1800, group_by: 'user' })).json() as any;
    const byUser = (points: any[]) => {
      const out: Record<string, number> = {};
      for (const p of points) out[p.group] = (out[p.group] ?? 0) + p.spans;
      return out;
    };
    expect(byUser(cost.points)).toEqual(byUser(costPerMinute.points));
    expect(Object.keys(byUser(cost.points)).sort()).toEqual(['u0', 'u1', 'u2', 'u3']);
  });

  it('serves whole hours from span_metrics_1h / span_user_costs_1h only when step is a multiple of 3600', async () => {
    // Rows written to the hourly tables alone (no minute rows) show which tier answered.
    const { tenant, auth } = t.tenant();
    const h = hourAgo(8);
    const hour = nsToMinute(msToNs(h));
    await insertInto(t.ch, 'span_metrics_1h', [{ tenant, hour, service: 's', operation: 'o', model: '', provider: '', count: 7, error_count: 1, duration_sum_ns: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 2, unpriced_count: 0, sketch_bins: { '200': 7 }, sketch_zero: 0 }]);
    await insertInto(t.ch, 'span_user_costs_1h', [{ tenant, hour, service: 's', model: '', provider: '', user_id: 'carol', count: 7, input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 2, unpriced_count: 0 }]);
    const window = { from: h - 3_600_000, to: h + 7_200_000 };
    const lat = (await get(auth, '/api/v1/metrics/latency', { ...window, step: 3600 })).json() as any;
    expect(lat.points).toEqual([{ t: new Date(h).toISOString(), group: null, count: 7, error_count: 1, p50_ms: expect.any(Number), p95_ms: expect.any(Number), p99_ms: expect.any(Number) }]);
    expect((await get(auth, '/api/v1/metrics/latency', { ...window, step: 1800 })).json()).toMatchObject({ points: [] });
    const byUser = (await get(auth, '/api/v1/metrics/cost', { ...window, step: 3600, group_by: 'user' })).json() as any;
    expect(byUser.points.map((p: any) => [p.group, p.cost_usd, p.spans])).toEqual([['carol', 2, 7]]);
    expect((await get(auth, '/api/v1/metrics/cost', { ...window, step: 10_800, group_by: 'model' })).json()).toMatchObject({ points: [{ cost_usd: 2, spans: 7 }] });
  });
});

describe('cost by user filtered by operation', () => {
  it('is summed from spans (the user tables have no operation) and equals the aggregate answer', async () => {
    const { tenant, auth } = t.tenant();
    const base = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;
    const { spanRow, traceId, insert } = await import('./support.js');
    const { aggregateBatch } = await import('../../processors/aggregate.js');
    const spans = Array.from({ length: 40 }, (_, i) =>
      spanRow({ tenant, trace_id: traceId(), startMs: base + i * 20_000, durationMs: 5 + i, service: 'chat', name: i % 2 ? 'llm' : 'tool',
        model: i % 5 ? 'gpt-4o' : 'mystery', provider: 'openai', user_id: `u${i % 3}`, input_tokens: 10 * i, output_tokens: i, cached_tokens: i % 4,
        cost_usd: i % 5 ? 0.125 * i : null, unpriced: i % 5 ? 0 : 1 }),
    );
    await insert(t.ch, 'spans', spans);
    const agg = aggregateBatch(spans);
    await insertInto(t.ch, 'span_metrics_1m', agg.metrics);
    await insertInto(t.ch, 'span_user_costs_1m', agg.userCosts);
    const window = { from: base, to: base + 15 * 60_000, step: 300 };

    const fromSpans = (await get(auth, '/api/v1/metrics/cost', { ...window, group_by: 'user', operation: 'llm' })).json() as any;
    expect(fromSpans.points.length).toBeGreaterThan(3);
    // Only 'llm' spans: compare with the aggregate answer over a tenant whose spans are all 'llm'.
    const only = t.tenant();
    const llm = spans.filter((s) => s.name === 'llm').map((s) => ({ ...s, tenant: only.tenant }));
    const a2 = aggregateBatch(llm);
    await insertInto(t.ch, 'span_user_costs_1m', a2.userCosts);
    const fromAggregates = (await get(only.auth, '/api/v1/metrics/cost', { ...window, group_by: 'user' })).json() as any;
    expect(fromSpans.points).toEqual(fromAggregates.points);
    expect(fromSpans.points.reduce((a: number, p: any) => a + p.unpriced_spans, 0)).toBe(llm.filter((s) => s.unpriced).length);
  });
});

describe('latency error_count (RED)', () => {
  it('sums error_count per bucket', async () => {
    const { tenant, auth } = t.tenant();
    const base = aligned5m();
    await store(t.ch, [0, 1, 2].map((m) => metricRow({ tenant, minuteMs: base + m * 60_000, count: 10, error_count: m, sketch_bins: { '100': 10 } })));
    const body = (await get(auth, '/api/v1/metrics/latency', { from: base, to: base + 300_000, step: 300 })).json() as any;
    expect(body.points).toMatchObject([{ count: 30, error_count: 3 }]);
  });
});

describe('tier planning (hour, 5-minute, minute tables)', () => {
  it('covers the window exactly once, each range aligned to its tier, a tier only when step is a multiple of its width', () => {
    const width = { minute: 60, five: 300, hour: 3600 } as const;
    const rand = rng(5);
    for (let i = 0; i < 2000; i++) {
      const step = [60, 120, 300, 600, 900, 1800, 3600, 7200, 86_400][Math.floor(rand() * 9)]!;
      const fromSec = Math.floor((1_700_000_000 + rand() * 1e7) / step) * step;
      const toSec = fromSec + 60 * Math.floor(rand() * 3 * 1440);
      for (const family of ['series', 'users'] as const) {
        const ranges = planTiers(fromSec, toSec, step, family);
        let at = fromSec;
        for (const r of ranges) {
          expect(r.fromSec).toBe(at);
          expect(r.toSec).toBeGreaterThan(r.fromSec);
          expect(r.fromSec % width[r.tier]).toBe(0);
          expect(r.toSec % width[r.tier]).toBe(0);
          expect(step % width[r.tier]).toBe(0);
          if (family === 'users') expect(r.tier).not.toBe('five');
          at = r.toSec;
        }
        expect(at).toBe(toSec > fromSec ? toSec : fromSec);
      }
    }
    // A "last 24 h" window at hourly steps: hours, then 5-minute blocks, then minutes.
    const end = 1_699_999_200 + 47 * 60 + 13; // 47 min 13 s past a whole hour
    const from = Math.floor((end - 86_400) / 3600) * 3600;
    const to = Math.ceil(end / 60) * 60;
    expect(tablesOf('series', planTiers(from, to, 3600))).toEqual(['span_metrics_1h', 'span_metrics_5m', 'span_metrics_1m']);
    expect(tablesOf('users', planTiers(from, to, 3600, 'users'))).toEqual(['span_user_costs_1h', 'span_user_costs_1m']);
    expect(tablesOf('series', planTiers(from, to, 120))).toEqual(['span_metrics_1m']);
  });

  it('serves whole 5-minute blocks from span_metrics_5m when step is a multiple of 300', async () => {
    // Rows written to the 5-minute table alone (no minute rows) show which tier answered.
    const { tenant, auth } = t.tenant();
    const block = Math.floor(Date.now() / 300_000) * 300_000 - 3_600_000;
    await insertInto(t.ch, 'span_metrics_5m', [{ tenant, minute: nsToMinute(msToNs(block)), service: 's', operation: 'o', model: 'm', provider: '', count: 4, error_count: 2, duration_sum_ns: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 1.5, unpriced_count: 0, sketch_bins: { '300': 4 }, sketch_zero: 0 }]);
    const window = { from: block - 600_000, to: block + 900_000 };
    const lat = (await get(auth, '/api/v1/metrics/latency', { ...window, step: 300 })).json() as any;
    expect(lat.points).toMatchObject([{ t: new Date(block).toISOString(), count: 4, error_count: 2, p50_ms: mapping.value(300) }]);
    expect((await get(auth, '/api/v1/metrics/latency', { ...window, step: 60 })).json()).toMatchObject({ points: [] });
    expect((await get(auth, '/api/v1/metrics/cost', { ...window, step: 900, group_by: 'model' })).json()).toMatchObject({ points: [{ group: 'm', cost_usd: 1.5, spans: 4 }] });
  });
});
