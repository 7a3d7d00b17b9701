/**
 * Experiment routes (authenticated, tenant-confined):
 * - GET    /api/v1/experiments        → { experiments: ExperimentView[] }
 * - POST   /api/v1/experiments        → 201 ExperimentView (`{name, flag_key, hypothesis?, control_variant?, status?, start_at?, end_at?}`)
 * - GET    /api/v1/experiments/:ref   → `ref` an experiment id: { experiment, results };
 *                                        `ref` a flag key: ExperimentResults (flags/experiments.ts)
 * - PATCH  /api/v1/experiments/:id    → ExperimentView (fields given replace the current ones)
 * - DELETE /api/v1/experiments/:id    → 204
 *
 * Results query parameters: from, to (default: the experiment's window, else
 * the last hour), control (default: the experiment's control_variant, else
 * the flag's default variant), service, confidence (0.8 | 0.9 | 0.95 | 0.99).
 */
import type { FastifyPluginAsync } from 'fastify';
import type pg from 'pg';
import { experimentResults } from '../../flags/experiments.js';
import {
  createExperiment, deleteExperiment, experimentView, getExperiment, listExperiments, parseExperiment, updateExperiment, type ExperimentRow,
} from '../../flags/experiments-store.js';
import { FLAG_KEY_RE } from '../../flags/model.js';
import { getFlagRow } from '../../flags/store.js';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { ValidationError, VigilError } from '../../platform/errors.js';
import { tenantOf } from '../auth.js';
import { parseParams, resolveWindow } from '../params.js';
import { ExperimentIdParams, experimentDocs, RefParams, ResultsQuery } from './flags.schemas.js';

export interface ExperimentRoutesOptions {
  pool: pg.Pool;
  clickhouse: ClickHouseHandle;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const msToNs = (d: Date) => BigInt(d.getTime()) * 1_000_000n;

/** Fastify plugin with the experiment routes; expects an auth hook in an enclosing scope. */
export const experimentRoutes: FastifyPluginAsync<ExperimentRoutesOptions> = async (app, opts) => {
  const { pool } = opts;
  const notFound = (id: string) => new VigilError('VIGIL_ERR_NOT_FOUND', `no experiment ${id} in this project`);

  app.get('/api/v1/experiments', { schema: experimentDocs.list }, async (request) => ({
    experiments: (await listExperiments(pool, tenantOf(request))).map(experimentView),
  }));

  app.post('/api/v1/experiments', { schema: experimentDocs.create }, async (request, reply) => {
    const tenant = tenantOf(request);
    return reply.status(201).send(experimentView(await createExperiment(pool, tenant, parseExperiment(request.body))));
  });

  app.get('/api/v1/experiments/:ref', { schema: experimentDocs.results }, async (request) => {
    const { ref } = parseParams(RefParams, request.params);
    const q = parseParams(ResultsQuery, request.query);
    const tenant = tenantOf(request);
    let exp: ExperimentRow | undefined;
    if (UUID_RE.test(ref)) exp = await getExperiment(pool, tenant, ref.toLowerCase());
    if (exp === undefined && !FLAG_KEY_RE.test(ref)) throw new ValidationError('ref', 'expected an experiment id (uuid) or a flag key');
    const flagKey = exp?.flag_key ?? ref;
    const flag = await getFlagRow(pool, tenant, flagKey);
    if (flag === undefined) throw new VigilError('VIGIL_ERR_NOT_FOUND', exp === undefined ? `no experiment or flag ${ref} in this project` : `flag ${flagKey} of experiment ${exp.name} no longer exists`);
    const control = q.control ?? exp?.control_variant ?? flag.default_variant;
    if (!Object.hasOwn(flag.variants, control)) throw new ValidationError('control', `flag ${flagKey} has no variant ${JSON.stringify(control)}; its variants are ${Object.keys(flag.variants).join(', ')}`);
    const win = resolveWindow(q.from ?? (exp?.start_at ? msToNs(exp.start_at) : undefined), q.to ?? (exp?.end_at ? msToNs(exp.end_at) : undefined));
    const results = await experimentResults(opts.clickhouse, {
      tenant, flag: flagKey, from: win.from, to: win.to, control,
      knownVariants: Object.keys(flag.variants), service: q.service, confidence: q.confidence === undefined ? 0.95 : Number(q.confidence),
    });
    return exp === undefined ? results : { experiment: experimentView(exp), results };
  });

  app.patch('/api/v1/experiments/:id', { schema: experimentDocs.patch }, async (request) => {
    const { id } = parseParams(ExperimentIdParams, request.params);
    const tenant = tenantOf(request);
    const cur = await getExperiment(pool, tenant, id);
    if (cur === undefined) throw notFound(id);
    const body = request.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ValidationError('body', 'expected a JSON object with the fields to change');
    const { id: _id, created_at: _c, updated_at: _u, ...current } = experimentView(cur);
    const spec = parseExperiment({ ...current, ...(body as Record<string, unknown>) });
    const row = await updateExperiment(pool, tenant, id, spec);
    if (row === undefined) throw notFound(id);
    return experimentView(row);
  });

  app.delete('/api/v1/experiments/:id', { schema: experimentDocs.delete }, async (request, reply) => {
    const { id } = parseParams(ExperimentIdParams, request.params);
    if (!(await deleteExperiment(pool, tenantOf(request), id))) throw notFound(id);
    return reply.status(204).send();
  });
};
