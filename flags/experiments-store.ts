/**
 * Experiments (table ab_experiments, migration 0003; seed 003's shape): a
 * named comparison of one flag's variants with a hypothesis, a status
 * (draft → running → stopped), a window (start_at, end_at) and the control
 * variant (default: the flag's default variant). Results are computed on
 * demand from the spans (flags/experiments.ts). Confined to one project.
 *
 * API body: `{ name, flag_key, hypothesis?, control_variant?, status?: draft|running|stopped,
 * start_at?: ISO-8601, end_at?: ISO-8601 }`. Starting (status running) sets
 * start_at to now when unset; stopping sets end_at likewise.
 */
import type pg from 'pg';
import { z } from 'zod';
import { ValidationError, VigilError } from '../platform/errors.js';
import { flagKey, zodToValidation } from './model.js';

export const EXPERIMENT_STATUSES = ['draft', 'running', 'stopped'] as const;

const isoTime = z
  .string({ error: 'expected an ISO-8601 time with a zone, e.g. 2025-01-31T12:00:00Z' })
  .refine((s) => /(Z|[+-]\d{2}:?\d{2})$/.test(s) && Number.isFinite(Date.parse(s)), { message: 'expected an ISO-8601 time with a zone, e.g. 2025-01-31T12:00:00Z' });

/** An experiment as the API accepts it. */
export const ExperimentInput = z.strictObject({
  name: z.string({ error: 'expected a name' }).min(1, { message: 'must not be empty' }).max(200),
  flag_key: flagKey,
  hypothesis: z.string().max(4096).optional().transform((h) => h ?? ''),
  control_variant: z.string().min(1).max(64).nullable().optional().transform((c) => c ?? null),
  status: z.enum(EXPERIMENT_STATUSES, { error: 'expected draft, running or stopped' }).optional().transform((s) => s ?? 'draft'),
  start_at: isoTime.nullable().optional().transform((t) => t ?? null),
  end_at: isoTime.nullable().optional().transform((t) => t ?? null),
});
export type ExperimentSpec = z.output<typeof ExperimentInput>;

/** A stored experiment. */
export interface ExperimentRow {
  id: string;
  name: string;
  flag_key: string;
  hypothesis: string;
  control_variant: string | null;
  status: (typeof EXPERIMENT_STATUSES)[number];
  start_at: Date | null;
  end_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id::text, name, flag_key, hypothesis, control_variant, status, start_at, end_at, created_at, updated_at';

/** Validate an experiment body. @throws ValidationError naming the field. */
export function parseExperiment(body: unknown): ExperimentSpec {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ValidationError('body', 'expected a JSON object (Content-Type: application/json)');
  const r = ExperimentInput.safeParse(body);
  if (!r.success) throw zodToValidation(r.error);
  const s = r.data;
  if (s.start_at !== null && s.end_at !== null && Date.parse(s.end_at) <= Date.parse(s.start_at)) throw new ValidationError('end_at', 'must be later than start_at');
  return s;
}

/** API view. */
export function experimentView(r: ExperimentRow): Record<string, unknown> {
  return {
    id: r.id, name: r.name, flag_key: r.flag_key, hypothesis: r.hypothesis, control_variant: r.control_variant, status: r.status,
    start_at: r.start_at?.toISOString() ?? null, end_at: r.end_at?.toISOString() ?? null,
    created_at: r.created_at.toISOString(), updated_at: r.updated_at.toISOString(),
  };
}

/** Check the flag exists and has the control variant. */
async function checkFlag(db: pg.Pool | pg.PoolClient, project: string, s: ExperimentSpec): Promise<void> {
  const f = await db.query<{ variants: Record<string, unknown> }>('SELECT variants FROM feature_flags WHERE project_id = $1 AND key = $2', [project, s.flag_key]);
  const row = f.rows[0];
  if (row === undefined) throw new ValidationError('flag_key', `no flag ${s.flag_key} in this project; create it with POST /api/v1/flags`);
  if (s.control_variant !== null && !Object.hasOwn(row.variants, s.control_variant)) {
    throw new ValidationError('control_variant', `flag ${s.flag_key} has no variant ${JSON.stringify(s.control_variant)}; its variants are ${Object.keys(row.variants).join(', ')}`);
  }
}

const conflict = (name: string) => new VigilError('VIGIL_ERR_CONFLICT', `name: an experiment named ${JSON.stringify(name)} already exists in this project`);

const VALUES = (s: ExperimentSpec) => [
  s.name, s.flag_key, s.hypothesis, s.control_variant, s.status,
  s.start_at ?? (s.status === 'running' ? new Date().toISOString() : null),
  s.end_at ?? (s.status === 'stopped' ? new Date().toISOString() : null),
];

/** Create an experiment. @throws ValidationError (unknown flag / control), VIGIL_ERR_CONFLICT (name taken). */
export async function createExperiment(pool: pg.Pool, project: string, s: ExperimentSpec): Promise<ExperimentRow> {
  await checkFlag(pool, project, s);
  try {
    const res = await pool.query<ExperimentRow>(
      `INSERT INTO ab_experiments (project_id, name, flag_key, hypothesis, control_variant, status, start_at, end_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
      [project, ...VALUES(s)],
    );
    return res.rows[0]!;
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw conflict(s.name);
    throw err;
  }
}

/** Replace an experiment's fields. @returns undefined when absent. */
export async function updateExperiment(pool: pg.Pool, project: string, id: string, s: ExperimentSpec): Promise<ExperimentRow | undefined> {
  await checkFlag(pool, project, s);
  try {
    const res = await pool.query<ExperimentRow>(
      `UPDATE ab_experiments SET name = $3, flag_key = $4, hypothesis = $5, control_variant = $6, status = $7, start_at = $8, end_at = $9, updated_at = now()
       WHERE project_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
      [project, id, ...VALUES(s)],
    );
    return res.rows[0];
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw conflict(s.name);
    throw err;
  }
}

/** One experiment, or undefined. */
export async function getExperiment(pool: pg.Pool, project: string, id: string): Promise<ExperimentRow | undefined> {
  return (await pool.query<ExperimentRow>(`SELECT ${COLUMNS} FROM ab_experiments WHERE project_id = $1 AND id = $2`, [project, id])).rows[0];
}

/** Every experiment of the project, newest first. */
export async function listExperiments(pool: pg.Pool, project: string): Promise<ExperimentRow[]> {
  return (await pool.query<ExperimentRow>(`SELECT ${COLUMNS} FROM ab_experiments WHERE project_id = $1 ORDER BY created_at DESC, name`, [project])).rows;
}

/** Delete one. @returns false when absent. */
export async function deleteExperiment(pool: pg.Pool, project: string, id: string): Promise<boolean> {
  return ((await pool.query('DELETE FROM ab_experiments WHERE project_id = $1 AND id = $2', [project, id])).rowCount ?? 0) > 0;
}
