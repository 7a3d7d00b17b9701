/**
 * Error mapping for the query API. Every error answer is JSON
 * `{ "error": { "code": "VIGIL_ERR_…", "message": "…" } }` with the status of
 * the code (platform/errors.ts). Unknown errors become 500 VIGIL_ERR_INTERNAL
 * (logged, message not leaked); Fastify's own 4xx errors become
 * VIGIL_ERR_BAD_REQUEST (or VIGIL_ERR_VALIDATION for schema failures).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { VigilError, type VigilErrorCode } from '../platform/errors.js';

/** The JSON error body. */
export interface ErrorBody {
  error: { code: VigilErrorCode; message: string };
}

/** Build the JSON error body. */
export function errorBody(code: VigilErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

/**
 * Fastify `frameworkErrors` option: errors the router raises before any hook or
 * handler (malformed percent-encoding in the path, an over-long path parameter)
 * answered in the API's JSON error shape: 400 VIGIL_ERR_BAD_REQUEST.
 */
export function frameworkErrorHandler(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const message =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'a path parameter is too long; a trace id is 32 hex characters'
      : 'the URL is not valid: check its percent-encoding';
  void reply.status(400).send(errorBody('VIGIL_ERR_BAD_REQUEST', message));
}

/** Install the error and not-found handlers on `app` (root instance). */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | VigilError | Error, request, reply) => {
    if (err instanceof VigilError) {
      if (err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds));
      if (err.statusCode >= 500) request.log.error({ err }, 'query failed');
      return reply.status(err.statusCode).send(errorBody(err.code, err.message));
    }
    const fe = err as FastifyError;
    if (fe.validation !== undefined) {
      const v = fe.validation[0];
      const field = v?.instancePath?.replace(/^\//, '').replaceAll('/', '.') || String(v?.params?.missingProperty ?? fe.validationContext ?? 'request');
      return reply.status(400).send(errorBody('VIGIL_ERR_VALIDATION', `${field}: ${v?.message ?? fe.message}`));
    }
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      const code: VigilErrorCode =
        fe.statusCode === 413 ? 'VIGIL_ERR_PAYLOAD_TOO_LARGE'
        : fe.statusCode === 415 ? 'VIGIL_ERR_UNSUPPORTED_MEDIA_TYPE'
        : fe.statusCode === 429 ? 'VIGIL_ERR_OVERLOADED'
        : 'VIGIL_ERR_BAD_REQUEST';
      return reply.status(fe.statusCode).send(errorBody(code, fe.message));
    }
    request.log.error({ err }, 'unhandled error in query API');
    return reply.status(500).send(errorBody('VIGIL_ERR_INTERNAL', 'internal error; see server logs'));
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send(errorBody('VIGIL_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}; see /openapi.json`)),
  );
}
