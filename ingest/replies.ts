/**
 * Error → HTTP answer mapping shared by the ingest route groups.
 *
 * Every error becomes a VigilError (Fastify's own errors are mapped by status);
 * 429/503 answers carry `Retry-After` (seconds) per the OTLP spec,
 * "OTLP/HTTP Throttling". Unexpected errors are logged and answered 500
 * without internals.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { VigilError, type VigilErrorCode } from '../platform/errors.js';

const BY_STATUS: Record<number, VigilErrorCode> = {
  400: 'VIGIL_ERR_BAD_REQUEST',
  401: 'VIGIL_ERR_UNAUTHORIZED',
  404: 'VIGIL_ERR_NOT_FOUND',
  413: 'VIGIL_ERR_PAYLOAD_TOO_LARGE',
  415: 'VIGIL_ERR_UNSUPPORTED_MEDIA_TYPE',
  429: 'VIGIL_ERR_OVERLOADED',
  503: 'VIGIL_ERR_SHUTTING_DOWN',
};

/** Normalise anything thrown in a request into a VigilError. */
export function toVigilError(err: unknown, request: FastifyRequest): VigilError {
  if (err instanceof VigilError) return err;
  const e = err as { statusCode?: number; message?: string; code?: string };
  const code = e.statusCode === undefined ? undefined : BY_STATUS[e.statusCode];
  if (code !== undefined) {
    return new VigilError(code, e.message ?? 'request failed', { cause: err, retryAfterSeconds: e.statusCode === 429 || e.statusCode === 503 ? 1 : undefined });
  }
  request.log.error({ err }, 'unexpected ingest error');
  return new VigilError('VIGIL_ERR_INTERNAL', 'internal error while ingesting; the data was not accepted', { cause: err });
}

/** Set status and, for retryable answers, Retry-After. */
export function prepareErrorReply(reply: FastifyReply, err: VigilError): FastifyReply {
  reply.code(err.statusCode);
  if (err.statusCode === 429 || err.statusCode === 503) reply.header('retry-after', String(err.retryAfterSeconds ?? 1));
  if (err.statusCode === 401) reply.header('www-authenticate', 'Bearer');
  return reply;
}

/** The native error body `{ error: { code, message } }`. */
export function nativeErrorBody(err: VigilError): { error: { code: string; message: string } } {
  return { error: { code: err.code, message: err.message } };
}
