/**
 * The flag management API and OFREP with inject(): CRUD, PATCH of a rollout,
 * the change history (who, when, before/after), overrides, 400s naming the
 * field, 409s, tenant confinement, OFREP shapes and status codes, ETag / 304,
 * and the routes in the OpenAPI document.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQueryApp } from '../../query-api/app.js';
import { clickhouse, log, migratedPool } from '../alerts/support.js';

let pool: pg.Pool;
let app: FastifyInstance;
const keys = new Map<string, string>();

beforeAll(async () => {
  pool = await migratedPool();
  app = buildQueryApp({
    log,
    clickhouse: await clickhouse(),
    keys: { verify: async (k) => (keys.has(k) ? { projectId: keys.get(k)! } : null) },
    flags: { pool },
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await pool.end();
});

function tenant() {
  const id = `t_${randomBytes(4).toString('hex')}`;
  const key = `vgl_${randomBytes(6).toString('hex')}_${randomBytes(8).toString('hex')}`;
  keys.set(key, id);
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) => {
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${key}`, ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });
    return { status: res.statusCode, body: res.body === '' ? undefined : res.json(), headers: res.headers };
  };
  return { id, key, keyId: key.split('_')[1]!, call };
}

const FLAG = {
  key: 'new-checkout',
  description: 'the new checkout flow',
  type: 'boolean',
  variants: { on: true, off: false },
  default_variant: 'off',
  rules: [{ name: 'staff', conditions: [{ attribute: 'email', operator: 'ends_with', value: '@acme.com' }], serve: { variant: 'on' } }],
  fallthrough: { rollout: [{ variant: 'on', weight: 10 }, { variant: 'off', weight: 90 }] },
  metadata: { team: 'payments' },
};

describe('flag management API', () => {
  it('creates, reads, lists, patches a rollout, replaces and deletes, recording every change', async () => {
    const t = tenant();
    const created = await t.call('POST', '/api/v1/flags', FLAG, { 'x-vigil-actor': 'alice@acme.com' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ...FLAG, enabled: true, bucket_by: 'targetingKey', version: 1 });
    expect((await t.call('POST', '/api/v1/flags', FLAG)).status).toBe(409);
    expect((await t.call('GET', '/api/v1/flags/new-checkout')).body).toMatchObject({ key: 'new-checkout', version: 1 });
    expect((await t.call('GET', '/api/v1/flags')).body.flags.map((f: { key: string }) => f.key)).toEqual(['new-checkout']);

    const rollout = { rollout: [{ variant: 'on', weight: 20 }, { variant: 'off', weight: 80 }] };
    const patched = await t.call('PATCH', '/api/v1/flags/new-checkout', { fallthrough: rollout });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ fallthrough: rollout, rules: FLAG.rules, version: 2 });
    expect((await t.call('PATCH', '/api/v1/flags/new-checkout', { enabled: false })).body).toMatchObject({ enabled: false, version: 3 });

    const put = await t.call('PUT', '/api/v1/flags/new-checkout', { ...FLAG, key: undefined, rules: [] });
    expect(put.body).toMatchObject({ rules: [], enabled: true, version: 4 });
    expect((await t.call('PUT', '/api/v1/flags/new-checkout', { ...FLAG, key: 'renamed' })).body.error.message).toMatch(/^key:/);

    const changes = await t.call('GET', '/api/v1/flags/new-checkout/changes');
    expect(changes.body.changes.map((c: { action: string }) => c.action)).toEqual(['update', 'update', 'update', 'create']);
    const [last, , first, create] = changes.body.changes;
    expect(create).toMatchObject({ actor: 'alice@acme.com', before: null, after: { key: 'new-checkout', fallthrough: FLAG.fallthrough } });
    expect(first).toMatchObject({ actor: `api key ${t.keyId}`, before: { fallthrough: FLAG.fallthrough }, after: { fallthrough: rollout } });
    expect(last.before).toMatchObject({ rules: FLAG.rules });
    expect(Date.parse(create.at)).toBeGreaterThan(Date.now() - 600_000);
    const page = await t.call('GET', '/api/v1/flags/new-checkout/changes?limit=2');
    expect(page.body.changes).toHaveLength(2);
    const next = await t.call('GET', `/api/v1/flags/new-checkout/changes?limit=2&before=${page.body.next_before}`);
    expect(next.body.changes.map((c: { action: string }) => c.action)).toEqual(['update', 'create']);

    expect((await t.call('DELETE', '/api/v1/flags/new-checkout')).status).toBe(204);
    expect((await t.call('GET', '/api/v1/flags/new-checkout')).status).toBe(404);
    const after = await t.call('GET', '/api/v1/flags/new-checkout/changes');
    expect(after.body.changes[0]).toMatchObject({ action: 'delete', after: null });
  });

  it('rejects bad bodies with 400s naming the field', async () => {
    const t = tenant();
    const cases: Array<[unknown, string]> = [
      [{ ...FLAG, type: 'bool' }, 'type'],
      [{ ...FLAG, variants: { on: 1, off: false } }, 'variants.on'],
      [{ ...FLAG, default_variant: 'maybe' }, 'default_variant'],
      [{ ...FLAG, rules: [{ conditions: [{ attribute: 'v', operator: 'semver_gte', value: 'latest' }], serve: { variant: 'on' } }] }, 'rules.0.conditions.0.value'],
      [{ ...FLAG, fallthrough: { rollout: [{ variant: 'on', weight: 10 }] } }, 'fallthrough.rollout'],
      [{ ...FLAG, key: undefined }, 'key'],
      [{ ...FLAG, extra: 1 }, 'extra'],
      [[1], 'body'],
    ];
    for (const [body, field] of cases) {
      const r = await t.call('POST', '/api/v1/flags', body);
      expect(r.status, field).toBe(400);
      expect(r.body.error.code).toBe('VIGIL_ERR_VALIDATION');
      expect(r.body.error.message.startsWith(`${field}:`), `${field}: ${r.body.error.message}`).toBe(true);
    }
    await t.call('POST', '/api/v1/flags', FLAG);
    const bad = await t.call('PATCH', '/api/v1/flags/new-checkout', { fallthrough: { rollout: [{ variant: 'on', weight: 120 }] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^fallthrough\.rollout/);
  });

  it('user and workspace overrides: set, list, refuse unknown variants, recorded, deleted', async () => {
    const t = tenant();
    await t.call('POST', '/api/v1/flags', FLAG);
    expect((await t.call('PUT', '/api/v1/flags/new-checkout/overrides/user/u-42', { variant: 'on' })).body).toMatchObject({ scope: 'user', subject: 'u-42', variant: 'on' });
    expect((await t.call('PUT', '/api/v1/flags/new-checkout/overrides/workspace/w-1', { variant: 'off' })).status).toBe(200);
    const bad = await t.call('PUT', '/api/v1/flags/new-checkout/overrides/user/u-43', { variant: 'maybe' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^variant:/);
    expect((await t.call('PUT', '/api/v1/flags/new-checkout/overrides/team/x', { variant: 'on' })).body.error.message).toMatch(/^scope:/);
    const list = await t.call('GET', '/api/v1/flags/new-checkout/overrides');
    expect(list.body.overrides.map((o: { scope: string; subject: string }) => `${o.scope}:${o.subject}`)).toEqual(['user:u-42', 'workspace:w-1']);
    // A variant used by an override cannot be removed.
    const narrowed = await t.call('PATCH', '/api/v1/flags/new-checkout', { variants: { off: false }, rules: [], fallthrough: null });
    expect(narrowed.status).toBe(400);
    expect(narrowed.body.error.message).toMatch(/^variants: variant on is used by the user override for u-42/);
    expect((await t.call('DELETE', '/api/v1/flags/new-checkout/overrides/user/u-42')).status).toBe(204);
    expect((await t.call('DELETE', '/api/v1/flags/new-checkout/overrides/user/u-42')).status).toBe(404);
    const changes = (await t.call('GET', '/api/v1/flags/new-checkout/changes')).body.changes;
    expect(changes.map((c: { action: string }) => c.action), JSON.stringify(changes)).toEqual(['override_delete', 'override_set', 'override_set', 'create']);
  });

  it('confines every route to the key\'s project', async () => {
    const a = tenant();
    const b = tenant();
    await a.call('POST', '/api/v1/flags', FLAG);
    expect((await b.call('GET', '/api/v1/flags')).body.flags).toEqual([]);
    expect((await b.call('GET', '/api/v1/flags/new-checkout')).status).toBe(404);
    expect((await b.call('PATCH', '/api/v1/flags/new-checkout', { enabled: false })).status).toBe(404);
    expect((await b.call('DELETE', '/api/v1/flags/new-checkout')).status).toBe(404);
    expect((await b.call('GET', '/api/v1/flags/new-checkout/changes')).status).toBe(404);
    expect((await b.call('PUT', '/api/v1/flags/new-checkout/overrides/user/u', { variant: 'on' })).status).toBe(404);
    expect((await b.call('POST', '/ofrep/v1/evaluate/flags/new-checkout', { context: { targetingKey: 'u' } })).status).toBe(404);
    expect((await b.call('POST', '/ofrep/v1/evaluate/flags', { context: { targetingKey: 'u' } })).body.flags).toEqual([]);
    expect((await b.call('GET', '/api/v1/experiments/new-checkout')).status).toBe(404);
    // The same key in b is a different flag.
    expect((await b.call('POST', '/api/v1/flags', { ...FLAG, enabled: false })).status).toBe(201);
    expect((await a.call('GET', '/api/v1/flags/new-checkout')).body.enabled).toBe(true);
    expect((await app.inject({ method: 'GET', url: '/api/v1/flags' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags', payload: { context: {} } })).statusCode).toBe(401);
  });

  it('documents the routes in the OpenAPI output', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
    for (const p of ['/api/v1/flags', '/api/v1/flags/{key}', '/api/v1/flags/{key}/changes', '/api/v1/flags/{key}/overrides/{scope}/{subject}',
      '/ofrep/v1/evaluate/flags', '/ofrep/v1/evaluate/flags/{key}', '/api/v1/experiments', '/api/v1/experiments/{ref}']) {
      expect(doc.paths[p], p).toBeDefined();
    }
    expect(Object.keys(doc.paths['/api/v1/flags/{key}']!)).toEqual(expect.arrayContaining(['get', 'put', 'patch', 'delete']));
  });
});

describe('OFREP', () => {
  it('answers single evaluations in the specification\'s shapes', async () => {
    const t = tenant();
    await t.call('POST', '/api/v1/flags', FLAG);
    await t.call('POST', '/api/v1/flags', { key: 'banner', type: 'string', variants: { a: 'hello' }, default_variant: 'a' });
    const ev = (key: string, context?: unknown) => t.call('POST', `/ofrep/v1/evaluate/flags/${key}`, context === undefined ? {} : { context });
    const staff = await ev('new-checkout', { targetingKey: 'u1', email: 'bo@acme.com' });
    expect(staff.status).toBe(200);
    expect(staff.headers['content-type']).toMatch(/^application\/json/);
    expect(staff.body).toEqual({ key: 'new-checkout', value: true, reason: 'TARGETING_MATCH', variant: 'on', metadata: { team: 'payments' } });
    expect((await ev('new-checkout', { targetingKey: 'u1' })).body).toMatchObject({ reason: 'SPLIT' });
    expect((await ev('banner')).body).toEqual({ key: 'banner', value: 'hello', reason: 'STATIC', variant: 'a' });
    expect(await ev('nope', { targetingKey: 'u1' })).toMatchObject({ status: 404, body: { key: 'nope', errorCode: 'FLAG_NOT_FOUND' } });
    expect(await ev('new-checkout', {})).toMatchObject({ status: 400, body: { key: 'new-checkout', errorCode: 'TARGETING_KEY_MISSING' } });
    expect(await ev('new-checkout', 'me')).toMatchObject({ status: 400, body: { errorCode: 'INVALID_CONTEXT' } });
    const garbage = await app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/banner', headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' }, payload: '{"context":' });
    expect(garbage.statusCode).toBe(400);
    expect(garbage.json()).toMatchObject({ key: 'banner', errorCode: 'PARSE_ERROR' });
    await t.call('PATCH', '/api/v1/flags/new-checkout', { enabled: false });
    expect((await ev('new-checkout', { targetingKey: 'u1' })).body).toMatchObject({ value: false, variant: 'off', reason: 'DISABLED' });
  });

  it('stored definitions that no longer parse fail with PARSE_ERROR', async () => {
    const t = tenant();
    await t.call('POST', '/api/v1/flags', FLAG);
    await pool.query(`UPDATE feature_flags SET targeting = '{"rules": [{"serve": {"variant": "gone"}}]}' WHERE project_id = $1`, [t.id]);
    await pool.query(`INSERT INTO feature_flag_changes (project_id, flag_key, action, actor) VALUES ($1, 'new-checkout', 'update', 'test')`, [t.id]);
    const r = await t.call('POST', '/ofrep/v1/evaluate/flags/new-checkout', { context: { targetingKey: 'u' } });
    expect(r).toMatchObject({ status: 400, body: { errorCode: 'PARSE_ERROR' } });
    const bulk = await t.call('POST', '/ofrep/v1/evaluate/flags', { context: { targetingKey: 'u' } });
    expect(bulk.body.flags[0]).toMatchObject({ key: 'new-checkout', errorCode: 'PARSE_ERROR' });
  });

  it('bulk: every flag, an ETag, 304 while nothing changed, a new ETag after a change or another context', async () => {
    const t = tenant();
    await t.call('POST', '/api/v1/flags', FLAG);
    await t.call('POST', '/api/v1/flags', { key: 'banner', type: 'string', variants: { a: 'hello' }, default_variant: 'a' });
    const ctx = { context: { targetingKey: 'u1' } };
    const first = await t.call('POST', '/ofrep/v1/evaluate/flags', ctx);
    expect(first.status).toBe(200);
    expect(first.body.flags.map((f: { key: string }) => f.key)).toEqual(['banner', 'new-checkout']);
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const again = await t.call('POST', '/ofrep/v1/evaluate/flags', ctx, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body).toBeUndefined();
    expect((await t.call('POST', '/ofrep/v1/evaluate/flags', ctx, { 'if-none-match': `W/${etag}, "other"` })).status).toBe(304);
    expect((await t.call('POST', '/ofrep/v1/evaluate/flags', { context: { targetingKey: 'u2' } }, { 'if-none-match': etag })).status).toBe(200);
    await t.call('PATCH', '/api/v1/flags/banner', { variants: { a: 'hi' } });
    const changed = await t.call('POST', '/ofrep/v1/evaluate/flags', ctx, { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
    expect(changed.body.flags[0]).toMatchObject({ key: 'banner', value: 'hi' });
    const noKey = await t.call('POST', '/ofrep/v1/evaluate/flags', { context: {} });
    expect(noKey.body.flags).toEqual([
      { key: 'banner', value: 'hi', reason: 'STATIC', variant: 'a' },
      expect.objectContaining({ key: 'new-checkout', errorCode: 'TARGETING_KEY_MISSING' }),
    ]);
    expect(await t.call('POST', '/ofrep/v1/evaluate/flags', { context: [1] })).toMatchObject({ status: 400, body: { errorCode: 'INVALID_CONTEXT' } });
  });
});
