/**
 * OTLP/HTTP routes (OTLP specification, "OTLP/HTTP"): `POST /v1/traces`,
 * `POST /v1/logs`.
 *
 * Request: Content-Type application/x-protobuf (binary Export*ServiceRequest)
 * or application/json (OTLP/JSON); anything else → 415. Content-Encoding gzip
 * or identity. Authorization: Bearer <API key>.
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
import type protobuf from 'protobufjs';
import { addAuthHook } from '../../platform/auth/plugin.js';
import type { KeyVerifier } from '../../platform/auth/keys.js';
import { VigilError, type VigilErrorCode } from '../../platform/errors.js';
import type { Envelope } from '../../schemas/envelope.js';
import type { InflightBudget } from '../body.js';
import { registerIntake } from '../intake.js';
import { envelopeKey } from '../envelopes.js';
import type { EnvelopeKind, Publisher } from '../publisher.js';
import { prepareErrorReply, toVigilError } from '../replies.js';
import { decodeLogsJson, decodeLogsProtobuf, decodeTracesJson, decodeTracesProtobuf } from './decode.js';
import type { VigilMetrics } from '../../platform/metrics.js';
import { acceptanceWindow, type TimePolicy, type TimeWindow } from '../../schemas/limits.js';
import { encodeStatus, otlpProto } from './proto.js';
import { problemsMessage, validateLogs, validateTraces, type Validated } from './validate.js';

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
}

/** google.rpc.Code for an HTTP status (informational; OTLP clients ignore Status.code). */
const GRPC_CODE: Partial<Record<VigilErrorCode, number>> = {
  VIGIL_ERR_UNAUTHORIZED: 16, // UNAUTHENTICATED
  VIGIL_ERR_OVERLOADED: 8, // RESOURCE_EXHAUSTED
  VIGIL_ERR_PAYLOAD_TOO_LARGE: 8,
  VIGIL_ERR_KAFKA_UNAVAILABLE: 14, // UNAVAILABLE
  VIGIL_ERR_SHUTTING_DOWN: 14,
  VIGIL_ERR_POSTGRES_UNAVAILABLE: 14,
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

interface Signal {
  url: string;
  kind: EnvelopeKind;
  decodeProtobuf(body: Buffer): unknown;
  decodeJson(body: Buffer): unknown;
  validate(decoded: unknown, tenant: string, now: number, window: TimeWindow): Validated<Envelope>;
  response: () => protobuf.Type;
  rejectedField: 'rejectedSpans' | 'rejectedLogRecords';
  noun: string;
}

const SIGNALS: Signal[] = [
  {
    url: '/v1/traces',
    kind: 'spans',
    decodeProtobuf: decodeTracesProtobuf,
    decodeJson: decodeTracesJson,
    validate: (d, t, n, w) => validateTraces(d as ReturnType<typeof decodeTracesJson>, t, n, w),
    response: () => otlpProto().ExportTraceServiceResponse,
    rejectedField: 'rejectedSpans',
    noun: 'spans',
  },
  {
    url: '/v1/logs',
    kind: 'logs',
    decodeProtobuf: decodeLogsProtobuf,
    decodeJson: decodeLogsJson,
    validate: (d, t, n, w) => validateLogs(d as ReturnType<typeof decodeLogsJson>, t, n, w),
    response: () => otlpProto().ExportLogsServiceResponse,
    rejectedField: 'rejectedLogRecords',
    noun: 'log records',
  },
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

  for (const signal of SIGNALS) {
    app.post(signal.url, async (request, reply) => {
      const body = request.body as Buffer | undefined;
      const protobufBody = isProtobuf(request);
      const raw = body ?? Buffer.alloc(0);
      const decoded = protobufBody ? signal.decodeProtobuf(raw) : signal.decodeJson(raw);
      const now = Date.now();
      const result = signal.validate(decoded, request.tenant, now, acceptanceWindow(timePolicy, now));
      if (result.rejected > 0) opts.metrics?.ingestRecords.inc({ signal: signal.kind, outcome: 'rejected' }, result.rejected);
      if (result.accepted === 0 && result.rejected > 0) {
        throw new VigilError('VIGIL_ERR_VALIDATION', `all ${result.rejected} ${signal.noun} were rejected: ${problemsMessage(result)}`);
      }
      const publishRaw = opts.publisher.publishRaw;
      if (result.rejected === 0 && publishRaw !== undefined && raw.length <= (opts.publisher.maxMessageBytes ?? 0) && result.envelopes.length > 0) {
        // Everything accepted and it fits one message: forward the request as
        // received (schemas/envelope.ts, version 2); the workers decode it.
        const meta = { tenant: request.tenant, format: protobufBody ? ('otlp-proto' as const) : ('otlp-json' as const), kind: signal.kind, receivedAtMs: now };
        await publishRaw.call(opts.publisher, meta, envelopeKey(result.envelopes[0]!), raw);
      } else {
        await opts.publisher.publish(signal.kind, result.envelopes);
      }
      opts.metrics?.ingestRecords.inc({ signal: signal.kind, outcome: 'accepted' }, result.accepted);
      const partial =
        result.rejected > 0 ? { partialSuccess: { [signal.rejectedField]: result.rejected, errorMessage: problemsMessage(result) } } : {};
      if (protobufBody) {
        const type = signal.response();
        return reply.type(PROTOBUF).send(Buffer.from(type.encode(type.fromObject(partial)).finish()));
      }
      // proto3 JSON mapping: int64 as a decimal string.
      const json = result.rejected > 0
        ? { partialSuccess: { [signal.rejectedField]: String(result.rejected), errorMessage: problemsMessage(result) } }
        : {};
      return reply.type(JSON_TYPE).send(json);
    });
  }
};
