/**
 * Processor end to end through the real broker (tests/global-setup.ts) into chDB:
 * rows land, malformed messages are dead-lettered, and a crash between the
 * ClickHouse insert and the offset commit leaves every span exactly once.
 */
import { Partitioners, type Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../platform/kafka/client.js';
import { ensureTopics } from '../../platform/kafka/topics.js';
import { VigilError } from '../../platform/errors.js';
import { createLogger } from '../../platform/logger.js';
import { createProcessor, DLQ_REASON_HEADER, type Processor, type ProcessorOptions } from '../../processors/consumer.js';
import { createWorkerPool, type WorkerPool } from '../../processors/pool.js';
import { createClickHouseWriter, type ClickHouseWriter } from '../../processors/writer.js';
import type { Envelope } from '../../schemas/envelope.js';
import { createTestClickHouse } from '../support/clickhouse.js';
import { kafkaBrokers, uniqueName } from '../support/harness.js';
import { nativeLogEnvelope, otlpSpanEnvelope } from './fixtures.js';

const log = createLogger('silent');
let kafka: Kafka;
let pool: WorkerPool;
let writer: ClickHouseWriter;

beforeAll(async () => {
  kafka = createKafka({ brokers: kafkaBrokers(), clientId: 'vigil-processor-test', log });
  pool = createWorkerPool({ threads: 2 });
  writer = createClickHouseWriter({ clickhouse: await createTestClickHouse(), log });
});
afterAll(async () => {
  await pool?.close();
});

async function topics(): Promise<{ spans: string; logs: string }> {
  const t = { spans: uniqueName('spans'), logs: uniqueName('logs') };
  await ensureTopics(kafka, { topics: [t.spans, t.logs], partitions: 1, replication: 1 });
  return t;
}

async function publish(topic: string, values: (Envelope | string)[]): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({
      topic,
      messages: values.map((v) => ({
        key: typeof v === 'string' ? 'k' : 'trace',
        value: typeof v === 'string' ? v : JSON.stringify(v),
        headers: { 'vigil-tenant': typeof v === 'string' ? 'x' : v.tenant, 'vigil-format': 'otlp' },
      })),
    });
  } finally {
    await producer.disconnect();
  }
}

async function query<T>(sql: string, params: Record<string, unknown>): Promise<T[]> {
  const ch = await createTestClickHouse();
  const rs = await ch.client.query({ query: sql, query_params: { db: ch.database, ...params }, format: 'JSONEachRow' });
  return (await rs.json()) as T[];
}

async function spanCounts(tenant: string): Promise<{ rows: number; distinct: number }> {
  const [r] = await query<{ rows: string; distinct: string }>(
    'SELECT count() AS rows, uniqExact(span_id) AS distinct FROM {db:Identifier}.spans WHERE tenant = {tenant:String}',
    { tenant },
  );
  return { rows: Number(r!.rows), distinct: Number(r!.distinct) };
}

/** Poll until `check` holds (no timing assertion: only a generous upper bound). */
async function eventually(check: () => Promise<boolean>, what: string, limitMs = 60_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function readDlq(topic: string, want: number): Promise<{ value: string; reason: string }[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('dlq-reader') });
  const dead: { value: string; reason: string }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => {
      dead.push({ value: message.value?.toString() ?? '', reason: String(message.headers?.[DLQ_REASON_HEADER]) });
    } });
    await eventually(async () => dead.length >= want, `${want} dead letters`);
  } finally {
    await consumer.disconnect();
  }
  return dead;
}

function processor(t: { spans: string; logs: string }, groupId: string, extra: Partial<ProcessorOptions> = {}): Processor {
  return createProcessor({ kafka, topics: t, groupId, pool, writer, log, subBatchSize: 4, retry: { baseMs: 20, maxMs: 200 }, ...extra });
}

describe('processor consumer', () => {
  it('consumes span and log envelopes into ClickHouse and dead-letters malformed messages', async () => {
    const t = await topics();
    const tenant = uniqueName('e2e');
    await publish(t.spans, [otlpSpanEnvelope(tenant, 1, 3), '{"not json', otlpSpanEnvelope(tenant, 100, 2)]);
    await publish(t.logs, [nativeLogEnvelope(tenant, 'hello'), nativeLogEnvelope(tenant, 'world')]);
    const p = processor(t, uniqueName('g'));
    await p.start();
    try {
      await eventually(async () => (await spanCounts(tenant)).rows === 5, '5 spans');
      await eventually(async () => {
        const [r] = await query<{ n: string }>('SELECT count() AS n FROM {db:Identifier}.logs WHERE tenant = {tenant:String}', { tenant });
        return Number(r!.n) === 2;
      }, '2 logs');
      const [m] = await query<{ count: string; sketch: string }>(
        'SELECT sum(count) AS count, toString(sumMap(sketch_bins)) AS sketch FROM {db:Identifier}.span_metrics_1m WHERE tenant = {tenant:String}',
        { tenant },
      );
      expect(Number(m!.count)).toBe(5);

      // The malformed message is in <topic>.dlq with its reason.
      const dead = await readDlq(`${t.spans}.dlq`, 1);
      expect(dead).toEqual([{ value: '{"not json', reason: expect.stringMatching(/malformed JSON/) }]);
    } finally {
      await p.stop();
    }
  });

  it('crash after insert, before commit: a restarted processor leaves each span exactly once', async () => {
    const t = await topics();
    const tenant = uniqueName('crash');
    const groupId = uniqueName('g');
    // 6 envelopes × 2 spans; sub-batches of 4 messages → [0..3] [4..5].
    await publish(t.spans, Array.from({ length: 6 }, (_, i) => otlpSpanEnvelope(tenant, i * 10, 2)));

    // Processor A "dies" right after its first sub-batch reached ClickHouse: from then
    // on every afterInsert fails, so no offset past the inserts is ever committed.
    let dead = false;
    let crashed!: () => void;
    const crashedP = new Promise<void>((r) => (crashed = r));
    const a = processor(t, groupId, {
      afterInsert: () => {
        dead = true;
        crashed();
        throw new Error('simulated crash after insert');
      },
    });
    await a.start();
    await crashedP;
    await a.stop();
    expect(dead).toBe(true);
    const afterCrash = await spanCounts(tenant);
    expect(afterCrash.rows).toBeGreaterThanOrEqual(8); // the first sub-batch (4 envelopes) was inserted

    // More data arrives before the restart: the replayed fetch now ends elsewhere,
    // so only the recorded sub-batch boundaries make the replay hit the same tokens.
    await publish(t.spans, [otlpSpanEnvelope(tenant, 1000, 2), otlpSpanEnvelope(tenant, 1010, 2)]);

    const b = processor(t, groupId, { subBatchSize: 50 });
    await b.start();
    try {
      await eventually(async () => (await spanCounts(tenant)).distinct === 16, 'all 16 spans');
      const c = await spanCounts(tenant);
      expect(c).toEqual({ rows: 16, distinct: 16 }); // count by span_id = 1 for every span
      const [m] = await query<{ n: string }>('SELECT sum(count) AS n FROM {db:Identifier}.span_metrics_1m WHERE tenant = {tenant:String}', { tenant });
      expect(Number(m!.n)).toBe(16);
    } finally {
      await b.stop();
    }
  });

  it('retries retryable insert failures; dead-letters a permanently rejected sub-batch and moves on', async () => {
    const t = await topics();
    const tenant = uniqueName('fail');
    const poison = uniqueName('poison');
    await publish(t.spans, [otlpSpanEnvelope(tenant, 1, 1), otlpSpanEnvelope(tenant, 2, 1)]);
    let transient = 2;
    const flaky: ClickHouseWriter = {
      insert: (table, rows, token) => writer.insert(table, rows, token),
      async insertEncoded(table, body, token) {
        if (table === 'spans' && transient > 0) {
          transient -= 1;
          return { ok: false, retryable: true, error: new VigilError('VIGIL_ERR_CLICKHOUSE_UNAVAILABLE', 'simulated outage') };
        }
        // The spans body is a Native block: the tenant's name appears in it verbatim (its tenant column).
        if (table === 'spans' && Buffer.from(body.data).includes(poison)) {
          return { ok: false, retryable: false, error: new VigilError('VIGIL_ERR_CLICKHOUSE_REJECTED', 'simulated type error') };
        }
        return writer.insertEncoded(table, body, token);
      },
    };
    const p = processor(t, uniqueName('g'), { writer: flaky, subBatchSize: 2 });
    await p.start();
    try {
      await eventually(async () => (await spanCounts(tenant)).rows === 2, 'spans after transient failures');
      expect(transient).toBe(0);
      await publish(t.spans, [otlpSpanEnvelope(poison, 1, 1), otlpSpanEnvelope(poison, 2, 1)]);
      const dead = await readDlq(`${t.spans}.dlq`, 2);
      expect(dead.map((d) => d.reason)).toEqual([expect.stringMatching(/VIGIL_ERR_CLICKHOUSE_REJECTED/), expect.stringMatching(/VIGIL_ERR_CLICKHOUSE_REJECTED/)]);
      // The processor moved on past the poisoned sub-batch.
      await publish(t.spans, [otlpSpanEnvelope(tenant, 3, 1)]);
      await eventually(async () => (await spanCounts(tenant)).rows === 3, 'a span after the dead-lettered sub-batch');
      expect(await spanCounts(tenant)).toEqual({ rows: 3, distinct: 3 });
    } finally {
      await p.stop();
    }
  });
});
