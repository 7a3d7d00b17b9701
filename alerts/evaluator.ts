/**
 * The alert evaluator: claims due rules with a lease, evaluates each over the
 * stored aggregates (alerts/signals.ts) and applies the result
 * (alerts/apply.ts).
 *
 * Several evaluators may run against one Postgres. A rule is due when
 * `next_eval_at <= now`; {@link Evaluator.evaluateDue} claims up to `batch`
 * due rules whose lease is free or expired in one statement
 * (`FOR UPDATE SKIP LOCKED`, then `lease_owner = me, lease_until = now + leaseMs`),
 * so no two evaluators hold a rule at once; applying the result checks the
 * lease again and advances `next_eval_at` in the same transaction, so a tick
 * is evaluated once. A crashed evaluator's rules are claimed by another once
 * its lease expires (one lease period, default 60 s).
 *
 * The clock is injected: `evaluateDue(now)` evaluates as of `now`, which tests
 * drive directly; {@link Evaluator.start} calls it with the wall clock every `tickMs`.
 *
 * Windows end at the last closed minute before `now − evaluation_delay` and
 * span `window` seconds before that.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { ClickHouseHandle } from '../platform/clickhouse.js';
import type { Logger } from '../platform/logger.js';
import { applyEvaluation, type ApplyOutcome, type EvaluationResult } from './apply.js';
import { inTransaction, RULE_COLUMNS, rowToRule, type RuleRow } from './rules-store.js';
import type { Rule } from './rule-schema.js';
import { compare, readWindow, signalValue } from './signals.js';

export interface EvaluatorOptions {
  pool: pg.Pool;
  clickhouse: ClickHouseHandle;
  log: Logger;
  /** Base URL of the query API, for generatorURL in messages. */
  externalUrl: string;
  /** Lease owner id (default `eval-<pid>-<random>`). */
  owner?: string;
  /** Lease length, ms (default 60000). */
  leaseMs?: number;
  /** Most rules claimed per call (default 50). */
  batch?: number;
  /** Rules evaluated at once (default 4). */
  concurrency?: number;
  /** Called after a tick that queued messages (e.g. to wake the dispatcher at once). */
  onQueued?: () => void;
}

/** Summary of one {@link Evaluator.evaluateDue} call. */
export interface TickSummary {
  claimed: number;
  /** Per rule id: what was applied (applied false: lease lost). */
  results: Map<string, ApplyOutcome>;
}

export interface Evaluator {
  readonly owner: string;
  /** Claim and evaluate every rule due at `now`. Errors of single rules are counted, not thrown; Postgres errors are thrown. */
  evaluateDue(now: Date): Promise<TickSummary>;
  /** Claim due rules without evaluating them (tests: an evaluator that "crashes" holding leases). */
  claimDue(now: Date): Promise<Rule[]>;
  /** Run evaluateDue(new Date()) every `tickMs` until stop(). */
  start(tickMs: number): void;
  /** Stop the loop and wait for the running tick. */
  stop(): Promise<void>;
}

/**
 * Evaluate one rule as of `now` (reads ClickHouse; never throws).
 * @returns the series outcomes, or ok:false with the error message.
 */
export async function evaluateRule(ch: ClickHouseHandle, rule: Rule, now: Date): Promise<EvaluationResult> {
  const cond = rule.condition;
  const endSec = Math.floor((Math.floor(now.getTime() / 1000) - rule.evaluation_delay_s) / 60) * 60;
  const fromSec = endSec - cond.window_s;
  try {
    const aggs = await readWindow(ch, rule.project_id, cond, fromSec, endSec);
    const series = aggs.map((a) => {
      const { value, judged } = signalValue(cond, a);
      const truth = judged && value !== null && compare(value, cond.operator, cond.threshold);
      return { labels: a.labels, outcome: { kind: truth ? 'true' : 'false', value } as const };
    });
    if (cond.signal === 'absence') {
      const zero = { kind: compare(0, cond.operator, cond.threshold) ? 'true' : 'false', value: 0 } as const;
      if (series.length === 0 && cond.group_by.length === 0) series.push({ labels: {}, outcome: zero });
      return { ok: true, series, noData: false, missing: zero };
    }
    return { ok: true, series, noData: series.length === 0, missing: { kind: 'false', value: null } };
  } catch (err) {
    const e = err as Error & { cause?: unknown };
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    return { ok: false, error: `${e.message}${cause}`.slice(0, 1000) };
  }
}

/** Create an evaluator (nothing runs until evaluateDue() or start()). */
export function createEvaluator(opts: EvaluatorOptions): Evaluator {
  const owner = opts.owner ?? `eval-${process.pid}-${randomUUID().slice(0, 8)}`;
  const leaseMs = opts.leaseMs ?? 60_000;
  const batch = opts.batch ?? 50;
  const concurrency = opts.concurrency ?? 4;
  const log = opts.log;
  let outage: { failures: number; since: Date } | undefined;

  async function claimDue(now: Date): Promise<Rule[]> {
    const res = await opts.pool.query<RuleRow>(
      `WITH due AS (
         SELECT id FROM alert_rules
         WHERE enabled AND next_eval_at <= $1 AND (lease_until IS NULL OR lease_until < $1)
         ORDER BY next_eval_at LIMIT $3 FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE alert_rules r SET lease_owner = $2, lease_until = $1::timestamptz + make_interval(secs => $4::double precision / 1000)
         FROM due WHERE r.id = due.id RETURNING r.id
       )
       SELECT ${RULE_COLUMNS} FROM alert_rules r JOIN claimed ON claimed.id = r.id`,
      [now, owner, batch, leaseMs],
    );
    return res.rows.map(rowToRule);
  }

  function noteOutcome(rule: Rule, result: EvaluationResult, out: ApplyOutcome): void {
    if (!result.ok) {
      if (outage === undefined) {
        outage = { failures: 0, since: new Date() };
        log.warn({ rule: rule.id, error: result.error }, 'alert evaluation failed (ClickHouse unreachable?); alerts keep their state, exec_err_state applies after 3 consecutive failures; logging once until it recovers');
      }
      outage.failures += 1;
      return;
    }
    if (outage !== undefined) {
      log.info({ failedEvaluations: outage.failures, since: outage.since.toISOString() }, 'alert evaluation recovered');
      outage = undefined;
    }
    for (const t of out.transitions) {
      log.info({ rule: rule.id, ruleName: rule.name, labels: t.labels, from: t.from, to: t.to, value: t.value, notification: t.notification }, 'alert state changed');
    }
  }

  async function evaluateDue(now: Date): Promise<TickSummary> {
    const rules = await claimDue(now);
    const results = new Map<string, ApplyOutcome>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < rules.length) {
        const rule = rules[next++]!;
        const result = await evaluateRule(opts.clickhouse, rule, now);
        const out = await inTransaction(opts.pool, (db) => applyEvaluation(db, owner, rule, result, now, opts.externalUrl));
        results.set(rule.id, out);
        noteOutcome(rule, result, out);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, rules.length) }, worker));
    if ([...results.values()].some((r) => r.messages > 0)) opts.onQueued?.();
    return { claimed: rules.length, results };
  }

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let pgDown = false;
  const tick = (): void => {
    running = evaluateDue(new Date()).then(
      () => {
        if (pgDown) log.info('alert evaluator: Postgres reachable again');
        pgDown = false;
      },
      (err: unknown) => {
        if (!pgDown) log.error({ err }, 'alert evaluator tick failed (Postgres unreachable?); retrying every tick, logging once');
        pgDown = true;
      },
    ).finally(() => {
      running = undefined;
    });
  };

  return {
    owner,
    evaluateDue,
    claimDue,
    start(tickMs: number) {
      if (timer !== undefined || stopped) return;
      const loop = (): void => {
        if (stopped) return;
        if (running === undefined) tick();
        timer = setTimeout(loop, tickMs);
        timer.unref();
      };
      loop();
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
  };
}
