/**
 * Vigil-side set-up of the demo flag (run by `vigil start` with the demo, in
 * Vigil's process): creates flag {@link DEMO_FLAG} (demo/flags.ts) and the
 * experiment "Demo: gpt-4o vs gpt-4o-mini" on it for the project, if missing.
 * Existing ones are left as they are (a user's changes survive restarts).
 */
import type pg from 'pg';
import { createExperiment, listExperiments } from '../flags/experiments-store.js';
import { parseFlag } from '../flags/model.js';
import { createFlag, getFlagRow } from '../flags/store.js';
import { DEMO_FLAG, demoFlagDefinition } from './flags.js';

export const DEMO_EXPERIMENT = 'Demo: gpt-4o vs gpt-4o-mini';

/**
 * Ensure the demo flag and experiment exist in `project`.
 * @returns the experiment id (existing or new).
 */
export async function ensureDemoFlag(pool: pg.Pool, project: string): Promise<string> {
  if ((await getFlagRow(pool, project, DEMO_FLAG)) === undefined) {
    await createFlag(pool, project, parseFlag(demoFlagDefinition()), 'vigil start (demo)').catch((err: unknown) => {
      // Another process created it meanwhile.
      if ((err as { code?: string }).code !== 'VIGIL_ERR_CONFLICT') throw err;
    });
  }
  const existing = (await listExperiments(pool, project)).find((e) => e.name === DEMO_EXPERIMENT);
  if (existing !== undefined) return existing.id;
  const row = await createExperiment(pool, project, {
    name: DEMO_EXPERIMENT,
    flag_key: DEMO_FLAG,
    hypothesis: 'gpt-4o (variant full) makes /chat slower and costlier per request than gpt-4o-mini (mini, the control)',
    control_variant: 'mini',
    status: 'running',
    start_at: null,
    end_at: null,
  });
  return row.id;
}
