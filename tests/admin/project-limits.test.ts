/**
 * Issue 8 "Administration": per-project ingest rate limits
 * (ingest/limits-per-project.ts). The token bucket with a test clock; limits
 * stored in Postgres (migration 0005) and refreshed; enforcement on OTLP/HTTP,
 * native JSON and OTLP/gRPC: 429 (RESOURCE_EXHAUSTED with RetryInfo) with
 * Retry-After and a message naming the limit, nothing published, counted in
 * the Prometheus metrics.
 */
import { Metadata, credentials, makeGenericClientConstructor, status, type Client, type ServiceError } from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildIngestApp } from '../../ingest/app.js';
import { InflightBudget } from '../../ingest/body.js';
import { TRACE_EXPORT, startGrpcIngest, type GrpcIngest } from '../../ingest/grpc/server.js';
import { loadProjectSettings, ProjectLimits } from '../../ingest/limits-per-project.js';
import { createInProcessPublisher, type EnvelopeKind } from '../../ingest/publisher.js';
import { VigilError } from '../../platform/errors.js';
import { createLogger } from '../../platform/logger.js';
import { VigilMetrics } from '../../platform/metrics.js';
import { migratePostgres } from '../../platform/migrate.js';
import type { Envelope } from '../../schemas/envelope.js';
import { SPAN_1, SPAN_2, SPAN_3, TRACE_A, mapKeys, tracesJson, tracesProtobuf } from '../ingest/fixtures.js';
import { createTestDatabase } from '../support/harness.js';

const KEY = 'vgl_test_key';
const LIMITS = { maxBodyBytes: 64 * 1024, maxInflightBytes: 1024 * 1024, maxInflightRequests: 16, maxEventLoopDelayMs: 0 };
const UNLIMITED = { spansPerS: 0, logsPerS: 0, retentionDays: 30 };

/** A limiter whose clock the test moves (ms). */
function limiter(defaults = { spansPerS: 2, logsPerS: 0, retentionDays: 30 }, metrics?: VigilMetrics) {
  const clock = { t: 1_000_000 };
  const limits = new ProjectLimits({ defaults, burstSeconds: 10, now: () => clock.t, metrics });
  return { limits, clock };
}

function rejection(fn: () => void): VigilError {
  try {
    fn();
  } catch (err) {
    if (err instanceof VigilError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('ProjectLimits token bucket', () => {
  it('admits up to the burst (rate × 10 s), then 429 with the seconds until enough refilled; refills with time', () => {
    const { limits, clock } = limiter();
    limits.take('p', 'spans', 15);
    limits.take('p', 'spans', 5); // bucket of 20 now empty
    const err = rejection(() => limits.take('p', 'spans', 3));
    expect(err.code).toBe('VIGIL_ERR_PROJECT_RATE_LIMITED');
    expect(err.statusCode).toBe(429);
    expect(err.retryAfterSeconds).toBe(2); // 3 records at 2/s
    expect(err.message).toContain('project "p" is over its ingest rate limit of 2 spans/s');
    clock.t += 1500; // 3 tokens
    limits.take('p', 'spans', 3);
    expect(() => limits.take('p', 'spans', 1)).toThrow(VigilError);
  });

  it('a batch larger than the burst passes when the bucket is full, and the debt delays the next', () => {
    const { limits, clock } = limiter();
    limits.take('p', 'spans', 50); // capacity 20, full → admitted; tokens −30
    const err = rejection(() => limits.take('p', 'spans', 1));
    expect(err.retryAfterSeconds).toBe(16); // (1 − (−30)) / 2 = 15.5 → 16
    clock.t += 25_000; // +50 → capped at 20
    limits.take('p', 'spans', 20);
  });

  it('projects and signals have separate buckets; 0 is unlimited', () => {
    const { limits } = limiter();
    limits.take('a', 'spans', 20);
    limits.take('b', 'spans', 20);
    for (let i = 0; i < 100; i++) limits.take('a', 'logs', 1_000_000); // logs default 0 = unlimited
    expect(() => limits.take('a', 'spans', 1)).toThrow(/rate limit/);
  });

  it('counts refused requests and records in the metrics', async () => {
    const metrics = new VigilMetrics({ defaultMetrics: false });
    const { limits } = limiter(undefined, metrics);
    limits.take('p', 'spans', 20);
    expect(() => limits.take('p', 'spans', 7)).toThrow(VigilError);
    const text = await metrics.render();
    expect(text).toContain('vigil_ingest_rate_limited_total{signal="spans"} 1');
    expect(text).toContain('vigil_ingest_records_total{signal="spans",outcome="rate_limited"} 7');
  });
});

describe('limits stored per project in Postgres', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: await createTestDatabase() });
    await migratePostgres(pool, { log: createLogger('silent') });
  }, 60_000);
  afterAll(async () => {
    await pool?.end();
  });

  it('NULL = the default; a stored value overrides it; refresh() picks up a change; retention per project', async () => {
    await pool.query("INSERT INTO projects (id, name) VALUES ('free', 'free'), ('pro', 'pro'), ('plain', 'plain')");
    await pool.query("UPDATE projects SET spans_per_s = 1, retention_days = 7 WHERE id = 'free'");
    await pool.query("UPDATE projects SET spans_per_s = 0, logs_per_s = 50 WHERE id = 'pro'");
    const limits = new ProjectLimits({ defaults: { spansPerS: 1000, logsPerS: 0, retentionDays: 30 }, load: loadProjectSettings(pool), refreshMs: 0 });
    await limits.start();
    expect([limits.rate('free', 'spans'), limits.rate('pro', 'spans'), limits.rate('plain', 'spans')]).toEqual([1, 0, 1000]);
    expect([limits.rate('pro', 'logs'), limits.rate('plain', 'logs')]).toEqual([50, 0]);
    expect([limits.retentionDays('free'), limits.retentionDays('pro')]).toEqual([7, 30]);
    expect(limits.timePolicy('free', { retentionDays: 30, maxFutureSkewMs: 5 })).toEqual({ retentionDays: 7, maxFutureSkewMs: 5 });

    await pool.query("UPDATE projects SET spans_per_s = 5 WHERE id = 'free'");
    await limits.refresh();
    expect(limits.rate('free', 'spans')).toBe(5);
    await expect(pool.query("UPDATE projects SET spans_per_s = -1 WHERE id = 'free'")).rejects.toThrow(/check constraint/);
    limits.close();
  });
});

describe('enforcement in ingest', () => {
  let app: FastifyInstance | undefined;
  let server: GrpcIngest | undefined;
  const clients: Client[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await app?.close();
    await server?.close(1000);
    app = undefined;
    server = undefined;
  });

  /** A limiter allowing proj-a 2 spans and 2 log records per second (burst 2) and nothing else limited. */
  function setup() {
    const metrics = new VigilMetrics({ defaultMetrics: false });
    const projectLimits = new ProjectLimits({ defaults: UNLIMITED, burstSeconds: 1, metrics, load: async () => new Map([['proj-a', { spansPerS: 2, logsPerS: 2, retentionDays: null }]]) });
    const published: Array<{ kind: EnvelopeKind; envelopes: Envelope[] }> = [];
    const publisher = createInProcessPublisher(async (kind, envelopes) => void published.push({ kind, envelopes }));
    return { metrics, projectLimits, published, publisher };
  }

  it('OTLP/HTTP and native: 429 with Retry-After and the limit named; the refused records are not published', async () => {
    const { metrics, projectLimits, published, publisher } = setup();
    await projectLimits.refresh();
    app = buildIngestApp({ log: createLogger('silent'), publisher, keys: mapKeys({ [KEY]: 'proj-a', vgl_other: 'proj-b' }), limits: LIMITS, metrics, projectLimits });
    const otlp = (key: string) =>
      app!.inject({
        method: 'POST', url: '/v1/traces', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }, { traceId: TRACE_A, spanId: SPAN_2 }]),
      });
    expect((await otlp(KEY)).statusCode).toBe(200);
    expect(published).toHaveLength(1);
    const refused = await otlp(KEY);
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.json()).toMatchObject({ message: expect.stringContaining('project "proj-a" is over its ingest rate limit of 2 spans/s') });
    expect((await otlp('vgl_other')).statusCode).toBe(200); // another project is not limited
    expect(published).toHaveLength(2);

    const now = new Date().toISOString();
    const native = await app.inject({
      method: 'POST', url: '/api/v1/ingest/spans', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      payload: [{ trace_id: TRACE_A, span_id: SPAN_3, name: 'x', service: 'agent', start_time: now, duration_ms: 1 }],
    });
    expect(native.statusCode).toBe(429);
    expect(native.headers['retry-after']).toBeDefined();
    expect(native.json()).toMatchObject({ error: { code: 'VIGIL_ERR_PROJECT_RATE_LIMITED', message: expect.stringContaining('2 spans/s') } });
    expect(published).toHaveLength(2);
    const text = await metrics.render();
    expect(text).toContain('vigil_ingest_rate_limited_total{signal="spans"} 2');
    expect(text).toMatch(/vigil_ingest_requests_total\{route="\/v1\/traces",status="429"\} 1/);
  });

  it('OTLP/gRPC: RESOURCE_EXHAUSTED with RetryInfo, nothing published', async () => {
    const { projectLimits, published, publisher } = setup();
    await projectLimits.refresh();
    const budget = new InflightBudget({ maxInflightBytes: 1024 * 1024, maxInflightRequests: 16 });
    server = await startGrpcIngest({ log: createLogger('silent'), publisher, keys: mapKeys({ [KEY]: 'proj-a' }), budget, maxBodyBytes: 64 * 1024, host: '127.0.0.1', port: 0, projectLimits });
    const Ctor = makeGenericClientConstructor(
      { Export: { path: TRACE_EXPORT, requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b } },
      'Otlp',
    );
    const client = new Ctor(`127.0.0.1:${server.port}`, credentials.createInsecure());
    clients.push(client);
    const body = tracesProtobuf(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }, { traceId: TRACE_A, spanId: SPAN_2 }, { traceId: TRACE_A, spanId: SPAN_3 }]));
    const send = () =>
      new Promise<ServiceError | null>((resolve) => {
        const md = new Metadata();
        md.set('authorization', `Bearer ${KEY}`);
        (client as unknown as { Export: (b: Buffer, m: Metadata, cb: (e: ServiceError | null) => void) => void }).Export(body, md, (e) => resolve(e));
      });
    expect(await send()).toBeNull(); // full bucket: a batch over the burst passes
    const err = await send();
    expect(err?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err?.details).toContain('VIGIL_ERR_PROJECT_RATE_LIMITED');
    expect(err?.details).toContain('2 spans/s');
    expect(err?.metadata.get('grpc-status-details-bin')[0]).toBeInstanceOf(Buffer);
    expect(published).toHaveLength(1);
  });
});
