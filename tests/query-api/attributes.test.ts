/**
 * Issue 8 "Any attribute" and "Traces list": filter expressions on span and
 * resource attributes (typed: numbers compare as numbers) on /api/v1/traces,
 * /api/v1/logs and GET /api/v1/metrics/spans (grouping by up to 3 keys,
 * quantiles, cost, top N); trace list sort=duration|start_time|cost with
 * per-trace totals and cursors; against the real test chDB.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseFilter } from '../../query-api/filters.js';
import type { SpanRow } from '../../schemas/rows.js';
import { ATTRIBUTE_TYPE as T } from '../../processors/normalize/attributes.js';
import { insert, logRow, minuteAgo, spanRow, testApp, traceId, type TestApp } from './support.js';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});

type Val = string | number | boolean | bigint;

/** Typed attribute columns (as processors/normalize writes them) + the legacy string map. */
/** Row fields of `attrs` in the stored layout (migration 0016): texts, and type codes of the non-strings. */
function typed(prefix: 'attributes' | 'resource_attributes', attrs: Record<string, Val>): Partial<SpanRow> {
  const all: Record<string, string> = {};
  const types: Record<string, number> = {};
  for (const [k, v] of Object.entries(attrs)) {
    all[k] = String(v);
    if (typeof v === 'boolean') types[k] = T.bool;
    else if (typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))) types[k] = T.int;
    else if (typeof v === 'number') types[k] = T.double;
  }
  return { [prefix]: all, [`${prefix}_types`]: types, attributes_format: 1 } as Partial<SpanRow>;
}

async function get(auth: Record<string, string>, url: string): Promise<{ status: number; body: any }> {
  const res = await t.app.inject({ method: 'GET', url, headers: auth });
  return { status: res.statusCode, body: res.json() };
}

const enc = encodeURIComponent;

describe('filter expressions', () => {
  it('parses operators, quoting, lists and the resource prefix; refuses malformed ones naming filter', () => {
    expect(parseFilter('http.response.status_code>=500')).toMatchObject({ scope: 'span', key: 'http.response.status_code', op: '>=', values: ['500'] });
    expect(parseFilter('resource.deployment.environment = prod')).toMatchObject({ scope: 'resource', key: 'deployment.environment', op: '=', values: ['prod'] });
    expect(parseFilter('customer.tier in (gold, "silver, plus")')).toMatchObject({ op: 'in', values: ['gold', 'silver, plus'], quoted: [false, true] });
    expect(parseFilter('user.note contains "a \\"b\\""')).toMatchObject({ op: 'contains', values: ['a "b"'] });
    expect(parseFilter('feature.x exists')).toMatchObject({ op: 'exists', values: [] });
    expect(parseFilter('feature.x !exists')).toMatchObject({ op: '!exists' });
    for (const bad of ['x>abc', 'x > "5"', '=5', 'x', 'x exists 1', 'x in (a', 'x="open', `${'k'.repeat(300)}=1`]) {
      expect(() => parseFilter(bad), bad).toThrow(/^filter: /);
    }
  });
});

describe('attribute filters on traces, logs and /api/v1/metrics/spans', () => {
  it('numbers compare as numbers (int, double, big int), strings, booleans, resource attributes, in, contains, exists', async () => {
    const { tenant, auth } = t.tenant();
    const at = minuteAgo(20);
    const ids = { a: traceId(), b: traceId(), c: traceId(), d: traceId() };
    await insert(t.ch, 'spans', [
      spanRow({ tenant, trace_id: ids.a, startMs: at, durationMs: 10, ...typed('attributes', { 'http.response.status_code': 503, 'customer.tier': 'gold', retry: true, ratio: 0.25 }), ...typed('resource_attributes', { 'deployment.environment': 'prod' }) }),
      spanRow({ tenant, trace_id: ids.b, startMs: at + 1000, durationMs: 20, ...typed('attributes', { 'http.response.status_code': 99, 'customer.tier': 'silver', retry: false, ratio: 1.5, big: 9007199254740993n }) }),
      // A row stored before typed columns: strings only (the legacy map); still compared numerically.
      spanRow({ tenant, trace_id: ids.c, startMs: at + 2000, durationMs: 30, attributes: { 'http.response.status_code': '500', 'customer.tier': 'Gold Plus' }, resource_attributes: { 'deployment.environment': 'staging' } }),
      spanRow({ tenant, trace_id: ids.d, startMs: at + 3000, durationMs: 40, ...typed('attributes', { 'customer.tier': '600' }) }),
    ]);
    // A string attribute "600" that reads as a number also compares numerically (documented).
    const list = async (...filters: string[]): Promise<string[]> => {
      const qs = filters.map((f) => `filter=${enc(f)}`).join('&');
      const r = await get(auth, `/api/v1/traces?from=now-1h&${qs}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body.traces.map((x: any) => x.trace_id).sort();
    };
    const sorted = (...xs: string[]): string[] => [...xs].sort();
    expect(await list('http.response.status_code>=500')).toEqual(sorted(ids.a, ids.c)); // 99 < 500 numerically, "99" > "500" as text
    expect(await list('http.response.status_code<100')).toEqual([ids.b]);
    expect(await list('http.response.status_code=503')).toEqual([ids.a]);
    expect(await list('http.response.status_code=503.0')).toEqual([ids.a]);
    expect(await list('http.response.status_code!=503')).toEqual(sorted(ids.b, ids.c, ids.d));
    expect(await list('ratio>0.5')).toEqual([ids.b]);
    expect(await list('big>9007199254740992')).toEqual([ids.b]); // exact Int64 beyond 2^53
    expect(await list('retry=true')).toEqual([ids.a]);
    expect(await list('customer.tier=gold')).toEqual([ids.a]);
    expect(await list('customer.tier contains gold')).toEqual(sorted(ids.a, ids.c));
    expect(await list('customer.tier in (silver, "Gold Plus")')).toEqual(sorted(ids.b, ids.c));
    expect(await list('customer.tier in (600, 700)')).toEqual([ids.d]);
    expect(await list('resource.deployment.environment=prod')).toEqual([ids.a]);
    expect(await list('resource.deployment.environment exists')).toEqual(sorted(ids.a, ids.c));
    expect(await list('ratio !exists')).toEqual(sorted(ids.c, ids.d));
    expect(await list('http.response.status_code>=100', 'customer.tier contains gold')).toEqual(sorted(ids.a, ids.c));
    // A name with SQL in it is a value, not SQL.
    expect(await list("x';DROP\\--{db:Identifier}=1")).toEqual([]);

    const bad = await get(auth, `/api/v1/traces?filter=${enc('x>abc')}`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'VIGIL_ERR_VALIDATION' });
    expect(bad.body.error.message).toMatch(/^filter: /);
    const many = Array.from({ length: 11 }, (_, i) => `filter=k${i}%3D1`).join('&');
    expect((await get(auth, `/api/v1/traces?${many}`)).body.error.message).toMatch(/^filter: at most 10/);
  });

  it('logs: the same filters over log record and resource attributes', async () => {
    const { tenant, auth } = t.tenant();
    const at = minuteAgo(10);
    await insert(t.ch, 'logs', [
      logRow({ tenant, timeMs: at, body: 'slow', ...(typed('attributes', { 'db.rows': 1200 }) as object), ...(typed('resource_attributes', { region: 'eu' }) as object) }),
      logRow({ tenant, timeMs: at + 1, body: 'fast', ...(typed('attributes', { 'db.rows': 3 }) as object) }),
    ]);
    const r = await get(auth, `/api/v1/logs?from=now-1h&filter=${enc('db.rows>1000')}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.logs.map((l: any) => l.body)).toEqual(['slow']);
    expect(r.body.logs[0].attributes['db.rows']).toBe(1200);
    const res = await get(auth, `/api/v1/logs?from=now-1h&filter=${enc('resource.region=eu')}`);
    expect(res.body.logs.map((l: any) => l.body)).toEqual(['slow']);
  });

  it('GET /api/v1/metrics/spans: groups by attributes, quantiles, error rate, cost (null when unpriced), top N', async () => {
    const { tenant, auth } = t.tenant();
    const at = minuteAgo(15);
    const rows: SpanRow[] = [];
    // gold: durations 1..10 ms, 2 errors, priced; silver: 100 ms × 3, unpriced LLM spans.
    for (let i = 1; i <= 10; i++) {
      rows.push(spanRow({ tenant, trace_id: traceId(), startMs: at + i, durationMs: i, status_code: i <= 2 ? 'error' : 'ok', model: 'gpt-x', cost_usd: 0.1, input_tokens: 10, output_tokens: 1, ...typed('attributes', { 'customer.tier': 'gold', 'http.response.status_code': 200 }) }));
    }
    for (let i = 0; i < 3; i++) {
      rows.push(spanRow({ tenant, trace_id: traceId(), startMs: at + 100 + i, durationMs: 100, model: 'mystery', unpriced: 1, input_tokens: 5, ...typed('attributes', { 'customer.tier': 'silver', 'http.response.status_code': 500 }) }));
    }
    await insert(t.ch, 'spans', rows);
    const r = await get(auth, `/api/v1/metrics/spans?from=now-1h&group_by=customer.tier,model`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.groups).toHaveLength(2);
    const [gold, silver] = r.body.groups;
    expect(gold).toMatchObject({ group: { 'customer.tier': 'gold', model: 'gpt-x' }, count: 10, error_count: 2, error_rate: 0.2, cost_usd: 1, input_tokens: 100, output_tokens: 10, unpriced_spans: 0 });
    expect(gold.avg_ms).toBeCloseTo(5.5, 9);
    // Linear interpolation over 1..10 ms: p50 = 5.5, p95 = 9.55, p99 = 9.91.
    expect(gold.p50_ms).toBeCloseTo(5.5, 6);
    expect(gold.p95_ms).toBeCloseTo(9.55, 6);
    expect(gold.p99_ms).toBeCloseTo(9.91, 6);
    expect(silver).toMatchObject({ group: { 'customer.tier': 'silver', model: 'mystery' }, count: 3, cost_usd: null, unpriced_spans: 3, p95_ms: 100 });

    const top = await get(auth, `/api/v1/metrics/spans?from=now-1h&group_by=customer.tier&order_by=p95_ms&limit=1`);
    expect(top.body.groups.map((g: any) => g.group['customer.tier'])).toEqual(['silver']);
    const filtered = await get(auth, `/api/v1/metrics/spans?from=now-1h&filter=${enc('http.response.status_code>=500')}`);
    expect(filtered.body.groups).toMatchObject([{ group: null, count: 3 }]);
    const bad = await get(auth, `/api/v1/metrics/spans?group_by=a,b,c,d`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^group_by: at most 3/);
  });
});

describe('traces list: sort, totals, cursors', () => {
  it('sort=duration|start_time|cost asc/desc with per-trace totals and pagination', async () => {
    const { tenant, auth } = t.tenant();
    const at = minuteAgo(25);
    const [t1, t2, t3] = [traceId(), traceId(), traceId()];
    const root = (tr: string, startMs: number, durationMs: number, extra: Partial<SpanRow> = {}) =>
      spanRow({ tenant, trace_id: tr, startMs, durationMs, name: 'POST /chat', service: 'api', ...extra });
    await insert(t.ch, 'spans', [
      root(t1, at, 500),
      spanRow({ tenant, trace_id: t1, parent_span_id: 'ab'.repeat(8), startMs: at + 1, durationMs: 100, service: 'llm', model: 'gpt-x', cost_usd: 0.1, input_tokens: 100, output_tokens: 20 }),
      spanRow({ tenant, trace_id: t1, parent_span_id: 'ab'.repeat(8), startMs: at + 2, durationMs: 100, service: 'llm', model: 'gpt-x', cost_usd: 0.2, input_tokens: 50, output_tokens: 5, status_code: 'error' }),
      root(t2, at + 10_000, 2000),
      spanRow({ tenant, trace_id: t2, parent_span_id: 'cd'.repeat(8), startMs: at + 10_001, durationMs: 10, model: 'mystery', unpriced: 1, input_tokens: 7 }),
      root(t3, at + 20_000, 50),
    ]);
    const list = async (qs: string) => {
      const r = await get(auth, `/api/v1/traces?from=now-1h&${qs}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body;
    };
    const byStart = await list('');
    expect(byStart.traces.map((x: any) => x.trace_id)).toEqual([t3, t2, t1]);
    const first = byStart.traces.find((x: any) => x.trace_id === t1);
    expect(first).toMatchObject({ span_count: 3, error_count: 1, cost_usd: 0.3, input_tokens: 150, output_tokens: 25, root_service: 'api', root_name: 'POST /chat', unpriced_spans: 0 });
    expect(byStart.traces.find((x: any) => x.trace_id === t2)).toMatchObject({ cost_usd: null, unpriced_spans: 1, input_tokens: 7 });
    expect(byStart.traces.find((x: any) => x.trace_id === t3)).toMatchObject({ cost_usd: 0 });

    expect((await list('sort=duration')).traces.map((x: any) => x.trace_id)).toEqual([t2, t1, t3]);
    expect((await list('sort=duration&order=asc')).traces.map((x: any) => x.trace_id)).toEqual([t3, t1, t2]);
    expect((await list('sort=cost')).traces.map((x: any) => x.trace_id)).toEqual([t1, t3, t2]);
    expect((await list('sort=start_time&order=asc')).traces.map((x: any) => x.trace_id)).toEqual([t1, t2, t3]);

    // Pages of one with sort=duration follow the same order; a cursor of another order is refused.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await list(`sort=duration&limit=1${cursor ? `&cursor=${enc(cursor)}` : ''}`);
      seen.push(...page.traces.map((x: any) => x.trace_id));
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(seen).toEqual([t2, t1, t3]);
    const p1 = await list('sort=cost&limit=1');
    const wrong = await get(auth, `/api/v1/traces?sort=duration&cursor=${enc(p1.next_cursor)}`);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.message).toMatch(/^cursor: /);
  });
});
