/**
 * Experiments end to end: the official OTel SDK records spans while the
 * OpenFeature server SDK evaluates flags through Vigil's OFREP endpoint (the
 * demo's span-event hook adds the semantic-convention
 * `feature_flag.evaluation` events to the active span, here the priced LLM
 * span). The SDK's own OTLP protobuf serializer encodes them, and they go
 * through the real processor path (worker pool → processors/store.ts →
 * ClickHouse, as a Kafka sub-batch would), which fills `spans` and the
 * per-variant aggregate `flag_variant_metrics_1m`. GET /api/v1/experiments/:flag
 * compares the variants from the aggregate: counts, error rates, means and
 * percentiles (DDSketch, within 1 %) as generated, cost per request equal to
 * the evaluating spans' stored cost, a significant difference where one was
 * built in, none for a flag that changes nothing, "too small" for tiny
 * samples; experiment records CRUD; tenant confinement, also of the
 * aggregate rows.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature } from '@openfeature/server-sdk';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spanEventHook } from '../../demo/flags.js';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { createWorkerPool, type WorkerPool } from '../../processors/pool.js';
import { storeSubBatch, type OffsetItem } from '../../processors/store.js';
import { createClickHouseWriter } from '../../processors/writer.js';
import { buildQueryApp } from '../../query-api/app.js';
import { clickhouse, log, migratedPool } from '../alerts/support.js';
import { mulberry32 as rng } from '../support/prng.js';

let pool: pg.Pool;
let ch: ClickHouseHandle;
let app: FastifyInstance;
const keys = new Map<string, string>();
const tenantId = `t_${randomBytes(4).toString('hex')}`;
const apiKey = `vgl_${randomBytes(6).toString('hex')}_${randomBytes(8).toString('hex')}`;
keys.set(apiKey, tenantId);

const random = rng(20251121);
const normal = (mean: number, sd: number) => mean + sd * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, key = apiKey) => {
  const res = await app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: res.statusCode, body: res.body === '' ? undefined : res.json() };
};

/**
 * Store finished spans through the processors as `tenant`'s OTLP/protobuf
 * requests (version 2 messages, schemas/envelope.ts), `perMessage` spans each,
 * in one sub-batch with dedup token base `token`.
 */
async function process(pipeline: WorkerPool, tenant: string, spans: readonly ReadableSpan[], token: string, perMessage = 100): Promise<void> {
  const items: OffsetItem[] = [];
  for (let i = 0; i < spans.length; i += perMessage) {
    const raw = ProtobufTraceSerializer.serializeRequest(spans.slice(i, i + perMessage) as ReadableSpan[])!;
    items.push({ offset: String(items.length), raw, meta: { tenant, format: 'otlp-proto', kind: 'spans', receivedAtMs: Date.now() } });
  }
  const out = await storeSubBatch({ pool: pipeline, writer: createClickHouseWriter({ clickhouse: ch, log }), log, backoff: { baseMs: 50, maxMs: 500 }, deadlineMs: 30_000 }, items, token);
  expect([...out.poison]).toEqual([]);
  expect(out.rows.spans).toBe(spans.length);
}

interface Sent { spanId: string; variant: string; neutral: string; durationMs: number; error: boolean; cost: number }
/** The main requests (window `range`). */
const sent: Sent[] = [];
/** The small set's requests (10 minutes before). */
const small: Sent[] = [];
const T0 = Date.now() - 30 * 60_000;
const N = 600;
/** A handful of requests 10 minutes before the main ones, in their own minutes. */
const SMALL_T0 = T0 - 10 * 60_000;
const SMALL_N = 20;
/** Another project, which evaluates chat-model too (older span-attribute form). */
const otherTenant = `t_${randomBytes(4).toString('hex')}`;
const otherKey = `vgl_${randomBytes(6).toString('hex')}_${randomBytes(8).toString('hex')}`;
keys.set(otherKey, otherTenant);
const OTHER_N = 7;
let otherSpans: ReadableSpan[] = [];
let pipeline: WorkerPool;

beforeAll(async () => {
  [pool, ch] = await Promise.all([migratedPool(), clickhouse()]);
  pipeline = createWorkerPool({ threads: 1 });
  app = buildQueryApp({ log, clickhouse: ch, keys: { verify: async (k) => (keys.has(k) ? { projectId: keys.get(k)! } : null) }, flags: { pool } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const rollout = (a: string, b: string) => ({ rollout: [{ variant: a, weight: 50 }, { variant: b, weight: 50 }] });
  const chatModel = { key: 'chat-model', type: 'string', variants: { mini: 'gpt-4o-mini', full: 'gpt-4o' }, default_variant: 'mini', fallthrough: rollout('mini', 'full') };
  expect((await call('POST', '/api/v1/flags', chatModel)).status).toBe(201);
  expect((await call('POST', '/api/v1/flags', { key: 'neutral', type: 'boolean', variants: { on: true, off: false }, default_variant: 'off', fallthrough: rollout('off', 'on') })).status).toBe(201);
  expect((await call('POST', '/api/v1/flags', chatModel, otherKey)).status).toBe(201);

  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'shop' }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('experiment-test');
  await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl, headers: [['Authorization', `Bearer ${apiKey}`]] }));
  OpenFeature.addHooks(spanEventHook);
  const client = OpenFeature.getClient();

  /** One LLM call that picks its model with the flags: the evaluating span is the priced span. */
  const request = async (i: number, start: number, into: Sent[]) => {
    const span = tracer.startSpan('chat', { kind: SpanKind.CLIENT, startTime: start, attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.system': 'openai' } });
    const user = { targetingKey: `user-${i}` };
    const [model, neutral] = await context.with(trace.setSpan(context.active(), span), async () => [
      await client.getStringDetails('chat-model', 'gpt-4o-mini', user),
      await client.getBooleanDetails('neutral', false, user),
    ] as const);
    const full = model.variant === 'full';
    const durationMs = Math.max(5, normal(full ? 140 : 100, 20));
    const error = random() < (full ? 0.12 : 0.03);
    // Priced by the processors (gpt-4o costs ~16× gpt-4o-mini per token).
    span.setAttributes({
      'gen_ai.request.model': model.value, 'gen_ai.usage.input_tokens': 300 + Math.floor(random() * 200), 'gen_ai.usage.output_tokens': 50 + Math.floor(random() * 100),
    });
    if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    span.end(start + durationMs);
    into.push({ spanId: span.spanContext().spanId, variant: model.variant!, neutral: neutral.variant!, durationMs, error, cost: NaN });
  };
  for (let i = 0; i < N; i++) await request(i, T0 + i * 50, sent);
  const spans = exporter.getFinishedSpans();
  expect(spans).toHaveLength(N);
  await process(pipeline, tenantId, spans, `${tenantId}-main`);
  exporter.reset();
  for (let i = 0; i < SMALL_N; i++) await request(N + i, SMALL_T0 + i * 50, small);
  await process(pipeline, tenantId, exporter.getFinishedSpans(), `${tenantId}-small`);
  exporter.reset();
  for (let i = 0; i < OTHER_N; i++) {
    tracer.startSpan('chat', { startTime: T0 + i * 50, attributes: { 'feature_flag.key': 'chat-model', 'feature_flag.variant': 'full' } }).end(T0 + i * 50 + 10);
  }
  otherSpans = [...exporter.getFinishedSpans()];
  await process(pipeline, otherTenant, otherSpans, `${otherTenant}-main`);

  // The cost of each request: what the processors priced the evaluating span at (USD).
  const rs = await ch.client.query({
    query: 'SELECT span_id, cost_usd FROM {db:Identifier}.spans WHERE tenant = {t:String}', query_params: { db: ch.database, t: tenantId }, format: 'JSONEachRow',
  });
  const costs = new Map((await rs.json<{ span_id: string; cost_usd: number | null }>()).map((r) => [r.span_id, r.cost_usd]));
  for (const x of [...sent, ...small]) x.cost = costs.get(x.spanId) ?? NaN;
  expect([...sent, ...small].every((x) => x.cost > 0)).toBe(true);
});
afterAll(async () => {
  await OpenFeature.close();
  await app.close();
  await pipeline.close();
  await pool.end();
});

const range = `from=${new Date(T0 - 60_000).toISOString()}&to=${new Date(T0 + N * 50 + 60_000).toISOString()}`;

/** The sample quantile a DDSketch approximates: the element at rank floor(q · (n − 1)) of the sorted values. */
const exactQuantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!;

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
    // The small set's minutes only (the range widens to whole minutes; the main requests are 10 minutes later).
    const r = (await call('GET', `/api/v1/experiments/chat-model?from=${new Date(SMALL_T0).toISOString()}&to=${new Date(SMALL_T0 + SMALL_N * 50).toISOString()}`)).body;
    expect(r.variants.reduce((a: number, v: { requests: number }) => a + v.requests, 0)).toBe(SMALL_N);
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

    const strangerKey = `vgl_${randomBytes(6).toString('hex')}_${randomBytes(8).toString('hex')}`;
    keys.set(strangerKey, `t_${randomBytes(4).toString('hex')}`);
    expect((await call('GET', `/api/v1/experiments/${id}`, undefined, strangerKey)).status).toBe(404);
    expect((await call('GET', `/api/v1/experiments/chat-model?${range}`, undefined, strangerKey)).status).toBe(404);
    expect((await call('GET', '/api/v1/experiments', undefined, strangerKey)).body.experiments).toEqual([]);
    expect((await call('DELETE', `/api/v1/experiments/${id}`, undefined, strangerKey)).status).toBe(404);

    expect((await call('DELETE', `/api/v1/experiments/${id}`)).status).toBe(204);
  });
});

describe('flag_variant_metrics_1m (the aggregate the results read)', () => {
  interface AggRow { flag: string; variant: string; service: string; operation: string; n: string; errors: string; cost: number }
  const aggregate = async (tenant: string): Promise<AggRow[]> => {
    const rs = await ch.client.query({
      query: `SELECT flag, variant, service, operation, sum(count) AS n, sum(error_count) AS errors, sum(cost_usd) AS cost
              FROM {db:Identifier}.flag_variant_metrics_1m WHERE tenant = {t:String}
              GROUP BY flag, variant, service, operation ORDER BY flag, variant`,
      query_params: { db: ch.database, t: tenant },
      format: 'JSONEachRow',
    });
    return rs.json<AggRow>();
  };

  it('holds one request per evaluating span and flag, per variant: errors, durations and the span\'s own cost', async () => {
    const rows = await aggregate(tenantId);
    const all = [...sent, ...small];
    const expected = (flag: 'chat-model' | 'neutral') => {
      const variants = [...new Set(all.map((x) => (flag === 'chat-model' ? x.variant : x.neutral)))].sort();
      return variants.map((v) => {
        const mine = all.filter((x) => (flag === 'chat-model' ? x.variant : x.neutral) === v);
        return { flag, variant: v, service: 'shop', operation: 'chat', n: mine.length, errors: mine.filter((x) => x.error).length, cost: mine.reduce((a, x) => a + x.cost, 0) };
      });
    };
    const got = rows.map((r) => ({ ...r, n: Number(r.n), errors: Number(r.errors) }));
    const want = [...expected('chat-model'), ...expected('neutral')];
    expect(got.map(({ cost: _c, ...r }) => r)).toEqual(want.map(({ cost: _c, ...r }) => r));
    got.forEach((r, i) => expect(r.cost).toBeCloseTo(want[i]!.cost, 12));
  });

  it('keeps each project\'s evaluations to itself', async () => {
    expect((await aggregate(otherTenant)).map((r) => [r.flag, r.variant, Number(r.n), Number(r.errors)])).toEqual([['chat-model', 'full', OTHER_N, 0]]);
    const theirs = (await call('GET', `/api/v1/experiments/chat-model?${range}`, undefined, otherKey)).body;
    expect(theirs.variants.map((v: { variant: string; requests: number }) => [v.variant, v.requests])).toEqual([['mini', 0], ['full', OTHER_N]]);
    const ours = (await call('GET', `/api/v1/experiments/chat-model?${range}`)).body;
    expect(ours.variants.reduce((a: number, v: { requests: number }) => a + v.requests, 0)).toBe(N);
  });

  it('stores a replayed sub-batch once (same messages, same dedup tokens)', async () => {
    const before = await aggregate(otherTenant);
    await process(pipeline, otherTenant, otherSpans, `${otherTenant}-main`);
    expect(await aggregate(otherTenant)).toEqual(before);
  });
});
