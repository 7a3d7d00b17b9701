/**
 * Notification channel routes (authenticated, tenant-confined):
 * - GET    /api/v1/alerts/channels           → { channels: ChannelView[] }
 * - POST   /api/v1/alerts/channels           → 201 { ...ChannelView, secret } (webhook secret shown only here)
 * - GET    /api/v1/alerts/channels/:id       → ChannelView
 * - PUT    /api/v1/alerts/channels/:id       → ChannelView
 * - DELETE /api/v1/alerts/channels/:id       → 204
 * - POST   /api/v1/alerts/channels/:id/test  → { delivered, status_code, error, message_id }
 *   (a signed test message sent now, recorded in the deliveries as kind "test")
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type pg from 'pg';
import type { Dispatcher } from 'undici';
import { ChannelInput, ChannelUpdate, createChannel, deleteChannel, getChannelRow, listChannels, updateChannel } from '../../alerts/channels.js';
import { testBody } from '../../alerts/payloads.js';
import { parseBody } from '../../alerts/rule-schema.js';
import { sendOnce } from '../../alerts/sender.js';
import type { AllowList } from '../../alerts/ssrf.js';
import { tenantOf } from '../auth.js';
import { parseParams } from '../params.js';
import { docs, IdParams } from './alerts.schemas.js';
import { notFound } from './alerts-rules.js';

export interface AlertChannelRoutesOptions {
  pool: pg.Pool;
  /** VIGIL_WEBHOOK_ALLOW_HOSTS, parsed. */
  allow: AllowList;
  /** SSRF-guarded agent for test messages. */
  agent: Dispatcher;
  /** Base URL for links in messages. */
  externalUrl: () => string;
  /** Test-message timeout, ms (default 10000). */
  timeoutMs?: number;
}

/** Fastify plugin with the channel routes; expects an auth hook in an enclosing scope. */
export const alertChannelRoutes: FastifyPluginAsync<AlertChannelRoutesOptions> = async (app, opts) => {
  const { pool } = opts;

  app.get('/api/v1/alerts/channels', { schema: docs.listChannels }, async (request) => ({ channels: await listChannels(pool, tenantOf(request)) }));

  app.post('/api/v1/alerts/channels', { schema: docs.createChannel }, async (request, reply) => {
    const input = parseBody(ChannelInput, request.body);
    const { channel, secret } = await createChannel(pool, tenantOf(request), input, opts.allow);
    return reply.status(201).send({ ...channel, secret });
  });

  app.get('/api/v1/alerts/channels/:id', { schema: docs.getChannel }, async (request) => {
    const { id } = parseParams(IdParams, request.params);
    const c = await getChannelRow(pool, tenantOf(request), id);
    if (c === undefined) throw notFound('channel', id);
    const { secret: _secret, ...view } = c;
    return view;
  });

  app.put('/api/v1/alerts/channels/:id', { schema: docs.putChannel }, async (request) => {
    const { id } = parseParams(IdParams, request.params);
    const c = await updateChannel(pool, tenantOf(request), id, parseBody(ChannelUpdate, request.body), opts.allow);
    if (c === undefined) throw notFound('channel', id);
    return c;
  });

  app.delete('/api/v1/alerts/channels/:id', { schema: docs.deleteChannel }, async (request, reply) => {
    const { id } = parseParams(IdParams, request.params);
    if (!(await deleteChannel(pool, tenantOf(request), id))) throw notFound('channel', id);
    return reply.status(204).send();
  });

  app.post('/api/v1/alerts/channels/:id/test', { schema: docs.testChannel }, async (request) => {
    const { id } = parseParams(IdParams, request.params);
    const tenant = tenantOf(request);
    const c = await getChannelRow(pool, tenant, id);
    if (c === undefined) throw notFound('channel', id);
    const now = new Date();
    const body = JSON.stringify(testBody(c.type, tenant, c.name, opts.externalUrl(), now));
    const messageId = `msg_${randomUUID()}`;
    const r = await sendOnce({ agent: opts.agent, url: c.url, body, messageId, secret: c.type === 'webhook' ? c.secret : null, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) });
    const delivered = r.status !== null && r.status >= 200 && r.status < 300;
    const error = delivered ? null : (r.error ?? `receiver answered ${r.status}`);
    await pool.query(
      `INSERT INTO webhook_deliveries (message_id, project_id, channel_id, kind, payload, status, attempts, last_status_code, last_error, delivered_at)
       VALUES ($1, $2, $3, 'test', $4, $5, 1, $6, $7, $8)`,
      [messageId, tenant, id, body, delivered ? 'delivered' : 'failed', r.status, error, delivered ? now : null],
    );
    return { delivered, status_code: r.status, error, message_id: messageId };
  });
};
