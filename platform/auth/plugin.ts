/**
 * Fastify bearer-key authentication.
 *
 * Reads `Authorization: Bearer <key>`, resolves it with a {@link KeyVerifier}
 * behind an {@link AuthGuard} (rate limits on failed checks per source address
 * and per key id, a bounded cache of recent failures, bounded concurrent
 * verifications; see guard.ts) and sets `request.tenant` to the key's project
 * id. Missing or unknown keys get 401
 * `{ "error": { "code": "VIGIL_ERR_UNAUTHORIZED", "message": ... } }` with
 * `WWW-Authenticate: Bearer`; rate-limited ones 429
 * `{ "error": { "code": "VIGIL_ERR_AUTH_RATE_LIMITED", ... } }` with
 * `Retry-After`. With `errors: 'throw'` both are thrown as VigilErrors instead,
 * for route groups with their own error encoding (OTLP's google.rpc.Status).
 * Exempt paths (e.g. /healthz) pass with tenant ''.
 *
 * Every hook using the same verifier object shares one guard
 * ({@link guardFor}), so the OTLP and native route groups, and the query API
 * when it gets the same verifier, count failures together.
 *
 * Registered without encapsulation (`skip-override`), so the hook applies to
 * the routes of the instance that registers it:
 * `await app.register(authPlugin, { verifier, exempt: ['/healthz', '/readyz'] })`,
 * or call {@link addAuthHook} directly.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { UnauthorizedError, VigilError } from '../errors.js';
import { AuthGuard, bearerToken, MISSING_KEY_MESSAGE, UNKNOWN_KEY_MESSAGE } from './guard.js';
import type { KeyVerifier } from './keys.js';

export type { KeyVerifier } from './keys.js';
export { AuthGuard, bearerToken, MISSING_KEY_MESSAGE, UNKNOWN_KEY_MESSAGE };

declare module 'fastify' {
  interface FastifyRequest {
    /** Project id of the authenticated API key; '' on exempt routes. */
    tenant: string;
  }
}

export interface AuthOptions {
  verifier: KeyVerifier;
  /**
   * Paths (exact, without query string) or a predicate that skip authentication.
   * Default: `/healthz` and `/readyz`.
   */
  exempt?: readonly string[] | ((request: FastifyRequest) => boolean);
  /** The guard to use; default {@link guardFor}(verifier) with the default limits. */
  guard?: AuthGuard;
  /**
   * 'reply' (default): answer 401/429 as JSON here. 'throw': throw the
   * UnauthorizedError / VIGIL_ERR_AUTH_RATE_LIMITED VigilError (retryAfterSeconds set)
   * to the instance's error handler.
   */
  errors?: 'reply' | 'throw';
}

const DEFAULT_EXEMPT = ['/healthz', '/readyz'];

const guards = new WeakMap<KeyVerifier, AuthGuard>();

/**
 * The shared guard of `verifier` (created with the default limits on first use).
 * Hooks given the same verifier object share its rate limits and failure cache.
 */
export function guardFor(verifier: KeyVerifier): AuthGuard {
  let g = guards.get(verifier);
  if (g === undefined) {
    g = new AuthGuard();
    guards.set(verifier, g);
  }
  return g;
}

function unauthorized(reply: FastifyReply, message: string): FastifyReply {
  return reply
    .code(401)
    .header('www-authenticate', 'Bearer')
    .send({ error: { code: 'VIGIL_ERR_UNAUTHORIZED', message } });
}

/**
 * Add the authentication onRequest hook to `app` (and its child contexts), and
 * register @fastify/rate-limit on `app` (global: false: it limits nothing by
 * itself; the guard uses its stores). Call it while `app` is being set up (before
 * ready). Verifier failures (e.g. VIGIL_ERR_POSTGRES_UNAVAILABLE) propagate to
 * the app's error handler.
 */
export function addAuthHook(app: FastifyInstance, opts: AuthOptions): void {
  const exempt = opts.exempt ?? DEFAULT_EXEMPT;
  const isExempt =
    typeof exempt === 'function'
      ? exempt
      : (request: FastifyRequest): boolean => {
          const q = request.url.indexOf('?');
          return exempt.includes(q === -1 ? request.url : request.url.slice(0, q));
        };
  const guard = opts.guard ?? guardFor(opts.verifier);
  const throwErrors = opts.errors === 'throw';
  if (!app.hasRequestDecorator('tenant')) app.decorateRequest('tenant', '');
  if (!app.hasDecorator('createRateLimit')) void app.register(rateLimit, { global: false });

  app.addHook('onRequest', async (request, reply) => {
    if (isExempt(request)) return;
    try {
      request.tenant = await guard.authenticate(app, request, opts.verifier);
    } catch (err) {
      if (throwErrors) throw err;
      if (err instanceof UnauthorizedError) return unauthorized(reply, err.message);
      if (err instanceof VigilError && err.code === 'VIGIL_ERR_AUTH_RATE_LIMITED') {
        return reply
          .code(429)
          .header('retry-after', String(err.retryAfterSeconds ?? 1))
          .send({ error: { code: err.code, message: err.message } });
      }
      throw err;
    }
  });
}

/** Fastify plugin form of {@link addAuthHook} (not encapsulated). */
export const authPlugin: FastifyPluginAsync<AuthOptions> = async (app, opts) => {
  addAuthHook(app, opts);
};
(authPlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
(authPlugin as unknown as Record<symbol, string>)[Symbol.for('fastify.display-name')] = 'vigil-auth';
