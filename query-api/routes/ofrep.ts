/**
 * OpenFeature Remote Evaluation Protocol (OFREP) routes, authenticated with
 * the project's API key (Authorization: Bearer, the query API's auth hook):
 * - POST /ofrep/v1/evaluate/flags/:key → 200 evaluationSuccess
 *   `{key, value, reason, variant, metadata?}`; 404 `{key, errorCode: FLAG_NOT_FOUND, errorDetails}`;
 *   400 `{key, errorCode: TARGETING_KEY_MISSING | PARSE_ERROR | INVALID_CONTEXT, errorDetails}`.
 * - POST /ofrep/v1/evaluate/flags → 200 `{flags: [success | failure], metadata: {revision}}`
 *   with `ETag`; 304 (no body) when `If-None-Match` matches; 400 `{errorCode, errorDetails}`.
 * - 500 / 503 `{errorDetails}` (503 with Retry-After when Postgres has never
 *   answered for the project; a stale snapshot is served otherwise).
 *
 * Shapes, status codes and codes follow the OFREP OpenAPI document
 * (github.com/open-feature/protocol service/openapi.yaml 0.3.0) and the
 * OpenFeature specification's reasons and error codes (spec/types.md).
 * Evaluation itself is flags/evaluate.ts over the in-memory snapshots of
 * flags/cache.ts. The ETag is `"` + the first 32 hex digits of
 * SHA-256(project revision + "\n" + the context as canonical JSON) + `"`:
 * it changes when any flag or override of the project changes or the context does.
 */
import { createHash } from 'node:crypto';
import type { FastifyError, FastifyPluginAsync, FastifyReply } from 'fastify';
import type { EvalContext, EvalResult } from '../../flags/evaluate.js';
import type { FlagCache } from '../../flags/cache.js';
import { VigilError } from '../../platform/errors.js';
import { tenantOf } from '../auth.js';
import { ofrepDocs } from './ofrep.schemas.js';

export interface OfrepRoutesOptions {
  cache: FlagCache;
}

/** A request-level problem answered as an OFREP failure. */
class OfrepRequestError extends Error {
  constructor(readonly errorCode: 'PARSE_ERROR' | 'INVALID_CONTEXT', message: string) {
    super(message);
  }
}

/** The context of an OFREP body: `{context?: {...}}`; a missing context is {}. */
export function contextOf(body: unknown): EvalContext {
  if (body === undefined || body === null || body === '') return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new OfrepRequestError('PARSE_ERROR', 'the body must be a JSON object {"context": {...}}');
  const ctx = (body as { context?: unknown }).context;
  if (ctx === undefined || ctx === null) return {};
  if (typeof ctx !== 'object' || Array.isArray(ctx)) throw new OfrepRequestError('INVALID_CONTEXT', 'context must be a JSON object');
  const tk = (ctx as EvalContext).targetingKey;
  if (tk !== undefined && tk !== null && typeof tk !== 'string') throw new OfrepRequestError('INVALID_CONTEXT', 'context.targetingKey must be a string');
  return ctx as EvalContext;
}

/** JSON with object keys sorted (so equal contexts hash equally). */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

/** The bulk ETag of a revision and context. */
export function bulkEtag(revision: string, ctx: EvalContext): string {
  return `"${createHash('sha256').update(`${revision}\n${canonicalJson(ctx)}`).digest('hex').slice(0, 32)}"`;
}

/** Whether an If-None-Match header value matches `etag` (weak comparison, lists, `*`; RFC 9110 13.1.2). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const strip = (t: string) => t.trim().replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() === '*' || strip(t) === strip(etag));
}

/** The OFREP JSON of one evaluation result. */
export function toOfrep(r: EvalResult): Record<string, unknown> {
  if (r.ok) {
    const out: Record<string, unknown> = { key: r.key, value: r.value, reason: r.reason, variant: r.variant };
    if (Object.keys(r.metadata).length > 0) out.metadata = r.metadata;
    return out;
  }
  const out: Record<string, unknown> = { key: r.key, errorCode: r.errorCode, errorDetails: r.errorDetails };
  if (r.metadata !== undefined && Object.keys(r.metadata).length > 0) out.metadata = r.metadata;
  return out;
}

function serverError(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof VigilError && err.statusCode >= 500) {
    if (err.retryAfterSeconds !== undefined) void reply.header('retry-after', String(err.retryAfterSeconds));
    return reply.status(err.statusCode).send({ errorDetails: `${err.code}: ${err.message}` });
  }
  reply.request.log.error({ err }, 'OFREP evaluation failed');
  return reply.status(500).send({ errorDetails: 'internal error; see server logs' });
}

/** Fastify plugin with the OFREP routes; expects the auth hook in an enclosing scope. */
export const ofrepRoutes: FastifyPluginAsync<OfrepRoutesOptions> = async (app, opts) => {
  const { cache } = opts;
  // Response schemas document the answers only; send JSON as built.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // Errors before the handler (a body that is not JSON, an unsupported media type) in OFREP's shapes.
  app.setErrorHandler((err: FastifyError | VigilError, request, reply) => {
    if (err instanceof VigilError && err.statusCode < 500) return reply.status(err.statusCode).send({ error: { code: err.code, message: err.message } });
    const status = typeof (err as FastifyError).statusCode === 'number' ? (err as FastifyError).statusCode! : 500;
    if (status >= 400 && status < 500) {
      const key = (request.params as { key?: string } | undefined)?.key;
      const body = { errorCode: 'PARSE_ERROR', errorDetails: `the request body could not be parsed: ${err.message}` };
      return reply.status(400).send(key === undefined ? body : { key, ...body });
    }
    return serverError(reply, err);
  });

  app.post('/ofrep/v1/evaluate/flags/:key', { schema: ofrepDocs.evaluate }, async (request, reply) => {
    const { key } = request.params as { key: string };
    const tenant = tenantOf(request);
    let ctx: EvalContext;
    try {
      ctx = contextOf(request.body);
    } catch (err) {
      if (err instanceof OfrepRequestError) return reply.status(400).send({ key, errorCode: err.errorCode, errorDetails: err.message });
      throw err;
    }
    let result: EvalResult;
    try {
      result = await cache.evaluate(tenant, key, ctx);
    } catch (err) {
      return serverError(reply, err);
    }
    if (result.ok) return reply.send(toOfrep(result));
    return reply.status(result.errorCode === 'FLAG_NOT_FOUND' ? 404 : 400).send(toOfrep(result));
  });

  app.post('/ofrep/v1/evaluate/flags', { schema: ofrepDocs.bulk }, async (request, reply) => {
    const tenant = tenantOf(request);
    let ctx: EvalContext;
    try {
      ctx = contextOf(request.body);
    } catch (err) {
      if (err instanceof OfrepRequestError) return reply.status(400).send({ errorCode: err.errorCode, errorDetails: err.message });
      throw err;
    }
    let out: { revision: string; results: EvalResult[] };
    try {
      out = await cache.evaluateAll(tenant, ctx);
    } catch (err) {
      return serverError(reply, err);
    }
    const etag = bulkEtag(out.revision, ctx);
    void reply.header('etag', etag).header('cache-control', 'private, no-cache');
    if (etagMatches(request.headers['if-none-match'], etag)) return reply.status(304).send();
    return reply.send({ flags: out.results.map(toOfrep), metadata: { revision: out.revision } });
  });
};
