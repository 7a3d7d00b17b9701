/**
 * Issue 8 "Administration": the admin API (query-api/routes/admin.ts) with
 * real Postgres and chDB through app.inject(): 403 for non-admin keys;
 * projects list/create; keys list/create/revoke (an admin key creates another
 * admin key); per-project limits and retention get/set, retention reaching
 * the ClickHouse TTL and the settings callback; the routes in /openapi.json.
 */
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearKeyCache, createApiKey, createKeyVerifier, verifyApiKey } from '../../platform/auth/keys.js';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { createLogger } from '../../platform/logger.js';
import { migratePostgres } from '../../platform/migrate.js';
import { applyRetention } from '../../platform/retention.js';
import { buildQueryApp } from '../../query-api/app.js';
import { createTestClickHouse, TEST_RETENTION_DAYS } from '../support/clickhouse.js';
import { createTestDatabase } from '../support/harness.js';

let pool: pg.Pool;
let ch: ClickHouseHandle;
let app: FastifyInstance;
let admin: string;
let plain: string;
let settingsChanges = 0;

beforeAll(async () => {
  ch = await createTestClickHouse();
  pool = new pg.Pool({ connectionString: await createTestDatabase() });
  await migratePostgres(pool, { log: createLogger('silent') });
  admin = (await createApiKey(pool, 'ops', { admin: true })).key;
  plain = (await createApiKey(pool, 'ops')).key;
  app = buildQueryApp({
    log: createLogger('silent'),
    clickhouse: ch,
    keys: createKeyVerifier(pool),
    admin: {
      pool,
      defaults: { spansPerS: 0, logsPerS: 1000, retentionDays: TEST_RETENTION_DAYS },
      onSettingsChanged: async () => {
        settingsChanges++;
      },
    },
  });
  await app.ready();
}, 120_000);

afterAll(async () => {
  await app?.close();
  if (ch !== undefined) await applyRetention(ch, { defaultDays: TEST_RETENTION_DAYS, perProject: new Map() }, { wait: true });
  await pool?.end();
});

const as = (key: string) => ({ authorization: `Bearer ${key}` });

describe('admin API', () => {
  it('403 VIGIL_ERR_FORBIDDEN for a non-admin key on every admin route; 401 without a key', async () => {
    for (const [method, url] of [
      ['GET', '/api/v1/admin/projects'], ['POST', '/api/v1/admin/projects'], ['GET', '/api/v1/admin/keys'], ['POST', '/api/v1/admin/keys'],
      ['DELETE', '/api/v1/admin/keys/0123456789ab'], ['GET', '/api/v1/admin/projects/ops/limits'], ['PUT', '/api/v1/admin/projects/ops/limits'],
      ['GET', '/api/v1/admin/projects/ops/retention'], ['PUT', '/api/v1/admin/projects/ops/retention'],
    ] as const) {
      const res = await app.inject({ method, url, headers: as(plain), payload: method === 'GET' || method === 'DELETE' ? undefined : {} });
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.json().error).toMatchObject({ code: 'VIGIL_ERR_FORBIDDEN', message: expect.stringContaining('--admin') });
    }
    expect((await app.inject({ method: 'GET', url: '/api/v1/admin/projects' })).statusCode).toBe(401);
  });

  it('projects: create (201, 409 when it exists, 400 for a bad id) and list', async () => {
    const created = await app.inject({ method: 'POST', url: '/api/v1/admin/projects', headers: as(admin), payload: { id: 'acme', name: 'Acme Inc' } });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({ id: 'acme', name: 'Acme Inc' });
    expect((await app.inject({ method: 'POST', url: '/api/v1/admin/projects', headers: as(admin), payload: { id: 'acme' } })).statusCode).toBe(409);
    const bad = await app.inject({ method: 'POST', url: '/api/v1/admin/projects', headers: as(admin), payload: { id: '-nope' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('VIGIL_ERR_VALIDATION');
    const list = await app.inject({ method: 'GET', url: '/api/v1/admin/projects', headers: as(admin) });
    expect(list.statusCode).toBe(200);
    expect(list.json().projects).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: 'acme', name: 'Acme Inc', active_keys: 0, spans_per_s: null, retention_days: null }),
        expect.objectContaining({ id: 'ops', active_keys: 2 }),
      ]),
    );
  });

  it('keys: an admin key creates keys (also admin ones), lists them without secrets, revokes them', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/admin/keys', headers: as(admin), payload: { project: 'acme' } });
    expect(res.statusCode).toBe(201);
    const { key, key_id, project, admin: isAdmin } = res.json() as { key: string; key_id: string; project: string; admin: boolean };
    expect([project, isAdmin]).toEqual(['acme', false]);
    expect(await verifyApiKey(pool, key)).toEqual({ projectId: 'acme' });

    const second = (await app.inject({ method: 'POST', url: '/api/v1/admin/keys', headers: as(admin), payload: { project: 'acme', admin: true } })).json() as { key: string };
    expect((await app.inject({ method: 'GET', url: '/api/v1/admin/projects', headers: as(second.key) })).statusCode).toBe(200);

    const list = await app.inject({ method: 'GET', url: '/api/v1/admin/keys?project=acme', headers: as(admin) });
    const keys = list.json().keys as Array<Record<string, unknown>>;
    expect(keys).toHaveLength(2);
    expect(keys.map((k) => k.admin).sort()).toEqual([false, true]);
    expect(JSON.stringify(keys)).not.toContain(key.slice(-32));

    const revoked = await app.inject({ method: 'DELETE', url: `/api/v1/admin/keys/${key_id}`, headers: as(admin) });
    expect(revoked.json()).toEqual({ key_id, revoked: true });
    expect((await app.inject({ method: 'DELETE', url: `/api/v1/admin/keys/${key_id}`, headers: as(admin) })).statusCode).toBe(404);
    clearKeyCache(pool);
    expect(await verifyApiKey(pool, key)).toBeNull();
  });

  it('limits: defaults, set, partial update, null back to the default; unknown project 404; validated', async () => {
    const url = '/api/v1/admin/projects/acme/limits';
    expect((await app.inject({ method: 'GET', url, headers: as(admin) })).json()).toEqual({
      project: 'acme', spans_per_s: null, logs_per_s: null, effective: { spans_per_s: 0, logs_per_s: 1000 },
    });
    const before = settingsChanges;
    const set = await app.inject({ method: 'PUT', url, headers: as(admin), payload: { spans_per_s: 1.5, logs_per_s: 20 } });
    expect(set.json()).toEqual({ project: 'acme', spans_per_s: 1.5, logs_per_s: 20, effective: { spans_per_s: 1.5, logs_per_s: 20 } });
    expect(settingsChanges).toBe(before + 1);
    const partial = await app.inject({ method: 'PUT', url, headers: as(admin), payload: { logs_per_s: null } });
    expect(partial.json()).toMatchObject({ spans_per_s: 1.5, logs_per_s: null, effective: { logs_per_s: 1000 } });
    expect((await pool.query("SELECT spans_per_s, logs_per_s FROM projects WHERE id = 'acme'")).rows[0]).toEqual({ spans_per_s: 1.5, logs_per_s: null });
    expect((await app.inject({ method: 'PUT', url, headers: as(admin), payload: { spans_per_s: -1 } })).statusCode).toBe(400);
    expect((await app.inject({ method: 'PUT', url, headers: as(admin), payload: { spans: 1 } })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/api/v1/admin/projects/nobody/limits', headers: as(admin) })).statusCode).toBe(404);
  });

  it('retention: set → stored and the ClickHouse TTL names the project; null → the default again', async () => {
    const url = '/api/v1/admin/projects/acme/retention';
    expect((await app.inject({ method: 'GET', url, headers: as(admin) })).json()).toEqual({ project: 'acme', retention_days: null, effective_days: TEST_RETENTION_DAYS });
    const set = await app.inject({ method: 'PUT', url, headers: as(admin), payload: { retention_days: 7 } });
    expect(set.json()).toEqual({ project: 'acme', retention_days: 7, effective_days: 7 });
    const ttl = async () => {
      const rs = await ch.client.query({ query: "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = 'spans'", query_params: { db: ch.database }, format: 'JSONEachRow' });
      return ((await rs.json()) as Array<{ engine_full: string }>)[0]!.engine_full;
    };
    expect(await ttl()).toContain(`toIntervalDay(transform(tenant, ['acme'], [7], ${TEST_RETENTION_DAYS}))`);
    expect((await app.inject({ method: 'PUT', url, headers: as(admin), payload: { retention_days: 0 } })).statusCode).toBe(400);
    const reset = await app.inject({ method: 'PUT', url, headers: as(admin), payload: { retention_days: null } });
    expect(reset.json()).toEqual({ project: 'acme', retention_days: null, effective_days: TEST_RETENTION_DAYS });
    expect(await ttl()).toContain(`+ toIntervalDay(${TEST_RETENTION_DAYS})`);
  });

  it('every admin route is in the OpenAPI document', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/api/v1/admin/projects'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/api/v1/admin/keys'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/api/v1/admin/keys/{keyId}'] ?? {})).toEqual(['delete']);
    expect(Object.keys(doc.paths['/api/v1/admin/projects/{id}/limits'] ?? {}).sort()).toEqual(['get', 'put']);
    expect(Object.keys(doc.paths['/api/v1/admin/projects/{id}/retention'] ?? {}).sort()).toEqual(['get', 'put']);
  });
});
