import { beforeAll, describe, expect, it } from 'vitest';
import type { TraceSummary } from '../../query-api/routes/traces.schemas.js';
import { insert, minuteAgo, spanId, spanRow, testApp, traceId, type TestApp } from './support.js';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});

interface ListBody {
  traces: TraceSummary[];
  next_cursor: string | null;
}

/** Insert a trace: a root span plus children (one per entry of `children`). */
async function trace(
  tenant: string,
  startMs: number,
  opts: { name?: string; children?: Array<{ service?: string; name?: string; status_code?: string; durationMs?: number }>; id?: string } = {},
): Promise<string> {
  const id = opts.id ?? traceId();
  const root = spanRow({ tenant, trace_id: id, startMs, durationMs: 100, name: opts.name ?? 'GET /', service: 'api' });
  const kids = (opts.children ?? []).map((c, i) =>
    spanRow({
      tenant,
      trace_id: id,
      parent_span_id: root.span_id,
      startMs: startMs + 10 + i,
      durationMs: c.durationMs ?? 20,
      name: c.name ?? 'child',
      service: c.service ?? 'api',
      status_code: c.status_code ?? 'ok',
    }),
  );
  await insert(t.ch, 'spans', [root, ...kids]);
  return id;
}

async function list(auth: object, query: Record<string, string | number>): Promise<ListBody> {
  const res = await t.app.inject({ method: 'GET', url: '/api/v1/traces', headers: auth as Record<string, string>, query: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as ListBody;
}

describe('GET /api/v1/traces', () => {
  it('filters on any span of the trace, summarises, and orders newest first', async () => {
    const { tenant, auth } = t.tenant();
    const base = minuteAgo(30);
    const plain = await trace(tenant, base);
    const withDb = await trace(tenant, base + 1000, { children: [{ service: 'db', name: 'SELECT' }] });
    const failing = await trace(tenant, base + 2000, { children: [{ status_code: 'error' }, { status_code: 'ok' }] });
    const slow = await trace(tenant, base + 3000, { children: [{ durationMs: 5000, name: 'slow-call' }] });
    const window = { from: base - 60_000, to: new Date(base + 3_600_000).toISOString() };

    const all = await list(auth, window);
    expect(all.traces.map((x) => x.trace_id)).toEqual([slow, failing, withDb, plain]);
    expect(all.next_cursor).toBeNull();
    const f = all.traces.find((x) => x.trace_id === failing)!;
    expect(f).toMatchObject({ root_name: 'GET /', root_service: 'api', span_count: 3, error_count: 1, services: ['api'] });
    expect(f.duration_ms).toBe(100);
    expect(f.start).toBe(new Date(base + 2000).toISOString().replace('Z', '000000Z'));
    expect(all.traces.find((x) => x.trace_id === slow)!.duration_ms).toBe(5010);
    expect(all.traces.find((x) => x.trace_id === withDb)!.services).toEqual(['api', 'db']);

    expect((await list(auth, { ...window, service: 'db' })).traces.map((x) => x.trace_id)).toEqual([withDb]);
    expect((await list(auth, { ...window, operation: 'SELECT' })).traces.map((x) => x.trace_id)).toEqual([withDb]);
    expect((await list(auth, { ...window, status: 'error' })).traces.map((x) => x.trace_id)).toEqual([failing]);
    expect((await list(auth, { ...window, min_duration_ms: 1000 })).traces.map((x) => x.trace_id)).toEqual([slow]);
    // every root lasts 100 ms, so each trace has a span ≤ 50 ms only if it has children
    expect((await list(auth, { ...window, max_duration_ms: 50 })).traces.map((x) => x.trace_id)).toEqual([failing, withDb]);
    // window excludes everything before base + 1500
    expect((await list(auth, { from: base + 1500, to: base + 10_000 })).traces.map((x) => x.trace_id)).toEqual([slow, failing]);
  });

  it('paginates across pages without duplicates or gaps, ties broken by trace id', async () => {
    const { tenant, auth } = t.tenant();
    const base = minuteAgo(40);
    const ids: string[] = [];
    for (let i = 0; i < 11; i++) ids.push(await trace(tenant, base + Math.floor(i / 2) * 1000)); // pairs share a start
    const expected = [...ids]
      .map((id, i) => ({ id, start: Math.floor(i / 2) }))
      .sort((a, b) => b.start - a.start || (a.id < b.id ? 1 : -1))
      .map((x) => x.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const body: ListBody = await list(auth, { from: base - 1000, to: base + 60_000, limit: 3, ...(cursor ? { cursor } : {}) });
      expect(body.traces.length).toBeLessThanOrEqual(3);
      seen.push(...body.traces.map((x) => x.trace_id));
      cursor = body.next_cursor;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(4);
    expect(seen).toEqual(expected);
  });

  it('never shows another tenant’s traces', async () => {
    const a = t.tenant();
    const b = t.tenant();
    const base = minuteAgo(50);
    const shared = traceId();
    await trace(a.tenant, base, { id: shared });
    await trace(b.tenant, base, { id: shared, children: [{ service: 'b-only' }] });
    const onlyB = await trace(b.tenant, base + 10);
    const window = { from: base - 1000, to: base + 60_000 };
    const la = await list(a.auth, window);
    expect(la.traces.map((x) => x.trace_id)).toEqual([shared]);
    expect(la.traces[0]!.services).toEqual(['api']);
    expect(la.traces[0]!.span_count).toBe(1);
    expect((await list(a.auth, { ...window, service: 'b-only' })).traces).toEqual([]);
    expect((await list(b.auth, window)).traces.map((x) => x.trace_id)).toEqual([onlyB, shared]);
    const res = await t.app.inject({ url: `/api/v1/traces/${onlyB}`, headers: a.auth });
    expect(res.statusCode).toBe(404);
  });

  it('rejects bad parameters naming them', async () => {
    const { auth } = t.tenant();
    const cases: Array<[string, string]> = [
      ['limit=501', 'limit'],
      ['limit=abc', 'limit'],
      ['status=bad', 'status'],
      ['from=yesterday', 'from'],
      ['from=1767225600', 'from'], // epoch seconds, not ms
      ['min_duration_ms=-1', 'min_duration_ms'],
      ['cursor=notacursor', 'cursor'],
      ['serivce=api', 'serivce'],
      ['from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'from'],
    ];
    for (const [qs, field] of cases) {
      const res = await t.app.inject({ url: `/api/v1/traces?${qs}`, headers: auth });
      expect(res.statusCode, qs).toBe(400);
      const body = res.json() as { error: { code: string; message: string } };
      expect(body.error.code).toBe('VIGIL_ERR_VALIDATION');
      expect(body.error.message.startsWith(`${field}:`), body.error.message).toBe(true);
    }
  });
});

describe('GET /api/v1/traces/:traceId', () => {
  it('returns the spans as a tree ordered by start, orphans as roots', async () => {
    const { tenant, auth } = t.tenant();
    const base = minuteAgo(20);
    const id = traceId();
    const root = spanRow({ tenant, trace_id: id, startMs: base, durationMs: 100, name: 'root', attributes: { 'http.method': 'GET' }, resource_attributes: { 'service.name': 'svc' } });
    const c1 = spanRow({ tenant, trace_id: id, parent_span_id: root.span_id, startMs: base + 10, durationMs: 50, name: 'c1', kind: 'client' });
    const c2 = spanRow({ tenant, trace_id: id, parent_span_id: root.span_id, startMs: base + 5, durationMs: 3, name: 'c2' });
    const g = spanRow({
      tenant, trace_id: id, parent_span_id: c1.span_id, startMs: base + 20, durationMs: 30, name: 'llm',
      model: 'gpt-4o', provider: 'openai', input_tokens: 100, output_tokens: 20, cached_tokens: 5, cost_usd: 0.0012,
      events: JSON.stringify([{ time_unix_nano: '1', name: 'e', attributes: {} }]), status_code: 'error', status_message: 'boom',
    });
    const orphan = spanRow({ tenant, trace_id: id, parent_span_id: spanId(), startMs: base + 1, durationMs: 1, name: 'orphan', unpriced: 1 });
    await insert(t.ch, 'spans', [g, orphan, c1, root, c2]);

    const res = await t.app.inject({ url: `/api/v1/traces/${id.toUpperCase()}`, headers: auth });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { trace_id: string; span_count: number; spans: any[] };
    expect(body.trace_id).toBe(id);
    expect(body.span_count).toBe(5);
    expect(body.spans.map((s) => s.name)).toEqual(['root', 'orphan']);
    const r = body.spans[0];
    expect(r.children.map((s: any) => s.name)).toEqual(['c2', 'c1']);
    expect(r.children[1].children.map((s: any) => s.name)).toEqual(['llm']);
    expect(r).toMatchObject({ span_id: root.span_id, parent_span_id: '', attributes: { 'http.method': 'GET' }, resource_attributes: { 'service.name': 'svc' }, duration_ms: 100, cost_usd: null, unpriced: false });
    expect(r.start).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/);
    const llm = r.children[1].children[0];
    expect(llm).toMatchObject({ model: 'gpt-4o', provider: 'openai', input_tokens: 100, output_tokens: 20, cached_tokens: 5, cost_usd: 0.0012, status: 'error', status_message: 'boom', children: [] });
    expect(llm.events).toEqual([{ time_unix_nano: '1', name: 'e', attributes: {} }]);
    expect(body.spans[1].unpriced).toBe(true);
  });

  it('404s an unknown trace and 400s a malformed id', async () => {
    const { auth } = t.tenant();
    const missing = await t.app.inject({ url: `/api/v1/traces/${traceId()}`, headers: auth });
    expect(missing.statusCode).toBe(404);
    expect((missing.json() as any).error.code).toBe('VIGIL_ERR_NOT_FOUND');
    const bad = await t.app.inject({ url: '/api/v1/traces/xyz', headers: auth });
    expect(bad.statusCode).toBe(400);
    expect((bad.json() as any).error).toMatchObject({ code: 'VIGIL_ERR_VALIDATION' });
    expect((bad.json() as any).error.message).toMatch(/^traceId: expected 32 hex/);
  });
});
