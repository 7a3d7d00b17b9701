/**
 * Admin API for an admin key (`api_keys.admin`, `vigil keys create --admin`):
 *
 * - GET  /api/v1/admin/projects → { projects: [{ id, name, created_at, active_keys, spans_per_s, logs_per_s, retention_days }] }
 * - POST /api/v1/admin/projects { id, name? } → 201 { id, name } (409 VIGIL_ERR_CONFLICT when it exists)
 * - GET  /api/v1/admin/keys?project= → { keys: [{ key_id, project, admin, created_at, last_used_at, revoked_at }] } (never secrets)
 * - POST /api/v1/admin/keys { project, admin? } → 201 { key, key_id, project, admin } (the only copy of the key)
 * - DELETE /api/v1/admin/keys/:keyId → { key_id, revoked: true } (404 when no active key has this id)
 * - GET / PUT /api/v1/admin/projects/:id/limits { spans_per_s?, logs_per_s? } (records/s, 0 = unlimited, null = default)
 *   → { project, spans_per_s, logs_per_s, effective: { spans_per_s, logs_per_s } }
 * - GET / PUT /api/v1/admin/projects/:id/retention { retention_days } (days, null = default)
 *   → { project, retention_days, effective_days }; PUT changes the ClickHouse tables' TTL (platform/retention.ts)
 *
 * Every route needs an active admin key: other keys get 403 VIGIL_ERR_FORBIDDEN
 * (after authentication, 401 as elsewhere). Registered inside the query API's
 * authenticated scope. Times are ISO-8601 UTC.
 */
import type { FastifyPluginAsync } from 'fastify';
import type pg from 'pg';
import { parseBody } from '../../alerts/rule-schema.js';
import { createApiKey, isAdminKey, revokeApiKey } from '../../platform/auth/keys.js';
import { bearerToken } from '../../platform/auth/plugin.js';
import { createProject, listProjects } from '../../platform/admin.js';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { VigilError } from '../../platform/errors.js';
import { applyRetention, loadRetention } from '../../platform/retention.js';
import { parseParams } from '../params.js';
import {
  CreateKeyBody, CreateProjectBody, KeyParams, KeysQuery, LimitsBody, ProjectParams, RetentionBody,
  createKeyDoc, createProjectDoc, getLimitsDoc, getRetentionDoc, listKeysDoc, listProjectsDoc, putLimitsDoc, putRetentionDoc, revokeKeyDoc,
} from './admin.schemas.js';

/** Options of {@link adminRoutes}. */
export interface AdminRoutesOptions {
  pool: pg.Pool;
  /** Defaults for projects without their own values: records/s (0 = unlimited) and days. */
  defaults: { spansPerS: number; logsPerS: number; retentionDays: number };
  /** Called after a project's limits or retention changed (e.g. ProjectLimits.refresh of this process's ingest). */
  onSettingsChanged?: () => Promise<void>;
}

interface SettingsRow {
  spans_per_s: number | null;
  logs_per_s: number | null;
  retention_days: number | null;
}

const FORBIDDEN =
  'this route needs an admin API key; create one with `vigil keys create --project NAME --admin` (or POST /api/v1/admin/keys with "admin": true using another admin key)';

/** The admin route group (see module doc). */
export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions & { clickhouse: ClickHouseHandle }> = async (app, opts) => {
  const { pool, defaults } = opts;

  app.addHook('preHandler', async (request) => {
    const key = bearerToken(request.headers.authorization);
    if (key === undefined || !(await isAdminKey(pool, key))) throw new VigilError('VIGIL_ERR_FORBIDDEN', FORBIDDEN);
  });

  const settingsOf = async (id: string): Promise<SettingsRow> => {
    const res = await pool.query<SettingsRow>('SELECT spans_per_s, logs_per_s, retention_days FROM projects WHERE id = $1', [id]);
    const row = res.rows[0];
    if (row === undefined) throw new VigilError('VIGIL_ERR_NOT_FOUND', `no project ${JSON.stringify(id)}; create it with POST /api/v1/admin/projects`);
    return row;
  };
  const limitsOf = (id: string, r: SettingsRow) => ({
    project: id,
    spans_per_s: r.spans_per_s,
    logs_per_s: r.logs_per_s,
    effective: { spans_per_s: r.spans_per_s ?? defaults.spansPerS, logs_per_s: r.logs_per_s ?? defaults.logsPerS },
  });
  const retentionOf = (id: string, r: SettingsRow) => ({ project: id, retention_days: r.retention_days, effective_days: r.retention_days ?? defaults.retentionDays });
  const changed = async () => {
    await opts.onSettingsChanged?.();
  };

  app.get('/api/v1/admin/projects', { schema: listProjectsDoc }, async () => {
    const [projects, settings] = await Promise.all([
      listProjects(pool),
      pool.query<SettingsRow & { id: string }>('SELECT id, spans_per_s, logs_per_s, retention_days FROM projects'),
    ]);
    const byId = new Map(settings.rows.map((r) => [r.id, r]));
    return {
      projects: projects.map((p) => {
        const s = byId.get(p.id);
        return { ...p, spans_per_s: s?.spans_per_s ?? null, logs_per_s: s?.logs_per_s ?? null, retention_days: s?.retention_days ?? null };
      }),
    };
  });

  app.post('/api/v1/admin/projects', { schema: createProjectDoc }, async (request, reply) => {
    const body = parseBody(CreateProjectBody, request.body);
    if (!(await createProject(pool, body.id, body.name))) throw new VigilError('VIGIL_ERR_CONFLICT', `project ${JSON.stringify(body.id)} already exists`);
    return reply.code(201).send({ id: body.id, name: body.name ?? body.id });
  });

  app.get('/api/v1/admin/keys', { schema: listKeysDoc }, async (request) => {
    const q = parseParams(KeysQuery, request.query);
    const res = await pool.query<{ key_id: string; project_id: string; admin: boolean; created_at: Date; last_used_at: Date | null; revoked_at: Date | null }>(
      `SELECT key_id, project_id, admin, created_at, last_used_at, revoked_at FROM api_keys
       WHERE $1::text IS NULL OR project_id = $1 ORDER BY created_at DESC, key_id`,
      [q.project ?? null],
    );
    return {
      keys: res.rows.map((r) => ({
        key_id: r.key_id,
        project: r.project_id,
        admin: r.admin,
        created_at: r.created_at.toISOString(),
        last_used_at: r.last_used_at?.toISOString() ?? null,
        revoked_at: r.revoked_at?.toISOString() ?? null,
      })),
    };
  });

  app.post('/api/v1/admin/keys', { schema: createKeyDoc }, async (request, reply) => {
    const body = parseBody(CreateKeyBody, request.body);
    const created = await createApiKey(pool, body.project, { admin: body.admin === true });
    return reply.code(201).send({ key: created.key, key_id: created.keyId, project: created.projectId, admin: body.admin === true });
  });

  app.delete('/api/v1/admin/keys/:keyId', { schema: revokeKeyDoc }, async (request) => {
    const { keyId } = parseParams(KeyParams, request.params);
    if (!(await revokeApiKey(pool, keyId))) throw new VigilError('VIGIL_ERR_NOT_FOUND', `no active key with id ${keyId}`);
    return { key_id: keyId, revoked: true };
  });

  app.get('/api/v1/admin/projects/:id/limits', { schema: getLimitsDoc }, async (request) => {
    const { id } = parseParams(ProjectParams, request.params);
    return limitsOf(id, await settingsOf(id));
  });

  app.put('/api/v1/admin/projects/:id/limits', { schema: putLimitsDoc }, async (request) => {
    const { id } = parseParams(ProjectParams, request.params);
    const body = parseBody(LimitsBody, request.body);
    const current = await settingsOf(id);
    const next = { ...current, ...body };
    await pool.query('UPDATE projects SET spans_per_s = $2, logs_per_s = $3 WHERE id = $1', [id, next.spans_per_s, next.logs_per_s]);
    await changed();
    return limitsOf(id, next);
  });

  app.get('/api/v1/admin/projects/:id/retention', { schema: getRetentionDoc }, async (request) => {
    const { id } = parseParams(ProjectParams, request.params);
    return retentionOf(id, await settingsOf(id));
  });

  app.put('/api/v1/admin/projects/:id/retention', { schema: putRetentionDoc }, async (request) => {
    const { id } = parseParams(ProjectParams, request.params);
    const body = parseBody(RetentionBody, request.body);
    const current = await settingsOf(id);
    await pool.query('UPDATE projects SET retention_days = $2 WHERE id = $1', [id, body.retention_days]);
    await applyRetention(opts.clickhouse, await loadRetention(pool, defaults.retentionDays));
    await changed();
    return retentionOf(id, { ...current, retention_days: body.retention_days });
  });
};
