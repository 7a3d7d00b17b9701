/**
 * Health routes (no auth):
 * - GET /healthz → 200 { status: 'ok' }
 * - GET /readyz  → 200 { status: 'ready', checks } or 503 { error, checks }
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { errorBody } from '../errors.js';
import { healthzDoc, readyzDoc, type ReadyChecks } from './health.schemas.js';

export interface HealthRoutesOptions {
  clickhouse: ClickHouseHandle;
  /** Extra readiness (e.g. migrations applied, not shutting down); default always true. */
  ready?: () => Promise<boolean>;
}

/** Fastify plugin with /healthz and /readyz. */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, opts) => {
  app.get('/healthz', { schema: healthzDoc }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: readyzDoc }, async (request, reply) => {
    const checks: ReadyChecks = { clickhouse: false, dependencies: false };
    try {
      const ping = await opts.clickhouse.client.ping();
      checks.clickhouse = ping.success;
    } catch (err) {
      request.log.warn({ err }, 'readiness: ClickHouse ping failed');
    }
    try {
      checks.dependencies = opts.ready === undefined ? true : await opts.ready();
    } catch (err) {
      request.log.warn({ err }, 'readiness: ready() failed');
    }
    if (checks.clickhouse && checks.dependencies) return { status: 'ready', checks };
    const body = checks.clickhouse
      ? errorBody('VIGIL_ERR_SHUTTING_DOWN', 'not ready: dependencies are not ready (starting or shutting down)')
      : errorBody('VIGIL_ERR_CLICKHOUSE_UNAVAILABLE', 'not ready: ClickHouse does not answer a ping');
    return reply.status(503).header('retry-after', '5').send({ ...body, checks });
  });
};
