/**
 * Issue 12, item 5: "Two instances on one broker split data silently". Two
 * `vigil start` processes (the built CLI), each with its own embedded chDB, on
 * the same Kafka topics: by default each derives its consumer group from its
 * data directory, so each stores every span; with one explicit
 * VIGIL_KAFKA_CONSUMER_GROUP that already has a member, start-up is refused
 * and says why.
 */
import crypto from 'node:crypto';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refuseSharedGroup } from '../../platform/consumer-group.js';
import { createLogger } from '../../platform/logger.js';
import { createTestDatabase, kafkaBrokers, tempDir, uniqueName } from '../support/harness.js';
import { buildIfStale, startVigilProcess, vigil, waitFor, type Running } from '../cli/support.js';

const KEY = 'vgl_2a2a2a2a2a2a_abcdefghijklmnopqrstuvwxyzABCDEF';
const TRACES = 60;
const SPANS_PER_TRACE = 5;

const running: Running[] = [];
let consumer: Consumer | undefined;

beforeAll(async () => {
  await buildIfStale();
});

afterAll(async () => {
  await consumer?.disconnect();
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
});

function baseEnv(topicPrefix: string): Record<string, string> {
  return {
    KAFKA_BROKERS: kafkaBrokers().join(','),
    VIGIL_KAFKA_TOPIC_SPANS: `${topicPrefix}_spans`,
    VIGIL_KAFKA_TOPIC_LOGS: `${topicPrefix}_logs`,
    VIGIL_KAFKA_PARTITIONS: '3',
    VIGIL_WORKER_THREADS: '1',
    VIGIL_INGEST_PORT: '0',
    VIGIL_QUERY_PORT: '0',
    VIGIL_API_KEY: KEY,
    VIGIL_LOG_LEVEL: 'warn',
  };
}

interface Banner { ingestUrl: string; queryUrl: string; group: string }

/** Start `vigil start --no-demo` and wait for its banner. */
async function startInstance(env: Record<string, string>): Promise<{ proc: Running; banner: Banner }> {
  const proc = startVigilProcess(['start', '--no-demo'], env);
  running.push(proc);
  const banner = await waitFor(
    'the "Vigil is running" banner',
    () => {
      if (proc.child.exitCode !== null) throw new Error(`vigil start exited ${proc.child.exitCode}: ${proc.stderr()}`);
      const out = proc.stdout();
      const ingest = /native ingest\s+(http:\/\/\S+)\/api\/v1\/ingest\/spans/.exec(out);
      const query = /query API\s+(http:\/\/\S+)\/api\/v1\/traces/.exec(out);
      const group = /consumer group\s+(\S+) \(/.exec(out);
      return ingest && query && group ? { ingestUrl: ingest[1]!, queryUrl: query[1]!, group: group[1]! } : undefined;
    },
    180_000,
  );
  return { proc, banner };
}

/** Spans stored in an instance, summed over its trace list. */
async function storedSpans(queryUrl: string): Promise<number> {
  const res = await fetch(`${queryUrl}/api/v1/traces?limit=500&from=now-1h`, { headers: { authorization: `Bearer ${KEY}` } });
  if (res.status !== 200) return -1;
  const body = (await res.json()) as { traces: Array<{ span_count: number }> };
  return body.traces.reduce((n, t) => n + t.span_count, 0);
}

describe('issue 12 item 5: two instances with embedded ClickHouse on one broker do not split data', () => {
  it('each instance derives its own consumer group from its data directory and stores every span', async () => {
    const env = baseEnv(uniqueName('two'));
    const [a, b] = await Promise.all([
      startInstance({ ...env, VIGIL_DATA_DIR: tempDir('inst-a'), DATABASE_URL: await createTestDatabase() }),
      startInstance({ ...env, VIGIL_DATA_DIR: tempDir('inst-b'), DATABASE_URL: await createTestDatabase() }),
    ]);
    expect(a.banner.group).toMatch(/^vigil-processors-[0-9a-f]{10}$/);
    expect(b.banner.group).toMatch(/^vigil-processors-[0-9a-f]{10}$/);
    expect(a.banner.group).not.toBe(b.banner.group);
    expect(a.proc.stdout()).toContain('(derived from the data directory: embedded ClickHouse)');

    const now = Date.now();
    const spans = [];
    for (let t = 0; t < TRACES; t++) {
      const traceId = crypto.randomBytes(16).toString('hex');
      for (let s = 0; s < SPANS_PER_TRACE; s++) {
        spans.push({
          trace_id: traceId, span_id: crypto.randomBytes(8).toString('hex'), name: `op-${s}`, service: 'two-instances',
          start_time: new Date(now - 1000 + s).toISOString(), duration_ms: 5,
        });
      }
    }
    const res = await fetch(`${a.banner.ingestUrl}/api/v1/ingest/spans`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(spans),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: TRACES * SPANS_PER_TRACE, rejected: 0 });

    for (const inst of [a, b]) {
      await waitFor(`all ${TRACES * SPANS_PER_TRACE} spans in ${inst.banner.queryUrl}`, async () =>
        (await storedSpans(inst.banner.queryUrl)) === TRACES * SPANS_PER_TRACE ? true : undefined, 120_000);
    }
    for (const inst of [a, b]) {
      inst.proc.child.kill('SIGTERM');
      expect((await inst.proc.exited).code).toBe(0);
    }
  }, 400_000);

  it('refuseSharedGroup lets an instance join a group nobody is in', async () => {
    const kafka = new Kafka({ brokers: kafkaBrokers(), clientId: 'guard-test', logLevel: logLevel.NOTHING });
    await expect(refuseSharedGroup(kafka, { groupId: uniqueName('empty_group'), log: createLogger('silent') })).resolves.toBeUndefined();
  });

  it('an explicit VIGIL_KAFKA_CONSUMER_GROUP that already has a member is refused, saying why', async () => {
    const prefix = uniqueName('busy');
    const env = baseEnv(prefix);
    const group = uniqueName('busy_group');
    // Another "instance": a member of the group, subscribed to the spans topic.
    const kafka = new Kafka({ brokers: kafkaBrokers(), clientId: 'other-instance', logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: env.VIGIL_KAFKA_TOPIC_SPANS!, numPartitions: 3 }] });
    await admin.disconnect();
    consumer = kafka.consumer({ groupId: group });
    const joined = new Promise<void>((resolve) => consumer!.on(consumer!.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topic: env.VIGIL_KAFKA_TOPIC_SPANS!, fromBeginning: true });
    await consumer.run({ eachMessage: async () => undefined });
    await joined;

    const r = await vigil(
      ['start', '--no-demo'],
      { ...env, VIGIL_KAFKA_CONSUMER_GROUP: group, VIGIL_DATA_DIR: tempDir('inst-busy'), DATABASE_URL: await createTestDatabase() },
      180_000,
    );
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`vigil: VIGIL_ERR_CONSUMER_GROUP_IN_USE: consumer group "${group}" (VIGIL_KAFKA_CONSUMER_GROUP) already has 1 member (other-instance on `);
    expect(r.stderr).toContain('joining would split the records between the instances');
    expect(r.stderr).toContain('unset VIGIL_KAFKA_CONSUMER_GROUP (the group is then derived from VIGIL_DATA_DIR)');
    expect(r.stderr).not.toMatch(/^\s+at /m);
  }, 300_000);
});
