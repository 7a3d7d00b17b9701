/**
 * Fastify bearer-key authentication.
 *
 * Reads `Authorization: Bearer <key>`, resolves it with a {@link KeyVerifier}
 * and sets `request.tenant` to the key's project id. Missing or unknown keys get
 * 401 `{ "error": { "code": "VIGIL_ERR_UNAUTHORIZED", "message": ... } }` with
 * `WWW-Authenticate: Bearer`. Exempt paths (e.g. /healthz) pass with tenant ''.
 *
 * Registered without encapsulation (`skip-override`), so the hook applies to
 * the routes of the instance that registers it:
 * `await app.register(authPlugin, { verifier, exempt: ['/healthz', '/readyz'] })`,
 * or call {@link addAuthHook} directly.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { KeyVerifier } from './keys.js';

export type { KeyVerifier } from './keys.js';

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
}

export const MISSING_KEY_MESSAGE =
  'missing API key: send Authorization: Bearer <key> (create one with `vigil keys create --project NAME`)';
export const UNKNOWN_KEY_MESSAGE = 'unknown or revoked API key';

const DEFAULT_EXEMPT = ['/healthz', '/readyz'];

function unauthorized(reply: FastifyReply, message: string): FastifyReply {
  return reply
    .code(401)
    .header('www-authenticate', 'Bearer')
    .send({ error: { code: 'VIGIL_ERR_UNAUTHORIZED', message } });
}

/** Extract the bearer token, or undefined when the header is absent or not `Bearer <token>`. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}

/**
 * Add the authentication onRequest hook to `app` (and its child contexts).
 * Verifier failures (e.g. VIGIL_ERR_POSTGRES_UNAVAILABLE) propagate to the
 * app's error handler.
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
  if (!app.hasRequestDecorator('tenant')) app.decorateRequest('tenant', '');

  app.addHook('onRequest', async (request, reply) => {
    if (isExempt(request)) return;
    const token = bearerToken(request.headers.authorization);
    if (token === undefined) return unauthorized(reply, MISSING_KEY_MESSAGE);
    const found = await opts.verifier.verify(token);
    if (found === null) return unauthorized(reply, UNKNOWN_KEY_MESSAGE);
    request.tenant = found.projectId;
  });
}

/** Fastify plugin form of {@link addAuthHook} (not encapsulated). */
export const authPlugin: FastifyPluginAsync<AuthOptions> = async (app, opts) => {
  addAuthHook(app, opts);
};
(authPlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
(authPlugin as unknown as Record<symbol, string>)[Symbol.for('fastify.display-name')] = 'vigil-auth';
