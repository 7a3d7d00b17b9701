/**
 * Reading alert state for the API, acknowledging alerts, and silences —
 * every function confined to one project.
 */
import type pg from 'pg';
import type { z } from 'zod';
import type { AlertState } from './state-machine.js';
import type { SilenceInput } from './silences.js';

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

/** An alert instance as the API shows it. Times ISO-8601 UTC. */
export interface AlertView {
  id: string;
  rule_id: string;
  rule_name: string;
  severity: string;
  fingerprint: string;
  labels: Record<string, string>;
  state: AlertState;
  value: number | null;
  active_at: string | null;
  firing_at: string | null;
  resolved_at: string | null;
  last_eval_at: string | null;
  state_changed_at: string;
  last_notified_at: string | null;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
  ack_comment: string | null;
}

interface AlertRow {
  id: string;
  rule_id: string;
  rule_name: string;
  severity: string;
  fingerprint: string;
  labels: Record<string, string>;
  state: AlertState;
  value: number | null;
  active_at: Date | null;
  firing_at: Date | null;
  resolved_at: Date | null;
  last_eval_at: Date | null;
  state_changed_at: Date;
  last_notified_at: Date | null;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  ack_comment: string | null;
}

const ALERT_COLUMNS = `i.id::text, i.rule_id::text, r.name AS rule_name, r.severity, i.fingerprint, i.labels, i.state, i.value,
  i.active_at, i.firing_at, i.resolved_at, i.last_eval_at, i.state_changed_at, i.last_notified_at,
  i.acknowledged_at, i.acknowledged_by, i.ack_comment`;

function alertView(r: AlertRow): AlertView {
  return {
    ...r,
    active_at: iso(r.active_at),
    firing_at: iso(r.firing_at),
    resolved_at: iso(r.resolved_at),
    last_eval_at: iso(r.last_eval_at),
    state_changed_at: r.state_changed_at.toISOString(),
    last_notified_at: iso(r.last_notified_at),
    acknowledged_at: iso(r.acknowledged_at),
  };
}

/** Filters of {@link listAlerts}; `state` default: every state but normal. */
export interface AlertFilter {
  state?: AlertState | 'active' | 'all';
  severity?: string;
  rule_id?: string;
  limit: number;
}

/** Alert instances of the project, most recently changed first. */
export async function listAlerts(pool: pg.Pool, project: string, f: AlertFilter): Promise<AlertView[]> {
  const where = ['i.project_id = $1'];
  const params: unknown[] = [project];
  const state = f.state ?? 'active';
  if (state === 'active') where.push("i.state <> 'normal'");
  else if (state !== 'all') where.push(`i.state = $${params.push(state)}`);
  if (f.severity !== undefined) where.push(`r.severity = $${params.push(f.severity)}`);
  if (f.rule_id !== undefined) where.push(`i.rule_id = $${params.push(f.rule_id)}`);
  const res = await pool.query<AlertRow>(
    `SELECT ${ALERT_COLUMNS} FROM alert_instances i JOIN alert_rules r ON r.id = i.rule_id
     WHERE ${where.join(' AND ')} ORDER BY i.state_changed_at DESC, i.id LIMIT $${params.push(f.limit)}`,
    params,
  );
  return res.rows.map(alertView);
}

/** One alert instance of the project, or undefined. */
export async function getAlert(pool: pg.Pool, project: string, id: string): Promise<AlertView | undefined> {
  const res = await pool.query<AlertRow>(
    `SELECT ${ALERT_COLUMNS} FROM alert_instances i JOIN alert_rules r ON r.id = i.rule_id WHERE i.project_id = $1 AND i.id = $2`,
    [project, id],
  );
  return res.rows[0] === undefined ? undefined : alertView(res.rows[0]);
}

/**
 * Acknowledge an alert: no more firing notifications or repeats for it until
 * it returns to normal (the acknowledgement is cleared then); evaluation goes on.
 * @returns the alert, or undefined when absent.
 */
export async function ackAlert(pool: pg.Pool, project: string, id: string, by: string, comment: string, now: Date = new Date()): Promise<AlertView | undefined> {
  const res = await pool.query(
    'UPDATE alert_instances SET acknowledged_at = $3, acknowledged_by = $4, ack_comment = $5 WHERE project_id = $1 AND id = $2',
    [project, id, now, by, comment],
  );
  if ((res.rowCount ?? 0) === 0) return undefined;
  return getAlert(pool, project, id);
}

/** One history entry. */
export interface EventView {
  id: number;
  rule_id: string | null;
  instance_id: string | null;
  rule_name: string;
  severity: string;
  fingerprint: string;
  labels: Record<string, string>;
  from_state: string;
  to_state: string;
  value: number | null;
  at: string;
  notification: string;
}

/** History of the project, newest first; `before` pages by event id. */
export async function listEvents(
  pool: pg.Pool,
  project: string,
  f: { rule_id?: string; fingerprint?: string; from?: Date; to?: Date; before?: number; limit: number },
): Promise<EventView[]> {
  const where = ['project_id = $1'];
  const params: unknown[] = [project];
  if (f.rule_id !== undefined) where.push(`rule_id = $${params.push(f.rule_id)}`);
  if (f.fingerprint !== undefined) where.push(`fingerprint = $${params.push(f.fingerprint)}`);
  if (f.from !== undefined) where.push(`at >= $${params.push(f.from)}`);
  if (f.to !== undefined) where.push(`at < $${params.push(f.to)}`);
  if (f.before !== undefined) where.push(`id < $${params.push(f.before)}`);
  const res = await pool.query<Omit<EventView, 'at' | 'id'> & { id: string; at: Date }>(
    `SELECT id, rule_id::text, instance_id::text, rule_name, severity, fingerprint, labels, from_state, to_state, value, at, notification
     FROM alert_events WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.push(f.limit)}`,
    params,
  );
  return res.rows.map((r) => ({ ...r, id: Number(r.id), at: r.at.toISOString() }));
}

/** One outbox row as the API shows it. */
export interface DeliveryView {
  id: number;
  message_id: string;
  channel_id: string;
  rule_id: string | null;
  kind: string;
  status: string;
  attempts: number;
  next_attempt_at: string;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
  payload?: unknown;
}

/** Deliveries of the project, newest first. */
export async function listDeliveries(
  pool: pg.Pool,
  project: string,
  f: { channel_id?: string; rule_id?: string; status?: string; before?: number; limit: number; payload?: boolean },
): Promise<DeliveryView[]> {
  const where = ['project_id = $1'];
  const params: unknown[] = [project];
  if (f.channel_id !== undefined) where.push(`channel_id = $${params.push(f.channel_id)}`);
  if (f.rule_id !== undefined) where.push(`rule_id = $${params.push(f.rule_id)}`);
  if (f.status !== undefined) where.push(`status = $${params.push(f.status)}`);
  if (f.before !== undefined) where.push(`id < $${params.push(f.before)}`);
  const res = await pool.query(
    `SELECT id, message_id, channel_id::text, rule_id::text, kind, status, attempts, next_attempt_at, last_status_code, last_error,
            created_at, delivered_at${f.payload === true ? ', payload' : ''}
     FROM webhook_deliveries WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.push(f.limit)}`,
    params,
  );
  return res.rows.map((r: Record<string, unknown>) => ({
    ...(r as unknown as DeliveryView),
    id: Number(r.id),
    next_attempt_at: (r.next_attempt_at as Date).toISOString(),
    created_at: (r.created_at as Date).toISOString(),
    delivered_at: iso(r.delivered_at as Date | null),
  }));
}

/** A silence as the API shows it. */
export interface SilenceView {
  id: string;
  matchers: unknown;
  starts_at: string;
  ends_at: string;
  comment: string;
  created_by: string;
  created_at: string;
  active: boolean;
}

function silenceView(r: { id: string; matchers: unknown; starts_at: Date; ends_at: Date; comment: string; created_by: string; created_at: Date }, now: Date): SilenceView {
  return {
    ...r,
    starts_at: r.starts_at.toISOString(),
    ends_at: r.ends_at.toISOString(),
    created_at: r.created_at.toISOString(),
    active: r.starts_at <= now && r.ends_at > now,
  };
}

/** Create a silence. */
export async function createSilence(pool: pg.Pool, project: string, s: z.output<typeof SilenceInput>, now: Date = new Date()): Promise<SilenceView> {
  const res = await pool.query(
    `INSERT INTO silences (project_id, matchers, starts_at, ends_at, comment, created_by) VALUES ($1, $2, $3, $4, $5, $6)
     RETURNING id::text, matchers, starts_at, ends_at, comment, created_by, created_at`,
    [project, JSON.stringify(s.matchers), s.starts_at === undefined ? now : new Date(s.starts_at), new Date(s.ends_at), s.comment ?? '', s.created_by ?? ''],
  );
  return silenceView(res.rows[0], now);
}

/** Silences of the project not yet ended (expired ones with `all`), newest first. */
export async function listSilences(pool: pg.Pool, project: string, all: boolean, now: Date = new Date()): Promise<SilenceView[]> {
  const res = await pool.query(
    `SELECT id::text, matchers, starts_at, ends_at, comment, created_by, created_at FROM silences
     WHERE project_id = $1 ${all ? '' : 'AND ends_at > $2'} ORDER BY created_at DESC LIMIT 500`,
    all ? [project] : [project, now],
  );
  return res.rows.map((r) => silenceView(r, now));
}

/** Expire a silence now (kept for the record). @returns false when absent or already over. */
export async function expireSilence(pool: pg.Pool, project: string, id: string, now: Date = new Date()): Promise<boolean> {
  const res = await pool.query(
    'UPDATE silences SET ends_at = GREATEST($3, starts_at + interval \'1 millisecond\') WHERE project_id = $1 AND id = $2 AND ends_at > $3',
    [project, id, now],
  );
  return (res.rowCount ?? 0) > 0;
}
