/**
 * The proof of OFREP compatibility: the unmodified OpenFeature SDKs with
 * their OFREP providers evaluate Vigil's flags over HTTP —
 * `@openfeature/server-sdk` + `@openfeature/ofrep-provider` (single
 * evaluations) and `@openfeature/web-sdk` + `@openfeature/ofrep-web-provider`
 * (bulk evaluation, polling with If-None-Match / 304). Also: a change made
 * through one process's API reaches another process's flag cache through
 * LISTEN/NOTIFY (its periodic reload is disabled, so nothing else could).
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';
import { ErrorCode, OpenFeature, StandardResolutionReasons, type Client } from '@openfeature/server-sdk';
import { OpenFeature as WebOpenFeature } from '@openfeature/web-sdk';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFlagCache, type FlagCache } from '../../flags/cache.js';
import { buildQueryApp } from '../../query-api/app.js';
import { waitFor } from '../support/wait.js';
import { clickhouse, log, migratedPool } from '../alerts/support.js';

let pool: pg.Pool;
let app: FastifyInstance;
let baseUrl: string;
const keys = new Map<string, string>();
const statuses: Array<{ url: string; status: number }> = [];

beforeAll(async () => {
  pool = await migratedPool();
  app = buildQueryApp({
    log,
    clickhouse: await clickhouse(),
    keys: { verify: async (k) => (keys.has(k) ? { projectId: keys.get(k)! } : null) },
    flags: { pool },
  });
  app.addHook('onResponse', async (request, reply) => {
    statuses.push({ url: request.url, status: reply.statusCode });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await OpenFeature.close();
  await WebOpenFeature.close();
  await app.close();
  await pool.end();
});

function tenant() {
  const id = `t_${randomBytes(4).toString('hex')}`;
  const key = `vgl_${randomBytes(6).toString('hex')}_${randomBytes(8).toString('hex')}`;
  keys.set(key, id);
  const call = async (method: 'POST' | 'PATCH' | 'PUT', url: string, payload: unknown) => {
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, payload: payload as object });
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  return { id, key, call };
}

const CHECKOUT = {
  key: 'new-checkout',
  type: 'boolean',
  variants: { on: true, off: false },
  default_variant: 'off',
  rules: [
    { conditions: [{ attribute: 'email', operator: 'ends_with', value: '@acme.com' }], serve: { variant: 'on' } },
    { conditions: [{ attribute: 'appVersion', operator: 'semver_lt', value: '2.0.0' }], serve: { variant: 'off' } },
  ],
  fallthrough: { rollout: [{ variant: 'on', weight: 10 }, { variant: 'off', weight: 90 }] },
};

async function serverClient(key: string, domain: string): Promise<Client> {
  await OpenFeature.setProviderAndWait(domain, new OFREPProvider({ baseUrl, headers: [['Authorization', `Bearer ${key}`]] }));
  return OpenFeature.getClient(domain);
}

describe('@openfeature/server-sdk + @openfeature/ofrep-provider', () => {
  it('targeting, overrides, disabled flags, type mismatch, unknown flag, missing targeting key', async () => {
    const t = tenant();
    await t.call('POST', '/api/v1/flags', CHECKOUT);
    await t.call('POST', '/api/v1/flags', { key: 'model', type: 'string', variants: { small: 'gpt-4o-mini', large: 'gpt-4o' }, default_variant: 'small' });
    await t.call('POST', '/api/v1/flags', { key: 'limits', type: 'object', variants: { std: { rpm: 60 } }, default_variant: 'std' });
    await t.call('POST', '/api/v1/flags', { key: 'max-tokens', type: 'number', variants: { low: 256, high: 4096 }, default_variant: 'high' });
    await t.call('PUT', '/api/v1/flags/new-checkout/overrides/user/vip-1', { variant: 'on' });
    await t.call('PUT', '/api/v1/flags/new-checkout/overrides/workspace/acme-ws', { variant: 'on' });
    const client = await serverClient(t.key, 'targeting');

    expect(await client.getBooleanDetails('new-checkout', false, { targetingKey: 'u1', email: 'jo@acme.com' })).toMatchObject({
      value: true, variant: 'on', reason: StandardResolutionReasons.TARGETING_MATCH,
    });
    expect(await client.getBooleanDetails('new-checkout', true, { targetingKey: 'u1', appVersion: '1.9.3' })).toMatchObject({ value: false, reason: 'TARGETING_MATCH' });
    expect(await client.getBooleanDetails('new-checkout', false, { targetingKey: 'vip-1', appVersion: '1.0.0' })).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
    expect(await client.getBooleanDetails('new-checkout', false, { targetingKey: 'u9', workspaceId: 'acme-ws' })).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
    expect((await client.getBooleanDetails('new-checkout', false, { targetingKey: 'u1', appVersion: '2.1.0' })).reason).toBe(StandardResolutionReasons.SPLIT);
    expect(await client.getStringDetails('model', 'none', { targetingKey: 'u1' })).toMatchObject({ value: 'gpt-4o-mini', variant: 'small', reason: 'STATIC' });
    expect(await client.getObjectValue('limits', {}, { targetingKey: 'u1' })).toEqual({ rpm: 60 });
    expect(await client.getNumberValue('max-tokens', 1, { targetingKey: 'u1' })).toBe(4096);

    const mismatch = await client.getNumberDetails('model', 7, { targetingKey: 'u1' });
    expect(mismatch).toMatchObject({ value: 7, reason: StandardResolutionReasons.ERROR, errorCode: ErrorCode.TYPE_MISMATCH });
    const unknown = await client.getBooleanDetails('no-such-flag', true, { targetingKey: 'u1' });
    expect(unknown).toMatchObject({ value: true, reason: 'ERROR', errorCode: ErrorCode.FLAG_NOT_FOUND });
    const noKey = await client.getBooleanDetails('new-checkout', true, { appVersion: '3.0.0' });
    expect(noKey).toMatchObject({ value: true, reason: 'ERROR', errorCode: ErrorCode.TARGETING_KEY_MISSING });

    await t.call('PATCH', '/api/v1/flags/new-checkout', { enabled: false });
    expect(await client.getBooleanDetails('new-checkout', true, { targetingKey: 'vip-1', email: 'jo@acme.com' })).toMatchObject({
      value: false, variant: 'off', reason: StandardResolutionReasons.DISABLED,
    });
  });

  it('sticky rollout: raising 10 % → 20 % keeps every user who had the variant', async () => {
    const t = tenant();
    await t.call('POST', '/api/v1/flags', { ...CHECKOUT, rules: [] });
    const client = await serverClient(t.key, 'rollout');
    const users = Array.from({ length: 400 }, (_, i) => `user-${i}`);
    const onFor = async () => {
      const out = new Set<string>();
      for (const u of users) if (await client.getBooleanValue('new-checkout', false, { targetingKey: u })) out.add(u);
      return out;
    };
    const at10 = await onFor();
    await t.call('PATCH', '/api/v1/flags/new-checkout', { fallthrough: { rollout: [{ variant: 'on', weight: 20 }, { variant: 'off', weight: 80 }] } });
    const at20 = await onFor();
    expect(at10.size).toBeGreaterThan(15);
    expect(at20.size).toBeGreaterThan(at10.size);
    expect([...at10].filter((u) => !at20.has(u))).toEqual([]);
  });
});

describe('@openfeature/web-sdk + @openfeature/ofrep-web-provider', () => {
  it('bulk evaluation, polling revalidated with If-None-Match (304), changes picked up', async () => {
    const t = tenant();
    await t.call('POST', '/api/v1/flags', { key: 'theme', type: 'string', variants: { light: 'light', dark: 'dark' }, default_variant: 'light' });
    await t.call('POST', '/api/v1/flags', CHECKOUT);
    await WebOpenFeature.setContext({ targetingKey: 'web-user-1', email: 'web@acme.com' });
    await WebOpenFeature.setProviderAndWait(
      new OFREPWebProvider({ baseUrl, headers: [['Authorization', `Bearer ${t.key}`]], pollInterval: 200, cacheMode: 'disabled' } as ConstructorParameters<typeof OFREPWebProvider>[0]),
    );
    const client = WebOpenFeature.getClient();
    expect(client.getStringDetails('theme', 'none')).toMatchObject({ value: 'light', reason: 'STATIC', variant: 'light' });
    expect(client.getBooleanDetails('new-checkout', false)).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
    expect(client.getNumberDetails('theme', 3)).toMatchObject({ value: 3, errorCode: 'TYPE_MISMATCH' });
    expect(client.getBooleanDetails('missing', true)).toMatchObject({ value: true, errorCode: 'FLAG_NOT_FOUND' });

    // Polls with the ETag are answered 304 while nothing changes …
    await waitFor('a 304 to a poll', () => (statuses.some((s) => s.url.startsWith('/ofrep/v1/evaluate/flags') && s.status === 304) ? true : undefined), { timeoutMs: 30_000, intervalMs: 50 });
    // … and a change is picked up by the next poll.
    await t.call('PATCH', '/api/v1/flags/theme', { default_variant: 'dark' });
    await waitFor('the new theme', () => (client.getStringValue('theme', 'none') === 'dark' ? true : undefined), { timeoutMs: 30_000, intervalMs: 50 });
  });
});

describe('cross-process propagation', () => {
  let other: pg.Pool;
  let cache: FlagCache;
  afterAll(async () => {
    await cache?.close();
    await other?.end();
  });

  it('a change through this process reaches another process\'s cache by NOTIFY', async () => {
    const t = tenant();
    await t.call('POST', '/api/v1/flags', { key: 'kill-switch', type: 'boolean', variants: { on: true, off: false }, default_variant: 'on' });
    // "Another process": its own pool and cache on the same database; no periodic reload.
    other = new pg.Pool({ connectionString: (pool as unknown as { options: { connectionString: string } }).options.connectionString, max: 3 });
    cache = createFlagCache({ pool: other, log, maxAgeMs: 3_600_000, unlistenedMaxAgeMs: 3_600_000 });
    await cache.ready();
    expect(await cache.evaluate(t.id, 'kill-switch', {})).toMatchObject({ ok: true, value: true });
    const before = cache.notifications;
    const changedAt = Date.now();
    await t.call('PATCH', '/api/v1/flags/kill-switch', { enabled: false, default_variant: 'off' });
    const r = await waitFor('the change in the other cache', async () => {
      const e = await cache.evaluate(t.id, 'kill-switch', {});
      return e.ok && e.value === false ? e : undefined;
    }, { timeoutMs: 10_000, intervalMs: 20 });
    expect(r.reason).toBe('DISABLED');
    expect(cache.notifications).toBeGreaterThan(before);
    log.info({ ms: Date.now() - changedAt }, 'flag change visible in the other process');
  });
});
