/**
 * The trace list's candidate search (query-api/trace-list.ts) against the
 * single query it replaced for sort=start_time desc: same rows (traces, order,
 * summaries, sort keys), page after page, on data made to break a careless
 * bound — traces that began before the window, spans matching a filter in
 * only part of a trace (late in it), ties in start time, long traces, spans
 * after the window — over several sub-windows of the search.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { listTraceRows, singleQueryRows, summarySql, type SummaryRow, type TraceListArgs } from '../../query-api/trace-list.js';
import { TraceListQuery } from '../../query-api/routes/traces.schemas.js';
import { msToNs } from '../../schemas/time.js';
import type { SpanRow } from '../../schemas/rows.js';
import { insert, minuteAgo, spanRow, testApp, traceId, type TestApp } from './support.js';
import { mulberry32 as rng } from '../support/prng.js';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});

const MIN = 60_000;

/**
 * A tenant's dataset around the window [from, from + 20 min): 160 traces
 * inside it (starts on a 500 ms grid, so many ties), 12 that began 1–40 min
 * before it with children inside, 10 long ones (root early, last child late,
 * only the late child is `db`), 8 with children after the window's end.
 */
async function dataset(tenant: string, from: number): Promise<void> {
  const r = rng(6);
  const rows: SpanRow[] = [];
  const addTrace = (start: number, children: Array<{ at: number; service?: string; status?: string; name?: string }>): void => {
    const id = traceId();
    const root = spanRow({ tenant, trace_id: id, startMs: start, durationMs: 50 + Math.floor(r() * 100), name: 'GET /', service: 'api' });
    rows.push(root);
    for (const c of children) {
      rows.push(
        spanRow({
          tenant,
          trace_id: id,
          parent_span_id: root.span_id,
          startMs: c.at,
          durationMs: 5 + Math.floor(r() * 30),
          name: c.name ?? 'child',
          service: c.service ?? 'api',
          status_code: c.status ?? 'ok',
          ...(r() < 0.3 && { model: 'gpt-4o', provider: 'openai', input_tokens: 100, output_tokens: 20, cost_usd: Math.round(r() * 1e6) / 1e9 }),
        }),
      );
    }
  };
  for (let i = 0; i < 160; i++) {
    const start = from + Math.floor(r() * 2400) * 500; // ties on the 500 ms grid
    const kids = Array.from({ length: Math.floor(r() * 4) }, (_, j) => ({
      at: start + 1 + j,
      ...(r() < 0.3 && { service: 'db' }),
      ...(r() < 0.1 && { status: 'error' }),
    }));
    addTrace(start, kids);
  }
  for (let i = 0; i < 12; i++) {
    const start = from - (1 + Math.floor(r() * 40)) * MIN; // began before the window
    addTrace(start, [{ at: from + Math.floor(r() * 20 * MIN), service: r() < 0.5 ? 'db' : 'api' }, { at: start + 3 }]);
  }
  for (let i = 0; i < 10; i++) {
    const start = from + Math.floor(r() * 5 * MIN); // long: the db span comes 10–15 min later
    addTrace(start, [{ at: start + 2 }, { at: start + 10 * MIN + Math.floor(r() * 5 * MIN), service: 'db', status: 'error' }]);
  }
  for (let i = 0; i < 8; i++) {
    const start = from + 20 * MIN - Math.floor(r() * 2000); // children after the window's end
    addTrace(start, [{ at: start + 5 * MIN, service: 'db' }]);
  }
  await insert(t.ch, 'spans', rows);
}

/** Every page of the list with `query`, by both ways, following the (sk, trace_id) cursor of the last row. */
async function allPages(args: Omit<TraceListArgs, 'q' | 'cursor'>, query: Record<string, string>): Promise<{ fast: SummaryRow[][]; single: SummaryRow[][]; methods: string[] }> {
  const q = TraceListQuery.parse(query);
  const out = { fast: [] as SummaryRow[][], single: [] as SummaryRow[][], methods: [] as string[] };
  let cursor: TraceListArgs['cursor'];
  for (let page = 0; page < 200; page++) {
    const a: TraceListArgs = { ...args, q, ...(cursor && { cursor }) };
    const fast = await listTraceRows(t.ch, a);
    const single = await singleQueryRows(t.ch, a);
    out.fast.push(fast.rows);
    out.single.push(single);
    out.methods.push(fast.plan.method);
    if (single.length <= q.limit) break;
    const last = single[q.limit - 1]!;
    cursor = { ns: BigInt(last.sk), tie: last.trace_id };
  }
  return out;
}

describe('trace list: candidate search = the single query', () => {
  it('same rows page after page (traces begun before the window, partial filter matches, ties, long traces, both orders)', async () => {
    const { tenant } = t.tenant();
    const from = minuteAgo(90);
    await dataset(tenant, from);
    const win = { tenant, from: msToNs(from), to: msToNs(from + 20 * MIN) };
    let fastPages = 0;
    for (const filters of [{}, { service: 'db' }, { status: 'error' }, { operation: 'child', min_duration_ms: '20' }]) {
      for (const limit of ['4', '50']) {
        for (const order of ['desc', 'asc']) {
          const r = await allPages(win, { ...filters, limit, order });
          expect(r.fast, JSON.stringify({ filters, limit, order })).toEqual(r.single);
          if (order === 'desc') fastPages += r.methods.filter((m) => m === 'candidates').length;
          else expect(new Set(r.methods)).toEqual(new Set(['single']));
        }
      }
    }
    // The fast path answered most desc pages (the rest: last pages, where traces begun before the window may hide).
    expect(fastPages).toBeGreaterThan(30);
    // Narrow windows: the end inside the long traces; one minute (smaller than the first sub-window is not possible, equal is).
    for (const [a, b] of [
      [from + 3 * MIN, from + 12 * MIN],
      [from + 10 * MIN, from + 11 * MIN],
    ] as const) {
      const r = await allPages({ tenant, from: msToNs(a), to: msToNs(b) }, { limit: '5' });
      expect(r.fast).toEqual(r.single);
    }
  });

  it('ties at the candidate bound: a trace outside the candidates with the bound’s start ranks by its id', async () => {
    // service=db: 9 traces begin at t0 with an api root and match only by a db
    // child at t0 + 1 ms (x = t0 + 1, S = t0; small ids), 2 begin at t0 with a
    // db root (x = S = t0; ids e…, f…). Candidates for limit 1 (k = 10): the 9,
    // then f…; e… stays out with S = t0 = the bound, and outranks the 9 by id.
    const { tenant } = t.tenant();
    const t0 = minuteAgo(300) + 30 * MIN;
    const rows: SpanRow[] = [];
    for (let i = 0; i < 9; i++) {
      const id = `000000000000000000000000000000${String(i).padStart(2, '0')}`;
      const root = spanRow({ tenant, trace_id: id, startMs: t0, durationMs: 10, service: 'api' });
      rows.push(root, spanRow({ tenant, trace_id: id, parent_span_id: root.span_id, startMs: t0 + 1, durationMs: 5, service: 'db' }));
    }
    for (const c of ['e', 'f']) rows.push(spanRow({ tenant, trace_id: c.repeat(32), startMs: t0, durationMs: 10, service: 'db' }));
    await insert(t.ch, 'spans', rows);
    const a: TraceListArgs = { tenant, from: msToNs(t0 - MIN), to: msToNs(t0 + MIN), q: TraceListQuery.parse({ limit: '1', service: 'db' }) };
    const single = await singleQueryRows(t.ch, a);
    expect(single.map((r) => r.trace_id)).toEqual(['f'.repeat(32), 'e'.repeat(32)]);
    expect((await listTraceRows(t.ch, a)).rows).toEqual(single);
  });

  it('a cursor from outside the window, or before it, gives the single query’s answer', async () => {
    const { tenant } = t.tenant();
    const from = minuteAgo(150);
    await dataset(tenant, from);
    const q = TraceListQuery.parse({ limit: '10' });
    for (const cursorMs of [from + 30 * MIN, from - 5 * MIN, from + 7 * MIN]) {
      const a: TraceListArgs = { tenant, from: msToNs(from), to: msToNs(from + 20 * MIN), q, cursor: { ns: msToNs(cursorMs), tie: 'f'.repeat(32) } };
      expect((await listTraceRows(t.ch, a)).rows).toEqual(await singleQueryRows(t.ch, a));
    }
  });

  it('the API pages (next_cursor) follow the single query’s rows', async () => {
    const { tenant, auth } = t.tenant();
    const from = minuteAgo(200);
    await dataset(tenant, from);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string> = { from: String(from), to: String(from + 20 * MIN), limit: '25', ...(cursor ? { cursor } : {}) };
      const res = await t.app.inject({ url: '/api/v1/traces', headers: auth, query });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as { traces: Array<{ trace_id: string }>; next_cursor: string | null };
      seen.push(...body.traces.map((x) => x.trace_id));
      cursor = body.next_cursor;
    } while (cursor !== null && seen.length < 1000);
    const all = await singleQueryRows(t.ch, { tenant, from: msToNs(from), to: msToNs(from + 20 * MIN), q: TraceListQuery.parse({ limit: '500' }) });
    expect(seen).toEqual(all.map((x) => x.trace_id));
  });
});

describe('trace list: summaries from the trace_summary projection', () => {
  it('the summary query reads the projection, not the table (regression: 110–130 ms for 59 traces at 100M spans through trace_lookup)', async () => {
    const { tenant } = t.tenant();
    const from = minuteAgo(60);
    const r = rng(20);
    // 8,000 traces of 10 spans over 12 services and 20 operations: in the
    // table (sorted by service, operation, time) a trace's spans lie far apart,
    // ~10 granules of 8,192 rows; 3 traces' spans lie in ≤ 3 of the projection's
    // granules of 256, so ClickHouse picks it (it picks what reads fewer marks).
    const rows: SpanRow[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 8_000; i++) {
      const id = traceId();
      ids.push(id);
      for (let j = 0; j < 10; j++) {
        rows.push(spanRow({ tenant, trace_id: id, startMs: from + i * 5 + j, durationMs: 5, service: `s${Math.floor(r() * 12)}`, name: `op${Math.floor(r() * 20)}` }));
      }
    }
    await insert(t.ch, 'spans', rows);
    const ddl = await t.ch.client.query({ query: 'SHOW CREATE TABLE {db:Identifier}.spans', query_params: { db: t.ch.database }, format: 'JSONEachRow' });
    const [{ statement }] = await ddl.json<{ statement: string }>();
    expect(statement).toMatch(/PROJECTION trace_summary/);
    expect(statement).not.toMatch(/trace_lookup/);

    const sql = summarySql('{ids:Array(String)}', false, 'start_time', 'desc');
    const params = { db: t.ch.database, tenant, ids: ids.slice(100, 103), limit_plus_one: 51 };
    const plan = await t.ch.client.query({ query: `EXPLAIN projections = 1 ${sql}`, query_params: params, format: 'JSONEachRow' });
    const text = (await plan.json<{ explain: string }>()).map((l) => l.explain).join('\n');
    expect(text, text).toMatch(/ReadFromMergeTree \(trace_summary\)/);
    // And it answers: the 3 traces, newest first, 10 spans each.
    const res = await t.ch.client.query({ query: sql, query_params: params, format: 'JSONEachRow' });
    const got = await res.json<SummaryRow>();
    expect(got.map((g) => g.trace_id)).toEqual(ids.slice(100, 103).reverse());
    expect(got.every((g) => Number(g.span_count) === 10)).toBe(true);
  });
});
