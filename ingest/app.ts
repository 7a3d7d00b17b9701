/**
 * The ingest HTTP application (built apart from `listen()`, so tests use
 * `app.inject()`).
 *
 * Routes: OTLP/HTTP `POST /v1/traces`, `POST /v1/logs` (ingest/otlp/routes.ts);
 * native JSON `POST /api/v1/ingest/spans`, `POST /api/v1/ingest/logs`
 * (ingest/native/routes.ts); `GET /healthz` (no auth).
 *
 * Overload protection: one {@link InflightBudget} (bytes and requests) shared
 * by all routes → 429 + Retry-After; event-loop pressure
 * (@fastify/under-pressure, delay over `maxEventLoopDelayMs`) → 429 +
 * Retry-After (VIGIL_ERR_OVERLOADED; the OTLP spec allows 429 or 503 for an
 * overloaded server); Kafka not acknowledging → 503 + Retry-After (publisher).
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import underPressure from '@fastify/under-pressure';
import type { KeyVerifier } from '../platform/auth/keys.js';
import { VigilError } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import { InflightBudget, type IngestLimits } from './body.js';
import { nativeRoutes } from './native/routes.js';
import { otlpRoutes } from './otlp/routes.js';
import type { Publisher } from './publisher.js';
import type { TimePolicy } from '../schemas/limits.js';
import type { VigilMetrics } from '../platform/metrics.js';
import type { ProjectLimits } from './limits-per-project.js';

/** Options of {@link buildIngestApp}. */
export interface IngestAppOptions {
  log: Logger;
  publisher: Publisher;
  keys: KeyVerifier;
  limits: IngestLimits & {
    /** Event-loop delay (ms) above which requests get 503; default 1000, 0 disables. */
    maxEventLoopDelayMs?: number;
  };
  /** Acceptance window of record times (schemas/limits.ts); default: 30 days retention, 24 h future skew. */
  timePolicy?: TimePolicy;
  /** Prometheus metrics; when given, `GET /metrics` serves them. */
  metrics?: VigilMetrics;
  /** The in-flight budget to admit requests against; default a new one from `limits`. Pass one to share it with OTLP/gRPC. */
  budget?: InflightBudget;
  /** Whether a project's logs are accepted (flag vigil.ingest.logs, flags/switches.ts); default always. */
  logsAccepted?: (tenant: string) => Promise<boolean>;
  /** Per-project rate limits and retention (ingest/limits-per-project.ts); default none. */
  projectLimits?: ProjectLimits;
}

/**
 * Build (not start) the ingest Fastify app. Call `await app.ready()` or
 * `app.listen()`; close the publisher separately after `app.close()`.
 * @returns the Fastify instance.
 */
export function buildIngestApp(opts: IngestAppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.log.child({ component: 'ingest' }),
    bodyLimit: opts.limits.maxBodyBytes,
    // Per-request log lines would dominate at ingest volume; errors are logged where handled.
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as FastifyInstance;
  const budget = opts.budget ?? new InflightBudget(opts.limits);
  const maxDelay = opts.limits.maxEventLoopDelayMs ?? 1000;

  if (maxDelay > 0) {
    void app.register(underPressure, {
      maxEventLoopDelay: maxDelay,
      retryAfter: 1,
      pressureHandler: (_request, _reply, type, value) => {
        throw new VigilError('VIGIL_ERR_OVERLOADED', `ingest is under pressure (${type} = ${value ?? '?'}); retry later`, {
          retryAfterSeconds: 1,
        });
      },
    });
  }
  app.get('/healthz', async () => ({ ok: true }));
  if (opts.metrics !== undefined) {
    const metrics = opts.metrics;
    metrics.ingestBudget(budget);
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unknown';
      metrics.ingestRequests.inc({ route, status: String(reply.statusCode) });
      metrics.ingestDuration.observe({ route }, reply.elapsedTime / 1000);
    });
    app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()));
  }
  const routeOpts = {
    publisher: opts.publisher,
    keys: opts.keys,
    budget,
    maxBodyBytes: opts.limits.maxBodyBytes,
    timePolicy: opts.timePolicy,
    metrics: opts.metrics,
    logsAccepted: opts.logsAccepted,
    projectLimits: opts.projectLimits,
  };
  void app.register(otlpRoutes, routeOpts);
  void app.register(nativeRoutes, routeOpts);
  return app;
}
