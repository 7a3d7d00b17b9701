/**
 * The analyst routes of issue 8 that read ClickHouse only, registered as one
 * plugin (authenticated scope, tenant-confined):
 * - GET /api/v1/metrics/requests            RED series (./requests.ts)
 * - GET /api/v1/metrics/spans               raw-span aggregation by attributes (./spans-agg.ts)
 * - GET /api/v1/executions, /:id, /stats, GET /api/v1/conversations/:id/executions (./executions.ts)
 * - GET /api/v1/cost/forecast               spend forecast (./forecast.ts)
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { requestRoutes } from './requests.js';
import { spansAggRoutes } from './spans-agg.js';
import { executionRoutes } from './executions.js';
import { forecastRoutes } from './forecast.js';

export interface AnalystRoutesOptions {
  clickhouse: ClickHouseHandle;
}

/** Fastify plugin registering every route listed in the module doc; expects an auth hook in an enclosing scope. */
export const analystRoutes: FastifyPluginAsync<AnalystRoutesOptions> = async (app, opts) => {
  await app.register(requestRoutes, { clickhouse: opts.clickhouse });
  await app.register(spansAggRoutes, { clickhouse: opts.clickhouse });
  await app.register(executionRoutes, { clickhouse: opts.clickhouse });
  await app.register(forecastRoutes, { clickhouse: opts.clickhouse });
};
