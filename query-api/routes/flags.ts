/**
 * Feature flag management routes (authenticated, tenant-confined):
 * - GET    /api/v1/flags                 → { flags: FlagView[] }
 * - POST   /api/v1/flags                 → 201 FlagView (409 when the key exists)
 * - GET    /api/v1/flags/:key            → FlagView
 * - PUT    /api/v1/flags/:key            → FlagView (full replace; the key stays)
 * - PATCH  /api/v1/flags/:key            → FlagView (top-level fields given replace the current ones: rollouts, enabled, rules …)
 * - DELETE /api/v1/flags/:key            → 204 (409 while an experiment uses it)
 * - GET    /api/v1/flags/:key/changes    → { changes: [{id, action, actor, at, before, after}], next_before }
 * - GET    /api/v1/flags/:key/overrides  → { overrides: [{scope, subject, variant, updated_at}] }
 * - PUT    /api/v1/flags/:key/overrides/:scope/:subject  {variant} → the override
 * - DELETE /api/v1/flags/:key/overrides/:scope/:subject  → 204
 *
 * FlagView = the flag format of flags/model.ts plus version, created_at,
 * updated_at. Every change is recorded (flags/store.ts) with its actor: the
 * X-Vigil-Actor header, else `api key <key id>`.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { FlagCache } from '../../flags/cache.js';
import { parseFlag, zodToValidation } from '../../flags/model.js';
import {
  createFlag, deleteFlag, deleteOverride, flagView, getFlagRow, listChanges, listFlagRows, listOverrides, setOverride, updateFlag,
} from '../../flags/store.js';
import { ValidationError, VigilError } from '../../platform/errors.js';
import { tenantOf } from '../auth.js';
import { parseParams } from '../params.js';
import { ChangesQuery, flagDocs, KeyParams, OverrideBody, OverrideParams } from './flags.schemas.js';

export interface FlagRoutesOptions {
  pool: pg.Pool;
  /** This process's flag cache: dropped for the project after each change (other processes learn it by NOTIFY). */
  cache?: FlagCache;
}

/** Who is making a change: X-Vigil-Actor, else the key id of the Bearer key. */
export function actorOf(request: FastifyRequest): string {
  const h = request.headers['x-vigil-actor'];
  if (typeof h === 'string' && h.trim() !== '') {
    if (h.length > 200) throw new ValidationError('X-Vigil-Actor', 'at most 200 characters');
    return h.trim();
  }
  const m = /^Bearer\s+vgl_([0-9a-f]{12})_/i.exec(request.headers.authorization ?? '');
  return m === null ? 'api key' : `api key ${m[1]}`;
}

function objectBody(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ValidationError('body', 'expected a JSON object (Content-Type: application/json)');
  return body as Record<string, unknown>;
}

function parseWith<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: import('zod').ZodError } }, v: unknown): T {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  throw zodToValidation(r.error);
}

/** Fastify plugin with the flag routes; expects an auth hook in an enclosing scope. */
export const flagRoutes: FastifyPluginAsync<FlagRoutesOptions> = async (app, opts) => {
  const { pool } = opts;
  // Read-your-writes in this process: the NOTIFY of a change arrives asynchronously.
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.method !== 'GET' && reply.statusCode < 300 && request.tenant !== '') opts.cache?.invalidate(request.tenant);
    return payload;
  });

  app.get('/api/v1/flags', { schema: flagDocs.list }, async (request) => ({
    flags: (await listFlagRows(pool, tenantOf(request))).map(flagView),
  }));

  app.post('/api/v1/flags', { schema: flagDocs.create }, async (request, reply) => {
    const tenant = tenantOf(request);
    const spec = parseFlag(request.body);
    return reply.status(201).send(flagView(await createFlag(pool, tenant, spec, actorOf(request))));
  });

  app.get('/api/v1/flags/:key', { schema: flagDocs.get }, async (request) => {
    const { key } = parseParams(KeyParams, request.params);
    const row = await getFlagRow(pool, tenantOf(request), key);
    if (row === undefined) throw new VigilError('VIGIL_ERR_NOT_FOUND', `no flag ${key} in this project`);
    return flagView(row);
  });

  app.put('/api/v1/flags/:key', { schema: flagDocs.put }, async (request) => {
    const { key } = parseParams(KeyParams, request.params);
    const body = objectBody(request.body);
    const spec = parseFlag({ ...body, key: body.key ?? key });
    return flagView(await updateFlag(pool, tenantOf(request), key, () => spec, actorOf(request)));
  });

  app.patch('/api/v1/flags/:key', { schema: flagDocs.patch }, async (request) => {
    const { key } = parseParams(KeyParams, request.params);
    const patch = objectBody(request.body);
    const merge = (current: Record<string, unknown>) => {
      const next: Record<string, unknown> = { ...current, ...patch };
      // null removes an optional field (e.g. "fallthrough": null serves the default variant again).
      for (const [k, v] of Object.entries(patch)) if (v === null) delete next[k];
      return parseFlag(next);
    };
    return flagView(await updateFlag(pool, tenantOf(request), key, merge, actorOf(request)));
  });

  app.delete('/api/v1/flags/:key', { schema: flagDocs.delete }, async (request, reply) => {
    const { key } = parseParams(KeyParams, request.params);
    await deleteFlag(pool, tenantOf(request), key, actorOf(request));
    return reply.status(204).send();
  });

  app.get('/api/v1/flags/:key/changes', { schema: flagDocs.changes }, async (request) => {
    const { key } = parseParams(KeyParams, request.params);
    const q = parseParams(ChangesQuery, request.query);
    const tenant = tenantOf(request);
    const rows = await listChanges(pool, tenant, key, q.limit, q.before);
    if (rows.length === 0 && q.before === undefined && (await getFlagRow(pool, tenant, key)) === undefined) {
      throw new VigilError('VIGIL_ERR_NOT_FOUND', `no flag ${key} in this project (and no recorded changes)`);
    }
    return {
      changes: rows.map((c) => ({ id: Number(c.id), action: c.action, actor: c.actor, at: c.at.toISOString(), before: c.before, after: c.after })),
      next_before: rows.length === q.limit ? Number(rows[rows.length - 1]!.id) : null,
    };
  });

  app.get('/api/v1/flags/:key/overrides', { schema: flagDocs.overrides }, async (request) => {
    const { key } = parseParams(KeyParams, request.params);
    const tenant = tenantOf(request);
    if ((await getFlagRow(pool, tenant, key)) === undefined) throw new VigilError('VIGIL_ERR_NOT_FOUND', `no flag ${key} in this project`);
    return { overrides: (await listOverrides(pool, tenant, key)).map((o) => ({ scope: o.scope, subject: o.subject, variant: o.variant, updated_at: o.updated_at.toISOString() })) };
  });

  app.put('/api/v1/flags/:key/overrides/:scope/:subject', { schema: flagDocs.setOverride }, async (request) => {
    const { key, scope, subject } = parseParams(OverrideParams, request.params);
    const { variant } = parseWith(OverrideBody, objectBody(request.body));
    const o = await setOverride(pool, tenantOf(request), key, scope, subject, variant, actorOf(request));
    return { scope: o.scope, subject: o.subject, variant: o.variant, updated_at: o.updated_at.toISOString() };
  });

  app.delete('/api/v1/flags/:key/overrides/:scope/:subject', { schema: flagDocs.deleteOverride }, async (request, reply) => {
    const { key, scope, subject } = parseParams(OverrideParams, request.params);
    if (!(await deleteOverride(pool, tenantOf(request), key, scope, subject, actorOf(request)))) {
      throw new VigilError('VIGIL_ERR_NOT_FOUND', `no ${scope} override for ${subject} on flag ${key}`);
    }
    return reply.status(204).send();
  });
};
