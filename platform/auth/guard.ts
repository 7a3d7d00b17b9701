/**
 * Auth guard: what stands between a bearer token and the (expensive, ~40 ms of
 * scrypt) key verification, so that failed authentication can neither saturate
 * the server nor tell which key ids exist (issue 5 item 6).
 *
 * For every request with a bearer token, in this order:
 * 1. A key the verifier has cached as valid (`KeyVerifier.cached`) passes at
 *    once — never limited, so a tenant keeps working while someone else hammers
 *    its address or key id.
 * 2. A token that failed within {@link AuthGuardOptions.failureCacheTtlMs}
 *    answers 401 from the bounded failure cache, without verification.
 * 3. Rate limits on *failed* verifications (fixed windows, @fastify/rate-limit
 *    stores): per source address (IPv6 by /64) and per key id (`vgl_<id>_…`).
 *    Failures recorded plus verifications in flight at or over the limit →
 *    429 VIGIL_ERR_AUTH_RATE_LIMITED with Retry-After (seconds to the window's end),
 *    except for a token that verified as valid within
 *    {@link AuthGuardOptions.recentValidTtlMs} (its verifier cache entry may have
 *    expired): it is checked again, so a tenant sharing an address with an
 *    attacker is not locked out.
 * 4. At most {@link AuthGuardOptions.maxConcurrentChecks} verifications run at
 *    once (scrypt shares libuv's thread pool with gzip and file I/O); up to
 *    {@link AuthGuardOptions.maxQueuedChecks} wait; beyond that → 429, Retry-After 1.
 * 5. The verification; a failure is counted against both limits and cached.
 *
 * Unknown key ids and known ids with a wrong secret take exactly the same path
 * here, and keys.ts makes them cost the same (one scrypt against a dummy hash).
 * Behind a proxy, configure Fastify's `trustProxy` so `request.ip` is the client.
 */
import { createHash } from 'node:crypto';
import { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { UnauthorizedError, VigilError } from '../errors.js';
import { parseApiKey, type KeyVerifier } from './keys.js';

/** Limits of an {@link AuthGuard}. Counts per window; times in ms. */
export interface AuthGuardOptions {
  /** Failed verifications per source address per window before 429 (default 30). */
  maxFailuresPerAddress: number;
  /** Failed verifications per key id per window before 429 (default 10). */
  maxFailuresPerKeyId: number;
  /** Rate-limit window, ms (default 60 000). */
  windowMs: number;
  /** Most tokens remembered as failed (LRU; default 10 000). */
  failureCacheSize: number;
  /** How long a failed token answers 401 without verification, ms (default 60 000). */
  failureCacheTtlMs: number;
  /** How long a token that verified as valid bypasses the rate limits, ms (default 600 000; same LRU size). */
  recentValidTtlMs: number;
  /** Verifications running at once (default 2). */
  maxConcurrentChecks: number;
  /** Verifications waiting for a slot before 429 (default 256). */
  maxQueuedChecks: number;
  /** Addresses / key ids each rate-limit store remembers (LRU; default 10 000). */
  limiterEntries: number;
  /** IPv6 prefix length that counts as one address (default 64). */
  ipv6Subnet: number;
}

export const DEFAULT_AUTH_GUARD_OPTIONS: Readonly<AuthGuardOptions> = Object.freeze({
  maxFailuresPerAddress: 30,
  maxFailuresPerKeyId: 10,
  windowMs: 60_000,
  failureCacheSize: 10_000,
  failureCacheTtlMs: 60_000,
  recentValidTtlMs: 600_000,
  maxConcurrentChecks: 2,
  maxQueuedChecks: 256,
  limiterEntries: 10_000,
  ipv6Subnet: 64,
});

export const MISSING_KEY_MESSAGE =
  'missing API key: send Authorization: Bearer <key> (create one with `vigil keys create --project NAME`)';
export const UNKNOWN_KEY_MESSAGE = 'unknown or revoked API key';

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;
type LimitState = Awaited<ReturnType<Limiter>>;

/** Bounded insertion-ordered set with per-entry expiry (oldest evicted first). */
class ExpiringSet {
  private readonly entries = new Map<string, number>();
  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
  ) {}

  has(k: string, now: number): boolean {
    const expiresAt = this.entries.get(k);
    if (expiresAt === undefined) return false;
    if (expiresAt > now) return true;
    this.entries.delete(k);
    return false;
  }

  add(k: string, now: number): void {
    this.entries.delete(k);
    this.entries.set(k, now + this.ttlMs);
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Counting semaphore with a bounded queue. */
class Gate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(
    private readonly max: number,
    private readonly maxQueued: number,
  ) {}

  /** Holders of a slot and waiters. */
  get state(): { running: number; queued: number } {
    return { running: this.running, queued: this.waiting.length };
  }

  /** @returns a release function (call once), or undefined when the queue is full. */
  async enter(): Promise<(() => void) | undefined> {
    if (this.running < this.max) this.running += 1;
    else if (this.waiting.length >= this.maxQueued) return undefined;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the slot is handed over
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running -= 1;
    };
  }
}

/** Count per key of verifications in flight (released in `finally`, so it cannot leak). */
class InFlight {
  private readonly counts = new Map<string, number>();
  get(k: string): number {
    return this.counts.get(k) ?? 0;
  }
  add(k: string): void {
    this.counts.set(k, this.get(k) + 1);
  }
  remove(k: string): void {
    const n = this.get(k) - 1;
    if (n <= 0) this.counts.delete(k);
    else this.counts.set(k, n);
  }
}

function rateLimited(message: string, retryAfterSeconds: number): VigilError {
  return new VigilError('VIGIL_ERR_AUTH_RATE_LIMITED', message, { retryAfterSeconds: Math.max(1, retryAfterSeconds) });
}

/**
 * Rate limits, failure cache and concurrency bound in front of a {@link KeyVerifier}
 * (see module doc). One guard may serve several Fastify instances; its rate-limit
 * stores come from the first instance that authenticates a request (they are
 * plain LRU maps, independent of that instance's lifecycle).
 */
export class AuthGuard {
  readonly options: Readonly<AuthGuardOptions>;
  private readonly failures: ExpiringSet;
  private readonly recentValid: ExpiringSet;
  private readonly gate: Gate;
  private readonly inflight = new InFlight();
  private limiters: { address: Limiter; keyId: Limiter } | undefined;

  /** @param options overrides of {@link DEFAULT_AUTH_GUARD_OPTIONS}. */
  constructor(options: Partial<AuthGuardOptions> = {}) {
    this.options = Object.freeze({ ...DEFAULT_AUTH_GUARD_OPTIONS, ...options });
    this.failures = new ExpiringSet(this.options.failureCacheSize, this.options.failureCacheTtlMs);
    this.recentValid = new ExpiringSet(this.options.failureCacheSize, this.options.recentValidTtlMs);
    this.gate = new Gate(this.options.maxConcurrentChecks, this.options.maxQueuedChecks);
  }

  /** Verifications running and waiting for a slot now (≤ maxConcurrentChecks, ≤ maxQueuedChecks). */
  get checks(): { running: number; queued: number } {
    return this.gate.state;
  }

  /** Tokens currently remembered as failed (≤ failureCacheSize). */
  get failureCacheSize(): number {
    return this.failures.size;
  }

  /**
   * Authenticate `request` by its `Authorization: Bearer <key>` header.
   * @param app a Fastify instance with @fastify/rate-limit registered (addAuthHook does that).
   * @returns the project id (tenant) of the key.
   * @throws UnauthorizedError (401) for a missing, malformed, unknown, revoked or wrong key;
   *   VigilError VIGIL_ERR_AUTH_RATE_LIMITED (429, retryAfterSeconds) when a limit applies;
   *   whatever the verifier throws (e.g. VIGIL_ERR_POSTGRES_UNAVAILABLE).
   */
  async authenticate(app: FastifyInstance, request: FastifyRequest, verifier: KeyVerifier): Promise<string> {
    const token = bearerToken(request.headers.authorization);
    if (token === undefined) throw new UnauthorizedError(MISSING_KEY_MESSAGE);
    const hit = verifier.cached?.(token);
    if (hit !== undefined) return hit.projectId;

    const tokenHash = createHash('sha256').update(token).digest('base64');
    if (this.failures.has(tokenHash, Date.now())) throw new UnauthorizedError(UNKNOWN_KEY_MESSAGE);

    const limiters = this.limitersFor(app);
    const addressKey = `addr:${normalizeIP(request.ip, this.options.ipv6Subnet)}`;
    const keyId = parseApiKey(token)?.keyId;
    const keyIdKey = keyId === undefined ? undefined : `kid:${keyId}`;
    const [byAddress, byKeyId] = await Promise.all([
      limiters.address(request, { increment: false }),
      keyIdKey === undefined ? undefined : limiters.keyId(request, { increment: false }),
    ]);
    // From here to inflight.add() nothing awaits, so concurrent requests see each other.
    const used = (state: LimitState | undefined): { current: number; ttl: number } =>
      state === undefined || state.isAllowed ? { current: 0, ttl: 0 } : { current: state.max - state.remaining, ttl: state.ttl };
    const a = used(byAddress);
    const trusted = this.recentValid.has(tokenHash, Date.now());
    if (!trusted && a.current + this.inflight.get(addressKey) >= this.options.maxFailuresPerAddress) {
      throw rateLimited(
        `too many failed API-key checks from this address (limit ${this.options.maxFailuresPerAddress} per ${this.options.windowMs / 1000} s); fix the key and retry later`,
        Math.ceil((a.ttl || this.options.windowMs) / 1000),
      );
    }
    if (!trusted && keyIdKey !== undefined) {
      const k = used(byKeyId);
      if (k.current + this.inflight.get(keyIdKey) >= this.options.maxFailuresPerKeyId) {
        throw rateLimited(
          `too many failed API-key checks for this key id (limit ${this.options.maxFailuresPerKeyId} per ${this.options.windowMs / 1000} s); fix the key and retry later`,
          Math.ceil((k.ttl || this.options.windowMs) / 1000),
        );
      }
    }
    this.inflight.add(addressKey);
    if (keyIdKey !== undefined) this.inflight.add(keyIdKey);
    try {
      const release = await this.gate.enter();
      if (release === undefined) throw rateLimited('too many API-key checks waiting; retry later', 1);
      let found: { projectId: string } | null;
      try {
        found = await verifier.verify(token);
      } finally {
        release();
      }
      if (found !== null) {
        this.recentValid.add(tokenHash, Date.now());
        return found.projectId;
      }
      this.failures.add(tokenHash, Date.now());
      await Promise.all([limiters.address(request), keyIdKey === undefined ? undefined : limiters.keyId(request)]);
      throw new UnauthorizedError(UNKNOWN_KEY_MESSAGE);
    } finally {
      this.inflight.remove(addressKey);
      if (keyIdKey !== undefined) this.inflight.remove(keyIdKey);
    }
  }

  private limitersFor(app: FastifyInstance): { address: Limiter; keyId: Limiter } {
    if (this.limiters === undefined) {
      const common = {
        timeWindow: this.options.windowMs,
        // Read by the LocalStore a limiter creates (@fastify/rate-limit README, "cache").
        cache: this.options.limiterEntries,
      } as const;
      const subnet = this.options.ipv6Subnet;
      this.limiters = {
        address: app.createRateLimit({
          ...common,
          max: this.options.maxFailuresPerAddress,
          keyGenerator: (req) => `addr:${normalizeIP(req.ip, subnet)}`,
        }),
        keyId: app.createRateLimit({
          ...common,
          max: this.options.maxFailuresPerKeyId,
          keyGenerator: (req) => `kid:${parseApiKey(bearerToken(req.headers.authorization) ?? '')?.keyId ?? ''}`,
        }),
      };
    }
    return this.limiters;
  }
}

/** Extract the bearer token, or undefined when the header is absent or not `Bearer <token>`. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}
