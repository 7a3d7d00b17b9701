/**
 * Project API keys.
 *
 * Format: `vgl_<keyId>_<secret>` — keyId is 12 lowercase hex characters (public,
 * the lookup key), secret is 32 base64url characters (24 random bytes). Only
 * `scrypt(secret, salt, 32)` with a random 16-byte salt is stored (table
 * `api_keys`); the plaintext key is shown once at creation.
 *
 * Verification compares hashes with `timingSafeEqual` and keeps a bounded
 * per-pool cache of positive results (at most 10 000 keys, 60 s each, keyed by
 * sha256 of the key) so ingest does not run scrypt per request. A key revoked
 * by another process therefore keeps working here for up to 60 s;
 * {@link revokeApiKey} clears this process's cache at once.
 *
 * Constant work: a key id that does not exist (or is revoked) costs the same
 * database lookup and one scrypt against a dummy hash, exactly like a known key
 * id with a wrong secret, so the answer time does not tell which key ids exist.
 * Failed checks are rate-limited and cached by the auth guard
 * (platform/auth/guard.ts), not here.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import { ValidationError, VigilError } from '../errors.js';

/** Resolves an API key to its project (tenant), or null when unknown or revoked. */
export interface KeyVerifier {
  verify(key: string): Promise<{ projectId: string } | null>;
  /**
   * Optional memory-only answer: the project when `key` was verified recently
   * (a cache hit), undefined when {@link verify} would have to do work. Never does
   * I/O or hashing. The auth guard lets cached keys through even while a rate
   * limit applies to their source address or key id.
   */
  cached?(key: string): { projectId: string } | undefined;
}

/** A key as created: `key` is the only copy of the secret. */
export interface CreatedApiKey {
  key: string;
  keyId: string;
  projectId: string;
}

const KEY_RE = /^vgl_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/;
const PROJECT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const CACHE_MAX = 10_000;
const CACHE_TTL_MS = 60_000;

/** Split a key into its parts, or null when it is not `vgl_<12 hex>_<32 base64url>`. */
export function parseApiKey(key: string): { keyId: string; secret: string } | null {
  const m = KEY_RE.exec(key);
  return m === null ? null : { keyId: m[1]!, secret: m[2]! };
}

let scryptCalls = 0;

/**
 * How many scrypt derivations this process has started (creation, ensure and
 * verification), for tests and metrics: every failed uncached verification costs
 * exactly one, whether or not its key id exists.
 */
export function scryptCallCount(): number {
  return scryptCalls;
}

function hashSecret(secret: string, salt: Buffer): Promise<Buffer> {
  scryptCalls += 1;
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, HASH_BYTES, (err, derived) => (err ? reject(err) : resolve(derived)));
  });
}

function checkProject(project: string): void {
  if (!PROJECT_RE.test(project)) {
    throw new ValidationError('project', `${JSON.stringify(project)} is not a valid project id: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
}

function pgUnavailable(err: unknown): VigilError {
  if (err instanceof VigilError) return err;
  return new VigilError('VIGIL_ERR_POSTGRES_UNAVAILABLE', `API key lookup failed: ${(err as Error).message}`, { cause: err, retryAfterSeconds: 5 });
}

async function ensureProject(pool: pg.Pool, project: string): Promise<void> {
  await pool.query('INSERT INTO projects (id, name) VALUES ($1, $1) ON CONFLICT (id) DO NOTHING', [project]);
}

/**
 * Create a new key for `project` (creating the project when missing).
 * @param opts.admin an admin key (api_keys.admin): may use /api/v1/admin for every project; default false.
 * @returns the plaintext key (show once; only its hash is stored), keyId and projectId.
 * @throws ValidationError (VIGIL_ERR_VALIDATION) for a malformed project id.
 */
export async function createApiKey(pool: pg.Pool, project: string, opts: { admin?: boolean } = {}): Promise<CreatedApiKey> {
  checkProject(project);
  await ensureProject(pool, project);
  const keyId = randomBytes(6).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  const salt = randomBytes(SALT_BYTES);
  const hash = await hashSecret(secret, salt);
  await pool.query('INSERT INTO api_keys (project_id, key_id, salt, hash, admin) VALUES ($1, $2, $3, $4, $5)', [project, keyId, salt, hash, opts.admin === true]);
  return { key: `vgl_${keyId}_${secret}`, keyId, projectId: project };
}

/**
 * Make sure exactly this key exists and is valid for `project` (for a key fixed
 * in configuration, `VIGIL_API_KEY`). Idempotent; creates the project if missing.
 * @returns keyId and projectId, and whether a row was inserted now.
 * @throws ValidationError (VIGIL_ERR_VALIDATION) when the key is malformed, its
 *   keyId already belongs to another project or secret, or it was revoked.
 */
export async function ensureApiKey(
  pool: pg.Pool,
  project: string,
  key: string,
): Promise<{ keyId: string; projectId: string; created: boolean }> {
  checkProject(project);
  const parsed = parseApiKey(key);
  if (parsed === null) {
    throw new ValidationError(
      'VIGIL_API_KEY',
      'malformed API key: expected vgl_<12 lowercase hex>_<32 base64url characters>; create one with `vigil keys create --project NAME`',
    );
  }
  await ensureProject(pool, project);
  const salt = randomBytes(SALT_BYTES);
  const hash = await hashSecret(parsed.secret, salt);
  const ins = await pool.query(
    'INSERT INTO api_keys (project_id, key_id, salt, hash) VALUES ($1, $2, $3, $4) ON CONFLICT (key_id) DO NOTHING',
    [project, parsed.keyId, salt, hash],
  );
  if (ins.rowCount === 1) return { keyId: parsed.keyId, projectId: project, created: true };

  const row = await findKey(pool, parsed.keyId);
  if (row === undefined) {
    // Deleted between the insert and the lookup: retry once from the top.
    return ensureApiKey(pool, project, key);
  }
  if (row.project_id !== project) {
    throw new ValidationError('VIGIL_API_KEY', `key id ${parsed.keyId} already belongs to project "${row.project_id}", not "${project}"`);
  }
  if (!(await secretMatches(parsed.secret, row))) {
    throw new ValidationError('VIGIL_API_KEY', `key id ${parsed.keyId} already exists with a different secret; choose a new key`);
  }
  if (row.revoked_at !== null) {
    throw new ValidationError('VIGIL_API_KEY', `key id ${parsed.keyId} was revoked; configure a new key (revocation is permanent)`);
  }
  return { keyId: parsed.keyId, projectId: project, created: false };
}

interface KeyRow {
  project_id: string;
  salt: Buffer;
  hash: Buffer;
  revoked_at: Date | null;
}

async function findKey(pool: pg.Pool, keyId: string): Promise<KeyRow | undefined> {
  const res = await pool.query<KeyRow>('SELECT project_id, salt, hash, revoked_at FROM api_keys WHERE key_id = $1', [keyId]);
  return res.rows[0];
}

/** Compared against when the key id is unknown or revoked, so those cost one scrypt too. */
const DUMMY_ROW: KeyRow = { project_id: '', salt: randomBytes(SALT_BYTES), hash: randomBytes(HASH_BYTES), revoked_at: null };

async function secretMatches(secret: string, row: KeyRow): Promise<boolean> {
  const candidate = await hashSecret(secret, row.salt);
  return candidate.length === row.hash.length && timingSafeEqual(candidate, row.hash);
}

/** Bounded insertion-ordered map used as an LRU with per-entry expiry. */
class PositiveCache {
  private readonly entries = new Map<string, { projectId: string; keyId: string; expiresAt: number }>();

  get(k: string, now: number): string | undefined {
    const e = this.entries.get(k);
    if (e === undefined) return undefined;
    this.entries.delete(k);
    if (e.expiresAt <= now) return undefined;
    this.entries.set(k, e); // move to most-recently-used
    return e.projectId;
  }

  set(k: string, keyId: string, projectId: string, now: number): void {
    this.entries.delete(k);
    this.entries.set(k, { projectId, keyId, expiresAt: now + CACHE_TTL_MS });
    while (this.entries.size > CACHE_MAX) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  dropKeyId(keyId: string): void {
    for (const [k, e] of this.entries) if (e.keyId === keyId) this.entries.delete(k);
  }

  clear(): void {
    this.entries.clear();
  }
}

const caches = new WeakMap<pg.Pool, PositiveCache>();
function cacheFor(pool: pg.Pool): PositiveCache {
  let c = caches.get(pool);
  if (c === undefined) {
    c = new PositiveCache();
    caches.set(pool, c);
  }
  return c;
}

/** Verifications in progress per pool, so a burst with one new key runs scrypt once. */
const inflight = new WeakMap<pg.Pool, Map<string, Promise<{ projectId: string } | null>>>();

/**
 * Resolve a key to its project.
 * @returns `{ projectId }`, or null for a malformed, unknown, wrong-secret or
 *   revoked key. Positive results are cached 60 s (see module doc).
 * @throws VigilError VIGIL_ERR_POSTGRES_UNAVAILABLE (retryable) when Postgres fails.
 */
export async function verifyApiKey(pool: pg.Pool, key: string): Promise<{ projectId: string } | null> {
  const parsed = parseApiKey(key);
  if (parsed === null) return null;
  const cache = cacheFor(pool);
  const cacheKey = createHash('sha256').update(key).digest('base64');
  const now = Date.now();
  const hit = cache.get(cacheKey, now);
  if (hit !== undefined) return { projectId: hit };

  let running = inflight.get(pool);
  if (running === undefined) {
    running = new Map();
    inflight.set(pool, running);
  }
  const pending = running.get(cacheKey);
  if (pending !== undefined) return pending;
  const task = verifyUncached(pool, parsed, cache, cacheKey);
  running.set(cacheKey, task);
  const map = running;
  try {
    return await task;
  } finally {
    map.delete(cacheKey);
  }
}

async function verifyUncached(
  pool: pg.Pool,
  parsed: { keyId: string; secret: string },
  cache: PositiveCache,
  cacheKey: string,
): Promise<{ projectId: string } | null> {
  let row: KeyRow | undefined;
  try {
    row = await findKey(pool, parsed.keyId);
  } catch (err) {
    throw pgUnavailable(err);
  }
  if (row === undefined || row.revoked_at !== null) {
    await secretMatches(parsed.secret, DUMMY_ROW); // same work as a wrong secret (module doc)
    return null;
  }
  if (!(await secretMatches(parsed.secret, row))) return null;
  try {
    await pool.query('UPDATE api_keys SET last_used_at = now() WHERE key_id = $1', [parsed.keyId]);
  } catch (err) {
    throw pgUnavailable(err);
  }
  cache.set(cacheKey, parsed.keyId, row.project_id, Date.now());
  return { projectId: row.project_id };
}

/**
 * Revoke a key by its keyId (permanent) and drop it from this process's cache.
 * @returns true when an active key was revoked now.
 */
export async function revokeApiKey(pool: pg.Pool, keyId: string): Promise<boolean> {
  const res = await pool.query('UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL', [keyId]);
  cacheFor(pool).dropKeyId(keyId);
  return res.rowCount === 1;
}

/**
 * Whether `key` — already verified (e.g. by the auth hook) — is an active admin key.
 * Looks only at its key id (no scrypt); one Postgres query per call.
 * @returns false for a malformed, unknown, revoked or non-admin key.
 * @throws VigilError VIGIL_ERR_POSTGRES_UNAVAILABLE when Postgres fails.
 */
export async function isAdminKey(pool: pg.Pool, key: string): Promise<boolean> {
  const parsed = parseApiKey(key);
  if (parsed === null) return false;
  try {
    const res = await pool.query<{ admin: boolean }>('SELECT admin FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL', [parsed.keyId]);
    return res.rows[0]?.admin === true;
  } catch (err) {
    throw pgUnavailable(err);
  }
}

/** Forget every cached verification for `pool` (tests, key rotation). */
export function clearKeyCache(pool: pg.Pool): void {
  cacheFor(pool).clear();
}

/**
 * Memory-only lookup of `key` in the positive cache of `pool` (no I/O, no scrypt).
 * @returns `{ projectId }` when the key was verified within the last 60 s, else undefined.
 */
export function cachedApiKey(pool: pg.Pool, key: string): { projectId: string } | undefined {
  if (parseApiKey(key) === null) return undefined;
  const hit = cacheFor(pool).get(createHash('sha256').update(key).digest('base64'), Date.now());
  return hit === undefined ? undefined : { projectId: hit };
}

const verifiers = new WeakMap<pg.Pool, KeyVerifier>();

/**
 * The {@link KeyVerifier} of `pool`, backed by {@link verifyApiKey} and {@link cachedApiKey}.
 * One object per pool, so every app of the process that authenticates against the
 * same pool shares one auth guard (rate limits and failure cache, platform/auth/guard.ts).
 */
export function createKeyVerifier(pool: pg.Pool): KeyVerifier {
  let v = verifiers.get(pool);
  if (v === undefined) {
    v = { verify: (key) => verifyApiKey(pool, key), cached: (key) => cachedApiKey(pool, key) };
    verifiers.set(pool, v);
  }
  return v;
}
