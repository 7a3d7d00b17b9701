/**
 * Health routes (no auth):
 * - GET /healthz → 200 { status: 'ok' }
 * - GET /readyz  → 200 { status: 'ready', checks } or 503 + Retry-After
 *   { error: { code: 'VIGIL_ERR_NOT_READY', message }, checks }, where checks
 *   maps each dependency to { ok, reason? } (see health.schemas.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { errorBody } from '../errors.js';
import { healthzDoc, readyzDoc, type ReadyChecks } from './health.schemas.js';

/** Longest the ClickHouse ping of /readyz may take before it counts as failed, ms. */
export const READY_PING_TIMEOUT_MS = 2_000;

/** `p`, or a rejection after `ms` (the timer does not keep the process alive). */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface HealthRoutesOptions {
  clickhouse: ClickHouseHandle;
  /** Process-level checks (Kafka, Postgres, processor, ...); default none. Must not throw. */
  ready?: () => Promise<ReadyChecks>;
}

/** Fastify plugin with /healthz and /readyz. */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, opts) => {
  app.get('/healthz', { schema: healthzDoc }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: readyzDoc }, async (request, reply) => {
    const checks: ReadyChecks = {};
    try {
      const ping = await within(opts.clickhouse.client.ping(), READY_PING_TIMEOUT_MS);
      checks.clickhouse = ping.success
        ? { ok: true }
        : { ok: false, reason: `ClickHouse does not answer a ping: ${(ping as { error?: Error }).error?.message ?? 'no answer'}` };
    } catch (err) {
      checks.clickhouse = { ok: false, reason: `ClickHouse does not answer a ping: ${(err as Error).message}` };
    }
    try {
      Object.assign(checks, opts.ready === undefined ? {} : await opts.ready());
    } catch (err) {
      request.log.warn({ err }, 'readiness: ready() failed');
      checks.process = { ok: false, reason: `readiness check failed: ${(err as Error).message}` };
    }
    const failing = Object.entries(checks).filter(([, c]) => !c.ok);
    if (failing.length === 0) return { status: 'ready', checks };
    const why = failing.map(([name, c]) => `${name}: ${c.reason ?? 'not ok'}`).join('; ');
    return reply.status(503).header('retry-after', '5').send({ ...errorBody('VIGIL_ERR_NOT_READY', `not ready: ${why}`), checks });
  });
};
