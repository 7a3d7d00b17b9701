import { beforeAll, describe, expect, it } from 'vitest';
import { insert, logRow, minuteAgo, spanId, testApp, traceId, type TestApp } from './support.js';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});

interface LogsBody {
  logs: Array<{ body: string; time: string; time_unix_nano: string; severity_text: string; severity_number: number; trace_id: string; span_id: string; service: string; attributes: Record<string, string>; resource_attributes: Record<string, string> }>;
  next_cursor: string | null;
}

async function logs(auth: Record<string, string>, query: Record<string, string | number>): Promise<LogsBody> {
  const res = await t.app.inject({ url: '/api/v1/logs', headers: auth, query: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as LogsBody;
}

describe('GET /api/v1/logs', () => {
  it('filters by severity, service, trace_id and body text, newest first, tenant-confined', async () => {
    const a = t.tenant();
    const b = t.tenant();
    const base = minuteAgo(15);
    const tid = traceId();
    const sid = spanId();
    await insert(t.ch, 'logs', [
      logRow({ tenant: a.tenant, timeMs: base, body: 'user logged in', severity_number: 9, severity_text: 'INFO' }),
      logRow({ tenant: a.tenant, timeMs: base + 1, body: 'Payment FAILED for order 42', severity_number: 17, severity_text: 'ERROR', service: 'billing', trace_id: tid, span_id: sid, attributes: { order: '42' }, resource_attributes: { 'service.name': 'billing' } }),
      logRow({ tenant: a.tenant, timeMs: base + 2, body: 'retrying payment', severity_number: 13, severity_text: 'WARN', service: 'billing', trace_id: tid }),
      logRow({ tenant: a.tenant, timeMs: base + 3, body: 'cache miss 100%_done', severity_number: 5, severity_text: 'DEBUG' }),
      logRow({ tenant: b.tenant, timeMs: base + 1, body: 'payment failed in tenant b', severity_number: 17, trace_id: tid }),
    ]);
    const w = { from: base - 1000, to: base + 60_000 };
    const bodies = async (q: Record<string, string | number>) => (await logs(a.auth, { ...w, ...q })).logs.map((l) => l.body);

    expect(await bodies({})).toEqual(['cache miss 100%_done', 'retrying payment', 'Payment FAILED for order 42', 'user logged in']);
    expect(await bodies({ severity: 'warn' })).toEqual(['retrying payment', 'Payment FAILED for order 42']);
    expect(await bodies({ severity: 'ERROR' })).toEqual(['Payment FAILED for order 42']);
    expect(await bodies({ severity: 13 })).toEqual(['retrying payment', 'Payment FAILED for order 42']);
    expect(await bodies({ service: 'billing' })).toEqual(['retrying payment', 'Payment FAILED for order 42']);
    expect(await bodies({ trace_id: tid.toUpperCase() })).toEqual(['retrying payment', 'Payment FAILED for order 42']);
    expect(await bodies({ q: 'payment' })).toEqual(['retrying payment', 'Payment FAILED for order 42']);
    expect(await bodies({ q: 'failed FOR' })).toEqual(['Payment FAILED for order 42']);
    // LIKE metacharacters are plain text
    expect(await bodies({ q: '%_' })).toEqual(['cache miss 100%_done']);
    expect(await bodies({ q: "'; DROP TABLE logs; --" })).toEqual([]);

    const rec = (await logs(a.auth, { ...w, severity: 'error' })).logs[0]!;
    expect(rec).toMatchObject({ severity_text: 'ERROR', severity_number: 17, service: 'billing', trace_id: tid, span_id: sid, attributes: { order: '42' }, resource_attributes: { 'service.name': 'billing' } });
    expect(rec.time).toBe(new Date(base + 1).toISOString().replace('Z', '000000Z'));

    expect((await logs(b.auth, w)).logs.map((l) => l.body)).toEqual(['payment failed in tenant b']);
  });

  it('paginates with a cursor, including records with equal timestamps', async () => {
    const { tenant, auth } = t.tenant();
    const base = minuteAgo(25);
    const rows = Array.from({ length: 13 }, (_, i) => logRow({ tenant, timeMs: base + Math.floor(i / 3), body: `line ${i}` }));
    await insert(t.ch, 'logs', rows);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const body: LogsBody = await logs(auth, { from: base, to: base + 1000, limit: 4, ...(cursor ? { cursor } : {}) });
      seen.push(...body.logs.map((l) => l.body));
      cursor = body.next_cursor;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(4);
    expect(new Set(seen).size).toBe(13);
    expect(seen.length).toBe(13);
    const times = seen.map((s) => Math.floor(Number(s.split(' ')[1]) / 3));
    expect(times).toEqual([...times].sort((x, y) => y - x));
  });

  it('rejects a bad severity and a bad trace_id naming the parameter', async () => {
    const { auth } = t.tenant();
    for (const [qs, field] of [['severity=loud', 'severity'], ['trace_id=123', 'trace_id'], ['limit=0', 'limit'], ['q=', 'q']] as const) {
      const res = await t.app.inject({ url: `/api/v1/logs?${qs}`, headers: auth });
      expect(res.statusCode, qs).toBe(400);
      expect((res.json() as any).error.code).toBe('VIGIL_ERR_VALIDATION');
      expect((res.json() as any).error.message.startsWith(`${field}:`)).toBe(true);
    }
  });
});
