/**
 * Request schemas (zod, validated in the handlers) and OpenAPI documentation
 * of the alerting routes (query-api/routes/alerts-*.ts). Bodies are parsed
 * with alerts/rule-schema.ts parseBody, query strings with params.ts
 * parseParams; both answer 400 VIGIL_ERR_VALIDATION naming the field.
 */
import { z } from 'zod';
import { ChannelInput, ChannelUpdate } from '../../alerts/channels.js';
import { RuleInput, SEVERITIES } from '../../alerts/rule-schema.js';
import { SilenceInput } from '../../alerts/silences.js';
import { docSchema, intParam, limitParam, timeParam } from '../params.js';

const uuid = z.uuid({ error: 'expected an id (uuid)' });

/** Path params with one id. */
export const IdParams = z.strictObject({ id: uuid });

const STATES = ['normal', 'pending', 'firing', 'nodata', 'error', 'active', 'all'] as const;

/** GET /api/v1/alerts */
export const AlertListQuery = z.strictObject({
  state: z.enum(STATES).optional().meta({ description: 'alert state; `active` (default) = every state but normal; `all`' }),
  severity: z.enum(SEVERITIES).optional(),
  rule_id: uuid.optional(),
  limit: limitParam(100, 1000),
});

/** GET /api/v1/alerts/history */
export const HistoryQuery = z.strictObject({
  rule_id: uuid.optional(),
  fingerprint: z.string().regex(/^[0-9a-f]{16}$/, { message: 'expected 16 hex characters' }).optional(),
  from: timeParam.optional(),
  to: timeParam.optional(),
  before: intParam(1, Number.MAX_SAFE_INTEGER, 'an event id (page with next_before)').optional(),
  limit: limitParam(100, 1000),
});

/** GET /api/v1/alerts/deliveries */
export const DeliveriesQuery = z.strictObject({
  channel_id: uuid.optional(),
  rule_id: uuid.optional(),
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  before: intParam(1, Number.MAX_SAFE_INTEGER, 'a delivery id (page with next_before)').optional(),
  limit: limitParam(100, 1000),
  payload: z.enum(['true', 'false']).optional().meta({ description: 'include the message body' }),
});

/** POST /api/v1/alerts/:id/ack */
export const AckBody = z.strictObject({
  by: z.string().max(200).optional(),
  comment: z.string().max(4096).optional(),
});

/** POST /api/v1/alerts/rules/preview */
export const PreviewBody = z
  .strictObject({
    rule: z.record(z.string(), z.unknown()).optional().meta({ description: 'a rule body as for POST /api/v1/alerts/rules' }),
    rule_id: uuid.optional(),
    from: z.string().meta({ description: 'range start: ISO-8601, epoch ms or now-6h' }),
    to: z.string().optional().meta({ description: 'range end (default now)' }),
  })
  .refine((b) => (b.rule === undefined) !== (b.rule_id === undefined), { message: 'give exactly one of rule (a rule body) or rule_id (a saved rule)', path: ['rule'] });

/** GET /api/v1/alerts/silences */
export const SilenceListQuery = z.strictObject({ all: z.enum(['true', 'false']).optional().meta({ description: 'include expired silences' }) });

/** Parse a time field of a body with the query API's time forms. @returns epoch ms, or a message. */
export function bodyTime(v: string): number | string {
  const r = timeParam.safeParse(v);
  return r.success ? Number(r.data / 1_000_000n) : r.error.issues[0]!.message;
}

const sec = [{ bearer: [] }];
const tags = ['alerts'];
const errs = 'Errors: 400 VIGIL_ERR_VALIDATION naming the field, 401 VIGIL_ERR_UNAUTHORIZED, 404 VIGIL_ERR_NOT_FOUND (another project\'s ids too).';

/** OpenAPI route documentation, keyed by route. */
export const docs = {
  listRules: { summary: 'List alert rules', tags, security: sec, description: errs },
  templates: { summary: 'Built-in rule templates (bodies for POST /api/v1/alerts/rules)', tags, security: sec },
  createRule: {
    summary: 'Create an alert rule',
    description: 'Body: the rule format (README "Alerting"). 201 with the rule. 409 VIGIL_ERR_CONFLICT when the name is taken. ' + errs,
    tags, security: sec, body: docSchema(RuleInput),
  },
  getRule: { summary: 'One alert rule with its evaluation health', tags, security: sec, params: docSchema(IdParams), description: errs },
  putRule: { summary: 'Replace an alert rule (its alerts keep their state)', tags, security: sec, params: docSchema(IdParams), body: docSchema(RuleInput), description: errs },
  patchRule: { summary: 'Change some fields of an alert rule (e.g. {"enabled": false})', tags, security: sec, params: docSchema(IdParams), description: errs },
  deleteRule: { summary: 'Delete an alert rule and its alerts (history is kept)', tags, security: sec, params: docSchema(IdParams), description: errs },
  preview: {
    summary: 'Replay a rule (saved or not) over a past range',
    description: 'Returns each series\' values at every evaluation and the moments it would have fired and resolved; nothing is stored. At most 1440 evaluations. ' + errs,
    tags, security: sec, body: docSchema(PreviewBody),
  },
  listChannels: { summary: 'List notification channels (secrets are never shown)', tags, security: sec },
  createChannel: {
    summary: 'Create a notification channel',
    description: 'webhook: Alertmanager webhook v4 body signed per Standard Webhooks; the answer holds the whsec_ secret, shown only this once. slack: incoming-webhook URL. ' +
      '400 VIGIL_ERR_WEBHOOK_DESTINATION_REFUSED for non-public literal addresses. ' + errs,
    tags, security: sec, body: docSchema(ChannelInput),
  },
  getChannel: { summary: 'One notification channel', tags, security: sec, params: docSchema(IdParams), description: errs },
  putChannel: { summary: 'Update name, url or enabled (enabled: true re-enables a channel disabled by a 410)', tags, security: sec, params: docSchema(IdParams), body: docSchema(ChannelUpdate), description: errs },
  deleteChannel: { summary: 'Delete a notification channel', tags, security: sec, params: docSchema(IdParams), description: errs },
  testChannel: { summary: 'Send a signed test message now and return the receiver\'s status', tags, security: sec, params: docSchema(IdParams), description: errs },
  listAlerts: { summary: 'Alert instances (one per rule and series)', tags, security: sec, querystring: docSchema(AlertListQuery), description: errs },
  getAlert: { summary: 'One alert instance', tags, security: sec, params: docSchema(IdParams), description: errs },
  ack: { summary: 'Acknowledge an alert: no more notifications until it resolves (evaluation goes on)', tags, security: sec, params: docSchema(IdParams), body: docSchema(AckBody), description: errs },
  history: { summary: 'Alert state transitions, newest first', tags, security: sec, querystring: docSchema(HistoryQuery), description: errs },
  deliveries: { summary: 'Notification deliveries (the outbox), newest first', tags, security: sec, querystring: docSchema(DeliveriesQuery), description: errs },
  listSilences: { summary: 'Silences', tags, security: sec, querystring: docSchema(SilenceListQuery) },
  createSilence: { summary: 'Silence alerts whose labels match every matcher until ends_at (evaluation goes on)', tags, security: sec, body: docSchema(SilenceInput), description: errs },
  deleteSilence: { summary: 'Expire a silence now', tags, security: sec, params: docSchema(IdParams), description: errs },
  stream: {
    summary: 'Server-sent events of alert transitions (text/event-stream)',
    description: 'Each transition as `event: alert` with the history entry as JSON `data` and its id as the SSE `id`; a `: ping` comment every 15 s. Fed by Postgres LISTEN/NOTIFY.',
    tags, security: sec,
  },
};
