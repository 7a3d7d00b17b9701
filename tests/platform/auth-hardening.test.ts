/**
 * Auth hardening (issue 5 item 6): failed API-key checks are rate-limited per
 * source address and per key id (429 + Retry-After), repeated failures answer
 * from a bounded cache without scrypt, verifications are bounded in number, and
 * an unknown key id costs exactly the work of a known one with a wrong secret.
 * Real Postgres (keys.ts) and the real ingest and query apps; no timing asserts:
 * work is measured with the scrypt call counter and database query counts.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildIngestApp } from '../../ingest/app.js';
import { createInProcessPublisher } from '../../ingest/publisher.js';
import { AuthGuard } from '../../platform/auth/guard.js';
import { clearKeyCache, createApiKey, createKeyVerifier, parseApiKey, revokeApiKey, scryptCallCount, verifyApiKey, type KeyVerifier } from '../../platform/auth/keys.js';
import { addAuthHook, UNKNOWN_KEY_MESSAGE } from '../../platform/auth/plugin.js';
import { createLogger } from '../../platform/logger.js';
import { migratePostgres } from '../../platform/migrate.js';
import { buildQueryApp } from '../../query-api/app.js';
import { createTestClickHouse } from '../support/clickhouse.js';
import { createTestDatabase } from '../support/harness.js';

let pool: pg.Pool;
const apps: FastifyInstance[] = [];

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: await createTestDatabase(), max: 4 });
  await migratePostgres(pool, { log: createLogger('silent') });
});

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

afterAll(async () => {
  await pool.end();
});

let secretCounter = 0;
/** The same key id with a new, distinct (valid-format) wrong secret each call. */
function wrongSecret(key: string): string {
  const { keyId } = parseApiKey(key)!;
  secretCounter += 1;
  return `vgl_${keyId}_${String(secretCounter).padStart(32, 'w')}`;
}

let idCounter = 0;
/** A well-formed key whose key id does not exist. */
function unknownKey(): string {
  idCounter += 1;
  return `vgl_${idCounter.toString(16).padStart(12, 'f')}_${'u'.repeat(32)}`;
}

/** A Fastify app with the auth hook (given guard) and GET /whoami. */
async function whoamiApp(verifier: KeyVerifier, guard: AuthGuard): Promise<FastifyInstance> {
  const app = Fastify();
  addAuthHook(app, { verifier, guard });
  app.get('/whoami', async (request) => ({ tenant: request.tenant }));
  await app.ready();
  apps.push(app);
  return app;
}

function call(app: FastifyInstance, key: string, remoteAddress = '10.0.0.1') {
  return app.inject({ method: 'GET', url: '/whoami', remoteAddress, headers: { authorization: `Bearer ${key}` } });
}

/** scrypt calls made while running `fn`. */
async function scryptsDuring<T>(fn: () => Promise<T>): Promise<{ value: T; scrypts: number }> {
  const before = scryptCallCount();
  const value = await fn();
  return { value, scrypts: scryptCallCount() - before };
}

describe('auth hardening from issue 5 item 6', () => {
  it('wrong secrets for a known key id get 429 after the limit, while another tenant\'s valid key still gets 200 at the cost of one check', async () => {
    const victim = await createApiKey(pool, 'victim');
    const other = await createApiKey(pool, 'other-tenant');
    const guard = new AuthGuard({ maxFailuresPerKeyId: 5, maxFailuresPerAddress: 1000 });
    const app = await whoamiApp(createKeyVerifier(pool), guard);

    // The victim's own client was verified before the attack (cached as valid).
    expect((await call(app, victim.key, '10.9.9.9')).statusCode).toBe(200);

    // A burst of 40 at once (verifications in flight count against the limit): exactly 5 are checked.
    const first = await scryptsDuring(async () => Promise.all(Array.from({ length: 40 }, () => call(app, wrongSecret(victim.key)))));
    const codes = first.value.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 401)).toHaveLength(5);
    expect(codes.filter((c) => c === 429)).toHaveLength(35);
    expect(first.scrypts).toBe(5);

    const rest = await scryptsDuring(async () => {
      const out = [];
      for (let i = 0; i < 50; i++) out.push(await call(app, wrongSecret(victim.key)));
      return out;
    });
    expect(rest.scrypts).toBe(0); // no scrypt once the key id is over its limit
    for (const r of rest.value) {
      expect(r.statusCode).toBe(429);
      expect(r.json().error.code).toBe('VIGIL_ERR_AUTH_RATE_LIMITED');
      const retryAfter = Number(r.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
    // The limit is per key id: from another address too.
    expect((await call(app, wrongSecret(victim.key), '10.0.0.77')).statusCode).toBe(429);

    // Another tenant's valid key, never seen before, from the attacker's own address: 200 after exactly one check.
    const cold = await scryptsDuring(() => call(app, other.key));
    expect(cold.value.statusCode).toBe(200);
    expect(cold.value.json()).toEqual({ tenant: 'other-tenant' });
    expect(cold.scrypts).toBe(1);
    // The victim's cached valid key keeps working during the lockout, with no scrypt.
    const owner = await scryptsDuring(() => call(app, victim.key, '10.9.9.9'));
    expect([owner.value.statusCode, owner.scrypts]).toEqual([200, 0]);
  });

  it('limits failed checks per source address (IPv6 per /64), and the limit ends with its window', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const valid = await createApiKey(pool, 'addr-tenant');
    const guard = new AuthGuard({ maxFailuresPerAddress: 4, maxFailuresPerKeyId: 1000, windowMs: 60_000 });
    const app = await whoamiApp(createKeyVerifier(pool), guard);

    const codes = [];
    for (let i = 0; i < 8; i++) codes.push((await call(app, unknownKey(), i % 2 ? '2001:db8::1' : '2001:db8::2')).statusCode);
    expect(codes).toEqual([401, 401, 401, 401, 429, 429, 429, 429]);
    // Malformed tokens count against the address too.
    expect((await call(app, 'not-a-vigil-key', '2001:db8::3')).statusCode).toBe(429);
    // Another /64, and a valid cold key from another address, are unaffected.
    expect((await call(app, unknownKey(), '2001:db8:0:1::1')).statusCode).toBe(401);
    expect((await call(app, valid.key, '192.0.2.10')).statusCode).toBe(200);
    // The blocked address gets 429 for a cold valid key too (it could be a guess) ...
    const fresh = await createApiKey(pool, 'addr-tenant');
    expect((await call(app, fresh.key, '2001:db8::9')).statusCode).toBe(429);
    // ... a cached valid key passes, and so does one whose cache entry expired but that verified recently.
    expect((await call(app, valid.key, '2001:db8::9')).statusCode).toBe(200);
    clearKeyCache(pool);
    const recheck = await scryptsDuring(() => call(app, valid.key, '2001:db8::9'));
    expect([recheck.value.statusCode, recheck.scrypts]).toEqual([200, 1]);

    vi.setSystemTime(Date.now() + 60_001);
    expect((await call(app, fresh.key, '2001:db8::9')).statusCode).toBe(200);
    expect((await call(app, unknownKey(), '2001:db8::9')).statusCode).toBe(401);
  });

  it('an unknown key id costs the same work as a known key id with a wrong secret', async () => {
    const known = await createApiKey(pool, 'timing');
    const revoked = await createApiKey(pool, 'timing');
    await revokeApiKey(pool, revoked.keyId);
    const queries = vi.spyOn(pool, 'query');
    const work = async (key: string) => {
      queries.mockClear();
      const { value, scrypts } = await scryptsDuring(() => verifyApiKey(pool, key));
      return { value, scrypts, queries: queries.mock.calls.length };
    };
    const wrong = await work(wrongSecret(known.key));
    const unknown = await work(unknownKey());
    const revokedWork = await work(revoked.key);
    queries.mockRestore();
    expect(wrong).toEqual({ value: null, scrypts: 1, queries: 1 });
    expect(unknown).toEqual(wrong);
    expect(revokedWork).toEqual(wrong);

    // Through the guarded hook: identical answers and work, and a repeat costs nothing for either.
    const app = await whoamiApp(createKeyVerifier(pool), new AuthGuard());
    const k1 = wrongSecret(known.key);
    const k2 = unknownKey();
    for (const round of [1, 2]) {
      const a = await scryptsDuring(() => call(app, k1));
      const b = await scryptsDuring(() => call(app, k2));
      expect([a.value.statusCode, b.value.statusCode]).toEqual([401, 401]);
      expect(a.value.body).toBe(b.value.body);
      expect(a.value.json().error.message).toBe(UNKNOWN_KEY_MESSAGE);
      expect(a.value.headers['www-authenticate']).toBe(b.value.headers['www-authenticate']);
      expect([a.scrypts, b.scrypts]).toEqual(round === 1 ? [1, 1] : [0, 0]);
    }
  });

  it('the failure cache is bounded (oldest evicted) and expires', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const calls: string[] = [];
    const verifier: KeyVerifier = {
      verify: async (k) => {
        calls.push(k);
        return null;
      },
    };
    const guard = new AuthGuard({ failureCacheSize: 3, failureCacheTtlMs: 10_000, maxFailuresPerAddress: 1000, maxFailuresPerKeyId: 1000 });
    const app = await whoamiApp(verifier, guard);
    const keys = Array.from({ length: 5 }, () => unknownKey());
    for (const k of keys) expect((await call(app, k)).statusCode).toBe(401);
    expect(guard.failureCacheSize).toBe(3);
    calls.length = 0;
    expect((await call(app, keys[4]!)).statusCode).toBe(401); // cached
    expect((await call(app, keys[2]!)).statusCode).toBe(401); // cached
    expect(calls).toEqual([]);
    expect((await call(app, keys[0]!)).statusCode).toBe(401); // evicted: checked again
    expect(calls).toEqual([keys[0]]);
    expect(guard.failureCacheSize).toBe(3);
    for (let i = 0; i < 100; i++) await call(app, unknownKey());
    expect(guard.failureCacheSize).toBe(3);

    calls.length = 0;
    const newest = unknownKey();
    await call(app, newest);
    vi.setSystemTime(Date.now() + 10_001);
    await call(app, newest);
    expect(calls).toEqual([newest, newest]); // expired: checked again
  });

  it('bounds concurrent verifications: beyond the queue, 429 with Retry-After 1', async () => {
    const pending: Array<() => void> = [];
    const verifier: KeyVerifier = {
      verify: (k) =>
        new Promise((resolve) => {
          pending.push(() => resolve(k.endsWith('ok') ? { projectId: 'slow' } : null));
        }),
    };
    const guard = new AuthGuard({ maxConcurrentChecks: 1, maxQueuedChecks: 1 });
    const app = await whoamiApp(verifier, guard);
    const r1 = call(app, 'first-ok');
    await vi.waitFor(() => expect(guard.checks).toEqual({ running: 1, queued: 0 }));
    const r2 = call(app, 'second-ok');
    await vi.waitFor(() => expect(guard.checks).toEqual({ running: 1, queued: 1 }));
    const r3 = await call(app, 'third-ok');
    expect([r3.statusCode, r3.headers['retry-after'], r3.json().error.code]).toEqual([429, '1', 'VIGIL_ERR_AUTH_RATE_LIMITED']);
    pending.shift()!();
    expect((await r1).statusCode).toBe(200);
    await vi.waitFor(() => expect(pending).toHaveLength(1));
    pending.shift()!();
    expect((await r2).statusCode).toBe(200);
    expect(guard.checks).toEqual({ running: 0, queued: 0 });
  });

  it('protects ingest (OTLP and native, one shared limit) and the query API with the default guard', async () => {
    const victim = await createApiKey(pool, 'shared-victim');
    const other = await createApiKey(pool, 'shared-other');
    const keys = createKeyVerifier(pool);
    expect(createKeyVerifier(pool)).toBe(keys); // one verifier (and guard) per pool
    const ingest = buildIngestApp({
      log: createLogger('silent'),
      publisher: createInProcessPublisher(async () => {}),
      keys,
      limits: { maxBodyBytes: 64 * 1024, maxInflightBytes: 1024 * 1024, maxInflightRequests: 16, maxEventLoopDelayMs: 0 },
    });
    const query = buildQueryApp({ log: createLogger('silent'), clickhouse: await createTestClickHouse(), keys });
    apps.push(ingest, query);
    const otlp = (key: string) =>
      ingest.inject({ method: 'POST', url: '/v1/traces', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, payload: '{}' });
    const span = { trace_id: 'ab'.repeat(16), span_id: 'cd'.repeat(8), name: 'op', service: 'svc', start_time: Date.now() - 1000, duration_ms: 5 };
    const native = (key: string) =>
      ingest.inject({ method: 'POST', url: '/api/v1/ingest/spans', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, payload: [span] });
    const traces = (key: string) => query.inject({ method: 'GET', url: '/api/v1/traces', headers: { authorization: `Bearer ${key}` } });

    // Default: 10 failures per key id per minute, counted across OTLP and native.
    for (let i = 0; i < 5; i++) expect((await otlp(wrongSecret(victim.key))).statusCode).toBe(401);
    for (let i = 0; i < 5; i++) expect((await native(wrongSecret(victim.key))).statusCode).toBe(401);
    const limited = await otlp(wrongSecret(victim.key));
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.json().message).toMatch(/too many failed API-key checks for this key id/); // google.rpc.Status JSON
    expect((await native(wrongSecret(victim.key))).statusCode).toBe(429);
    expect((await traces(wrongSecret(victim.key))).statusCode).toBe(429);
    expect((await traces(wrongSecret(victim.key))).json().error.code).toBe('VIGIL_ERR_AUTH_RATE_LIMITED');

    // Another tenant is unaffected on every app.
    expect((await otlp(other.key)).statusCode).toBe(200);
    expect((await native(other.key)).statusCode).toBe(200);
    expect((await traces(other.key)).statusCode).toBe(200);
  });
});
