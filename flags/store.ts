/**
 * Feature flags in Postgres (feature_flags, feature_flag_overrides,
 * feature_flag_changes; migration 0003). Every function is confined to one
 * project, and every change writes a feature_flag_changes row (who, when,
 * before/after in API form) in the same transaction; its insert trigger
 * announces the change on `vigil_flag_changes` at commit (flags/cache.ts).
 */
import type pg from 'pg';
import { ValidationError, VigilError } from '../platform/errors.js';
import { flagToApi, parseFlag, targetingOf, type FlagSpec, type Rule, type Serve } from './model.js';

/** A stored flag row. */
export interface FlagRow {
  project_id: string;
  key: string;
  description: string;
  type: FlagSpec['type'];
  variants: Record<string, unknown>;
  default_variant: string;
  enabled: boolean;
  targeting: { rules?: Rule[]; fallthrough?: Serve; bucket_by?: string };
  metadata: Record<string, string | number | boolean>;
  version: number;
  created_at: Date;
  updated_at: Date;
}

/** One override row. */
export interface OverrideRow {
  flag_key: string;
  scope: 'user' | 'workspace';
  subject: string;
  variant: string;
  updated_at: Date;
}

/** One change row (API form). */
export interface ChangeRow {
  id: string;
  flag_key: string;
  action: 'create' | 'update' | 'delete' | 'override_set' | 'override_delete';
  actor: string;
  at: Date;
  before: unknown;
  after: unknown;
}

const COLUMNS = 'project_id, key, description, type, variants, default_variant, enabled, targeting, metadata, version, created_at, updated_at';

/** The API body of a stored row (what parseFlag accepts). */
export function rowToApi(r: FlagRow): Record<string, unknown> {
  return {
    key: r.key,
    description: r.description,
    type: r.type,
    variants: r.variants,
    default_variant: r.default_variant,
    enabled: r.enabled,
    rules: r.targeting.rules ?? [],
    ...(r.targeting.fallthrough === undefined ? {} : { fallthrough: r.targeting.fallthrough }),
    bucket_by: r.targeting.bucket_by ?? 'targetingKey',
    metadata: r.metadata,
  };
}

/** Row → spec, re-validated. @throws ValidationError when the stored definition does not parse. */
export function rowToSpec(r: FlagRow): FlagSpec {
  return parseFlag(rowToApi(r));
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

async function recordChange(db: pg.PoolClient, project: string, key: string, action: ChangeRow['action'], actor: string, before: unknown, after: unknown): Promise<void> {
  await db.query(
    'INSERT INTO feature_flag_changes (project_id, flag_key, action, actor, before, after) VALUES ($1, $2, $3, $4, $5, $6)',
    [project, key, action, actor, before === undefined ? null : JSON.stringify(before), after === undefined ? null : JSON.stringify(after)],
  );
}

const notFound = (key: string) => new VigilError('VIGIL_ERR_NOT_FOUND', `no flag ${key} in this project`);

/** The API view of a row: the definition plus version and times. */
export function flagView(r: FlagRow): Record<string, unknown> {
  return { ...rowToApi(r), version: r.version, created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString() };
}

/** One flag row, or undefined. */
export async function getFlagRow(db: pg.Pool | pg.PoolClient, project: string, key: string, forUpdate = false): Promise<FlagRow | undefined> {
  const res = await db.query<FlagRow>(`SELECT ${COLUMNS} FROM feature_flags WHERE project_id = $1 AND key = $2${forUpdate ? ' FOR UPDATE' : ''}`, [project, key]);
  return res.rows[0];
}

/** Every flag row of the project, by key. */
export async function listFlagRows(db: pg.Pool | pg.PoolClient, project: string): Promise<FlagRow[]> {
  return (await db.query<FlagRow>(`SELECT ${COLUMNS} FROM feature_flags WHERE project_id = $1 ORDER BY key`, [project])).rows;
}

/**
 * Create a flag (and the project row if missing).
 * @throws VigilError VIGIL_ERR_CONFLICT (409) when the key exists in the project.
 */
export async function createFlag(pool: pg.Pool, project: string, spec: FlagSpec, actor: string): Promise<FlagRow> {
  return inTransaction(pool, async (db) => {
    await db.query('INSERT INTO projects (id, name) VALUES ($1, $1) ON CONFLICT (id) DO NOTHING', [project]);
    const res = await db.query<FlagRow>(
      `INSERT INTO feature_flags (project_id, key, description, type, variants, default_variant, enabled, targeting, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (project_id, key) DO NOTHING RETURNING ${COLUMNS}`,
      [project, spec.key, spec.description, spec.type, JSON.stringify(spec.variants), spec.default_variant, spec.enabled, JSON.stringify(targetingOf(spec)), JSON.stringify(spec.metadata)],
    );
    const row = res.rows[0];
    if (row === undefined) throw new VigilError('VIGIL_ERR_CONFLICT', `key: a flag ${spec.key} already exists in this project; change it with PUT or PATCH /api/v1/flags/${spec.key}`);
    await recordChange(db, project, spec.key, 'create', actor, undefined, flagToApi(spec));
    return row;
  });
}

/**
 * Replace a flag's definition (its key stays). `build` gets the current API
 * body and returns the new spec (PATCH merges there), inside the transaction
 * with the row locked, so concurrent changes never lose each other.
 * @returns the updated row.
 * @throws VigilError VIGIL_ERR_NOT_FOUND when absent; ValidationError from
 *   `build`, or `variants` when an override uses a variant that would be removed.
 */
export async function updateFlag(pool: pg.Pool, project: string, key: string, build: (current: Record<string, unknown>) => FlagSpec, actor: string): Promise<FlagRow> {
  return inTransaction(pool, async (db) => {
    const cur = await getFlagRow(db, project, key, true);
    if (cur === undefined) throw notFound(key);
    const before = rowToApi(cur);
    const spec = build(before);
    if (spec.key !== key) throw new ValidationError('key', `the key of a flag cannot change (it is ${key}); create a new flag instead`);
    const used = await db.query<{ scope: string; subject: string; variant: string }>(
      'SELECT scope, subject, variant FROM feature_flag_overrides WHERE project_id = $1 AND flag_key = $2 AND NOT (variant = ANY($3::text[])) LIMIT 1',
      [project, key, Object.keys(spec.variants)],
    );
    const u = used.rows[0];
    if (u !== undefined) throw new ValidationError('variants', `variant ${u.variant} is used by the ${u.scope} override for ${u.subject}; delete or change that override first`);
    const res = await db.query<FlagRow>(
      `UPDATE feature_flags SET description = $3, type = $4, variants = $5, default_variant = $6, enabled = $7, targeting = $8,
         metadata = $9, version = version + 1, updated_at = now()
       WHERE project_id = $1 AND key = $2 RETURNING ${COLUMNS}`,
      [project, key, spec.description, spec.type, JSON.stringify(spec.variants), spec.default_variant, spec.enabled, JSON.stringify(targetingOf(spec)), JSON.stringify(spec.metadata)],
    );
    await recordChange(db, project, key, 'update', actor, before, flagToApi(spec));
    return res.rows[0]!;
  });
}

/**
 * Delete a flag with its overrides (its change history is kept).
 * @throws VigilError VIGIL_ERR_NOT_FOUND when absent; VIGIL_ERR_CONFLICT when an experiment uses it.
 */
export async function deleteFlag(pool: pg.Pool, project: string, key: string, actor: string): Promise<void> {
  await inTransaction(pool, async (db) => {
    const cur = await getFlagRow(db, project, key, true);
    if (cur === undefined) throw notFound(key);
    const exp = await db.query<{ name: string }>('SELECT name FROM ab_experiments WHERE project_id = $1 AND flag_key = $2 ORDER BY name LIMIT 1', [project, key]);
    if (exp.rows[0] !== undefined) {
      throw new VigilError('VIGIL_ERR_CONFLICT', `flag ${key} is used by experiment ${JSON.stringify(exp.rows[0].name)}; delete the experiment first`);
    }
    await db.query('DELETE FROM feature_flags WHERE project_id = $1 AND key = $2', [project, key]);
    await recordChange(db, project, key, 'delete', actor, rowToApi(cur), undefined);
  });
}

/** The overrides of one flag, user ones first. */
export async function listOverrides(db: pg.Pool | pg.PoolClient, project: string, key: string): Promise<OverrideRow[]> {
  const res = await db.query<OverrideRow>(
    'SELECT flag_key, scope, subject, variant, updated_at FROM feature_flag_overrides WHERE project_id = $1 AND flag_key = $2 ORDER BY scope, subject',
    [project, key],
  );
  return res.rows;
}

/**
 * Set the variant a user or workspace gets.
 * @throws VigilError VIGIL_ERR_NOT_FOUND for an unknown flag; ValidationError `variant` for an unknown variant.
 */
export async function setOverride(pool: pg.Pool, project: string, key: string, scope: 'user' | 'workspace', subject: string, variant: string, actor: string): Promise<OverrideRow> {
  return inTransaction(pool, async (db) => {
    const flag = await getFlagRow(db, project, key, true);
    if (flag === undefined) throw notFound(key);
    if (!Object.hasOwn(flag.variants, variant)) throw new ValidationError('variant', `no variant ${JSON.stringify(variant)}; the variants are ${Object.keys(flag.variants).join(', ')}`);
    const prev = await db.query<{ variant: string }>('SELECT variant FROM feature_flag_overrides WHERE project_id = $1 AND flag_key = $2 AND scope = $3 AND subject = $4', [project, key, scope, subject]);
    const res = await db.query<OverrideRow>(
      `INSERT INTO feature_flag_overrides (project_id, flag_key, scope, subject, variant) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (project_id, flag_key, scope, subject) DO UPDATE SET variant = EXCLUDED.variant, updated_at = now()
       RETURNING flag_key, scope, subject, variant, updated_at`,
      [project, key, scope, subject, variant],
    );
    const before = prev.rows[0] === undefined ? undefined : { scope, subject, variant: prev.rows[0].variant };
    await recordChange(db, project, key, 'override_set', actor, before, { scope, subject, variant });
    return res.rows[0]!;
  });
}

/** Remove an override. @returns false when there was none. @throws VigilError VIGIL_ERR_NOT_FOUND for an unknown flag. */
export async function deleteOverride(pool: pg.Pool, project: string, key: string, scope: 'user' | 'workspace', subject: string, actor: string): Promise<boolean> {
  return inTransaction(pool, async (db) => {
    if ((await getFlagRow(db, project, key, true)) === undefined) throw notFound(key);
    const res = await db.query<{ variant: string }>(
      'DELETE FROM feature_flag_overrides WHERE project_id = $1 AND flag_key = $2 AND scope = $3 AND subject = $4 RETURNING variant',
      [project, key, scope, subject],
    );
    const gone = res.rows[0];
    if (gone === undefined) return false;
    await recordChange(db, project, key, 'override_delete', actor, { scope, subject, variant: gone.variant }, undefined);
    return true;
  });
}

/**
 * Changes of one flag, newest first (also after the flag was deleted).
 * @param before only changes with a smaller id (paging with next_before).
 */
export async function listChanges(pool: pg.Pool, project: string, key: string, limit: number, before?: number): Promise<ChangeRow[]> {
  const res = await pool.query<ChangeRow>(
    `SELECT c.id::text AS id, c.flag_key, c.action, c.actor, c.at, c.before, c.after FROM feature_flag_changes c
     WHERE c.project_id = $1 AND c.flag_key = $2 AND ($3::bigint IS NULL OR c.id < $3) ORDER BY c.id DESC LIMIT $4`,
    [project, key, before ?? null, limit],
  );
  return res.rows;
}
