/**
 * Apply one evaluation of one rule to Postgres, in one transaction: check the
 * lease is still ours, advance every alert instance through the state machine,
 * record transitions in alert_events, enqueue one message per channel with
 * every alert that changed (or is due for a repeat) into webhook_deliveries,
 * and schedule the rule's next evaluation.
 *
 * Notification policy:
 * - entering firing / nodata / error → a firing message; leaving them → a
 *   resolved message, only when the firing was notified (a silenced alert
 *   that resolves sends nothing);
 * - while still firing, a repeat every `repeat_interval` (from the last
 *   notification);
 * - an active silence matching the alert's labels, or an acknowledgement,
 *   suppresses firing messages and repeats (the resolution of an acknowledged
 *   alert is still sent, so receivers can close it); acknowledgements are
 *   cleared when the alert returns to normal.
 */
import { createHash, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { alertmanagerBody, slackBody, type MessageContext, type NotifiedAlert } from './payloads.js';
import type { Rule } from './rule-schema.js';
import { activeSilences, silencedBy } from './silences.js';
import { initialState, NOTIFYING_STATES, step, type AlertState, type InstanceState, type Outcome } from './state-machine.js';
import { renderTemplate } from './templates.js';

/** Consecutive failed evaluations after which exec_err_state applies. */
export const FAILURES_BEFORE_ERROR = 3;

/** Fingerprint of a series of a rule: 16 hex of sha256(rule id, sorted group labels). */
export function fingerprint(ruleId: string, labels: Record<string, string>): string {
  const canonical = JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
  return createHash('sha256').update(ruleId).update('\0').update(canonical).digest('hex').slice(0, 16);
}

/** What the evaluation of one rule produced. */
export type EvaluationResult =
  | {
      ok: true;
      series: Array<{ labels: Record<string, string>; outcome: Outcome }>;
      /** The query returned no series at all (no_data_state applies). */
      noData: boolean;
      /** Outcome for known series missing from `series` (false; true for `absence`: no spans is the condition). */
      missing: Outcome;
    }
  | { ok: false; error: string };

interface InstanceRow {
  id: string;
  fingerprint: string;
  labels: Record<string, string>;
  state: AlertState;
  value: number | null;
  active_at: Date | null;
  firing_at: Date | null;
  resolved_at: Date | null;
  last_true_at: Date | null;
  state_changed_at: Date;
  last_notified_at: Date | null;
  acknowledged_at: Date | null;
}

/** One transition applied (for logs and tests). */
export interface AppliedTransition {
  fingerprint: string;
  labels: Record<string, string>;
  from: AlertState;
  to: AlertState;
  value: number | null;
  notification: 'queued' | 'silenced' | 'acknowledged' | 'no_channel' | 'none';
}

/** Outcome of {@link applyEvaluation}. */
export interface ApplyOutcome {
  /** false when the lease was lost (another evaluator took the rule): nothing was written. */
  applied: boolean;
  transitions: AppliedTransition[];
  /** Messages enqueued (one per channel). */
  messages: number;
  consecutiveFailures: number;
}

const toState = (r: InstanceRow): InstanceState => ({
  state: r.state,
  value: r.value,
  activeAt: r.active_at,
  firingAt: r.firing_at,
  resolvedAt: r.resolved_at,
  lastTrueAt: r.last_true_at,
  stateChangedAt: r.state_changed_at,
});

/** Outcome for no data, per the rule's no_data_state. */
function noDataOutcome(rule: Rule): Outcome {
  if (rule.no_data_state === 'ok') return { kind: 'false', value: null };
  if (rule.no_data_state === 'alerting') return { kind: 'true', value: null };
  return { kind: 'nodata' };
}

/** Outcome for a failed evaluation, per exec_err_state (after {@link FAILURES_BEFORE_ERROR} failures). */
function errorOutcome(rule: Rule, failures: number): Outcome {
  if (failures < FAILURES_BEFORE_ERROR || rule.exec_err_state === 'keep_last') return { kind: 'keep' };
  if (rule.exec_err_state === 'alerting') return { kind: 'true', value: null };
  return { kind: 'error' };
}

/**
 * Apply an evaluation at `now`.
 * @param db a client inside a transaction (BEGIN … COMMIT by the caller).
 * @param owner the evaluator's lease owner id; nothing is written when the rule's lease is no longer its.
 * @param externalUrl base URL for generatorURL.
 */
export async function applyEvaluation(
  db: pg.PoolClient,
  owner: string,
  rule: Rule,
  result: EvaluationResult,
  now: Date,
  externalUrl: string,
): Promise<ApplyOutcome> {
  const locked = await db.query<{ consecutive_failures: number; next_eval_at: Date }>(
    'SELECT consecutive_failures, next_eval_at FROM alert_rules WHERE id = $1 AND lease_owner = $2 FOR UPDATE',
    [rule.id, owner],
  );
  const lock = locked.rows[0];
  if (lock === undefined) return { applied: false, transitions: [], messages: 0, consecutiveFailures: 0 };
  const failures = result.ok ? 0 : lock.consecutive_failures + 1;

  const existing = (await db.query<InstanceRow>(
    `SELECT id::text, fingerprint, labels, state, value, active_at, firing_at, resolved_at, last_true_at, state_changed_at,
            last_notified_at, acknowledged_at
     FROM alert_instances WHERE rule_id = $1 FOR UPDATE`,
    [rule.id],
  )).rows;
  const byFp = new Map(existing.map((r) => [r.fingerprint, r]));

  // Outcome per series fingerprint.
  const outcomes = new Map<string, { labels: Record<string, string>; outcome: Outcome }>();
  const everyKnown = (o: Outcome): void => {
    // No alert yet: one without group labels stands for the rule, unless nothing would change.
    if (existing.length === 0 && o.kind !== 'false' && o.kind !== 'keep') outcomes.set(fingerprint(rule.id, {}), { labels: {}, outcome: o });
    for (const r of existing) outcomes.set(r.fingerprint, { labels: r.labels, outcome: o });
  };
  if (!result.ok) {
    everyKnown(errorOutcome(rule, failures));
  } else if (result.noData) {
    everyKnown(noDataOutcome(rule));
  } else {
    for (const s of result.series) outcomes.set(fingerprint(rule.id, s.labels), s);
    // Known series absent from this evaluation: no longer breaching.
    for (const r of existing) if (!outcomes.has(r.fingerprint)) outcomes.set(r.fingerprint, { labels: r.labels, outcome: result.missing });
  }

  const silences = await activeSilences(db, rule.project_id, now);
  const channels = (await db.query<{ id: string; name: string; type: 'webhook' | 'slack' }>(
    `SELECT c.id::text, c.name, c.type FROM notification_channels c JOIN alert_rule_channels rc ON rc.channel_id = c.id
     WHERE rc.rule_id = $1 AND c.enabled ORDER BY c.name`,
    [rule.id],
  )).rows;

  const transitions: AppliedTransition[] = [];
  const toSend: NotifiedAlert[] = [];
  for (const [fp, { labels, outcome }] of outcomes) {
    const row = byFp.get(fp);
    const prev = row === undefined ? initialState(now) : toState(row);
    const { next, notify, changed } = step(prev, outcome, now, { forS: rule.for_s, keepFiringForS: rule.keep_firing_for_s });
    const allLabels = { alertname: rule.name, severity: rule.severity, ...rule.labels, ...labels };
    const notifiedFiring = row?.last_notified_at != null && prev.firingAt !== null && row.last_notified_at >= prev.firingAt;
    let kind: 'firing' | 'resolved' | null = notify;
    if (kind === 'resolved' && !notifiedFiring) kind = null;
    if (kind === null && notify === null && NOTIFYING_STATES.has(next.state)) {
      // Still active: notify when this episode was never notified (silence over, channel added) or a repeat is due.
      const last = row?.last_notified_at ?? null;
      const notifiedThisEpisode = last !== null && next.firingAt !== null && last >= next.firingAt;
      if (last === null || !notifiedThisEpisode || now.getTime() - last.getTime() >= rule.repeat_interval_s * 1000) kind = 'firing';
    }
    let notification: AppliedTransition['notification'] = 'none';
    let notifiedAt = row?.last_notified_at ?? null;
    if (kind !== null) {
      const silence = silencedBy(silences, allLabels);
      const acked = row?.acknowledged_at != null && kind === 'firing';
      if (silence !== undefined) notification = 'silenced';
      else if (acked) notification = 'acknowledged';
      else if (channels.length === 0) notification = 'no_channel';
      else {
        notification = 'queued';
        notifiedAt = now;
        const ctx = { value: next.value, labels: allLabels, rule: rule.name, threshold: rule.condition.threshold };
        const annotations: Record<string, string> = {};
        for (const [k, v] of Object.entries(rule.annotations)) annotations[k] = renderTemplate(v, ctx);
        toSend.push({
          status: kind,
          state: next.state,
          labels: next.state === 'firing' || kind === 'resolved' ? allLabels : { ...allLabels, alertstate: next.state },
          annotations,
          startsAt: next.firingAt ?? prev.firingAt ?? now,
          endsAt: kind === 'resolved' ? (next.resolvedAt ?? now) : null,
          fingerprint: fp,
          value: next.value,
        });
      }
    }
    const clearAck = next.state === 'normal';
    const saved = await db.query<{ id: string }>(
      `INSERT INTO alert_instances (project_id, rule_id, fingerprint, labels, state, value, active_at, firing_at, resolved_at,
         last_true_at, last_eval_at, state_changed_at, last_notified_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       ON CONFLICT (rule_id, fingerprint) DO UPDATE SET labels = EXCLUDED.labels, state = EXCLUDED.state, value = EXCLUDED.value,
         active_at = EXCLUDED.active_at, firing_at = EXCLUDED.firing_at, resolved_at = EXCLUDED.resolved_at,
         last_true_at = EXCLUDED.last_true_at, last_eval_at = EXCLUDED.last_eval_at, state_changed_at = EXCLUDED.state_changed_at,
         last_notified_at = EXCLUDED.last_notified_at,
         acknowledged_at = CASE WHEN $14 THEN NULL ELSE alert_instances.acknowledged_at END,
         acknowledged_by = CASE WHEN $14 THEN NULL ELSE alert_instances.acknowledged_by END,
         ack_comment = CASE WHEN $14 THEN NULL ELSE alert_instances.ack_comment END
       RETURNING id::text`,
      [rule.project_id, rule.id, fp, JSON.stringify(labels), next.state, finite(next.value), next.activeAt, next.firingAt, next.resolvedAt,
        next.lastTrueAt, now, next.stateChangedAt, notifiedAt, clearAck],
    );
    if (changed) {
      await db.query(
        `INSERT INTO alert_events (project_id, rule_id, instance_id, rule_name, severity, fingerprint, labels, from_state, to_state, value, at, notification)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [rule.project_id, rule.id, saved.rows[0]!.id, rule.name, rule.severity, fp, JSON.stringify(allLabels), prev.state, next.state,
          finite(next.value), now, notification],
      );
      transitions.push({ fingerprint: fp, labels, from: prev.state, to: next.state, value: next.value, notification });
    }
  }

  let messages = 0;
  if (toSend.length > 0) {
    for (const ch of channels) {
      const m: MessageContext = {
        project: rule.project_id,
        receiver: ch.name,
        rule: { id: rule.id, name: rule.name, severity: rule.severity },
        externalUrl,
        evaluatedAt: now,
        alerts: toSend,
      };
      const kind = toSend.some((a) => a.status === 'firing') ? 'firing' : 'resolved';
      await db.query(
        `INSERT INTO webhook_deliveries (message_id, project_id, channel_id, rule_id, kind, payload, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [`msg_${randomUUID()}`, rule.project_id, ch.id, rule.id, kind, JSON.stringify(ch.type === 'slack' ? slackBody(m) : alertmanagerBody(m)), now],
      );
      messages += 1;
    }
  }

  // Stay on the rule's tick grid (next_eval_at + k × interval), skipping ticks already past.
  const iv = rule.interval_s * 1000;
  const prevDue = lock.next_eval_at.getTime();
  const next = prevDue + (Math.max(0, Math.floor((now.getTime() - prevDue) / iv)) + 1) * iv;
  await db.query(
    `UPDATE alert_rules SET next_eval_at = $2, lease_owner = NULL, lease_until = NULL, last_eval_at = $3,
       consecutive_failures = $4, last_error = $5 WHERE id = $1`,
    [rule.id, new Date(next), now, failures, result.ok ? null : result.error],
  );
  return { applied: true, transitions, messages, consecutiveFailures: failures };
}

/** NaN / ±Infinity cannot be stored as double precision values meaningfully: null. */
function finite(v: number | null): number | null {
  return v === null || !Number.isFinite(v) ? null : v;
}
