/**
 * The dispatcher against a local receiver: Standard Webhooks signatures
 * verified with the `standardwebhooks` package, retries with one webhook-id
 * (503, timeout, 200), backoff and Retry-After, 410 disabling the channel,
 * two dispatchers never sending an attempt twice. Loopback is allowed
 * explicitly for the receiver (VIGIL_WEBHOOK_ALLOW_HOSTS form).
 */
import type pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatcher } from '../../alerts/dispatcher.js';
import { nextDelayMs, RETRY_DELAYS_S } from '../../alerts/backoff.js';
import { createGuardedAgent, parseAllowList } from '../../alerts/ssrf.js';
import { newWebhookSecret } from '../../alerts/sender.js';
import { log, migratedPool, newProject, startReceiver, type Receiver } from './support.js';

let pool: pg.Pool;
let receiver: Receiver;
const agent = createGuardedAgent(parseAllowList(['127.0.0.1/32']));

beforeAll(async () => {
  [pool, receiver] = await Promise.all([migratedPool(), startReceiver()]);
});
afterAll(async () => {
  await receiver.close();
  await agent.close();
  await pool.end();
});

async function channelAndMessage(project: string, opts: { url?: string; secret?: string } = {}) {
  const secret = opts.secret ?? newWebhookSecret();
  const c = await pool.query<{ id: string }>(
    "INSERT INTO notification_channels (project_id, name, type, url, secret) VALUES ($1, 'ops', 'webhook', $2, $3) RETURNING id::text",
    [project, opts.url ?? receiver.url, secret],
  );
  const messageId = `msg_${Math.random().toString(36).slice(2)}`;
  const d = await pool.query<{ id: string }>(
    `INSERT INTO webhook_deliveries (message_id, project_id, channel_id, kind, payload, next_attempt_at)
     VALUES ($1, $2, $3, 'firing', $4, now() - interval '1 second') RETURNING id::text`,
    [messageId, project, c.rows[0]!.id, JSON.stringify({ version: '4', status: 'firing', alerts: [{ labels: { service: 'checkout' } }] })],
  );
  return { channelId: c.rows[0]!.id, deliveryId: d.rows[0]!.id, messageId, secret };
}

const delivery = async (id: string) => (await pool.query('SELECT * FROM webhook_deliveries WHERE id = $1', [id])).rows[0];
const fromReceiver = (messageId: string) => receiver.received.filter((r) => r.headers['webhook-id'] === messageId);

describe('dispatcher', () => {
  it('503, then a timeout, then 200: three attempts with one webhook-id, each signature verifies', async () => {
    const project = await newProject(pool);
    const m = await channelAndMessage(project);
    receiver.script.push(503, 'hang', 200);
    const disp = createDispatcher({ pool, log, agent, timeoutMs: 500, random: () => 0.5 });
    let now = new Date();
    expect((await disp.dispatchOnce(now)).retrying).toBe(1);
    let d = await delivery(m.deliveryId);
    expect([d.status, d.attempts, d.last_status_code]).toEqual(['pending', 1, 503]);
    expect(d.next_attempt_at.getTime() - now.getTime()).toBe(RETRY_DELAYS_S[0] * 1000); // jitter factor 1.0 at random 0.5

    now = new Date(d.next_attempt_at.getTime());
    expect((await disp.dispatchOnce(now)).retrying).toBe(1);
    d = await delivery(m.deliveryId);
    expect([d.status, d.attempts, d.last_status_code]).toEqual(['pending', 2, null]);
    expect(d.last_error).toMatch(/no answer within 500 ms/);

    expect((await disp.dispatchOnce(new Date(d.next_attempt_at.getTime()))).delivered).toBe(1);
    d = await delivery(m.deliveryId);
    expect([d.status, d.attempts, d.last_status_code]).toEqual(['delivered', 3, 200]);

    const got = fromReceiver(m.messageId);
    expect(got).toHaveLength(3);
    const wh = new Webhook(m.secret);
    for (const r of got) {
      expect(wh.verify(r.body, r.headers as Record<string, string>)).toEqual(JSON.parse(r.body));
    }
    const last = got[2]!;
    const headers = last.headers as Record<string, string>;
    // Tampered body, an old timestamp, a wrong secret: all refused.
    expect(() => wh.verify(last.body.replace('checkout', 'billing'), headers)).toThrow();
    const old = String(Math.floor(Date.now() / 1000) - 3600);
    expect(() => wh.verify(last.body, { ...headers, 'webhook-timestamp': old })).toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(last.body, headers)).toThrow();
  });

  it('honours Retry-After (seconds) when longer than the backoff', async () => {
    const project = await newProject(pool);
    const m = await channelAndMessage(project);
    receiver.script.push({ status: 429, headers: { 'retry-after': '120' } });
    const now = new Date();
    await createDispatcher({ pool, log, agent, random: () => 0.5 }).dispatchOnce(now);
    const d = await delivery(m.deliveryId);
    expect([d.status, d.last_status_code]).toEqual(['pending', 429]);
    expect(d.next_attempt_at.getTime() - now.getTime()).toBe(120_000);
  });

  it('410 Gone fails the delivery and disables the channel with the reason; other 4xx fail without retry', async () => {
    const project = await newProject(pool);
    const m = await channelAndMessage(project);
    receiver.script.push(410);
    await createDispatcher({ pool, log, agent }).dispatchOnce(new Date());
    expect((await delivery(m.deliveryId)).status).toBe('failed');
    const c = (await pool.query('SELECT enabled, disabled_reason FROM notification_channels WHERE id = $1', [m.channelId])).rows[0];
    expect(c.enabled).toBe(false);
    expect(c.disabled_reason).toMatch(/410 Gone/);

    const p2 = await newProject(pool);
    const m2 = await channelAndMessage(p2);
    receiver.script.push(400);
    await createDispatcher({ pool, log, agent }).dispatchOnce(new Date());
    const d2 = await delivery(m2.deliveryId);
    expect([d2.status, d2.attempts, d2.last_status_code]).toEqual(['failed', 1, 400]);
  });

  it('a refused destination fails without a request', async () => {
    const project = await newProject(pool);
    const m = await channelAndMessage(project, { url: 'http://169.254.169.254/latest/meta-data' });
    await createDispatcher({ pool, log, agent }).dispatchOnce(new Date());
    const d = await delivery(m.deliveryId);
    expect(d.status).toBe('failed');
    expect(d.last_error).toMatch(/169\.254\.169\.254 is a linkLocal address/);
  });

  it('two dispatchers at once send every message exactly once', async () => {
    const project = await newProject(pool);
    const ms = [];
    for (let i = 0; i < 10; i++) {
      const secret = newWebhookSecret();
      const c = await pool.query<{ id: string }>(
        "INSERT INTO notification_channels (project_id, name, type, url, secret) VALUES ($1, $2, 'webhook', $3, $4) RETURNING id::text",
        [project, `c${i}`, receiver.url, secret],
      );
      const id = `msg_two_${project}_${i}`;
      await pool.query(
        "INSERT INTO webhook_deliveries (message_id, project_id, channel_id, kind, payload, next_attempt_at) VALUES ($1, $2, $3, 'firing', '{}', now() - interval '1 second')",
        [id, project, c.rows[0]!.id],
      );
      ms.push(id);
    }
    const a = createDispatcher({ pool, log, agent, owner: 'a' });
    const b = createDispatcher({ pool, log, agent, owner: 'b' });
    const now = new Date();
    const [ra, rb] = await Promise.all([a.dispatchOnce(now), b.dispatchOnce(now)]);
    expect(ra.delivered + rb.delivered).toBeGreaterThanOrEqual(10);
    for (const id of ms) expect(fromReceiver(id)).toHaveLength(1);
  });

  it('backoff: about 5 s, 30 s, 2 min, 10 min, 30 min, 1 h … with ±20 % jitter, then gives up', () => {
    expect(nextDelayMs(1, undefined, () => 0)).toBe(4000);
    expect(nextDelayMs(1, undefined, () => 0.999999)).toBeLessThanOrEqual(6000);
    expect([2, 3, 4, 5, 6].map((n) => nextDelayMs(n, undefined, () => 0.5))).toEqual([30_000, 120_000, 600_000, 1_800_000, 3_600_000]);
    expect(RETRY_DELAYS_S.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(86_400);
    expect(nextDelayMs(RETRY_DELAYS_S.length + 1, undefined)).toBeUndefined();
    expect(nextDelayMs(1, 10 * 86_400, () => 0.5)).toBe(86_400_000); // Retry-After capped at 24 h
  });
});
