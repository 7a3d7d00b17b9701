/**
 * Silence routes and the live stream (authenticated, tenant-confined):
 * - GET    /api/v1/alerts/silences      → { silences: SilenceView[] } (?all=true: expired too)
 * - POST   /api/v1/alerts/silences      → 201 SilenceView (body: alerts/silences.ts SilenceInput)
 * - DELETE /api/v1/alerts/silences/:id  → 204 (expires it now)
 * - GET    /api/v1/alerts/stream        → text/event-stream of the project's alert
 *   transitions: `id: <event id>`, `event: alert`, `data: <EventView JSON>`;
 *   `: ping` every 15 s (alerts/event-hub.ts, Postgres LISTEN/NOTIFY).
 */
import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import type pg from 'pg';
import type { EventHub } from '../../alerts/event-hub.js';
import { createSilence, expireSilence, listSilences } from '../../alerts/instances.js';
import { parseBody } from '../../alerts/rule-schema.js';
import { SilenceInput } from '../../alerts/silences.js';
import { tenantOf } from '../auth.js';
import { parseParams } from '../params.js';
import { docs, IdParams, SilenceListQuery } from './alerts.schemas.js';
import { notFound } from './alerts-rules.js';

export interface AlertSilenceRoutesOptions {
  pool: pg.Pool;
  hub: EventHub;
  /** SSE heartbeat period, ms (default 15000). */
  heartbeatMs?: number;
}

/** Fastify plugin with the silence and stream routes; expects an auth hook in an enclosing scope. */
export const alertSilenceRoutes: FastifyPluginAsync<AlertSilenceRoutesOptions> = async (app, opts) => {
  const { pool } = opts;

  app.get('/api/v1/alerts/silences', { schema: docs.listSilences }, async (request) => {
    const q = parseParams(SilenceListQuery, request.query);
    return { silences: await listSilences(pool, tenantOf(request), q.all === 'true') };
  });

  app.post('/api/v1/alerts/silences', { schema: docs.createSilence }, async (request, reply) => {
    const s = parseBody(SilenceInput, request.body);
    const tenant = tenantOf(request);
    await pool.query('INSERT INTO projects (id, name) VALUES ($1, $1) ON CONFLICT (id) DO NOTHING', [tenant]);
    return reply.status(201).send(await createSilence(pool, tenant, s));
  });

  app.delete('/api/v1/alerts/silences/:id', { schema: docs.deleteSilence }, async (request, reply) => {
    const { id } = parseParams(IdParams, request.params);
    if (!(await expireSilence(pool, tenantOf(request), id))) throw notFound('active silence', id);
    return reply.status(204).send();
  });

  // Open streams end when the app closes (otherwise server.close() would wait for them).
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of open) res.end();
  });

  app.get('/api/v1/alerts/stream', { schema: docs.stream }, async (request, reply) => {
    const tenant = tenantOf(request);
    reply.hijack();
    const res = reply.raw;
    open.add(res);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 5000\n: connected\n\n');
    const unsubscribe = opts.hub.subscribe(tenant, (e) => {
      const { project_id: _p, ...event } = e;
      res.write(`id: ${e.id}\nevent: alert\ndata: ${JSON.stringify(event)}\n\n`);
    });
    const ping = setInterval(() => res.write(': ping\n\n'), opts.heartbeatMs ?? 15_000);
    ping.unref();
    const end = (): void => {
      open.delete(res);
      clearInterval(ping);
      unsubscribe();
    };
    request.raw.once('close', end);
    res.once('close', end);
    await opts.hub.ready().catch(() => undefined);
    res.write(': listening\n\n');
  });
};
