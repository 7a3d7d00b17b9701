/**
 * End to end: the official OTel JS SDK sends a burst of error spans through
 * ingest → Kafka → processors → chDB; the error-rate rule (created through the
 * API) fires; the receiver gets one signed firing message naming the service;
 * the errors stop; one resolved message. Evaluator and dispatcher are driven
 * with an injected clock (span times are placed in chosen minutes).
 */
import pg from 'pg';
import { SpanKind, SpanStatusCode, type HrTime } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatcher } from '../../alerts/dispatcher.js';
import { createEvaluator } from '../../alerts/evaluator.js';
import { createGuardedAgent, parseAllowList } from '../../alerts/ssrf.js';
import { loadConfig } from '../../platform/config.js';
import { startVigil, type RunningVigil } from '../../platform/lifecycle.js';
import { createTestDatabase, kafkaBrokers, tempDir, uniqueName } from '../support/harness.js';
import { waitFor } from '../support/wait.js';
import { createClickHouse } from '../../platform/clickhouse.js';
import type { VigilConfig } from '../../platform/config.js';
import { log, startReceiver, type Receiver } from './support.js';

const KEY = 'vgl_a1e2a1e2a1e2_abcdefghijklmnopqrstuvwxyzABCDEF';
const SERVICE = 'checkout-e2e';
let vigil: RunningVigil;
let pool: pg.Pool;
let receiver: Receiver;
let config: VigilConfig;
const agent = createGuardedAgent(parseAllowList(['127.0.0.1']));

beforeAll(async () => {
  const databaseUrl = await createTestDatabase();
  config = loadConfig({
    VIGIL_DATA_DIR: tempDir('alerts-e2e'),
    VIGIL_INGEST_PORT: '0',
    VIGIL_QUERY_PORT: '0',
    VIGIL_LOG_LEVEL: 'silent',
    VIGIL_API_KEY: KEY,
    KAFKA_BROKERS: kafkaBrokers().join(','),
    VIGIL_KAFKA_TOPIC_SPANS: uniqueName('alerts_spans'),
    VIGIL_KAFKA_TOPIC_LOGS: uniqueName('alerts_logs'),
    VIGIL_KAFKA_CONSUMER_GROUP: uniqueName('alerts_group'),
    VIGIL_KAFKA_PARTITIONS: '2',
    VIGIL_WORKER_THREADS: '1',
    VIGIL_WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
    // This test drives evaluation and dispatch with its own clock; keep the
    // process's own evaluator (real clock) from claiming the rule in between.
    VIGIL_ALERTS_TICK_MS: '600000',
    DATABASE_URL: databaseUrl,
  });
  [vigil, receiver] = await Promise.all([
    startVigil(config, log, { roles: ['ingest', 'processor', 'query'], embedded: true, demo: false }),
    startReceiver(),
  ]);
  pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
});
afterAll(async () => {
  await vigil?.stop();
  await receiver?.close();
  await pool?.end();
  await agent.close();
});

const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${vigil.queryUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const hr = (ms: number): HrTime => [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];

describe('alerting end to end', () => {
  it('an OTel burst of error spans fires the rule once, signed, naming the service; recovery sends one resolved message', async () => {
    const channel = await api('POST', '/api/v1/alerts/channels', { name: 'receiver', type: 'webhook', url: receiver.url });
    expect(channel.status).toBe(201);
    const rule = await api('POST', '/api/v1/alerts/rules', {
      name: 'Checkout error rate',
      severity: 'critical',
      annotations: { summary: '{{ $labels.service }} error rate is {{ $value }}' },
      condition: { signal: 'error_rate', group_by: ['service'], window: '1m', operator: '>', threshold: 0.05, min_count: 10 },
      evaluation_delay: '0s',
      no_data_state: 'ok',
      channels: [channel.body.id],
    });
    expect(rule.status).toBe(201);

    // Minute `base`: 30 spans, 20 of them errors. Minute base+1: 30 spans, no errors.
    const base = Math.ceil(Date.now() / 60_000) * 60_000 + 60_000;
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': SERVICE }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${vigil.ingestUrl}/v1/traces`, headers: { Authorization: `Bearer ${KEY}` } }))],
    });
    const tracer = provider.getTracer('alerts-e2e');
    for (let i = 0; i < 60; i++) {
      const start = base + (i < 30 ? 0 : 60_000) + 1000 + i * 100;
      const span = tracer.startSpan('POST /pay', { kind: SpanKind.SERVER, startTime: hr(start) });
      if (i < 20) span.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
      span.end(hr(start + 25));
    }
    await provider.forceFlush();
    await provider.shutdown();

    await waitFor('both minutes stored', async () => {
      const r = await api('GET', `/api/v1/metrics/latency?from=${base}&to=${base + 120_000}&service=${SERVICE}`);
      const points = r.body.points as Array<{ count: number }>;
      return points.reduce((n, p) => n + p.count, 0) === 60 ? true : undefined;
    });

    // The same chDB session directory as the running Vigil (chDB binds one directory per process).
    const evaluator = createEvaluator({ pool, clickhouse: createClickHouse(config.clickhouse, config.dataDir), log, externalUrl: vigil.queryUrl! });
    const dispatcher = createDispatcher({ pool, log, agent });
    await evaluator.evaluateDue(new Date(base + 60_000 + 1000)); // window [base, base+1m): 2/3 errors
    await dispatcher.dispatchOnce(new Date(base + 60_000 + 2000));
    // (No tick in between: the rule's schedule is anchored at its creation time, so
    // a tick 30 s later may or may not be due depending on the wall clock.)
    await evaluator.evaluateDue(new Date(base + 120_000 + 1000)); // window [base+1m, base+2m): no errors
    await dispatcher.dispatchOnce(new Date(base + 120_000 + 2000));

    const secret = channel.body.secret as string;
    const messages = receiver.received.map((r) => new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as {
      status: string;
      alerts: Array<{ status: string; labels: Record<string, string>; annotations: Record<string, string> }>;
    });
    expect(messages.map((m) => m.status)).toEqual(['firing', 'resolved']);
    expect(messages[0]!.alerts).toHaveLength(1);
    expect(messages[0]!.alerts[0]!.labels).toMatchObject({ alertname: 'Checkout error rate', service: SERVICE, severity: 'critical' });
    expect(messages[0]!.alerts[0]!.annotations.summary).toBe(`${SERVICE} error rate is 0.6667`);
    expect(messages[1]!.alerts[0]!.labels.service).toBe(SERVICE);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(2);
  });
});
