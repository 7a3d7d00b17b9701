/**
 * Alerting API (issue 7): registers the alert route groups, each its own
 * plugin — rules (alerts-rules.ts), channels (alerts-channels.ts), alert
 * state, history and deliveries (alerts-instances.ts), silences and the SSE
 * stream (alerts-silences.ts). Every route is tenant-confined: ids of another
 * project answer 404.
 */
import type { FastifyPluginAsync } from 'fastify';
import type pg from 'pg';
import type { Dispatcher } from 'undici';
import { createEventHub, type EventHub } from '../../alerts/event-hub.js';
import { createGuardedAgent, parseAllowList, type AllowList } from '../../alerts/ssrf.js';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import type { Logger } from '../../platform/logger.js';
import { alertChannelRoutes } from './alerts-channels.js';
import { alertInstanceRoutes } from './alerts-instances.js';
import { alertRuleRoutes } from './alerts-rules.js';
import { alertSilenceRoutes } from './alerts-silences.js';

/** What the alerting routes need (QueryAppOptions.alerts). */
export interface AlertRoutesOptions {
  pool: pg.Pool;
  /** VIGIL_WEBHOOK_ALLOW_HOSTS entries. */
  allowHosts: readonly string[];
  /** Base URL for links in messages (the query API's URL), or a function giving it once the server listens. */
  externalUrl: string | (() => string);
  /** SSRF-guarded agent for channel tests (default: one built from allowHosts, closed with the app). */
  agent?: Dispatcher;
  /** Event hub for the stream (default: one on `pool`, closed with the app). */
  hub?: EventHub;
  log?: Logger;
}

/** Fastify plugin registering every alert route group; expects an auth hook in an enclosing scope. */
export const alertRoutes: FastifyPluginAsync<AlertRoutesOptions & { clickhouse: ClickHouseHandle }> = async (app, opts) => {
  const allow: AllowList = parseAllowList(opts.allowHosts);
  const agent = opts.agent ?? createGuardedAgent(allow);
  const hub = opts.hub ?? createEventHub(opts.pool, opts.log ?? (app.log as unknown as Logger));
  app.addHook('onClose', async () => {
    if (opts.hub === undefined) await hub.close();
    if (opts.agent === undefined) await (agent as { close(): Promise<void> }).close();
  });
  await app.register(alertRuleRoutes, { pool: opts.pool, clickhouse: opts.clickhouse });
  const ext = opts.externalUrl;
  await app.register(alertChannelRoutes, { pool: opts.pool, allow, agent, externalUrl: typeof ext === 'string' ? () => ext : ext });
  await app.register(alertInstanceRoutes, { pool: opts.pool });
  await app.register(alertSilenceRoutes, { pool: opts.pool, hub });
};
