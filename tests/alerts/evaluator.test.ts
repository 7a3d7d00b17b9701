/**
 * The evaluator against real Postgres and chDB, with an injected clock
 * (evaluateDue(now)): state timelines, grouping, repeats, no data, errors
 * after 3 failures, leases with two evaluators, restart while pending, ack
 * and silences.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvaluator, type Evaluator } from '../../alerts/evaluator.js';
import { parseRule } from '../../alerts/rule-schema.js';
import { insertRule } from '../../alerts/rules-store.js';
import { ackAlert, createSilence } from '../../alerts/instances.js';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { baseMinute, clickhouse, insertMinutes, log, migratedPool, newProject, unreachableClickHouse } from './support.js';

let pool: pg.Pool;
let ch: ClickHouseHandle;

beforeAll(async () => {
  [pool, ch] = await Promise.all([migratedPool(), clickhouse()]);
});
afterAll(async () => {
  await pool.end();
});

const evaluator = (c: ClickHouseHandle = ch, owner?: string): Evaluator =>
  createEvaluator({ pool, clickhouse: c, log, externalUrl: 'http://vigil.test', ...(owner ? { owner } : {}) });

/** A webhook channel row (never sent to here: these tests read the outbox). */
async function channel(project: string, name = 'ops'): Promise<string> {
  const r = await pool.query<{ id: string }>(
    "INSERT INTO notification_channels (project_id, name, type, url, secret) VALUES ($1, $2, 'webhook', 'https://example.com/hook', 'whsec_AAAA') RETURNING id::text",
    [project, name],
  );
  return r.rows[0]!.id;
}

async function rule(project: string, body: Record<string, unknown>): Promise<string> {
  return (await insertRule(pool, project, parseRule({ name: `r${Math.random()}`, evaluation_delay: '0s', ...body })))!;
}

async function instances(ruleId: string) {
  return (await pool.query('SELECT * FROM alert_instances WHERE rule_id = $1 ORDER BY labels::text', [ruleId])).rows;
}
async function events(ruleId: string) {
  return (await pool.query('SELECT from_state, to_state, labels, notification, at FROM alert_events WHERE rule_id = $1 ORDER BY id', [ruleId])).rows;
}
async function deliveries(ruleId: string) {
  return (await pool.query<{ kind: string; payload: { status: string; alerts: Array<{ status: string; labels: Record<string, string> }> } }>(
    'SELECT kind, payload FROM webhook_deliveries WHERE rule_id = $1 ORDER BY id', [ruleId])).rows;
}

const at = (base: number, s: number): Date => new Date(base + s * 1000);

describe('evaluator', () => {
  it('for: pending, then firing at activeAt + for; one message per evaluation with every series that changed; one resolved message', async () => {
    const project = await newProject(pool);
    const base = baseMinute();
    const minutes = (from: number, to: number, errors: number) =>
      Array.from({ length: to - from }, (_, i) => i + from).flatMap((m) => [
        { minuteMs: base + m * 60_000, service: 'checkout', count: 10, errors },
        { minuteMs: base + m * 60_000, service: 'billing', count: 10, errors },
      ]);
    await insertMinutes(ch, project, [...minutes(-5, 3, 5), ...minutes(3, 12, 0)]);
    const id = await rule(project, {
      condition: { signal: 'error_rate', group_by: ['service'], window: '5m', operator: '>', threshold: 0.1, min_count: 5 },
      for: '2m',
      channels: [await channel(project)],
      annotations: { summary: '{{ $labels.service }} error rate {{ $value }}' },
    });
    const ev = evaluator();
    await ev.evaluateDue(at(base, 1));
    expect((await instances(id)).map((i) => i.state)).toEqual(['pending', 'pending']);
    await ev.evaluateDue(at(base, 61));
    expect((await deliveries(id))).toHaveLength(0);
    await ev.evaluateDue(at(base, 121));
    const fired = await instances(id);
    expect(fired.map((i) => i.state)).toEqual(['firing', 'firing']);
    expect(fired[0].active_at).toEqual(at(base, 1));
    expect(fired[0].firing_at).toEqual(at(base, 121));
    let d = await deliveries(id);
    expect(d).toHaveLength(1);
    expect(d[0]!.payload.status).toBe('firing');
    expect(d[0]!.payload.alerts.map((a) => a.labels.service).sort()).toEqual(['billing', 'checkout']);
    expect((d[0]!.payload.alerts[0] as unknown as { annotations: { summary: string } }).annotations.summary).toMatch(/error rate 0\.5$/);

    await ev.evaluateDue(at(base, 181)); // still true: no new message (repeat is 4 h)
    expect(await deliveries(id)).toHaveLength(1);
    await ev.evaluateDue(at(base, 9 * 60 + 1)); // window [4m, 9m) is clean
    expect((await instances(id)).map((i) => i.state)).toEqual(['normal', 'normal']);
    d = await deliveries(id);
    expect(d).toHaveLength(2);
    expect(d[1]!.payload.status).toBe('resolved');
    expect(d[1]!.payload.alerts).toHaveLength(2);
    expect((await events(id)).map((e) => `${e.from_state}>${e.to_state}`)).toEqual([
      'normal>pending', 'normal>pending', 'pending>firing', 'pending>firing', 'firing>normal', 'firing>normal',
    ]);
  });

  it('keep_firing_for: a firing alert stays firing through a short dip, then resolves', async () => {
    const project = await newProject(pool);
    const base = baseMinute();
    // errors at minutes −1, 1; clean traffic at 0, 2, 3, 4, 5.
    await insertMinutes(ch, project, [-1, 0, 1, 2, 3, 4, 5].map((m) => ({ minuteMs: base + m * 60_000, count: 10, errors: m === -1 || m === 1 ? 10 : 0 })));
    const id = await rule(project, {
      condition: { signal: 'error_count', window: '1m', operator: '>', threshold: 0 },
      keep_firing_for: '2m',
      repeat_interval: '1h',
      channels: [await channel(project)],
    });
    const ev = evaluator();
    const states: string[] = [];
    for (let m = 0; m <= 5; m++) {
      await ev.evaluateDue(at(base, m * 60 + 1));
      states.push((await instances(id))[0].state);
    }
    // true at 0 (window −1), false at 1, true at 2, false at 3, 4 (≥ 2 min since last true at 2) → normal at 4
    expect(states).toEqual(['firing', 'firing', 'firing', 'firing', 'normal', 'normal']);
    expect((await deliveries(id)).map((d) => d.kind)).toEqual(['firing', 'resolved']);
  });

  it('repeats a firing notification every repeat_interval', async () => {
    const project = await newProject(pool);
    const base = baseMinute();
    await insertMinutes(ch, project, [-1, 0, 1, 2, 3].map((m) => ({ minuteMs: base + m * 60_000, count: 10, errors: 10 })));
    const id = await rule(project, {
      condition: { signal: 'error_count', window: '1m', operator: '>', threshold: 0 },
      repeat_interval: '2m',
      channels: [await channel(project)],
    });
    const ev = evaluator();
    for (let m = 0; m <= 4; m++) await ev.evaluateDue(at(base, m * 60 + 1));
    // firing at 0, repeats at 2 and 4
    expect((await deliveries(id)).map((d) => d.kind)).toEqual(['firing', 'firing', 'firing']);
    expect(await events(id)).toHaveLength(1);
  });

  it('slack channels get a Slack message (text + blocks) in the same evaluation as webhooks', async () => {
    const project = await newProject(pool);
    const base = baseMinute();
    await insertMinutes(ch, project, [{ minuteMs: base - 60_000, count: 10, errors: 4 }]);
    const slack = (await pool.query<{ id: string }>(
      "INSERT INTO notification_channels (project_id, name, type, url) VALUES ($1, 'chat', 'slack', 'https://hooks.slack.com/services/T/B/X') RETURNING id::text",
      [project],
    )).rows[0]!.id;
    const id = await rule(project, {
      name: 'Checkout errors',
      severity: 'critical',
      condition: { signal: 'error_count', window: '1m', operator: '>', threshold: 0 },
      annotations: { summary: '{{ $value }} errors' },
      channels: [slack, await channel(project)],
    });
    await evaluator().evaluateDue(at(base, 1));
    const rows = (await pool.query('SELECT c.type, d.payload FROM webhook_deliveries d JOIN notification_channels c ON c.id = d.channel_id WHERE d.rule_id = $1 ORDER BY c.type', [id])).rows;
    expect(rows.map((r) => r.type)).toEqual(['slack', 'webhook']);
    expect(rows[0].payload.text).toContain('[FIRING:1] Checkout errors');
    expect(rows[0].payload.text).toContain('4 errors');
    expect(rows[0].payload.blocks[0].type).toBe('section');
    expect(rows[1].payload.version).toBe('4');
  });

  it('no data: no_data_state nodata sends a firing message with alertstate=nodata; ok stays normal', async () => {
    const project = await newProject(pool);
    const base = baseMinute();
    const cid = await channel(project);
    const nodata = await rule(project, { condition: { signal: 'latency_p99_ms', window: '5m', operator: '>', threshold: 100 }, channels: [cid] });
    const ok = await rule(project, { condition: { signal: 'latency_p99_ms', window: '5m', operator: '>', threshold: 100 }, no_data_state: 'ok', channels: [cid] });
    await evaluator().evaluateDue(at(base, 1));
    expect((await instances(nodata)).map((i) => i.state)).toEqual(['nodata']);
    expect(await instances(ok)).toEqual([]); // nothing to track: no alert row at all
    const d = await deliveries(nodata);
    expect(d).toHaveLength(1);
    expect(d[0]!.payload.alerts[0]!.labels.alertstate).toBe('nodata');
    expect(await deliveries(ok)).toHaveLength(0);
  });

  it('absence fires when a service sends nothing for the window', async () => {
    const project = await newProject(pool);
    const base = baseMinute();
    await insertMinutes(ch, project, [-3, -2, -1].map((m) => ({ minuteMs: base + m * 60_000, service: 'billing', count: 5 })));
    const id = await rule(project, { condition: { signal: 'absence', group_by: ['service'], window: '2m' }, channels: [await channel(project)] });
    const ev = evaluator();
    await ev.evaluateDue(at(base, 1)); // [−2m, 0): spans → normal
    expect((await instances(id)).map((i) => [i.labels.service, i.state])).toEqual([['billing', 'normal']]);
    await ev.evaluateDue(at(base, 121)); // [0, 2m): nothing from billing → firing
    expect((await instances(id)).map((i) => [i.labels.service, i.state])).toEqual([['billing', 'firing']]);
    expect((await deliveries(id))[0]!.payload.alerts[0]!.labels.service).toBe('billing');
  });

  it('ClickHouse unreachable: state kept for 2 failures, exec_err_state error on the 3rd; nothing throws; recovery resolves', async () => {
    const project = await newProject(pool);
    const base = baseMinute();
    await insertMinutes(ch, project, [0, 1, 2, 3, 4].map((m) => ({ minuteMs: base + m * 60_000, count: 10 })));
    const id = await rule(project, { condition: { signal: 'error_count', window: '1m', operator: '>', threshold: 0 }, channels: [await channel(project)] });
    const broken = evaluator(unreachableClickHouse());
    for (let i = 0; i < 2; i++) {
      const out = await broken.evaluateDue(at(base, i * 60 + 1));
      expect(out.results.get(id)?.consecutiveFailures).toBe(i + 1);
      expect(await instances(id)).toEqual([]); // state kept: still no alert
    }
    await broken.evaluateDue(at(base, 121));
    expect((await instances(id)).map((x) => x.state)).toEqual(['error']);
    const r = (await pool.query('SELECT consecutive_failures, last_error FROM alert_rules WHERE id = $1', [id])).rows[0];
    expect(r.consecutive_failures).toBe(3);
    expect(r.last_error).toMatch(/ECONNREFUSED|unavailable/);
    expect((await deliveries(id)).map((d) => d.payload.alerts[0]!.labels.alertstate)).toEqual(['error']);
    await evaluator().evaluateDue(at(base, 181));
    expect((await instances(id)).map((x) => x.state)).toEqual(['normal']);
    expect((await deliveries(id)).map((d) => d.kind)).toEqual(['firing', 'resolved']);
  });

  it('two evaluators at once: every rule evaluated once per tick, each transition notified exactly once', async () => {
    const project = await newProject(pool);
    const base = baseMinute();
    await insertMinutes(ch, project, [-1, 0, 1, 2].map((m) => ({ minuteMs: base + m * 60_000, count: 10, errors: 3 })));
    const cid = await channel(project);
    const ids = await Promise.all(Array.from({ length: 8 }, () =>
      rule(project, { condition: { signal: 'error_count', window: '1m', operator: '>', threshold: 0 }, channels: [cid] })));
    const a = evaluator(ch, 'eval-a');
    const b = evaluator(ch, 'eval-b');
    for (let m = 0; m < 3; m++) {
      const [ra, rb] = await Promise.all([a.evaluateDue(at(base, m * 60 + 1)), b.evaluateDue(at(base, m * 60 + 1))]);
      const mine = (r: typeof ra) => [...r.results.keys()].filter((k) => ids.includes(k));
      expect(new Set([...mine(ra), ...mine(rb)]).size).toBe(mine(ra).length + mine(rb).length);
      expect(mine(ra).length + mine(rb).length).toBe(8);
    }
    for (const id of ids) {
      expect((await events(id)).map((e) => `${e.from_state}>${e.to_state}`)).toEqual(['normal>firing']);
      expect(await deliveries(id)).toHaveLength(1);
    }
  });

  it('an evaluator killed while pending: its lease expires and the next one fires at the original time', async () => {
    const project = await newProject(pool);
    const base = baseMinute();
    await insertMinutes(ch, project, Array.from({ length: 8 }, (_, i) => ({ minuteMs: base + (i - 1) * 60_000, count: 10, errors: 5 })));
    const id = await rule(project, { condition: { signal: 'error_count', window: '1m', operator: '>', threshold: 0 }, for: '3m', channels: [await channel(project)] });
    // Anchor the rule's schedule at `base` (it is anchored at its creation time, i.e. the wall clock,
    // which made the ticks below due or not depending on the second the test ran).
    await pool.query('UPDATE alert_rules SET next_eval_at = $2 WHERE id = $1', [id, new Date(base)]);
    const first = evaluator(ch, 'eval-first');
    await first.evaluateDue(at(base, 1));
    expect((await instances(id))[0].state).toBe('pending');
    // It claims the next tick and dies before applying it.
    expect((await first.claimDue(at(base, 61))).map((r) => r.id)).toContain(id);

    const second = evaluator(ch, 'eval-second');
    expect((await second.evaluateDue(at(base, 62))).results.has(id)).toBe(false); // lease held until base+121
    expect((await second.evaluateDue(at(base, 122))).results.get(id)?.applied).toBe(true);
    expect((await instances(id))[0].state).toBe('pending');
    await second.evaluateDue(at(base, 181));
    const inst = (await instances(id))[0];
    expect(inst.state).toBe('firing');
    expect(inst.active_at).toEqual(at(base, 1)); // the timer of the first evaluator
    expect(inst.firing_at).toEqual(at(base, 181));
  });

  it('ack and silences stop notifications, not evaluation', async () => {
    const project = await newProject(pool);
    const base = baseMinute();
    await insertMinutes(ch, project, Array.from({ length: 6 }, (_, i) => i - 1).flatMap((m) => [
      { minuteMs: base + m * 60_000, service: 'checkout', count: 10, errors: m < 3 ? 5 : 0 },
      { minuteMs: base + m * 60_000, service: 'billing', count: 10, errors: m < 3 ? 5 : 0 },
    ]));
    await createSilence(pool, project, { matchers: [{ name: 'service', value: 'bill.*', op: '=~' }], ends_at: new Date(base + 3_600_000).toISOString() }, at(base, 0));
    const id = await rule(project, {
      condition: { signal: 'error_count', group_by: ['service'], window: '1m', operator: '>', threshold: 0 },
      repeat_interval: '1m',
      channels: [await channel(project)],
    });
    const ev = evaluator();
    await ev.evaluateDue(at(base, 1));
    let d = await deliveries(id);
    expect(d).toHaveLength(1);
    expect(d[0]!.payload.alerts.map((a) => a.labels.service)).toEqual(['checkout']); // billing is silenced
    expect((await events(id)).map((e) => [e.labels.service, e.notification]).sort()).toEqual([['billing', 'silenced'], ['checkout', 'queued']]);

    const checkout = (await instances(id)).find((i) => i.labels.service === 'checkout');
    await ackAlert(pool, project, checkout.id, 'alice', 'looking', at(base, 30));
    await ev.evaluateDue(at(base, 61)); // repeat due, but acknowledged
    expect(await deliveries(id)).toHaveLength(1);
    const after = (await instances(id)).find((i) => i.labels.service === 'checkout');
    expect(after.last_eval_at).toEqual(at(base, 61)); // still evaluated
    expect(after.state).toBe('firing');

    await ev.evaluateDue(at(base, 4 * 60 + 1)); // clean: both resolve
    d = await deliveries(id);
    expect(d).toHaveLength(2);
    expect(d[1]!.payload.status).toBe('resolved');
    expect(d[1]!.payload.alerts.map((a) => a.labels.service)).toEqual(['checkout']); // the silenced one never fired out loud
    expect((await instances(id)).every((i) => i.acknowledged_at === null)).toBe(true);
  });
});
