/**
 * Experiments end to end: the official OTel SDK records spans while the
 * OpenFeature server SDK evaluates flags through Vigil's OFREP endpoint (the
 * demo's span-event hook adds the semantic-convention
 * `feature_flag.evaluation` events); the spans are stored as the processors
 * store them (events as JSON, attributes as strings) and
 * GET /api/v1/experiments/:flag compares the variants: counts, error rates,
 * means and exact percentiles as generated, a significant difference where
 * one was built in, none for a flag that changes nothing, "too small" for
 * tiny samples; experiment records CRUD; tenant confinement.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { context, SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature } from '@openfeature/server-sdk';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spanEventHook } from '../../demo/flags.js';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { buildQueryApp } from '../../query-api/app.js';
import type { SpanRow } from '../../schemas/rows.js';
import { nsToClickHouse } from '../../schemas/time.js';
import { clickhouse, log, migratedPool } from '../alerts/support.js';

let pool: pg.Pool;
let ch: ClickHouseHandle;
let app: FastifyInstance;
const keys = new Map<string, string>();
const tenantId = `t_${randomBytes(4).toString('hex')}`;
const apiKey = `vgl_${randomBytes(6).toString('hex')}_${randomBytes(8).toString('hex')}`;
keys.set(apiKey, tenantId);

/** mulberry32: a seeded generator, so the data (and every p-value) is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(20251121);
const normal = (mean: number, sd: number) => mean + sd * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, key = apiKey) => {
  const res = await app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: res.statusCode, body: res.body === '' ? undefined : res.json() };
};

const hrNs = (t: [number, number]) => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
const strings = (a: Attributes | undefined) => Object.fromEntries(Object.entries(a ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));

/** A finished OTel span as processors/normalize stores it. */
function toRow(s: ReadableSpan, costUsd: number | null = null): SpanRow {
  const start = hrNs(s.startTime);
  const end = hrNs(s.endTime);
  return {
    tenant: tenantId, trace_id: s.spanContext().traceId, span_id: s.spanContext().spanId, parent_span_id: s.parentSpanContext?.spanId ?? '',
    name: s.name, kind: s.kind === SpanKind.SERVER ? 'server' : 'internal', service: 'shop',
    start_time: nsToClickHouse(start), end_time: nsToClickHouse(end), duration_ns: Number(end - start),
    status_code: s.status.code === SpanStatusCode.ERROR ? 'error' : 'ok', status_message: '', scope_name: 'test', scope_version: '',
    resource_attributes: {}, attributes: strings(s.attributes),
    events: JSON.stringify(s.events.map((e) => ({ time_unix_nano: String(hrNs(e.time)), name: e.name, attributes: strings(e.attributes) }))),
    model: costUsd === null ? '' : 'gpt-4o', provider: '', user_id: '', input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: costUsd, unpriced: 0,
  };
}

interface Sent { variant: string; neutral: string; durationMs: number; error: boolean; cost: number }
const sent: Sent[] = [];
const T0 = Date.now() - 30 * 60_000;
const N = 600;

beforeAll(async () => {
  [pool, ch] = await Promise.all([migratedPool(), clickhouse()]);
  app = buildQueryApp({ log, clickhouse: ch, keys: { verify: async (k) => (keys.has(k) ? { projectId: keys.get(k)! } : null) }, flags: { pool } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const rollout = (a: string, b: string) => ({ rollout: [{ variant: a, weight: 50 }, { variant: b, weight: 50 }] });
  expect((await call('POST', '/api/v1/flags', { key: 'chat-model', type: 'string', variants: { mini: 'gpt-4o-mini', full: 'gpt-4o' }, default_variant: 'mini', fallthrough: rollout('mini', 'full') })).status).toBe(201);
  expect((await call('POST', '/api/v1/flags', { key: 'neutral', type: 'boolean', variants: { on: true, off: false }, default_variant: 'off', fallthrough: rollout('off', 'on') })).status).toBe(201);

  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('experiment-test');
  await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl, headers: [['Authorization', `Bearer ${apiKey}`]] }));
  OpenFeature.addHooks(spanEventHook);
  const client = OpenFeature.getClient();

  const costs = new Map<string, number>();
  for (let i = 0; i < N; i++) {
    const start = T0 + i * 50;
    const span = tracer.startSpan('POST /chat', { kind: SpanKind.SERVER, startTime: start });
    const user = { targetingKey: `user-${i}` };
    const [model, neutral] = await context.with(trace.setSpan(context.active(), span), async () => [
      await client.getStringDetails('chat-model', 'gpt-4o-mini', user),
      await client.getBooleanDetails('neutral', false, user),
    ] as const);
    const full = model.variant === 'full';
    const durationMs = Math.max(5, normal(full ? 140 : 100, 20));
    const error = random() < (full ? 0.12 : 0.03);
    const cost = full ? 0.004 + random() * 0.001 : 0.001 + random() * 0.001;
    if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    span.end(start + durationMs);
    costs.set(span.spanContext().traceId, cost);
    sent.push({ variant: model.variant!, neutral: neutral.variant!, durationMs, error, cost });
  }
  const spans = exporter.getFinishedSpans();
  expect(spans).toHaveLength(N);
  const rows = spans.flatMap((s) => {
    // The LLM call: a child span of the request carrying its cost (USD).
    const child = { ...toRow(s, costs.get(s.spanContext().traceId)!), span_id: randomBytes(8).toString('hex'), parent_span_id: s.spanContext().spanId, name: 'chat gpt-4o', events: '[]', status_code: 'ok' };
    return [toRow(s), child];
  });
  await ch.client.insert({ table: `${ch.database}.spans`, values: rows, format: 'JSONEachRow' });
});
afterAll(async () => {
  await OpenFeature.close();
  await app.close();
  await pool.end();
});

const range = `from=${new Date(T0 - 60_000).toISOString()}&to=${new Date(T0 + N * 50 + 60_000).toISOString()}`;

/** ClickHouse quantileExact: the element at floor(level · n) of the sorted values. */
const exactQuantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

describe('experiment results', () => {
  it('per variant: requests, error rate, mean and percentiles, cost per request as sent', async () => {
    const r = await call('GET', `/api/v1/experiments/chat-model?${range}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ flag: 'chat-model', control: 'mini', confidence: 0.95 });
    expect(r.body.variants.map((v: { variant: string }) => v.variant)).toEqual(['mini', 'full']);
    for (const v of r.body.variants) {
      const mine = sent.filter((s) => s.variant === v.variant);
      expect(v.requests).toBe(mine.length);
      expect(v.errors).toBe(mine.filter((s) => s.error).length);
      const ms = mine.map((s) => s.durationMs);
      expect(v.latency_ms.mean).toBeCloseTo(ms.reduce((a, b) => a + b, 0) / ms.length, 3);
      for (const [q, k] of [[0.5, 'p50'], [0.95, 'p95'], [0.99, 'p99']] as const) {
        const want = exactQuantile(ms, q);
        expect(Math.abs(v.latency_ms[k] - want) / want, k).toBeLessThan(0.01);
      }
      expect(v.cost_usd.per_request).toBeCloseTo(mine.reduce((a, s) => a + s.cost, 0) / mine.length, 9);
    }
  });

  it('finds the built-in differences significant, with intervals around them', async () => {
    const r = (await call('GET', `/api/v1/experiments/chat-model?${range}`)).body;
    expect(r.comparisons).toHaveLength(1);
    const c = r.comparisons[0];
    expect(c).toMatchObject({ variant: 'full', control: 'mini' });
    for (const k of ['error_rate', 'latency_mean_ms', 'cost_per_request_usd']) {
      expect(c[k], k).toMatchObject({ sample: 'ok', significant: true });
      expect(c[k].p_value, k).toBeLessThan(0.001);
      expect(c[k].ci_low, k).toBeGreaterThan(0);
      expect(c[k].ci_low).toBeLessThan(c[k].difference);
      expect(c[k].ci_high).toBeGreaterThan(c[k].difference);
    }
    expect(c.latency_mean_ms.difference).toBeGreaterThan(30);
    expect(c.latency_mean_ms.difference).toBeLessThan(50);
  });

  it('finds no difference for a flag that changes nothing', async () => {
    const r = (await call('GET', `/api/v1/experiments/neutral?${range}`)).body;
    expect(r.control).toBe('off');
    const c = r.comparisons[0];
    expect(c.variant).toBe('on');
    expect(c.latency_mean_ms).toMatchObject({ sample: 'ok', significant: false });
    expect(c.cost_per_request_usd.significant).toBe(false);
    expect(c.error_rate.significant).toBe(false);
    expect(c.latency_mean_ms.p_value).toBeGreaterThan(0.05);
  });

  it('says when a sample is too small to judge', async () => {
    const r = (await call('GET', `/api/v1/experiments/chat-model?from=${new Date(T0).toISOString()}&to=${new Date(T0 + 20 * 50).toISOString()}`)).body;
    const c = r.comparisons[0];
    expect(c.latency_mean_ms).toMatchObject({ sample: 'too_small', significant: false, p_value: null });
    expect(c.error_rate.sample).toBe('too_small');
    expect(r.notes.join(' ')).toMatch(/too small to judge/);
    expect((await call('GET', `/api/v1/experiments/chat-model?${range}&control=nope`)).body.error.message).toMatch(/^control:/);
  });
});

describe('experiment records', () => {
  it('CRUD linked to a flag; results over the experiment\'s window; flag deletion refused; tenant-confined', async () => {
    const bad = await call('POST', '/api/v1/experiments', { name: 'x', flag_key: 'no-flag' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^flag_key:/);
    expect((await call('POST', '/api/v1/experiments', { name: 'x', flag_key: 'chat-model', status: 'paused' })).body.error.message).toMatch(/^status:/);
    const created = await call('POST', '/api/v1/experiments', {
      name: 'gpt-4o for chat', flag_key: 'chat-model', hypothesis: 'gpt-4o answers better without costing more than 2x', status: 'running',
      start_at: new Date(T0 - 60_000).toISOString(), end_at: new Date(T0 + N * 50 + 60_000).toISOString(),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'running', control_variant: null });
    expect((await call('POST', '/api/v1/experiments', { name: 'gpt-4o for chat', flag_key: 'chat-model' })).status).toBe(409);
    const id = created.body.id as string;
    const got = await call('GET', `/api/v1/experiments/${id}`);
    expect(got.body.experiment.name).toBe('gpt-4o for chat');
    expect(got.body.results.variants.map((v: { requests: number }) => v.requests).reduce((a: number, b: number) => a + b, 0)).toBe(N);
    expect((await call('GET', '/api/v1/experiments')).body.experiments).toHaveLength(1);
    expect((await call('PATCH', `/api/v1/experiments/${id}`, { status: 'stopped' })).body).toMatchObject({ status: 'stopped' });
    expect((await call('DELETE', '/api/v1/flags/chat-model')).status).toBe(409);

    const otherKey = `vgl_${randomBytes(6).toString('hex')}_${randomBytes(8).toString('hex')}`;
    keys.set(otherKey, `t_${randomBytes(4).toString('hex')}`);
    expect((await call('GET', `/api/v1/experiments/${id}`, undefined, otherKey)).status).toBe(404);
    expect((await call('GET', `/api/v1/experiments/chat-model?${range}`, undefined, otherKey)).status).toBe(404);
    expect((await call('GET', '/api/v1/experiments', undefined, otherKey)).body.experiments).toEqual([]);
    expect((await call('DELETE', `/api/v1/experiments/${id}`, undefined, otherKey)).status).toBe(404);

    expect((await call('DELETE', `/api/v1/experiments/${id}`)).status).toBe(204);
  });
});
