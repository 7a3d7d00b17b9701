/**
 * OTLP/HTTP routes (OTLP specification, "OTLP/HTTP"): `POST /v1/traces`,
 * `POST /v1/logs`; `POST /v1/metrics` answers 404 VIGIL_ERR_SIGNAL_NOT_SUPPORTED
 * (a google.rpc.Status saying metrics are not stored). Decoding, validation and
 * publishing are shared with OTLP/gRPC (ingest/otlp/export.ts).
 *
 * Request: Content-Type application/x-protobuf (binary Export*ServiceRequest)
 * or application/json (OTLP/JSON); anything else → 415. Content-Encoding gzip,
 * deflate or identity (ingest/body.ts). Authorization: Bearer <API key>.
 *
 * Response Content-Type mirrors the request ("OTLP/HTTP Response"):
 * - 200, Export*ServiceResponse: empty on full success ("Full Success": the
 *   server MUST leave partial_success unset); with partial_success
 *   { rejected_spans | rejected_log_records, error_message } when some records
 *   were invalid ("Partial Success"). An empty request is a success.
 * - 400 ("Bad Data"): undecodable body, or every record invalid — nothing
 *   was accepted, so it is not a partial success.
 * - 401, 413 ("MUST limit the size... SHOULD respond 413"), 415,
 *   429 / 503 with Retry-After ("OTLP/HTTP Throttling").
 * Every 4xx/5xx body is a google.rpc.Status ("Failures"): protobuf for
 * protobuf requests, JSON `{ code, message }` otherwise.
 *
 * 200 is sent only after the publisher resolved (Kafka acknowledged).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { addAuthHook } from '../../platform/auth/plugin.js';
import type { KeyVerifier } from '../../platform/auth/keys.js';
import { VigilError, type VigilErrorCode } from '../../platform/errors.js';
import type { InflightBudget } from '../body.js';
import { registerIntake } from '../intake.js';
import type { Publisher } from '../publisher.js';
import { prepareErrorReply, toVigilError } from '../replies.js';
import type { VigilMetrics } from '../../platform/metrics.js';
import type { TimePolicy } from '../../schemas/limits.js';
import { encodeResponse, exportOtlp, jsonResponse, LOGS, TRACES, type OtlpSignal } from './export.js';
import { encodeStatus, otlpProto } from './proto.js';
import type { ProjectLimits } from '../limits-per-project.js';

/** The answer to `POST /v1/metrics` (and the gRPC MetricsService, which Vigil does not serve). */
export const METRICS_NOT_STORED =
  'Vigil stores traces and logs only; OTLP metrics are not accepted. Disable the metrics exporter (OTEL_METRICS_EXPORTER=none) or send metrics to another backend';

export const PROTOBUF = 'application/x-protobuf';
export const JSON_TYPE = 'application/json';

/** Options of {@link otlpRoutes}. */
export interface OtlpRoutesOptions {
  publisher: Publisher;
  keys: KeyVerifier;
  budget: InflightBudget;
  maxBodyBytes: number;
  /** Acceptance window of record times (schemas/limits.ts); default retention 30 days. */
  timePolicy?: TimePolicy;
  metrics?: VigilMetrics;
  /** Whether a project's logs are accepted (flag vigil.ingest.logs). */
  logsAccepted?: (tenant: string) => Promise<boolean>;
  /** Per-project rate limits and retention (ingest/limits-per-project.ts); default none. */
  projectLimits?: ProjectLimits;
}

/** google.rpc.Code for an HTTP status (informational; OTLP clients ignore Status.code). */
const GRPC_CODE: Partial<Record<VigilErrorCode, number>> = {
  VIGIL_ERR_UNAUTHORIZED: 16, // UNAUTHENTICATED
  VIGIL_ERR_FORBIDDEN: 7, // PERMISSION_DENIED
  VIGIL_ERR_OVERLOADED: 8, // RESOURCE_EXHAUSTED
  VIGIL_ERR_PAYLOAD_TOO_LARGE: 8,
  VIGIL_ERR_KAFKA_UNAVAILABLE: 14, // UNAVAILABLE
  VIGIL_ERR_SHUTTING_DOWN: 14,
  VIGIL_ERR_POSTGRES_UNAVAILABLE: 14,
  VIGIL_ERR_SIGNAL_NOT_SUPPORTED: 12, // UNIMPLEMENTED
  VIGIL_ERR_INTERNAL: 13, // INTERNAL
};

function isProtobuf(request: FastifyRequest): boolean {
  return (request.headers['content-type'] ?? '').toLowerCase().startsWith(PROTOBUF);
}

/** Send a google.rpc.Status for `err` in the request's encoding. */
function sendStatus(request: FastifyRequest, reply: FastifyReply, err: VigilError): FastifyReply {
  prepareErrorReply(reply, err);
  const code = GRPC_CODE[err.code] ?? 3; // INVALID_ARGUMENT
  if (isProtobuf(request)) return reply.type(PROTOBUF).send(Buffer.from(encodeStatus(code, err.message)));
  return reply.type(JSON_TYPE).send({ code, message: err.message });
}

const SIGNALS: Array<{ url: string; signal: OtlpSignal }> = [
  { url: '/v1/traces', signal: TRACES },
  { url: '/v1/logs', signal: LOGS },
];

function addOtlpAuth(app: FastifyInstance, keys: KeyVerifier): void {
  // Guarded (rate limits on failed keys, failure cache, constant work); 401/429 thrown to sendStatus.
  addAuthHook(app, { verifier: keys, exempt: [], errors: 'throw' });
}

/** The OTLP/HTTP route group (see module doc). Encapsulated: its parsers and hooks stay inside. */
export const otlpRoutes: FastifyPluginAsync<OtlpRoutesOptions> = async (app, opts) => {
  otlpProto(); // load the definitions now: a broken install fails at start, not on the first request
  const timePolicy: TimePolicy = opts.timePolicy ?? { retentionDays: 30 };
  addOtlpAuth(app, opts.keys);
  registerIntake(app, { budget: opts.budget, maxBodyBytes: opts.maxBodyBytes, mediaTypes: [PROTOBUF, JSON_TYPE] });
  app.setErrorHandler((err, request, reply) => sendStatus(request, reply, toVigilError(err, request)));

  for (const { url, signal } of SIGNALS) {
    app.post(url, async (request, reply) => {
      const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
      const protobufBody = isProtobuf(request);
      const outcome = await exportOtlp(opts, signal, body, protobufBody ? 'otlp-proto' : 'otlp-json', request.tenant);
      if (protobufBody) return reply.type(PROTOBUF).send(encodeResponse(signal, outcome));
      return reply.type(JSON_TYPE).send(jsonResponse(signal, outcome));
    });
  }

  // Metrics are not stored: a clear OTLP failure (google.rpc.Status), so SDK logs explain themselves.
  app.post('/v1/metrics', async () => {
    throw new VigilError('VIGIL_ERR_SIGNAL_NOT_SUPPORTED', METRICS_NOT_STORED);
  });
};
