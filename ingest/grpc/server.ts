/**
 * OTLP/gRPC intake (OTLP specification, "OTLP/gRPC"), @grpc/grpc-js:
 * - `opentelemetry.proto.collector.trace.v1.TraceService/Export`
 * - `opentelemetry.proto.collector.logs.v1.LogsService/Export`
 * - `opentelemetry.proto.collector.metrics.v1.MetricsService/Export` → UNIMPLEMENTED
 *   saying metrics are not stored (VIGIL_ERR_SIGNAL_NOT_SUPPORTED).
 *
 * Messages are taken as raw bytes (no proto-loader): the binary
 * Export*ServiceRequest goes through the same decode → validate → publish path
 * as OTLP/HTTP protobuf (ingest/otlp/export.ts), so a fully accepted request is
 * forwarded to Kafka as received, and the answer carries the same
 * partial_success. Compression: grpc-js inflates `grpc-encoding: gzip` /
 * `deflate` messages and enforces `grpc.max_receive_message_length`
 * (= maxBodyBytes) on the inflated size while inflating (RESOURCE_EXHAUSTED).
 *
 * Auth: metadata `authorization: Bearer <API key>`, checked by the same guard
 * as HTTP (platform/auth/guard.ts: failed-check limits per peer address and key
 * id, shared with OTLP/HTTP and the native API). Budget: each message is
 * admitted against the same {@link InflightBudget} as HTTP bodies (1 request +
 * its size) and returned when the call ends. Errors map to gRPC codes as
 * ingest/grpc/status.ts says (UNAVAILABLE / RESOURCE_EXHAUSTED with RetryInfo
 * when Kafka is down or intake is full).
 */
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData, type UntypedServiceImplementation } from '@grpc/grpc-js';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { guardFor } from '../../platform/auth/plugin.js';
import type { KeyVerifier } from '../../platform/auth/keys.js';
import { VigilError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { VigilMetrics } from '../../platform/metrics.js';
import type { TimePolicy } from '../../schemas/limits.js';
import type { InflightBudget } from '../body.js';
import { encodeResponse, exportOtlp, LOGS, TRACES, type OtlpSignal } from '../otlp/export.js';
import { METRICS_NOT_STORED } from '../otlp/routes.js';
import { otlpProto } from '../otlp/proto.js';
import type { Publisher } from '../publisher.js';
import { toGrpcError } from './status.js';
import type { ProjectLimits } from '../limits-per-project.js';

/** Full method paths served. */
export const TRACE_EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
export const LOGS_EXPORT = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';
export const METRICS_EXPORT = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

/** Options of {@link startGrpcIngest}. */
export interface GrpcIngestOptions {
  log: Logger;
  publisher: Publisher;
  keys: KeyVerifier;
  /** The in-flight budget shared with the HTTP ingest app. */
  budget: InflightBudget;
  /** Largest message, bytes, after decompression (VIGIL_MAX_BODY_BYTES). */
  maxBodyBytes: number;
  timePolicy?: TimePolicy;
  metrics?: VigilMetrics;
  /** Whether a project's logs are accepted (as for HTTP; passed through to ingest/otlp/export.ts); default always. */
  logsAccepted?: (tenant: string) => Promise<boolean>;
  /** Per-project rate limits and retention (ingest/limits-per-project.ts); default none. */
  projectLimits?: ProjectLimits;
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
}

/** A listening OTLP/gRPC server. */
export interface GrpcIngest {
  /** The bound port. */
  port: number;
  /** `http://host:port` (plaintext gRPC, what OTEL_EXPORTER_OTLP_ENDPOINT takes). */
  url: string;
  /** Stop accepting calls, let running ones finish (force after `graceMs`, default 10 000). Idempotent. */
  close(graceMs?: number): Promise<void>;
}

const raw = (path: string) => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
});

/** The TCP peer address of a call (`getPeer()` is `address:port`). */
export function peerAddress(peer: string): string {
  const s = peer.replace(/^ipv[46]:/, '');
  if (s.startsWith('[')) return s.slice(1, s.indexOf(']'));
  const i = s.lastIndexOf(':');
  return i > 0 && /^\d+$/.test(s.slice(i + 1)) ? s.slice(0, i) : s;
}

/**
 * Start the OTLP/gRPC server (see module doc).
 * @returns the bound server.
 * @throws Error when the address cannot be bound (e.g. EADDRINUSE).
 */
export async function startGrpcIngest(opts: GrpcIngestOptions): Promise<GrpcIngest> {
  otlpProto(); // fail at start, not on the first call
  const log = opts.log;
  // The auth guard keeps its failed-check counters in @fastify/rate-limit stores; this
  // instance provides them when gRPC authenticates before any HTTP request did.
  const limiterApp: FastifyInstance = Fastify({ logger: false }) as unknown as FastifyInstance;
  await limiterApp.register(rateLimit, { global: false });
  await limiterApp.ready();
  const guard = guardFor(opts.keys);
  let stopping = false;

  const authenticate = async (call: ServerUnaryCall<Buffer, Buffer>): Promise<string> => {
    const header = call.metadata.get('authorization')[0];
    const request = {
      ip: peerAddress(call.getPeer()),
      headers: { authorization: typeof header === 'string' ? header : header?.toString('utf8') },
      routeOptions: { config: {} },
    } as unknown as FastifyRequest;
    return guard.authenticate(limiterApp, request, opts.keys);
  };

  const handler =
    (signal: OtlpSignal) =>
    (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void => {
      const body = call.request;
      let admitted = false;
      const started = process.hrtime.bigint();
      const run = async (): Promise<Buffer> => {
        if (stopping) throw new VigilError('VIGIL_ERR_SHUTTING_DOWN', 'Vigil is stopping; retry against another instance or later', { retryAfterSeconds: 1 });
        const tenant = await authenticate(call);
        opts.budget.acquire(body.length);
        admitted = true;
        const outcome = await exportOtlp(opts, signal, body, 'otlp-proto', tenant);
        return encodeResponse(signal, outcome);
      };
      run().then(
        (response) => {
          observe(signal, 'OK', started);
          callback(null, response);
        },
        (err: unknown) => {
          if (!(err instanceof VigilError) || err.code === 'VIGIL_ERR_INTERNAL') log.error({ err }, 'unexpected OTLP/gRPC ingest error');
          const e = toGrpcError(err);
          observe(signal, String(e.code), started);
          callback(e);
        },
      ).finally(() => {
        if (admitted) opts.budget.release(body.length);
      });
    };

  const observe = (signal: OtlpSignal, code: string, started: bigint): void => {
    const route = signal === TRACES ? TRACE_EXPORT : LOGS_EXPORT;
    opts.metrics?.ingestRequests.inc({ route, status: code });
    opts.metrics?.ingestDuration.observe({ route }, Number(process.hrtime.bigint() - started) / 1e9);
  };

  const server = new Server({
    'grpc.max_receive_message_length': opts.maxBodyBytes,
    'grpc.max_send_message_length': 4 * 1024 * 1024,
  });
  server.addService({ Export: raw(TRACE_EXPORT) }, { Export: handler(TRACES) } as UntypedServiceImplementation);
  server.addService({ Export: raw(LOGS_EXPORT) }, { Export: handler(LOGS) } as UntypedServiceImplementation);
  server.addService({ Export: raw(METRICS_EXPORT) }, {
    Export: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) =>
      callback(toGrpcError(new VigilError('VIGIL_ERR_SIGNAL_NOT_SUPPORTED', METRICS_NOT_STORED))),
  } as UntypedServiceImplementation);

  const hostPort = `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(hostPort, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  log.debug({ port }, 'OTLP/gRPC ingest listening');

  let closed: Promise<void> | undefined;
  return {
    port,
    url: `http://${host}:${port}`,
    close: (graceMs = 10_000) =>
      (closed ??= (async () => {
        stopping = true;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, graceMs);
          server.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        await limiterApp.close();
      })()),
  };
}
