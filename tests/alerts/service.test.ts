/**
 * The alerting role's loops on the wall clock (alerts/service.ts): a firing
 * rule's message reaches the receiver without anyone driving ticks, and stop()
 * ends both loops.
 */
import type pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRule } from '../../alerts/rule-schema.js';
import { insertRule } from '../../alerts/rules-store.js';
import { newWebhookSecret } from '../../alerts/sender.js';
import { startAlerting } from '../../alerts/service.js';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { waitFor } from '../support/wait.js';
import { clickhouse, insertMinutes, log, migratedPool, newProject, startReceiver, type Receiver } from './support.js';

let pool: pg.Pool;
let ch: ClickHouseHandle;
let receiver: Receiver;

beforeAll(async () => {
  [pool, ch, receiver] = await Promise.all([migratedPool(), clickhouse(), startReceiver()]);
});
afterAll(async () => {
  await receiver.close();
  await pool.end();
});

describe('alerting role', () => {
  it('evaluates due rules and delivers their messages on its own, until stopped', async () => {
    const project = await newProject(pool);
    const now = Math.floor(Date.now() / 60_000) * 60_000;
    await insertMinutes(ch, project, [-2, -1].map((m) => ({ minuteMs: now + m * 60_000, service: 'checkout', count: 10, errors: 10 })));
    const secret = newWebhookSecret();
    const c = await pool.query<{ id: string }>(
      "INSERT INTO notification_channels (project_id, name, type, url, secret) VALUES ($1, 'ops', 'webhook', $2, $3) RETURNING id::text",
      [project, receiver.url, secret],
    );
    await insertRule(pool, project, parseRule({
      name: 'errors',
      condition: { signal: 'error_count', window: '2m', operator: '>', threshold: 0 },
      evaluation_delay: '0s',
      channels: [c.rows[0]!.id],
    }));
    const alerting = startAlerting({ pool, clickhouse: ch, log, allowHosts: ['127.0.0.1'], tickMs: 200, externalUrl: 'http://vigil.test' });
    try {
      const got = await waitFor('the firing message', () => receiver.received.find((r) => (r.json as { vigil?: { project?: string } })?.vigil?.project === project), { timeoutMs: 60_000 });
      const body = new Webhook(secret).verify(got.body, got.headers as Record<string, string>) as { status: string };
      expect(body.status).toBe('firing');
    } finally {
      await alerting.stop();
    }
  });
});
