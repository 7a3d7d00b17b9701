import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clearKeyCache,
  createApiKey,
  createKeyVerifier,
  ensureApiKey,
  parseApiKey,
  revokeApiKey,
  verifyApiKey,
} from '../../platform/auth/keys.js';
import { addAuthHook, authPlugin, MISSING_KEY_MESSAGE, UNKNOWN_KEY_MESSAGE, type KeyVerifier } from '../../platform/auth/plugin.js';
import { VigilError } from '../../platform/errors.js';
import { createLogger } from '../../platform/logger.js';
import { migratePostgres } from '../../platform/migrate.js';
import { createTestDatabase } from '../support/harness.js';

let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: await createTestDatabase(), max: 4 });
  await migratePostgres(pool, { log: createLogger('silent') });
});

afterAll(async () => {
  await pool.end();
});

async function rejection(p: Promise<unknown>): Promise<VigilError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VigilError);
  return err as VigilError;
}

/** Same key id, different (valid) secret. */
function withOtherSecret(key: string): string {
  const p = parseApiKey(key)!;
  const other = p.secret[0] === 'A' ? 'B' : 'A';
  return `vgl_${p.keyId}_${other}${p.secret.slice(1)}`;
}

describe('API keys', () => {
  it('creates a key in the documented format that verifies to its project', async () => {
    const created = await createApiKey(pool, 'proj-a');
    expect(created.key).toMatch(/^vgl_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
    expect(created.projectId).toBe('proj-a');
    expect(created.key.startsWith(`vgl_${created.keyId}_`)).toBe(true);
    expect(await verifyApiKey(pool, created.key)).toEqual({ projectId: 'proj-a' });
    // Cached second verification answers the same.
    expect(await verifyApiKey(pool, created.key)).toEqual({ projectId: 'proj-a' });
    // A concurrent burst on a cold cache (shared in-flight verification) agrees too.
    clearKeyCache(pool);
    const burst = await Promise.all(Array.from({ length: 20 }, () => verifyApiKey(pool, created.key)));
    expect(burst).toEqual(Array.from({ length: 20 }, () => ({ projectId: 'proj-a' })));
    const project = await pool.query('SELECT id, name FROM projects WHERE id = $1', ['proj-a']);
    expect(project.rows).toEqual([{ id: 'proj-a', name: 'proj-a' }]);
    const used = await pool.query('SELECT last_used_at FROM api_keys WHERE key_id = $1', [created.keyId]);
    expect(used.rows[0].last_used_at).toBeInstanceOf(Date);
  });

  it('rejects a wrong secret, an unknown key and malformed input', async () => {
    const created = await createApiKey(pool, 'proj-b');
    expect(await verifyApiKey(pool, withOtherSecret(created.key))).toBeNull();
    expect(await verifyApiKey(pool, `vgl_000000000000_${'A'.repeat(32)}`)).toBeNull();
    expect(await verifyApiKey(pool, 'not-a-key')).toBeNull();
    expect(await verifyApiKey(pool, '')).toBeNull();
    expect(await verifyApiKey(pool, `${created.key}x`)).toBeNull();
  });

  it('rejects revoked keys, even after a cached success', async () => {
    const created = await createApiKey(pool, 'proj-c');
    expect(await verifyApiKey(pool, created.key)).toEqual({ projectId: 'proj-c' });
    expect(await revokeApiKey(pool, created.keyId)).toBe(true);
    expect(await verifyApiKey(pool, created.key)).toBeNull();
    expect(await revokeApiKey(pool, created.keyId)).toBe(false);

    // Revoked directly in the database (another process): fails once the cache is gone.
    const other = await createApiKey(pool, 'proj-c');
    await pool.query('UPDATE api_keys SET revoked_at = now() WHERE key_id = $1', [other.keyId]);
    clearKeyCache(pool);
    expect(await verifyApiKey(pool, other.key)).toBeNull();
  });

  it('stores only salted hashes, never the secret', async () => {
    const created = await createApiKey(pool, 'proj-d');
    const secret = parseApiKey(created.key)!.secret;
    const res = await pool.query('SELECT * FROM api_keys WHERE key_id = $1', [created.keyId]);
    expect(res.rows).toHaveLength(1);
    const row = res.rows[0] as Record<string, unknown>;
    expect((row.salt as Buffer).length).toBe(16);
    expect((row.hash as Buffer).length).toBe(32);
    const dump = JSON.stringify(row, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('latin1') : v));
    expect(dump).not.toContain(secret);
    expect(dump).not.toContain(created.key);
    for (const value of Object.values(row)) {
      if (Buffer.isBuffer(value)) {
        expect(value.includes(Buffer.from(secret))).toBe(false);
        expect(value.includes(Buffer.from(secret, 'base64url'))).toBe(false);
      }
    }
    // Two keys never share a salt.
    const again = await createApiKey(pool, 'proj-d');
    const salts = await pool.query('SELECT salt FROM api_keys WHERE key_id = ANY($1)', [[created.keyId, again.keyId]]);
    expect((salts.rows[0].salt as Buffer).equals(salts.rows[1].salt as Buffer)).toBe(false);
  });

  it('ensureApiKey makes a given key valid, idempotently', async () => {
    const key = `vgl_abcdef012345_${'Zz09_-'.repeat(5)}ab`;
    expect(await ensureApiKey(pool, 'configured', key)).toEqual({ keyId: 'abcdef012345', projectId: 'configured', created: true });
    expect(await ensureApiKey(pool, 'configured', key)).toEqual({ keyId: 'abcdef012345', projectId: 'configured', created: false });
    const count = await pool.query("SELECT count(*)::int AS n FROM api_keys WHERE key_id = 'abcdef012345'");
    expect(count.rows[0].n).toBe(1);
    expect(await verifyApiKey(pool, key)).toEqual({ projectId: 'configured' });
  });

  it('ensureApiKey explains malformed and conflicting keys', async () => {
    const malformed = await rejection(ensureApiKey(pool, 'configured', 'vgl_short_secret'));
    expect(malformed.code).toBe('VIGIL_ERR_VALIDATION');
    expect(malformed.message).toMatch(/vgl_<12 lowercase hex>_<32 base64url characters>/);

    const key = `vgl_0123456789ab_${'q'.repeat(32)}`;
    await ensureApiKey(pool, 'one', key);
    const otherProject = await rejection(ensureApiKey(pool, 'two', key));
    expect(otherProject.code).toBe('VIGIL_ERR_VALIDATION');
    expect(otherProject.message).toContain('belongs to project "one"');
    const otherSecret = await rejection(ensureApiKey(pool, 'one', withOtherSecret(key)));
    expect(otherSecret.code).toBe('VIGIL_ERR_VALIDATION');

    const badProject = await rejection(createApiKey(pool, 'no spaces please'));
    expect(badProject.code).toBe('VIGIL_ERR_VALIDATION');
  });
});

describe('auth plugin', () => {
  let app: FastifyInstance;
  let key: string;

  beforeAll(async () => {
    key = (await createApiKey(pool, 'tenant-x')).key;
    app = Fastify();
    await app.register(authPlugin, { verifier: createKeyVerifier(pool) });
    app.get('/whoami', async (request) => ({ tenant: request.tenant }));
    app.get('/healthz', async (request) => ({ ok: true, tenant: request.tenant }));
    await app.ready();
  });

  afterAll(async () => {
    await app.close();
  });

  it('answers 401 JSON without a key', async () => {
    const res = await app.inject({ method: 'GET', url: '/whoami' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.json()).toEqual({ error: { code: 'VIGIL_ERR_UNAUTHORIZED', message: MISSING_KEY_MESSAGE } });
    expect(MISSING_KEY_MESSAGE).toContain('vigil keys create --project NAME');

    const basic = await app.inject({ method: 'GET', url: '/whoami', headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    expect(basic.statusCode).toBe(401);
    expect(basic.json().error.message).toBe(MISSING_KEY_MESSAGE);
  });

  it('answers 401 JSON for an unknown or wrong key', async () => {
    for (const bad of [withOtherSecret(key), 'vgl_nope', `vgl_ffffffffffff_${'A'.repeat(32)}`]) {
      const res = await app.inject({ method: 'GET', url: '/whoami', headers: { authorization: `Bearer ${bad}` } });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: { code: 'VIGIL_ERR_UNAUTHORIZED', message: UNKNOWN_KEY_MESSAGE } });
    }
  });

  it('passes a valid key and sets request.tenant', async () => {
    const res = await app.inject({ method: 'GET', url: '/whoami', headers: { authorization: `Bearer ${key}` } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ tenant: 'tenant-x' });
    const lower = await app.inject({ method: 'GET', url: '/whoami', headers: { authorization: `bearer ${key}` } });
    expect(lower.json()).toEqual({ tenant: 'tenant-x' });
  });

  it('exempts health routes (with query strings)', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz?verbose=1' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true, tenant: '' });
  });

  it('applies to routes of the registering instance and honours custom exemptions (addAuthHook)', async () => {
    const calls: string[] = [];
    const verifier: KeyVerifier = {
      verify: async (k) => {
        calls.push(k);
        return k === 'static-test-key' ? { projectId: 'static' } : null;
      },
    };
    const inner = Fastify();
    addAuthHook(inner, { verifier, exempt: (req) => req.url.startsWith('/public') });
    inner.get('/public/info', async () => ({ open: true }));
    await inner.register(async (child) => {
      child.get('/child', async (request) => ({ tenant: request.tenant }));
    });
    try {
      expect((await inner.inject({ url: '/public/info' })).statusCode).toBe(200);
      expect((await inner.inject({ url: '/child' })).statusCode).toBe(401);
      const ok = await inner.inject({ url: '/child', headers: { authorization: 'Bearer static-test-key' } });
      expect(ok.json()).toEqual({ tenant: 'static' });
      expect(calls).toEqual(['static-test-key']);
    } finally {
      await inner.close();
    }
  });
});
