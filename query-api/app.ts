/**
 * The query API as a Fastify instance (built apart from listen()).
 *
 * Routes: /healthz, /readyz (no auth); /openapi.json (no auth);
 * /api/v1/traces, /api/v1/traces/:traceId, /api/v1/logs,
 * /api/v1/metrics/latency, /api/v1/metrics/cost, and with `alerts` the
 * /api/v1/alerts/… routes (routes/alerts.ts), and with `flags` /api/v1/flags/…,
 * /api/v1/experiments/… and OFREP /ofrep/v1/evaluate/flags[/:key]
 * (routes/flags-group.ts) (Bearer API key → tenant); /api/v1/logs/tail (SSE live tail,
 * routes/logs-tail.ts). Without auth: the dashboards at / and /ui/* (routes/ui.ts).
 * Every error answer is `{ error: { code: 'VIGIL_ERR_…', message } }`.
 *
 * Request validation is done by zod inside the handlers (so messages name the
 * parameter and the fix); the route JSON Schemas only feed the OpenAPI document.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { ClickHouseHandle } from '../platform/clickhouse.js';
import type { Logger } from '../platform/logger.js';
import { addAuthHook } from '../platform/auth/plugin.js';
import type { KeyVerifier } from './auth.js';
import { frameworkErrorHandler, installErrorHandlers } from './errors.js';
import { healthRoutes } from './routes/health.js';
import type { ReadyChecks } from './routes/health.schemas.js';
import type { VigilMetrics } from '../platform/metrics.js';
import { logRoutes } from './routes/logs.js';
import { metricRoutes } from './routes/metrics.js';
import { analystRoutes } from './routes/requests-group.js';
import { docsRoutes } from './routes/docs.js';
import { traceRoutes } from './routes/traces.js';
import { alertRoutes, type AlertRoutesOptions } from './routes/alerts.js';
import { flagFeatureRoutes, type FlagFeatureOptions } from './routes/flags-group.js';
import { anomalyRoutes } from './routes/anomalies.js';
import { logTailRoutes } from './routes/logs-tail.js';
import { uiRoutes, type UiRoutesOptions } from './routes/ui.js';
import { adminRoutes, type AdminRoutesOptions } from './routes/admin.js';

export type { KeyVerifier };

export interface QueryAppOptions {
  /** pino logger, used as the Fastify logger as is (pass a child, e.g. { component: 'query-api' }). */
  log: Logger;
  clickhouse: ClickHouseHandle;
  /** Resolves Bearer API keys to tenants (project ids). */
  keys: KeyVerifier;
  /** Process-level readiness checks for /readyz (Kafka, Postgres, processor); default none. */
  ready?: () => Promise<ReadyChecks>;
  /** Prometheus metrics; when given, `GET /metrics` serves them and query requests are counted. */
  metrics?: VigilMetrics;
  /** Alerting (Postgres pool, SSRF allow-list, external URL); when given, the /api/v1/alerts routes are served. */
  alerts?: AlertRoutesOptions;
  /** Feature flags (Postgres pool, optional shared flag cache); when given, /api/v1/flags, /api/v1/experiments and /ofrep/v1 are served. */
  flags?: FlagFeatureOptions;
  /** Admin API for admin keys (routes/admin.ts: projects, keys, limits, retention); when given, /api/v1/admin is served. */
  admin?: AdminRoutesOptions;
  /** The dashboards (routes/ui.ts): where the built bundle is; default dist/ui of the package. */
  ui?: UiRoutesOptions;
}

/**
 * Build the query API app. Plugins load on `ready()` / `listen()` / `inject()`.
 * @returns the Fastify instance; close it with `app.close()` (does not close ClickHouse).
 */
export function buildQueryApp(opts: QueryAppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.log,
    routerOptions: { ignoreTrailingSlash: true },
    frameworkErrors: frameworkErrorHandler,
    // A line per request drowned `npm start`'s console (the demo polls OFREP every second);
    // requests are counted and timed in /metrics, and errors are logged where handled.
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as FastifyInstance;
  // Validation is done with zod in handlers; schemas are documentation only.
  app.setValidatorCompiler(() => (data) => ({ value: data }));
  installErrorHandlers(app);

  void app.register(swagger, {
    openapi: {
      info: { title: 'Vigil query API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  void app.register(docsRoutes); // Swagger UI at /docs (offline assets)

  if (opts.metrics !== undefined) {
    const metrics = opts.metrics;
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()));
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unknown';
      metrics.queryRequests.inc({ route, status: String(reply.statusCode) });
      metrics.queryDuration.observe({ route }, reply.elapsedTime / 1000);
    });
  }
  void app.register(healthRoutes, { clickhouse: opts.clickhouse, ready: opts.ready });
  void app.register(uiRoutes, opts.ui ?? {});
  void app.register(async (api) => {
    // Encapsulated: only the /api/v1 routes of this scope require a key.
    addAuthHook(api, { verifier: opts.keys, exempt: [] });
    await api.register(traceRoutes, { clickhouse: opts.clickhouse });
    await api.register(logRoutes, { clickhouse: opts.clickhouse });
    await api.register(logTailRoutes);
    await api.register(metricRoutes, { clickhouse: opts.clickhouse });
    // Anomaly scores; the per-project switch needs Postgres (the alerting or flags pool).
    await api.register(anomalyRoutes, { clickhouse: opts.clickhouse, pool: opts.alerts?.pool ?? opts.flags?.pool });
    await api.register(analystRoutes, { clickhouse: opts.clickhouse });
    if (opts.alerts !== undefined) await api.register(alertRoutes, { ...opts.alerts, clickhouse: opts.clickhouse });
    if (opts.flags !== undefined) await api.register(flagFeatureRoutes, { ...opts.flags, clickhouse: opts.clickhouse });
    if (opts.admin !== undefined) await api.register(adminRoutes, { ...opts.admin, clickhouse: opts.clickhouse });
  });
  return app;
}
