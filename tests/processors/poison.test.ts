/**
 * Issue 5 regressions in the processors, through the real broker into chDB:
 * poison isolation by bisection, bounded and retried dead letters, a consumer
 * that restarts after a non-retriable crash and reports its health.
 */
import { KafkaJSNonRetriableError, Partitioners, type Kafka, type KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../platform/kafka/client.js';
import { ensureTopics } from '../../platform/kafka/topics.js';
import { VigilError } from '../../platform/errors.js';
import { createLogger } from '../../platform/logger.js';
import { VigilMetrics } from '../../platform/metrics.js';
import { createProcessor, DLQ_PAYLOAD_HEADER, DLQ_REASON_HEADER, type Processor, type ProcessorOptions } from '../../processors/consumer.js';
import { deadLetterMessage } from '../../processors/dlq.js';
import { createWorkerPool, type WorkerPool } from '../../processors/pool.js';
import { createClickHouseWriter, type ClickHouseWriter, type ProcessorTable } from '../../processors/writer.js';
import type { EncodedBody } from '../../processors/worker.js';
import type { Envelope } from '../../schemas/envelope.js';
import { createTestClickHouse } from '../support/clickhouse.js';
import { kafkaBrokers, uniqueName } from '../support/harness.js';
import { otlpSpanEnvelope } from './fixtures.js';

const log = createLogger(process.env["VIGIL_TEST_LOG_LEVEL"] ?? "silent");
let kafka: Kafka;
let pool: WorkerPool;
let writer: ClickHouseWriter;

beforeAll(async () => {
  kafka = createKafka({ brokers: kafkaBrokers(), clientId: 'vigil-poison-test', log });
  pool = createWorkerPool({ threads: 2 });
  writer = createClickHouseWriter({ clickhouse: await createTestClickHouse(), log });
});
afterAll(async () => {
  await pool?.close();
});

async function topics(partitions = 1): Promise<{ spans: string; logs: string }> {
  const t = { spans: uniqueName('spans'), logs: uniqueName('logs') };
  await ensureTopics(kafka, { topics: [t.spans, t.logs], partitions, replication: 1 });
  return t;
}

async function publish(topic: string, values: (Envelope | string)[], partition?: number): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({
      topic,
      messages: values.map((v) => ({ key: 'k', value: typeof v === 'string' ? v : JSON.stringify(v), ...(partition === undefined ? {} : { partition }) })),
    });
  } finally {
    await producer.disconnect();
  }
}

async function spanRows(tenant: string): Promise<{ rows: number; distinct: number }> {
  const ch = await createTestClickHouse();
  const rs = await ch.client.query({
    query: 'SELECT count() AS rows, uniqExact(span_id) AS distinct FROM {db:Identifier}.spans WHERE tenant = {tenant:String}',
    query_params: { db: ch.database, tenant },
    format: 'JSONEachRow',
  });
  const [r] = (await rs.json()) as { rows: string; distinct: string }[];
  return { rows: Number(r!.rows), distinct: Number(r!.distinct) };
}

async function eventually(check: () => Promise<boolean> | boolean, what: string, limitMs = 90_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function readTopic(topic: string, want: number): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  const got: KafkaMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void got.push(message) });
    await eventually(() => got.length >= want, `${want} messages on ${topic}`);
  } finally {
    await consumer.disconnect();
  }
  return got;
}

function processor(t: { spans: string; logs: string }, extra: Partial<ProcessorOptions> = {}): Processor {
  return createProcessor({ kafka, topics: t, groupId: uniqueName('g'), pool, writer, log, subBatchSize: 50, retry: { baseMs: 20, maxMs: 200 }, ...extra });
}

/** A writer whose spans inserts are rejected permanently when they hold a row of `poisonTenant` (like DECIMAL_OVERFLOW). */
function rejecting(poisonTenant: string): ClickHouseWriter & { calls: number } {
  const w = {
    calls: 0,
    insert: (table: never, rows: readonly never[], token: string) => writer.insert(table, rows, token),
    async insertEncoded(table: ProcessorTable, body: EncodedBody, token: string) {
      w.calls += 1;
      // The spans body is a Native block: the tenant's name appears in it verbatim (its tenant column).
      if (table === 'spans' && Buffer.from(body.data).includes(poisonTenant)) {
        return { ok: false as const, retryable: false, error: new VigilError('VIGIL_ERR_CLICKHOUSE_REJECTED', 'simulated DECIMAL_OVERFLOW') };
      }
      return writer.insertEncoded(table, body, token);
    },
  };
  return w as unknown as ClickHouseWriter & { calls: number };
}

describe('issue 5 — poison input never stops storage', () => {
  it('item 3: a valid tenant sharing a sub-batch with a poison message is stored; only the poison message is dead-lettered', async () => {
    const t = await topics();
    const good = uniqueName('tenantB');
    const bad = uniqueName('tenantA');
    // 20 messages in one sub-batch; message 13 holds tenant A's unstorable span.
    const values = Array.from({ length: 20 }, (_, i) => (i === 13 ? otlpSpanEnvelope(bad, 5000, 1) : otlpSpanEnvelope(good, i * 10, 3)));
    await publish(t.spans, values);
    const metrics = new VigilMetrics({ defaultMetrics: false });
    const p = processor(t, { writer: rejecting(bad), metrics });
    await p.start();
    try {
      await eventually(async () => (await spanRows(good)).rows === 57, "tenant B's 57 spans");
      const dead = await readTopic(`${t.spans}.dlq`, 1);
      expect(dead).toHaveLength(1);
      expect(JSON.parse(dead[0]!.value!.toString()).tenant).toBe(bad);
      expect(String(dead[0]!.headers![DLQ_REASON_HEADER])).toMatch(/VIGIL_ERR_CLICKHOUSE_REJECTED \(table spans\)/);
      expect(await spanRows(good)).toEqual({ rows: 57, distinct: 57 });
      expect(await spanRows(bad)).toEqual({ rows: 0, distinct: 0 });
      const text = await metrics.render();
      expect(text).toMatch(/vigil_processor_bisections_total [1-9]/);
      expect(text).toMatch(/vigil_processor_messages_total\{topic="[^"]+",outcome="dead_lettered"\} 1/);
    } finally {
      await p.stop();
    }
  });

  it('item 1: an unstorable record (time 2^64−1) already in Kafka is dead-lettered by the worker and later messages are stored', async () => {
    const t = await topics();
    const tenant = uniqueName('t');
    const poison = otlpSpanEnvelope(tenant, 900, 1) as Extract<Envelope, { format: 'otlp'; kind: 'spans' }>;
    poison.records[0]!.startTimeUnixNano = '18446744073709551615';
    poison.records[0]!.endTimeUnixNano = '18446744073709551615';
    await publish(t.spans, [otlpSpanEnvelope(tenant, 0, 2), poison, otlpSpanEnvelope(tenant, 10, 2)]);
    const p = processor(t);
    await p.start();
    try {
      await eventually(async () => (await spanRows(tenant)).rows === 4, '4 spans around the poison');
      const dead = await readTopic(`${t.spans}.dlq`, 1);
      expect(String(dead[0]!.headers![DLQ_REASON_HEADER])).toMatch(/startTimeUnixNano/);
      await publish(t.spans, [otlpSpanEnvelope(tenant, 20, 2)]);
      await eventually(async () => (await spanRows(tenant)).rows === 6, 'a later message');
      expect(p.health()).toEqual({ ok: true, state: 'running' });
    } finally {
      await p.stop();
    }
  });

  it('item 1: a dead letter is never larger than the broker accepts — an oversize value is kept by reference', () => {
    const big: KafkaMessage = { key: Buffer.from('k'), value: Buffer.alloc(2_000_000, 97), offset: '7', timestamp: '0', attributes: 0, headers: {} } as KafkaMessage;
    const m = deadLetterMessage('vigil.spans', 3, { message: big, reason: 'x'.repeat(5000) }, 1_000_000);
    expect(m.value).toBeNull();
    expect(m.headers![DLQ_PAYLOAD_HEADER]).toBe('reference');
    expect(m.headers!['vigil-dlq-source']).toBe('vigil.spans/3/7');
    expect(Buffer.byteLength(String(m.headers![DLQ_REASON_HEADER]))).toBeLessThanOrEqual(1000);
    const small = deadLetterMessage('vigil.spans', 3, { message: { ...big, value: Buffer.from('{}') }, reason: 'r' }, 1_000_000);
    expect(small.value?.toString()).toBe('{}');
  });

  it('item 1: when the DLQ cannot be written the partition holds its offset, reports not ready, keeps other partitions moving, and recovers', async () => {
    const t = await topics(2);
    const dlqName = uniqueName('missing_dlq');
    const tenant = uniqueName('t');
    let dlqExists = false;
    const p = processor(t, { dlqTopic: () => dlqName, retry: { baseMs: 50, maxMs: 500 } });
    // start() creates the DLQ topic: delete it, then send a message that must be dead-lettered.
    await p.start();
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: [dlqName] });
      await publish(t.spans, ['{"not json'], 0);
      await eventually(() => !p.health().ok && /dead-letter topic not writable/.test(p.health().reason ?? ''), 'DLQ failure reported in health');
      // Partition 1 keeps moving while partition 0 waits for its DLQ.
      await publish(t.spans, [otlpSpanEnvelope(tenant, 0, 2)], 1);
      await eventually(async () => (await spanRows(tenant)).rows === 2, 'partition 1 stored');
      await ensureTopics(kafka, { topics: [dlqName], partitions: 1, replication: 1 });
      dlqExists = true;
      await eventually(() => p.health().ok, 'health back once the DLQ is writable');
      const dead = await readTopic(dlqName, 1);
      expect(dead[0]!.value!.toString()).toBe('{"not json');
    } finally {
      await admin.disconnect();
      await p.stop();
    }
    expect(dlqExists).toBe(true);
  });

  it('item 1: a consumer stopped by a non-retriable error is restarted with backoff, reports it, and stores every span exactly once', async () => {
    const t = await topics();
    const tenant = uniqueName('t');
    await publish(t.spans, Array.from({ length: 6 }, (_, i) => otlpSpanEnvelope(tenant, i * 10, 2)));
    let crashes = 0;
    const seen: string[] = [];
    const metrics = new VigilMetrics({ defaultMetrics: false });
    const p = processor(t, {
      subBatchSize: 3,
      metrics,
      restart: { baseMs: 200, maxMs: 1_000 },
      afterInsert: () => {
        if (crashes === 0) {
          crashes += 1;
          throw new KafkaJSNonRetriableError('simulated non-retriable failure after insert');
        }
      },
    });
    await p.start();
    try {
      await eventually(() => {
        const h = p.health();
        if (!h.ok) seen.push(h.reason ?? '');
        return crashes === 1 && h.ok && seen.length > 0;
      }, 'crash reported, then running again');
      expect(seen.some((r) => /consumer crashed|processor is restarting/.test(r))).toBe(true);
      await eventually(async () => (await spanRows(tenant)).rows >= 12, 'all 12 spans');
      expect(await spanRows(tenant)).toEqual({ rows: 12, distinct: 12 });
      expect(await metrics.render()).toMatch(/vigil_processor_restarts_total [1-9]/);
    } finally {
      await p.stop();
    }
  });
});
