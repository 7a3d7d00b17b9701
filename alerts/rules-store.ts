/**
 * Alert rules in Postgres (table alert_rules + alert_rule_channels; migration
 * 0002_alerting.sql). Every function is confined to one project.
 */
import type pg from 'pg';
import { ValidationError, VigilError } from '../platform/errors.js';
import type { Condition, Rule, RuleSpec } from './rule-schema.js';

/** Columns selected for a rule, with its channel ids aggregated. */
export const RULE_COLUMNS = `r.id, r.project_id, r.name, r.description, r.severity, r.enabled, r.labels, r.annotations,
  r.condition, r.interval_s, r.for_s, r.keep_firing_for_s, r.repeat_interval_s, r.no_data_state,
  r.exec_err_state, r.evaluation_delay_s, r.builtin, r.next_eval_at, r.last_eval_at,
  r.consecutive_failures, r.last_error, r.created_at, r.updated_at,
  COALESCE((SELECT array_agg(c.channel_id::text ORDER BY c.channel_id) FROM alert_rule_channels c WHERE c.rule_id = r.id), '{}') AS channels`;

/** A rule row as selected with {@link RULE_COLUMNS}. */
export interface RuleRow {
  id: string;
  project_id: string;
  name: string;
  description: string;
  severity: Rule['severity'];
  enabled: boolean;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  condition: Condition;
  interval_s: number;
  for_s: number;
  keep_firing_for_s: number;
  repeat_interval_s: number;
  no_data_state: Rule['no_data_state'];
  exec_err_state: Rule['exec_err_state'];
  evaluation_delay_s: number;
  builtin: string | null;
  next_eval_at: Date;
  last_eval_at: Date | null;
  consecutive_failures: number;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  channels: string[];
}

/** Row → {@link Rule}. */
export function rowToRule(r: RuleRow): Rule {
  return {
    id: r.id,
    project_id: r.project_id,
    builtin: r.builtin,
    name: r.name,
    description: r.description,
    severity: r.severity,
    enabled: r.enabled,
    labels: r.labels,
    annotations: r.annotations,
    condition: r.condition,
    interval_s: r.interval_s,
    for_s: r.for_s,
    keep_firing_for_s: r.keep_firing_for_s,
    repeat_interval_s: r.repeat_interval_s,
    no_data_state: r.no_data_state,
    exec_err_state: r.exec_err_state,
    evaluation_delay_s: r.evaluation_delay_s,
    channels: r.channels,
  };
}

/**
 * Check that every channel id belongs to the project.
 * @throws ValidationError `channels.<i>` for the first unknown id.
 */
async function checkChannels(db: pg.PoolClient, project: string, channels: string[]): Promise<void> {
  if (channels.length === 0) return;
  const res = await db.query<{ id: string }>('SELECT id::text FROM notification_channels WHERE project_id = $1 AND id = ANY($2::uuid[])', [project, channels]);
  const known = new Set(res.rows.map((r) => r.id));
  const i = channels.findIndex((c) => !known.has(c));
  if (i >= 0) throw new ValidationError(`channels.${i}`, `no channel ${channels[i]} in this project; create one with POST /api/v1/alerts/channels`);
}

const VALUES = (s: RuleSpec) => [
  s.name, s.description, s.severity, s.enabled, JSON.stringify(s.labels), JSON.stringify(s.annotations),
  JSON.stringify(s.condition), s.interval_s, s.for_s, s.keep_firing_for_s, s.repeat_interval_s,
  s.no_data_state, s.exec_err_state, s.evaluation_delay_s,
];

function conflict(name: string): VigilError {
  return new VigilError('VIGIL_ERR_CONFLICT', `name: a rule named ${JSON.stringify(name)} already exists in this project; choose another name or update that rule`);
}

/** Run `fn` in a transaction on one pooled client. */
export async function inTransaction<T>(pool: pg.Pool, fn: (db: pg.PoolClient) => Promise<T>): Promise<T> {
  const db = await pool.connect();
  try {
    await db.query('BEGIN');
    const out = await fn(db);
    await db.query('COMMIT');
    return out;
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    db.release();
  }
}

/**
 * Insert a rule (due for evaluation at once).
 * @param opts.builtin key of the built-in it comes from.
 * @param opts.ifMissing when a rule of that name exists, do nothing and return undefined.
 * @returns the new rule id.
 * @throws VigilError VIGIL_ERR_CONFLICT (409) when the name is taken (without ifMissing);
 *   ValidationError for an unknown channel.
 */
export async function insertRule(
  pool: pg.Pool,
  project: string,
  spec: RuleSpec,
  opts: { builtin?: string; ifMissing?: boolean } = {},
): Promise<string | undefined> {
  return inTransaction(pool, async (db) => {
    await checkChannels(db, project, spec.channels);
    const res = await db.query<{ id: string }>(
      `INSERT INTO alert_rules (project_id, name, description, severity, enabled, labels, annotations, condition,
         interval_s, for_s, keep_firing_for_s, repeat_interval_s, no_data_state, exec_err_state, evaluation_delay_s, builtin)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
       ON CONFLICT (project_id, name) DO NOTHING RETURNING id::text`,
      [project, ...VALUES(spec), opts.builtin ?? null],
    );
    const id = res.rows[0]?.id;
    if (id === undefined) {
      if (opts.ifMissing === true) return undefined;
      throw conflict(spec.name);
    }
    await setChannels(db, id, spec.channels);
    return id;
  });
}

async function setChannels(db: pg.PoolClient, ruleId: string, channels: string[]): Promise<void> {
  await db.query('DELETE FROM alert_rule_channels WHERE rule_id = $1', [ruleId]);
  if (channels.length > 0) {
    await db.query('INSERT INTO alert_rule_channels (rule_id, channel_id) SELECT $1, unnest($2::uuid[])', [ruleId, channels]);
  }
}

/**
 * Replace a rule's spec. Its alert instances and their state are kept; the rule
 * is due for evaluation at once.
 * @returns false when no such rule exists in the project.
 * @throws VigilError VIGIL_ERR_CONFLICT when renamed to a taken name; ValidationError for an unknown channel.
 */
export async function updateRule(pool: pg.Pool, project: string, id: string, spec: RuleSpec): Promise<boolean> {
  return inTransaction(pool, async (db) => {
    await checkChannels(db, project, spec.channels);
    let res;
    try {
      res = await db.query(
        `UPDATE alert_rules SET name = $3, description = $4, severity = $5, enabled = $6, labels = $7, annotations = $8,
           condition = $9, interval_s = $10, for_s = $11, keep_firing_for_s = $12, repeat_interval_s = $13,
           no_data_state = $14, exec_err_state = $15, evaluation_delay_s = $16, updated_at = now(), next_eval_at = now()
         WHERE project_id = $1 AND id = $2`,
        [project, id, ...VALUES(spec)],
      );
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw conflict(spec.name);
      throw err;
    }
    if (res.rowCount === 0) return false;
    await setChannels(db, id, spec.channels);
    return true;
  });
}

/** Delete a rule with its instances (history keeps its events). @returns false when absent. */
export async function deleteRule(pool: pg.Pool, project: string, id: string): Promise<boolean> {
  const res = await pool.query('DELETE FROM alert_rules WHERE project_id = $1 AND id = $2', [project, id]);
  return (res.rowCount ?? 0) > 0;
}

/** One rule row of the project, or undefined. */
export async function getRuleRow(pool: pg.Pool | pg.PoolClient, project: string, id: string): Promise<RuleRow | undefined> {
  const res = await pool.query<RuleRow>(`SELECT ${RULE_COLUMNS} FROM alert_rules r WHERE r.project_id = $1 AND r.id = $2`, [project, id]);
  return res.rows[0];
}

/** Every rule row of the project, by name. */
export async function listRuleRows(pool: pg.Pool, project: string): Promise<RuleRow[]> {
  const res = await pool.query<RuleRow>(`SELECT ${RULE_COLUMNS} FROM alert_rules r WHERE r.project_id = $1 ORDER BY r.name`, [project]);
  return res.rows;
}
