/**
 * Intake hooks shared by the ingest route groups (registered inside each
 * group's encapsulated context, after its auth hook):
 *
 * - onRequest: admit the request against the {@link InflightBudget}
 *   (Content-Length bytes + 1 request) or fail with 429 + Retry-After; an
 *   over-limit Content-Length fails at once with 413.
 * - content-type parsers for the accepted media types that stream the body
 *   through {@link readBody} (gzip inflate, limits); any other Content-Type
 *   (or none) → 415.
 * - the budget is returned exactly once, when the response's socket side
 *   closes (`reply.raw` 'close' fires after the response is sent AND when the
 *   client went away, whatever the stage: auth, body read, Kafka wait), and
 *   also from onResponse / onRequestAbort — whichever comes first. Regression:
 *   aborted requests used to leak their share (issue 5, item 2).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VigilError } from '../platform/errors.js';
import { type BodyCharge, type InflightBudget, readBody, tooLarge } from './body.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Budget share of this request; null when not (or no longer) admitted. */
    vigilCharge: BodyCharge | null;
  }
}

/** Options of {@link registerIntake}. */
export interface IntakeOptions {
  budget: InflightBudget;
  maxBodyBytes: number;
  /** Accepted media types, e.g. ['application/x-protobuf', 'application/json']. */
  mediaTypes: string[];
}

function release(budget: InflightBudget, request: FastifyRequest): void {
  const charge = request.vigilCharge;
  if (charge === null) return;
  request.vigilCharge = null;
  budget.release(charge.charged);
}

/** Add the intake hooks and body parsers to `app` (an encapsulated route-group context). */
export function registerIntake(app: FastifyInstance, opts: IntakeOptions): void {
  const { budget, maxBodyBytes } = opts;
  if (!app.hasRequestDecorator('vigilCharge')) app.decorateRequest('vigilCharge', null);

  app.addHook('onRequest', async (request, reply) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (Number.isFinite(declared) && declared > maxBodyBytes) throw tooLarge(maxBodyBytes, 'body (Content-Length)');
    const bytes = Number.isFinite(declared) && declared > 0 ? declared : 0;
    budget.acquire(bytes);
    request.vigilCharge = { charged: bytes };
    reply.raw.once('close', () => release(budget, request));
    // The client may have gone while an earlier hook (auth) ran: then 'close' already fired.
    if (request.raw.socket === null || request.raw.socket.destroyed) {
      release(budget, request);
      throw new VigilError('VIGIL_ERR_BAD_REQUEST', 'client closed the connection');
    }
  });
  app.addHook('onResponse', async (request) => release(budget, request));
  app.addHook('onRequestAbort', async (request) => release(budget, request));

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(opts.mediaTypes, async (request: FastifyRequest, payload: NodeJS.ReadableStream) => {
    const charge = request.vigilCharge ?? { charged: 0 };
    const encoding = request.headers['content-encoding'];
    return readBody(payload as never, Array.isArray(encoding) ? encoding.join(',') : encoding, maxBodyBytes, budget, charge);
  });
  app.addContentTypeParser('*', async (request: FastifyRequest) => {
    const type = request.headers['content-type'];
    throw new VigilError(
      'VIGIL_ERR_UNSUPPORTED_MEDIA_TYPE',
      `Content-Type '${type ?? ''}' is not supported here; use ${opts.mediaTypes.join(' or ')}`,
    );
  });
}

/**
 * 403 VIGIL_ERR_FORBIDDEN when the project turned log intake off (flag
 * `vigil.ingest.logs` = false, flags/switches.ts). Call after auth.
 */
export async function requireLogsAccepted(check: ((tenant: string) => Promise<boolean>) | undefined, tenant: string): Promise<void> {
  if (check === undefined || (await check(tenant))) return;
  throw new VigilError(
    'VIGIL_ERR_FORBIDDEN',
    'log intake is turned off for this project by the feature flag vigil.ingest.logs; set it to true (PATCH /api/v1/flags/vigil.ingest.logs) to accept logs again',
  );
}
