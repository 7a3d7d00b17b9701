/**
 * Feature flags and experiments (issue 10): registers the route groups, each
 * its own plugin — flag management (flags.ts), experiments
 * (flags-experiments.ts) and OFREP evaluation (ofrep.ts). Every route is
 * tenant-confined through the enclosing scope's auth hook. The flag cache
 * (flags/cache.ts) is created here unless given, and closed with the app.
 */
import type { FastifyPluginAsync } from 'fastify';
import type pg from 'pg';
import { createFlagCache, type FlagCache } from '../../flags/cache.js';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import type { Logger } from '../../platform/logger.js';
import { experimentRoutes } from './flags-experiments.js';
import { flagRoutes } from './flags.js';
import { ofrepRoutes } from './ofrep.js';

/** What the flag routes need (QueryAppOptions.flags). */
export interface FlagFeatureOptions {
  pool: pg.Pool;
  /** The process's flag cache (default: one on `pool`, closed with the app). */
  cache?: FlagCache;
  log?: Logger;
}

/** Fastify plugin registering the flag, experiment and OFREP route groups. */
export const flagFeatureRoutes: FastifyPluginAsync<FlagFeatureOptions & { clickhouse: ClickHouseHandle }> = async (app, opts) => {
  const cache = opts.cache ?? createFlagCache({ pool: opts.pool, log: opts.log ?? (app.log as unknown as Logger) });
  if (opts.cache === undefined) app.addHook('onClose', async () => cache.close());
  await app.register(flagRoutes, { pool: opts.pool, cache });
  await app.register(experimentRoutes, { pool: opts.pool, clickhouse: opts.clickhouse });
  await app.register(ofrepRoutes, { cache });
};
