/**
 * The alerting API with inject(): validation 400s naming the field, rules and
 * channels CRUD (secret shown once), tenant confinement, preview, alerts, ack,
 * history, deliveries, silences, channel test (signed), the SSE stream, and
 * the routes in the OpenAPI document.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvaluator } from '../../alerts/evaluator.js';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { buildQueryApp } from '../../query-api/app.js';
import { waitFor } from '../support/wait.js';
import { baseMinute, clickhouse, insertMinutes, log, migratedPool, startReceiver, type Receiver } from './support.js';

let pool: pg.Pool;
let ch: ClickHouseHandle;
let app: FastifyInstance;
let receiver: Receiver;
const keys = new Map<string, string>();

beforeAll(async () => {
  [pool, ch, receiver] = await Promise.all([migratedPool(), clickhouse(), startReceiver()]);
  app = buildQueryApp({
    log,
    clickhouse: ch,
    keys: { verify: async (k) => (keys.has(k) ? { projectId: keys.get(k)! } : null) },
    alerts: { pool, allowHosts: ['127.0.0.1'], externalUrl: 'http://vigil.test' },
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await receiver.close();
  await pool.end();
});

function tenant() {
  const id = `t_${randomBytes(4).toString('hex')}`;
  const key = `key_${randomBytes(8).toString('hex')}`;
  keys.set(key, id);
  const headers = { authorization: `Bearer ${key}` };
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown) => {
    const res = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
    return { status: res.statusCode, body: res.body === '' ? undefined : res.json() };
  };
  return { id, headers, call };
}

const RULE = {
  name: 'checkout errors',
  severity: 'critical',
  condition: { signal: 'error_rate', filters: { service: 'checkout' }, window: '5m', operator: '>', threshold: 0.05, min_count: 1 },
  annotations: { summary: 'error rate {{ $value }} on {{ $labels.service }}' },
  evaluation_delay: '0s',
};

describe('alerting API', () => {
  it('rejects bad rule bodies with 400s naming the field', async () => {
    const t = tenant();
    const cases: Array<[unknown, string]> = [
      [{ ...RULE, condition: undefined }, 'condition'],
      [{ ...RULE, condition: { ...RULE.condition, signal: 'p99' } }, 'condition.signal'],
      [{ ...RULE, condition: { ...RULE.condition, threshold: 5 } }, 'condition.threshold'],
      [{ ...RULE, condition: { ...RULE.condition, window: '5x' } }, 'condition.window'],
      [{ ...RULE, condition: { ...RULE.condition, treshold: 1 } }, 'condition.treshold'],
      [{ ...RULE, condition: { ...RULE.condition, operator: undefined } }, 'condition.operator'],
      [{ ...RULE, for: '-1m' }, 'for'],
      [{ ...RULE, severity: 'page' }, 'severity'],
      [{ ...RULE, channels: ['nope'] }, 'channels.0'],
      [{ ...RULE, channels: ['00000000-0000-4000-8000-000000000000'] }, 'channels.0'],
      [{ ...RULE, annotations: { summary: '{{ $values }}' } }, 'annotations.summary'],
      [{ ...RULE, name: '' }, 'name'],
      [[1, 2], 'body'],
    ];
    for (const [body, field] of cases) {
      const r = await t.call('POST', '/api/v1/alerts/rules', body);
      expect(r.status, field).toBe(400);
      expect(r.body.error.code).toBe('VIGIL_ERR_VALIDATION');
      expect(r.body.error.message.startsWith(`${field}: `), `${field} → ${r.body.error.message}`).toBe(true);
    }
    expect((await t.call('POST', '/api/v1/alerts/rules', { ...RULE, condition: { ...RULE.condition, threshold: 5 } })).body.error.message).toMatch(/0\.05/);
  });

  it('rules CRUD; names unique per project; other tenants see nothing', async () => {
    const t = tenant();
    const other = tenant();
    const created = await t.call('POST', '/api/v1/alerts/rules', RULE);
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(created.body).toMatchObject({ name: 'checkout errors', interval: '1m', for: '0s', no_data_state: 'nodata', condition: { window: '5m', threshold: 0.05 } });
    expect((await t.call('POST', '/api/v1/alerts/rules', RULE)).status).toBe(409);
    expect((await other.call('POST', '/api/v1/alerts/rules', RULE)).status).toBe(201); // same name, other project
    expect((await t.call('GET', '/api/v1/alerts/rules')).body.rules.map((r: { id: string }) => r.id)).toEqual([id]);
    expect((await other.call('GET', `/api/v1/alerts/rules/${id}`)).status).toBe(404);
    expect((await other.call('PUT', `/api/v1/alerts/rules/${id}`, RULE)).status).toBe(404);
    expect((await other.call('DELETE', `/api/v1/alerts/rules/${id}`)).status).toBe(404);

    const put = await t.call('PUT', `/api/v1/alerts/rules/${id}`, { ...RULE, for: '5m' });
    expect(put.body.for).toBe('5m');
    const patched = await t.call('PATCH', `/api/v1/alerts/rules/${id}`, { enabled: false, condition: { threshold: 0.1 } });
    expect(patched.body).toMatchObject({ enabled: false, for: '5m', condition: { threshold: 0.1, window: '5m' } });
    expect((await t.call('PATCH', `/api/v1/alerts/rules/${id}`, { condition: { window: 'soon' } })).body.error.message).toMatch(/^condition\.window: /);
    expect((await t.call('DELETE', `/api/v1/alerts/rules/${id}`)).status).toBe(204);
    expect((await t.call('GET', `/api/v1/alerts/rules/${id}`)).status).toBe(404);
    expect((await t.call('GET', '/api/v1/alerts/rules/not-a-uuid')).body.error.message).toMatch(/^id: /);

    const templates = (await t.call('GET', '/api/v1/alerts/rules/templates')).body.templates;
    expect(templates.map((x: { key: string }) => x.key)).toEqual(['high_error_rate', 'high_p99_latency', 'llm_cost_spike', 'no_data']);
  });

  it('channels: secret shown once, non-public URLs refused, test message signed; invisible to other tenants', async () => {
    const t = tenant();
    const bad = await t.call('POST', '/api/v1/alerts/channels', { name: 'meta', type: 'webhook', url: 'http://169.254.169.254/latest' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VIGIL_ERR_WEBHOOK_DESTINATION_REFUSED');
    expect(bad.body.error.message).toMatch(/^url: /);
    expect((await t.call('POST', '/api/v1/alerts/channels', { name: 'x', type: 'pager', url: receiver.url })).body.error.message).toMatch(/^type: /);

    const c = await t.call('POST', '/api/v1/alerts/channels', { name: 'ops', type: 'webhook', url: receiver.url });
    expect(c.status).toBe(201);
    expect(c.body.secret).toMatch(/^whsec_/);
    const id = c.body.id as string;
    expect((await t.call('GET', `/api/v1/alerts/channels/${id}`)).body.secret).toBeUndefined();
    expect((await t.call('GET', '/api/v1/alerts/channels')).body.channels[0].secret).toBeUndefined();
    expect((await tenant().call('GET', `/api/v1/alerts/channels/${id}`)).status).toBe(404);

    const test = await t.call('POST', `/api/v1/alerts/channels/${id}/test`);
    expect(test.body).toMatchObject({ delivered: true, status_code: 200 });
    const got = receiver.received.find((r) => r.headers['webhook-id'] === test.body.message_id)!;
    const payload = new Webhook(c.body.secret).verify(got.body, got.headers as Record<string, string>) as { version: string; alerts: unknown[] };
    expect(payload.version).toBe('4');
    const deliveries = (await t.call('GET', '/api/v1/alerts/deliveries')).body.deliveries;
    expect(deliveries[0]).toMatchObject({ kind: 'test', status: 'delivered', last_status_code: 200 });
  });

  it('preview shows the series values and when the rule would have fired and resolved', async () => {
    const t = tenant();
    const base = baseMinute() - 60 * 60_000;
    // errors in minutes 10..14 of the hour, clean traffic otherwise
    await insertMinutes(ch, t.id, Array.from({ length: 30 }, (_, m) => ({ minuteMs: base + m * 60_000, service: 'checkout', count: 10, errors: m >= 10 && m < 15 ? 5 : 0 })));
    const r = await t.call('POST', '/api/v1/alerts/rules/preview', {
      rule: { ...RULE, condition: { ...RULE.condition, window: '1m' }, for: '2m', no_data_state: 'ok' },
      from: new Date(base).toISOString(),
      to: new Date(base + 30 * 60_000).toISOString(),
    });
    expect(r.status).toBe(200);
    expect(r.body.evaluations).toBe(30);
    const s = r.body.series[0];
    expect(s.labels).toEqual({});
    expect(s.fired_at).toEqual([new Date(base + 13 * 60_000).toISOString()]); // true from 11 (window [10,11)), for 2m
    expect(s.resolved_at).toEqual([new Date(base + 16 * 60_000).toISOString()]);
    expect(s.points[12].value).toBe(0.5);
    expect((await t.call('POST', '/api/v1/alerts/rules/preview', { rule: { ...RULE, condition: { ...RULE.condition, signal: 'nope' } }, from: 'now-1h' })).body.error.message).toMatch(/^rule\.condition\.signal: /);
    expect((await t.call('POST', '/api/v1/alerts/rules/preview', { rule: RULE, from: 'yesterday' })).body.error.message).toMatch(/^from: /);
  });

  it('alerts, ack, history and silences through the API; another tenant sees none of it', async () => {
    const t = tenant();
    const base = baseMinute();
    await insertMinutes(ch, t.id, [-2, -1, 0, 1].map((m) => ({ minuteMs: base + m * 60_000, service: 'checkout', count: 10, errors: 5 })));
    const rule = (await t.call('POST', '/api/v1/alerts/rules', RULE)).body;
    await createEvaluator({ pool, clickhouse: ch, log, externalUrl: 'http://vigil.test' }).evaluateDue(new Date(base + 1000));

    const alerts = (await t.call('GET', '/api/v1/alerts')).body.alerts;
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ rule_id: rule.id, state: 'firing', severity: 'critical', value: 0.5 });
    expect((await t.call('GET', '/api/v1/alerts?state=normal')).body.alerts).toHaveLength(0);
    expect((await t.call('GET', '/api/v1/alerts?state=sleeping')).body.error.message).toMatch(/^state: /);
    const acked = await t.call('POST', `/api/v1/alerts/${alerts[0].id}/ack`, { by: 'alice', comment: 'on it' });
    expect(acked.body).toMatchObject({ acknowledged_by: 'alice', ack_comment: 'on it' });
    const history = (await t.call('GET', `/api/v1/alerts/history?rule_id=${rule.id}`)).body.events;
    expect(history.map((e: { from_state: string; to_state: string }) => `${e.from_state}>${e.to_state}`)).toEqual(['normal>firing']);

    const other = tenant();
    expect((await other.call('GET', '/api/v1/alerts')).body.alerts).toHaveLength(0);
    expect((await other.call('GET', `/api/v1/alerts/${alerts[0].id}`)).status).toBe(404);
    expect((await other.call('POST', `/api/v1/alerts/${alerts[0].id}/ack`, {})).status).toBe(404);
    expect((await other.call('GET', '/api/v1/alerts/history')).body.events).toHaveLength(0);

    expect((await t.call('POST', '/api/v1/alerts/silences', { matchers: [{ name: 'service', value: 'checkout' }] })).body.error.message).toMatch(/^ends_at: /);
    expect((await t.call('POST', '/api/v1/alerts/silences', { matchers: [{ name: 'service', value: '(', op: '=~' }], ends_at: '2099-01-01T00:00:00Z' })).body.error.message).toMatch(/^matchers\.0\.value: /);
    const s = await t.call('POST', '/api/v1/alerts/silences', { matchers: [{ name: 'service', value: 'checkout' }], ends_at: '2099-01-01T00:00:00Z', comment: 'deploy' });
    expect(s.status).toBe(201);
    expect((await t.call('GET', '/api/v1/alerts/silences')).body.silences.map((x: { id: string }) => x.id)).toEqual([s.body.id]);
    expect((await other.call('DELETE', `/api/v1/alerts/silences/${s.body.id}`)).status).toBe(404);
    expect((await t.call('DELETE', `/api/v1/alerts/silences/${s.body.id}`)).status).toBe(204);
    expect((await t.call('GET', '/api/v1/alerts/silences')).body.silences).toHaveLength(0);
  });

  it('streams transitions as server-sent events', async () => {
    const t = tenant();
    const base = baseMinute();
    await insertMinutes(ch, t.id, [-1, 0].map((m) => ({ minuteMs: base + m * 60_000, service: 'checkout', count: 10, errors: 10 })));
    await t.call('POST', '/api/v1/alerts/rules', RULE);
    const server = buildQueryApp({
      log,
      clickhouse: ch,
      keys: { verify: async (k) => (keys.has(k) ? { projectId: keys.get(k)! } : null) },
      alerts: { pool, allowHosts: [], externalUrl: 'http://vigil.test' },
    });
    await server.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = server.server.address() as { port: number };
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/alerts/stream`, { headers: t.headers });
      expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
      const reader = res.body!.getReader();
      let text = '';
      const decoder = new TextDecoder();
      const readUntil = async (needle: string) =>
        waitFor(`SSE text containing ${needle}`, async () => {
          const { value } = await reader.read();
          text += decoder.decode(value ?? new Uint8Array());
          return text.includes(needle) ? text : undefined;
        }, { intervalMs: 0 });
      await readUntil(': listening');
      await createEvaluator({ pool, clickhouse: ch, log, externalUrl: 'http://vigil.test' }).evaluateDue(new Date(base + 1000));
      await readUntil('event: alert');
      const data = JSON.parse(/data: (.*)\n/.exec(text.slice(text.indexOf('event: alert')))![1]!);
      expect(data).toMatchObject({ from_state: 'normal', to_state: 'firing', rule_name: 'checkout errors' });
      await reader.cancel();
    } finally {
      await server.close();
    }
  });

  it('documents the alert routes in the OpenAPI output', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    for (const p of ['/api/v1/alerts', '/api/v1/alerts/rules', '/api/v1/alerts/rules/{id}', '/api/v1/alerts/rules/preview', '/api/v1/alerts/channels',
      '/api/v1/alerts/channels/{id}/test', '/api/v1/alerts/{id}/ack', '/api/v1/alerts/history', '/api/v1/alerts/deliveries', '/api/v1/alerts/silences', '/api/v1/alerts/stream']) {
      expect(doc.paths[p], p).toBeDefined();
    }
  });
});
