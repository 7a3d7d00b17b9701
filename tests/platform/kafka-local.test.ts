import fs from 'node:fs';
import { logLevel, Partitioners, type Consumer, type Producer } from 'kafkajs';
import pg from 'pg';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, pinoLogCreator } from '../../platform/kafka/client.js';
import { ensureTopics } from '../../platform/kafka/topics.js';
import { createLogger } from '../../platform/logger.js';
import { createTestDatabase, kafkaBrokers, tempDir, uniqueName } from '../support/harness.js';
import { waitUntil } from '../support/wait.js';

const log = createLogger('warn');

describe('local Kafka broker (harness)', () => {
  const kafka = createKafka({ brokers: kafkaBrokers(), clientId: 'vigil-test', log });
  const topic = uniqueName('kafka_local');
  let producer: Producer;
  let consumer: Consumer | undefined;

  beforeAll(async () => {
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    await producer.connect();
  });

  afterAll(async () => {
    await consumer?.disconnect();
    await producer.disconnect();
  });

  it('ensureTopics creates once and is idempotent', async () => {
    expect(await ensureTopics(kafka, { topics: [topic], partitions: 3, replication: 1 })).toEqual([topic]);
    expect(await ensureTopics(kafka, { topics: [topic, topic], partitions: 3, replication: 1 })).toEqual([]);
    const admin = kafka.admin();
    await admin.connect();
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.disconnect();
    expect(md.topics[0]?.partitions).toHaveLength(3);
  });

  // Issue 5 item 8: on a loaded machine this test saw duplicates and gaps — it
  // stopped at the first 10 deliveries, counting redeliveries (a rebalance
  // replays uncommitted offsets) as new records. Delivery is at-least-once:
  // wait until every record sent has arrived, allow duplicates, and check that
  // each is an exact copy (same content) of a record that was sent.
  it('round-trips messages with acks=-1: every record arrives intact (at-least-once, duplicates allowed)', { timeout: 300_000 }, async () => {
    const sent = Array.from({ length: 10 }, (_, i) => ({
      key: `k${i % 4}`,
      value: JSON.stringify({ i, text: `payload-${i}`, utf8: 'żółw ✓' }),
      headers: { seq: String(i) },
    }));
    const res = await producer.send({ topic, acks: -1, messages: sent });
    expect(res.every((r) => r.errorCode === 0)).toBe(true);

    consumer = kafka.consumer({ groupId: uniqueName('kafka_local_group') });
    let crash: string | undefined;
    consumer.on(consumer.events.CRASH, (e) => {
      crash = `${e.payload.error.message} (restart: ${String(e.payload.restart)})`;
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const received: { partition: number; offset: string; key: string; value: string; seq: string }[] = [];
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        received.push({
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? '',
          value: message.value?.toString() ?? '',
          seq: message.headers?.seq?.toString() ?? '',
        });
      },
    });
    const seqs = (): Set<string> => new Set(received.map((r) => r.seq));
    await waitUntil(`all ${sent.length} records to be consumed`, () => {
      if (crash !== undefined) throw new Error(`consumer crashed: ${crash}`);
      if (seqs().size < sent.length) throw new Error(`${seqs().size} distinct records so far, ${received.length} deliveries`);
      return true;
    }, { timeoutMs: 240_000 });

    // No gaps: every record sent arrived; no strangers: every delivery is one of them, intact.
    const bySeq = new Map(sent.map((m) => [m.headers.seq, { key: m.key, value: m.value, seq: m.headers.seq }]));
    expect([...seqs()].sort()).toEqual([...bySeq.keys()].sort());
    for (const r of received) expect({ key: r.key, value: r.value, seq: r.seq }).toEqual(bySeq.get(r.seq));
    // A redelivery is the same log entry again: one record per (partition, offset).
    const byOffset = new Map<string, string>();
    for (const r of received) {
      const at = `${r.partition}:${r.offset}`;
      expect(byOffset.get(at) ?? r.seq).toBe(r.seq);
      byOffset.set(at, r.seq);
    }
    // Same key → same partition (the producer's partitioner), in send order within it.
    for (const key of new Set(sent.map((m) => m.key))) {
      const first = new Map<string, { partition: number; offset: bigint }>();
      for (const r of received.filter((x) => x.key === key)) {
        if (!first.has(r.seq)) first.set(r.seq, { partition: r.partition, offset: BigInt(r.offset) });
      }
      const entries = [...first.entries()].sort((a, b) => Number(a[0]) - Number(b[0]));
      expect(new Set(entries.map(([, v]) => v.partition)).size).toBe(1);
      for (let i = 1; i < entries.length; i++) expect(entries[i]![1].offset > entries[i - 1]![1].offset).toBe(true);
    }
  });
});

describe('test harness helpers', () => {
  it('uniqueName gives distinct names valid for topics, groups and databases', () => {
    const names = new Set(Array.from({ length: 50 }, () => uniqueName('t')));
    expect(names.size).toBe(50);
    for (const n of names) expect(n).toMatch(/^t_[a-z0-9_]+$/);
  });

  it('tempDir creates an empty directory', () => {
    const dir = tempDir('harness');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('createTestDatabase returns a fresh database on the harness Postgres', async () => {
    const url = await createTestDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const res = await client.query<{ db: string; tables: string }>(
        "SELECT current_database() AS db, (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')::text AS tables",
      );
      expect(res.rows[0]?.db).toBe(new URL(url).pathname.slice(1));
      expect(res.rows[0]?.tables).toBe('0');
    } finally {
      await client.end();
    }
  });
});

describe('kafkajs → pino log bridge', () => {
  it('maps levels, keeps fields and softens broker error responses', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        cb();
      },
    });
    const log = pino({ level: 'debug' }, sink);
    const write = pinoLogCreator(log)(logLevel.DEBUG);
    const entry = (message: string, extra: Record<string, unknown> = {}) => ({
      message,
      timestamp: 'now',
      logger: 'kafkajs',
      ...extra,
    });
    write({ namespace: 'Consumer', level: logLevel.INFO, label: 'INFO', log: entry('joined', { groupId: 'g' }) });
    write({ namespace: 'Producer', level: logLevel.ERROR, label: 'ERROR', log: entry('boom') });
    write({ namespace: 'Connection', level: logLevel.ERROR, label: 'ERROR', log: entry('Response Produce(key: 0)') });
    write({ namespace: 'Connection', level: logLevel.DEBUG, label: 'DEBUG', log: entry('sent') });
    expect(lines.map((l) => [l.level, l.namespace, l.msg])).toEqual([
      [30, 'Consumer', 'joined'],
      [50, 'Producer', 'boom'],
      [40, 'Connection', 'Response Produce(key: 0)'],
      [20, 'Connection', 'sent'],
    ]);
    expect(lines[0]?.groupId).toBe('g');
    expect(lines[0]?.timestamp).toBeUndefined();
  });
});
