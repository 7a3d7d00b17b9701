/**
 * Query-API parameter bounds (issue 5 item 5 and "Readiness and errors in the
 * query API"): every parameter is bounded and validated, a bad one is a 400
 * VIGIL_ERR_VALIDATION naming it, and ClickHouse errors caused by the input
 * never become a 5xx. Against the real test chDB.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { createLogger } from '../../platform/logger.js';
import { buildQueryApp } from '../../query-api/app.js';
import { classifyClickHouseError } from '../../query-api/clickhouse.js';
import { encodeCursor } from '../../query-api/cursor.js';
import { parseTimeNs, TIME_MAX_NS } from '../../query-api/params.js';
import { READY_PING_TIMEOUT_MS } from '../../query-api/routes/health.js';
import { insert, logRow, minuteAgo, spanRow, testApp, traceId, type TestApp } from './support.js';

let t: TestApp;
let auth: Record<string, string>;
let tenant: string;
beforeAll(async () => {
  t = await testApp();
  ({ auth, tenant } = t.tenant());
});

const TRACE_URL = `/api/v1/traces/${'ab'.repeat(16)}`;

/** GET `url` with `query` (raw query string) and return status and body. */
async function get(url: string, query = ''): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  const res = await t.app.inject({ method: 'GET', url: query === '' ? url : `${url}?${query}`, headers: auth });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}

/** Expect a 400 VIGIL_ERR_VALIDATION whose message starts with `field: `. */
async function expect400(url: string, query: string, field: string, message?: RegExp): Promise<void> {
  const r = await get(url, query);
  expect(r.status, `${url}?${query} → ${JSON.stringify(r.body)}`).toBe(400);
  expect(r.body.error.code).toBe('VIGIL_ERR_VALIDATION');
  expect(r.body.error.message.startsWith(`${field}: `), r.body.error.message).toBe(true);
  if (message) expect(r.body.error.message).toMatch(message);
}

const hugeCursor = (tie: string): string => Buffer.from(JSON.stringify(['99999999999999999999', tie])).toString('base64url');

describe('query params from issue 5 item 5 answer 400 not 5xx', () => {
  it('max_duration_ms=1e17, to=2262-04-12, a cursor with a huge timestamp, to=1970-01-01', async () => {
    await expect400('/api/v1/traces', 'max_duration_ms=1e17', 'max_duration_ms', /between 0 and 31536000000/);
    await expect400('/api/v1/traces', 'max_duration_ms=100000000000000000', 'max_duration_ms', /out of range/);
    for (const url of ['/api/v1/traces', '/api/v1/logs', '/api/v1/metrics/latency', '/api/v1/metrics/cost']) {
      await expect400(url, 'to=2262-04-12T00:00:00Z', 'to', /between 1970-01-01T00:00:00Z and 2100-01-01T00:00:00Z/);
      await expect400(url, 'to=1970-01-01T00:00:00Z', 'to', /later than 1970-01-01T00:00:00Z/);
    }
    await expect400('/api/v1/traces', `cursor=${hugeCursor('ab'.repeat(16))}`, 'cursor');
    await expect400('/api/v1/logs', `cursor=${hugeCursor('123')}`, 'cursor');
  });
});

describe('every parameter is bounded', () => {
  it('times: forms, calendar, range, window order', async () => {
    for (const url of ['/api/v1/traces', '/api/v1/logs', '/api/v1/metrics/cost']) {
      await expect400(url, 'from=yesterday', 'from', /ISO-8601/);
      await expect400(url, 'from=1767225600', 'from', /epoch milliseconds/); // seconds
      await expect400(url, 'from=2026-02-30T00:00:00Z', 'from');
      await expect400(url, 'from=2026-01-01T24:00:00Z', 'from');
      await expect400(url, 'from=1969-12-31T23:59:59Z', 'from', /out of range/);
      await expect400(url, 'to=9999-12-31T23:59:59.999999999Z', 'to', /out of range/);
      await expect400(url, 'to=9999999999999999', 'to', /out of range/);
      await expect400(url, 'to=now-9999999w', 'to');
      await expect400(url, 'from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'from', /earlier than to/);
      await expect400(url, 'from=1&from=2', 'from', /more than once/);
    }
  });

  it('limits, durations, steps, enums, strings, ids and cursors', async () => {
    await expect400('/api/v1/traces', 'limit=0', 'limit', /between 1 and 500/);
    await expect400('/api/v1/traces', 'limit=501', 'limit', /between 1 and 500/);
    await expect400('/api/v1/traces', 'limit=', 'limit');
    await expect400('/api/v1/traces', 'limit=1e2', 'limit');
    await expect400('/api/v1/logs', 'limit=1001', 'limit', /between 1 and 1000/);
    await expect400('/api/v1/traces', 'min_duration_ms=-1', 'min_duration_ms');
    await expect400('/api/v1/traces', 'min_duration_ms=Infinity', 'min_duration_ms');
    await expect400('/api/v1/traces', 'min_duration_ms=0.0000001', 'min_duration_ms', /6 decimals/);
    await expect400('/api/v1/traces', 'min_duration_ms=10&max_duration_ms=5', 'max_duration_ms', /≥ min_duration_ms/);
    await expect400('/api/v1/traces', 'status=fine', 'status', /ok \| error \| unset/);
    await expect400('/api/v1/traces', `service=${'x'.repeat(513)}`, 'service', /512/);
    await expect400('/api/v1/traces', 'operation=', 'operation', /empty/);
    await expect400('/api/v1/traces', `cursor=${'A'.repeat(513)}`, 'cursor');
    await expect400('/api/v1/traces', `cursor=${encodeCursor({ ns: 1n, tie: '123' })}`, 'cursor', /traces cursor/);
    await expect400('/api/v1/logs', `cursor=${encodeCursor({ ns: 1n, tie: 'ab'.repeat(16) })}`, 'cursor', /logs cursor/);
    await expect400('/api/v1/logs', `cursor=${encodeCursor({ ns: 1n, tie: '18446744073709551616' })}`, 'cursor');
    await expect400('/api/v1/logs', 'severity=constructor', 'severity');
    await expect400('/api/v1/logs', 'severity=25', 'severity');
    await expect400('/api/v1/logs', 'trace_id=xyz', 'trace_id', /32 hex/);
    await expect400('/api/v1/logs', `q=${'q'.repeat(600)}`, 'q', /512/);
    await expect400('/api/v1/metrics/latency', 'step=59', 'step');
    await expect400('/api/v1/metrics/latency', 'step=90', 'step', /multiple of 60/);
    await expect400('/api/v1/metrics/latency', 'step=2678460', 'step');
    await expect400('/api/v1/metrics/latency', 'group_by=user', 'group_by', /service \| operation \| model/);
    await expect400('/api/v1/metrics/cost', 'group_by=tenant', 'group_by');
    await expect400(
      '/api/v1/metrics/cost',
      'from=1970-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&step=2678400',
      'step',
      /narrow from\/to/,
    );
    await expect400('/api/v1/metrics/cost', 'from=2026-01-01T00:00:00Z&to=2026-01-03T00:00:00Z', 'step', /use step=120/);
    await expect400('/api/v1/traces/XYZ', '', 'traceId', /32 hex/);
    await expect400('/api/v1/traces', `${'k'.repeat(200)}=1&b=2&c=3&d=4&e=5&f=6`, `${'k'.repeat(64)}…, b, c, d, e (and 1 more)`, /: unknown parameter; accepted parameters are: service, operation/);
    const unknown = await get(TRACE_URL, 'x=1');
    expect(unknown.status).toBe(400);
  });

  it('accepts the edges of every range and answers 200', async () => {
    const id = traceId();
    const startMs = minuteAgo(5);
    await insert(t.ch, 'spans', [spanRow({ tenant, trace_id: id, startMs, durationMs: 1 })]);
    await insert(t.ch, 'logs', [logRow({ tenant, timeMs: startMs, body: 'edge' })]);
    const ok = async (url: string, query: string): Promise<any> => {
      const r = await get(url, query);
      expect(r.status, `${url}?${query} → ${JSON.stringify(r.body)}`).toBe(200);
      return r.body;
    };
    const wide = 'from=1970-01-01T00:00:00Z&to=2100-01-01T00:00:00Z';
    expect((await ok('/api/v1/traces', `${wide}&min_duration_ms=0&max_duration_ms=31536000000&limit=500`)).traces.map((x: any) => x.trace_id)).toEqual([id]);
    expect((await ok('/api/v1/traces', 'from=now-15m&to=now')).traces.map((x: any) => x.trace_id)).toEqual([id]);
    expect((await ok('/api/v1/traces', 'from=now-15m&max_duration_ms=0.999999')).traces).toEqual([]);
    expect((await ok('/api/v1/logs', `${wide}&limit=1000&severity=TRACE`)).logs).toHaveLength(1);
    expect((await ok('/api/v1/logs', `to=1970-01-01T00:00:00.000000001Z`)).logs).toEqual([]);
    await ok('/api/v1/metrics/latency', `${wide}&step=2678400`.replace('2100-01-01', '2090-01-01'));
    await ok('/api/v1/metrics/cost', 'from=2099-12-31T23:00:00Z&to=2100-01-01T00:00:00Z&group_by=user');
    await ok('/api/v1/traces', `cursor=${encodeCursor({ ns: TIME_MAX_NS, tie: 'ff'.repeat(16) })}`);
    await ok('/api/v1/logs', `cursor=${encodeCursor({ ns: 0n, tie: '18446744073709551615' })}`);
  });

  it('parses relative and zoned times exactly', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(parseTimeNs('now', now)).toBe(BigInt(now) * 1_000_000n);
    expect(parseTimeNs('now-15m', now)).toBe(BigInt(now - 15 * 60_000) * 1_000_000n);
    expect(parseTimeNs('NOW-2w', now)).toBe(BigInt(now - 14 * 86_400_000) * 1_000_000n);
    expect(parseTimeNs('now+1h', now)).toBeUndefined();
    expect(parseTimeNs('1970-01-01T00:30:00+01:00')).toBe(-1_800_000_000_000n);
    expect(parseTimeNs('2024-02-29T00:00:00Z')).toBe(1709164800000000000n);
    expect(parseTimeNs('2023-02-29T00:00:00Z')).toBeUndefined();
    expect(parseTimeNs('2026-01-01T00:00:60Z')).toBeUndefined();
  });
});

describe('readiness', () => {
  it('/readyz answers 503 naming ClickHouse when its ping hangs, instead of hanging', async () => {
    const hung = { ...t.ch, client: { ping: () => new Promise(() => {}), query: async () => [] } } as unknown as ClickHouseHandle;
    const app = buildQueryApp({ log: createLogger('silent'), clickhouse: hung, keys: { verify: async () => null } });
    try {
      const res = await app.inject({ url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json().checks.clickhouse).toEqual({ ok: false, reason: `ClickHouse does not answer a ping: no answer within ${READY_PING_TIMEOUT_MS} ms` });
    } finally {
      await app.close();
    }
  });
});

describe('ClickHouse errors caused by input are never a 5xx', () => {
  const chError = (type: string, code: string, message: string): Error =>
    Object.assign(new Error(message), { type, code });

  it('classifies ClickHouse errors by cause', () => {
    const overflow = classifyClickHouseError(
      chError('DECIMAL_OVERFLOW', '407', "Decimal math overflow: value 2262-04-12 00:00:00.000000000 cannot be parsed as DateTime64(9, 'UTC') for query parameter 'to'. "),
    );
    expect([overflow.code, overflow.statusCode, overflow.message.split(':')[0]]).toEqual(['VIGIL_ERR_VALIDATION', 400, 'to']);
    const cursor = classifyClickHouseError(chError('BAD_QUERY_PARAMETER', '457', "cannot be parsed as UInt64 for query parameter 'cursor_key'"));
    expect(cursor.message.split(':')[0]).toBe('cursor');
    const timeout = classifyClickHouseError(chError('TIMEOUT_EXCEEDED', '159', 'Timeout exceeded: elapsed 30001 ms'));
    expect([timeout.code, timeout.statusCode]).toEqual(['VIGIL_ERR_QUERY_TOO_EXPENSIVE', 400]);
    const queryMemory = classifyClickHouseError(chError('MEMORY_LIMIT_EXCEEDED', '241', 'Memory limit (for query) exceeded'));
    expect(queryMemory.statusCode).toBe(400);
    const totalMemory = classifyClickHouseError(chError('MEMORY_LIMIT_EXCEEDED', '241', 'Memory limit (total) exceeded'));
    expect([totalMemory.code, totalMemory.retryAfterSeconds]).toEqual(['VIGIL_ERR_CLICKHOUSE_UNAVAILABLE', 5]);
    expect(classifyClickHouseError(chError('UNKNOWN_TABLE', '60', 'Unknown table')).code).toBe('VIGIL_ERR_CLICKHOUSE_REJECTED');
    expect(classifyClickHouseError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).statusCode).toBe(503);
    expect(classifyClickHouseError(new Error('Refusing to serialize unsafe integer')).code).toBe('VIGIL_ERR_INTERNAL');
  });

  it('answers 400 through the app for a ClickHouse timeout or a rejected value', async () => {
    let next: Error = new Error('unset');
    const ch = { ...t.ch, client: { query: async () => { throw next; }, ping: async () => ({ success: true }) } } as unknown as ClickHouseHandle;
    const app = buildQueryApp({ log: createLogger('silent'), clickhouse: ch, keys: { verify: async () => ({ projectId: 'p' }) } });
    try {
      const headers = { authorization: 'Bearer k' };
      next = chError('TIMEOUT_EXCEEDED', '159', 'Timeout exceeded');
      const slow = await app.inject({ url: '/api/v1/logs?q=needle&from=1970-01-01T00:00:00Z', headers });
      expect([slow.statusCode, slow.json().error.code]).toEqual([400, 'VIGIL_ERR_QUERY_TOO_EXPENSIVE']);
      next = chError('CANNOT_PARSE_TEXT', '6', "cannot be parsed as String for query parameter 'service'");
      const bad = await app.inject({ url: '/api/v1/metrics/latency?service=x', headers });
      expect([bad.statusCode, bad.json().error.message.split(':')[0]]).toEqual([400, 'service']);
    } finally {
      await app.close();
    }
  });
});
