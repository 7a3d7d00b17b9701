/**
 * The alerting role (`vigil alerts`, and part of `vigil start`): one
 * evaluator and one dispatcher loop in this process, each ticking every
 * `VIGIL_ALERTS_TICK_MS` (default 5 s). Any number of processes may run the
 * role against one Postgres; leases keep their work apart
 * (alerts/evaluator.ts, alerts/dispatcher.ts).
 *
 * Stop order: evaluator first (no new messages), then the dispatcher (the
 * round in flight finishes; anything still queued stays in the outbox for the
 * next start), then the HTTP agent.
 */
import type pg from 'pg';
import type { ClickHouseHandle } from '../platform/clickhouse.js';
import type { Logger } from '../platform/logger.js';
import { createDispatcher, type NotificationDispatcher } from './dispatcher.js';
import { createEvaluator, type Evaluator } from './evaluator.js';
import { createGuardedAgent, parseAllowList } from './ssrf.js';

export interface AlertingOptions {
  pool: pg.Pool;
  clickhouse: ClickHouseHandle;
  log: Logger;
  /** VIGIL_WEBHOOK_ALLOW_HOSTS entries. */
  allowHosts: readonly string[];
  /** Loop period, ms. */
  tickMs: number;
  /** Base URL of the query API (links in messages). */
  externalUrl: string;
}

/** A running alerting role. */
export interface Alerting {
  evaluator: Evaluator;
  dispatcher: NotificationDispatcher;
  stop(): Promise<void>;
}

/** Start the evaluator and dispatcher loops. */
export function startAlerting(opts: AlertingOptions): Alerting {
  const agent = createGuardedAgent(parseAllowList(opts.allowHosts));
  const dispatcher = createDispatcher({ pool: opts.pool, agent, log: opts.log.child({ component: 'alert-dispatcher' }) });
  const evaluator = createEvaluator({
    pool: opts.pool,
    clickhouse: opts.clickhouse,
    log: opts.log.child({ component: 'alert-evaluator' }),
    externalUrl: opts.externalUrl,
    onQueued: () => dispatcher.kick(), // deliver at once rather than at the next tick
  });
  evaluator.start(opts.tickMs);
  dispatcher.start(opts.tickMs);
  opts.log.info({ tickMs: opts.tickMs, evaluator: evaluator.owner, dispatcher: dispatcher.owner }, 'alerting started');
  return {
    evaluator,
    dispatcher,
    async stop() {
      await evaluator.stop();
      await dispatcher.stop();
      await agent.close();
    },
  };
}
