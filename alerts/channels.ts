/**
 * Notification channels (table notification_channels), per project.
 *
 * - `webhook`: POST of the Alertmanager webhook v4 body (alerts/payloads.ts),
 *   signed per Standard Webhooks with the channel's `whsec_…` secret, which is
 *   generated at creation and returned only then.
 * - `slack`: POST of a Slack message to an incoming-webhook URL (unsigned).
 */
import type pg from 'pg';
import { z } from 'zod';
import { ValidationError, VigilError } from '../platform/errors.js';
import { checkDestinationUrl, type AllowList } from './ssrf.js';
import { newWebhookSecret } from './sender.js';

const url = z
  .string({ error: 'expected an http(s) URL' })
  .max(2048, { message: 'at most 2048 characters' })
  .refine((u) => {
    try {
      const p = new URL(u);
      return (p.protocol === 'https:' || p.protocol === 'http:') && p.hostname !== '';
    } catch {
      return false;
    }
  }, { message: 'expected an absolute http:// or https:// URL, e.g. https://alerts.example.com/hook' });

/** Body of POST /api/v1/alerts/channels. */
export const ChannelInput = z.strictObject({
  name: z.string().trim().min(1, { message: 'must not be empty' }).max(200),
  type: z.enum(['webhook', 'slack'], { error: 'expected webhook | slack' }),
  url,
  enabled: z.boolean({ error: 'expected true or false' }).optional(),
});

/** Body of PUT /api/v1/alerts/channels/:id (type cannot change; enabled: true re-enables a disabled channel). */
export const ChannelUpdate = z.strictObject({
  name: z.string().trim().min(1, { message: 'must not be empty' }).max(200).optional(),
  url: url.optional(),
  enabled: z.boolean({ error: 'expected true or false' }).optional(),
});

/** A channel as the API shows it (never the secret, except once at creation). */
export interface ChannelView {
  id: string;
  name: string;
  type: 'webhook' | 'slack';
  url: string;
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: string | null;
  created_at: string;
  updated_at: string;
}

interface ChannelRow {
  id: string;
  name: string;
  type: 'webhook' | 'slack';
  url: string;
  secret: string | null;
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id::text, name, type, url, secret, enabled, disabled_reason, disabled_at, created_at, updated_at';

function view(r: ChannelRow): ChannelView {
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    url: r.url,
    enabled: r.enabled,
    disabled_reason: r.disabled_reason,
    disabled_at: r.disabled_at?.toISOString() ?? null,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}

function checkUrl(u: string, allow: AllowList): void {
  try {
    checkDestinationUrl(u, allow);
  } catch (err) {
    if (err instanceof VigilError) throw new VigilError(err.code, `url: ${err.message}`);
    throw err;
  }
}

const conflict = (name: string) =>
  new VigilError('VIGIL_ERR_CONFLICT', `name: a channel named ${JSON.stringify(name)} already exists in this project; choose another name`);

/**
 * Create a channel.
 * @returns the channel and, for webhooks, its secret (shown once).
 * @throws VigilError VIGIL_ERR_WEBHOOK_DESTINATION_REFUSED (url is a non-public literal address),
 *   VIGIL_ERR_CONFLICT (name taken).
 */
export async function createChannel(
  pool: pg.Pool,
  project: string,
  input: z.output<typeof ChannelInput>,
  allow: AllowList,
): Promise<{ channel: ChannelView; secret: string | null }> {
  checkUrl(input.url, allow);
  const secret = input.type === 'webhook' ? newWebhookSecret() : null;
  await pool.query('INSERT INTO projects (id, name) VALUES ($1, $1) ON CONFLICT (id) DO NOTHING', [project]);
  const res = await pool.query<ChannelRow>(
    `INSERT INTO notification_channels (project_id, name, type, url, secret, enabled) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (project_id, name) DO NOTHING RETURNING ${COLUMNS}`,
    [project, input.name, input.type, input.url, secret, input.enabled ?? true],
  );
  const row = res.rows[0];
  if (row === undefined) throw conflict(input.name);
  return { channel: view(row), secret };
}

/** Every channel of the project, by name. */
export async function listChannels(pool: pg.Pool, project: string): Promise<ChannelView[]> {
  const res = await pool.query<ChannelRow>(`SELECT ${COLUMNS} FROM notification_channels WHERE project_id = $1 ORDER BY name`, [project]);
  return res.rows.map(view);
}

/** One channel with its secret (internal use: signing test messages), or undefined. */
export async function getChannelRow(pool: pg.Pool, project: string, id: string): Promise<(ChannelView & { secret: string | null }) | undefined> {
  const res = await pool.query<ChannelRow>(`SELECT ${COLUMNS} FROM notification_channels WHERE project_id = $1 AND id = $2`, [project, id]);
  const r = res.rows[0];
  return r === undefined ? undefined : { ...view(r), secret: r.secret };
}

/**
 * Update name, URL or enabled (enabling clears the disabled reason).
 * @returns the channel, or undefined when absent.
 * @throws as {@link createChannel}.
 */
export async function updateChannel(
  pool: pg.Pool,
  project: string,
  id: string,
  patch: z.output<typeof ChannelUpdate>,
  allow: AllowList,
): Promise<ChannelView | undefined> {
  if (patch.url !== undefined) checkUrl(patch.url, allow);
  if (Object.keys(patch).length === 0) throw new ValidationError('body', 'nothing to change: give name, url or enabled');
  try {
    const res = await pool.query<ChannelRow>(
      `UPDATE notification_channels SET name = COALESCE($3, name), url = COALESCE($4, url), enabled = COALESCE($5, enabled),
         disabled_reason = CASE WHEN $5 IS TRUE THEN NULL ELSE disabled_reason END,
         disabled_at = CASE WHEN $5 IS TRUE THEN NULL ELSE disabled_at END, updated_at = now()
       WHERE project_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
      [project, id, patch.name ?? null, patch.url ?? null, patch.enabled ?? null],
    );
    return res.rows[0] === undefined ? undefined : view(res.rows[0]);
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw conflict(patch.name ?? '');
    throw err;
  }
}

/** Delete a channel (its deliveries and rule links go with it). @returns false when absent. */
export async function deleteChannel(pool: pg.Pool, project: string, id: string): Promise<boolean> {
  const res = await pool.query('DELETE FROM notification_channels WHERE project_id = $1 AND id = $2', [project, id]);
  return (res.rowCount ?? 0) > 0;
}
