import { beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { createLogger } from '../../platform/logger.js';
import { buildQueryApp } from '../../query-api/app.js';
import { testApp, type TestApp } from './support.js';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});

const API_ROUTES = ['/api/v1/traces', '/api/v1/traces/0123456789abcdef0123456789abcdef', '/api/v1/logs', '/api/v1/metrics/latency', '/api/v1/metrics/cost'];

describe('query app', () => {
  it('answers 401 VIGIL_ERR_UNAUTHORIZED without a key or with an unknown key', async () => {
    for (const url of API_ROUTES) {
      for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: 'Basic abc' }]) {
        const res = await t.app.inject({ url, headers });
        expect(res.statusCode, `${url} ${JSON.stringify(headers)}`).toBe(401);
        expect((res.json() as any).error.code).toBe('VIGIL_ERR_UNAUTHORIZED');
      }
    }
  });

  it('serves /healthz and /readyz without auth', async () => {
    expect((await t.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { clickhouse: { ok: true } } });
  });

  it('/readyz is 503 naming the failing check when ready() reports one or ClickHouse does not answer', async () => {
    const notReady = buildQueryApp({
      log: createLogger('silent'),
      clickhouse: t.ch,
      keys: { verify: async () => null },
      ready: async () => ({ kafka: { ok: true }, processor: { ok: false, reason: 'consumer crashed: boom' } }),
    });
    const r1 = await notReady.inject({ url: '/readyz' });
    expect(r1.statusCode).toBe(503);
    expect(r1.headers['retry-after']).toBe('5');
    expect((r1.json() as any).error.code).toBe('VIGIL_ERR_NOT_READY');
    expect((r1.json() as any).error.message).toContain('processor: consumer crashed: boom');
    expect((r1.json() as any).checks.processor).toEqual({ ok: false, reason: 'consumer crashed: boom' });
    await notReady.close();

    const deadCh = { ...t.ch, client: { ping: async () => ({ success: false }), query: async () => { throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }); } } } as unknown as ClickHouseHandle;
    const dead = buildQueryApp({ log: createLogger('silent'), clickhouse: deadCh, keys: { verify: async () => ({ projectId: 'p' }) } });
    const r2 = await dead.inject({ url: '/readyz' });
    expect(r2.statusCode).toBe(503);
    expect((r2.json() as any).error.code).toBe('VIGIL_ERR_NOT_READY');
    expect((r2.json() as any).checks.clickhouse.ok).toBe(false);
    const r3 = await dead.inject({ url: '/api/v1/traces', headers: { authorization: 'Bearer k' } });
    expect(r3.statusCode).toBe(503);
    expect(r3.headers['retry-after']).toBe('5');
    expect((r3.json() as any).error.code).toBe('VIGIL_ERR_CLICKHOUSE_UNAVAILABLE');
    await dead.close();
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await t.app.inject({ url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect((res.json() as any).error.code).toBe('VIGIL_ERR_NOT_FOUND');
  });

  it('exposes the OpenAPI document with the route parameters', async () => {
    const res = await t.app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as any;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/traces', '/api/v1/traces/{traceId}', '/api/v1/logs', '/api/v1/metrics/latency', '/api/v1/metrics/cost', '/healthz', '/readyz']));
    const names = doc.paths['/api/v1/traces'].get.parameters.map((p: any) => p.name);
    expect(names).toEqual(expect.arrayContaining(['service', 'operation', 'status', 'min_duration_ms', 'from', 'to', 'limit', 'cursor']));
  });

  it('rejects unknown parameters, listing the accepted ones', async () => {
    const { auth } = t.tenant();
    const res = await t.app.inject({ url: '/api/v1/metrics/cost?group=model', headers: auth });
    expect(res.statusCode).toBe(400);
    const msg = (res.json() as any).error.message as string;
    expect(msg).toMatch(/^group: unknown parameter; accepted parameters are: .*group_by/);
  });
});
