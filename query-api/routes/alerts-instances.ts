/**
 * Alert state routes (authenticated, tenant-confined):
 * - GET  /api/v1/alerts             → { alerts: AlertView[] } (filters state, severity, rule_id)
 * - GET  /api/v1/alerts/history     → { events: EventView[], next_before } (newest first)
 * - GET  /api/v1/alerts/deliveries  → { deliveries: DeliveryView[], next_before }
 * - GET  /api/v1/alerts/:id         → AlertView
 * - POST /api/v1/alerts/:id/ack     → AlertView (body { by?, comment? })
 * Shapes: alerts/instances.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import type pg from 'pg';
import { ackAlert, getAlert, listAlerts, listDeliveries, listEvents } from '../../alerts/instances.js';
import { parseBody } from '../../alerts/rule-schema.js';
import { tenantOf } from '../auth.js';
import { parseParams } from '../params.js';
import { AckBody, AlertListQuery, DeliveriesQuery, docs, HistoryQuery, IdParams } from './alerts.schemas.js';
import { notFound } from './alerts-rules.js';

export interface AlertInstanceRoutesOptions {
  pool: pg.Pool;
}

const ms = (ns: bigint | undefined): Date | undefined => (ns === undefined ? undefined : new Date(Number(ns / 1_000_000n)));

/** Fastify plugin with the alert state routes; expects an auth hook in an enclosing scope. */
export const alertInstanceRoutes: FastifyPluginAsync<AlertInstanceRoutesOptions> = async (app, opts) => {
  const { pool } = opts;

  app.get('/api/v1/alerts', { schema: docs.listAlerts }, async (request) => {
    const q = parseParams(AlertListQuery, request.query);
    return { alerts: await listAlerts(pool, tenantOf(request), q) };
  });

  app.get('/api/v1/alerts/history', { schema: docs.history }, async (request) => {
    const q = parseParams(HistoryQuery, request.query);
    const events = await listEvents(pool, tenantOf(request), { ...q, from: ms(q.from), to: ms(q.to) });
    return { events, next_before: events.length === q.limit ? events[events.length - 1]!.id : null };
  });

  app.get('/api/v1/alerts/deliveries', { schema: docs.deliveries }, async (request) => {
    const q = parseParams(DeliveriesQuery, request.query);
    const deliveries = await listDeliveries(pool, tenantOf(request), { ...q, payload: q.payload === 'true' });
    return { deliveries, next_before: deliveries.length === q.limit ? deliveries[deliveries.length - 1]!.id : null };
  });

  app.get('/api/v1/alerts/:id', { schema: docs.getAlert }, async (request) => {
    const { id } = parseParams(IdParams, request.params);
    const a = await getAlert(pool, tenantOf(request), id);
    if (a === undefined) throw notFound('alert', id);
    return a;
  });

  app.post('/api/v1/alerts/:id/ack', { schema: docs.ack }, async (request) => {
    const { id } = parseParams(IdParams, request.params);
    const b = request.body === undefined || request.body === null ? {} : parseBody(AckBody, request.body);
    const a = await ackAlert(pool, tenantOf(request), id, b.by ?? '', b.comment ?? '');
    if (a === undefined) throw notFound('alert', id);
    return a;
  });
};
