import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildIngestApp } from '../../ingest/app.js';
import { createKafkaPublisher, type Publisher } from '../../ingest/publisher.js';
import { createKafka } from '../../platform/kafka/client.js';
import { ensureTopics } from '../../platform/kafka/topics.js';
import { createLogger } from '../../platform/logger.js';
import { kafkaBrokers, uniqueName } from '../support/harness.js';
import { SPAN_1, SPAN_2, SPAN_3, TRACE_A, TRACE_B, mapKeys, tracesJson, tracesProtobuf } from './fixtures.js';

const log = createLogger('silent');
const KEY = 'vgl_kafka_test';
const AUTH = { authorization: `Bearer ${KEY}` };
const LIMITS = { maxBodyBytes: 1024 * 1024, maxInflightBytes: 8 * 1024 * 1024, maxInflightRequests: 64, maxEventLoopDelayMs: 0 };
const FAST_RETRY = { retries: 1, initialRetryTime: 100, maxRetryTime: 200 };

function appWith(publisher: Publisher): FastifyInstance {
  return buildIngestApp({ log, publisher, keys: mapKeys({ [KEY]: 'proj-k' }), limits: LIMITS });
}

/** Consume `count` messages from `topic` from the beginning. */
async function consume(kafka: Kafka, topic: string, count: number): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('ingest_test') });
  const got: KafkaMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${got.length}/${count} messages on ${topic}`)), 60_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          got.push(message);
          if (got.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe('ingest → real Kafka', () => {
  let kafka: Kafka;
  const topics = { spans: uniqueName('spans'), logs: uniqueName('logs') };

  beforeAll(async () => {
    kafka = createKafka({ brokers: kafkaBrokers(), clientId: uniqueName('ingest'), log });
    await ensureTopics(kafka, { topics: [topics.spans, topics.logs], partitions: 3, replication: 1 });
  });

  it('a fully accepted OTLP request that fits one message is forwarded as received (version 2): the same bytes, v2 headers, keyed by its first trace id', async () => {
    const t = { spans: uniqueName('v2spans'), logs: uniqueName('v2logs') };
    await ensureTopics(kafka, { topics: [t.spans, t.logs], partitions: 3, replication: 1 });
    const publisher = createKafkaPublisher({ kafka, topics: t, lingerMs: 5, log });
    const app = appWith(publisher);
    try {
      const body = tracesProtobuf(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }, { traceId: TRACE_B, spanId: SPAN_2 }]));
      const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/x-protobuf' }, payload: body });
      expect(res.statusCode).toBe(200);
      const [m] = await consume(kafka, t.spans, 1);
      expect(Buffer.compare(m!.value!, body)).toBe(0);
      expect(m!.key!.toString()).toBe(TRACE_A);
      expect(Object.fromEntries(Object.entries(m!.headers!).filter(([k]) => k !== 'vigil-received-at').map(([k, v]) => [k, v!.toString()]))).toEqual({
        'vigil-v': '2', 'vigil-tenant': 'proj-k', 'vigil-format': 'otlp-proto', 'vigil-kind': 'spans',
      });
      expect(Number(m!.headers!['vigil-received-at']!.toString())).toBeGreaterThan(0);
    } finally {
      await app.close();
      await publisher.close();
    }
  });

  it('published messages carry the accepted records, keyed by trace id, with tenant and format headers', async () => {
    const publisher = createKafkaPublisher({ kafka, topics, lingerMs: 5, log });
    const app = appWith(publisher);
    try {
      const otlp = await app.inject({
        method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/x-protobuf' },
        payload: tracesProtobuf(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }, { traceId: TRACE_B, spanId: SPAN_2 }, { traceId: TRACE_A, spanId: '0000000000000000' }])),
      });
      expect(otlp.statusCode).toBe(200);
      const native = await app.inject({
        method: 'POST', url: '/api/v1/ingest/logs', headers: { ...AUTH, 'content-type': 'application/json' },
        payload: [{ time: Date.now() - 1000, body: 'hello', service: 'agent' }, { time: Date.now() - 999, body: 'x', service: 'agent', trace_id: TRACE_B }],
      });
      expect(native.json()).toMatchObject({ accepted: 2, rejected: 0 });

      const spans = await consume(kafka, topics.spans, 2);
      const byKey = new Map(spans.map((m) => [m.key!.toString(), m]));
      expect([...byKey.keys()].sort()).toEqual([TRACE_B, TRACE_A].sort());
      for (const [key, m] of byKey) {
        expect(m.headers!['vigil-tenant']!.toString()).toBe('proj-k');
        expect(m.headers!['vigil-format']!.toString()).toBe('otlp');
        const env = JSON.parse(m.value!.toString());
        expect(env).toMatchObject({ v: 1, kind: 'spans', format: 'otlp', tenant: 'proj-k', scope: { name: 'test-scope' } });
        expect(env.records.map((r: { traceId: string }) => r.traceId)).toEqual([key]); // the rejected zero-span-id record is absent
      }
      const logs = await consume(kafka, topics.logs, 2);
      expect(logs.map((m) => m.key!.toString()).sort()).toEqual(['agent', TRACE_B].sort());
      expect(logs.every((m) => m.headers!['vigil-format']!.toString() === 'native')).toBe(true);
    } finally {
      await app.close();
      await publisher.close();
    }
  });

  it('Kafka unreachable (closed port) → 503 with Retry-After, nothing accepted', async () => {
    const port = await freePort();
    const down = createKafka({ brokers: [`127.0.0.1:${port}`], clientId: uniqueName('down'), log, retry: FAST_RETRY, connectionTimeout: 500 });
    const publisher = createKafkaPublisher({ kafka: down, topics, lingerMs: 1, log, connectTimeoutMs: 3_000 });
    const app = appWith(publisher);
    try {
      const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/json' }, payload: tracesJson([{ traceId: TRACE_A, spanId: SPAN_3 }]) });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json()).toMatchObject({ code: 14, message: expect.stringContaining('Kafka did not acknowledge') });
    } finally {
      await app.close();
      await publisher.close();
    }
  });

  it('publisher recovers after a failed connect once the broker is reachable (failed connect does not wedge it)', async () => {
    const port = await freePort();
    const [host, realPort] = kafkaBrokers()[0]!.split(':') as [string, string];
    const flaky = createKafka({ brokers: [`127.0.0.1:${port}`], clientId: uniqueName('flaky'), log, retry: FAST_RETRY, connectionTimeout: 500 });
    const publisher = createKafkaPublisher({ kafka: flaky, topics, lingerMs: 1, log, connectTimeoutMs: 3_000 });
    const app = appWith(publisher);
    // A TCP forwarder on the bootstrap port, started only after the first failure.
    const proxy = net.createServer((client) => {
      const upstream = net.connect(Number(realPort), host);
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    const send = () =>
      app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/json' }, payload: tracesJson([{ traceId: TRACE_B, spanId: SPAN_3 }]) });
    try {
      expect((await send()).statusCode).toBe(503);
      await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
      const res = await send();
      expect(res.statusCode).toBe(200);
    } finally {
      await app.close();
      await publisher.close();
      await new Promise((r) => proxy.close(r));
    }
  });

});
