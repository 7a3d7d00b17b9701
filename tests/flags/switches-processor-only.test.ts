/**
 * Regression: a processor running alone (`vigil processor`, roles split) did
 * not connect to Postgres, so the pipeline switches read from flags
 * (`vigil.sampling.keep_ratio`) were silently not applied there — only a
 * combined `vigil start` sampled. Here a processor-only Vigil (real Kafka,
 * chDB, Postgres) consumes version 2 messages produced straight to Kafka
 * after the flag was set in Postgres, and keeps only the sampled traces
 * while its aggregates count every span.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { loadConfig } from '../../platform/config.js';
import { createLogger } from '../../platform/logger.js';
import { startVigil, type RunningVigil } from '../../platform/lifecycle.js';
import { createFlag } from '../../flags/store.js';
import { migratePostgres } from '../../platform/migrate.js';
import { ensureApiKey } from '../../platform/auth/keys.js';
import { traceSampled } from '../../processors/sampling.js';
import { rawHeaders } from '../../schemas/envelope.js';
import { createTestDatabase, kafkaBrokers, tempDir, uniqueName } from '../support/harness.js';
import { E2E_KEY, eventually } from '../e2e/support.js';

const spansTopic = uniqueName('po_spans');
let vigil: RunningVigil;
let pool: pg.Pool;

beforeAll(async () => {
  const databaseUrl = await createTestDatabase();
  const config = loadConfig({
    VIGIL_DATA_DIR: tempDir('processor-only'),
    VIGIL_LOG_LEVEL: process.env['VIGIL_TEST_LOG_LEVEL'] ?? 'silent',
    VIGIL_API_KEY: E2E_KEY,
    KAFKA_BROKERS: kafkaBrokers().join(','),
    VIGIL_KAFKA_TOPIC_SPANS: spansTopic,
    VIGIL_KAFKA_TOPIC_LOGS: uniqueName('po_logs'),
    VIGIL_KAFKA_CONSUMER_GROUP: uniqueName('po_group'),
    VIGIL_KAFKA_PARTITIONS: '2',
    VIGIL_WORKER_THREADS: '1',
    DATABASE_URL: databaseUrl,
  });
  // The flag exists before the processor starts, so no record can be consumed before it is known.
  pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  await migratePostgres(pool, { log: createLogger('silent') });
  await ensureApiKey(pool, 'default', E2E_KEY);
  await createFlag(pool, 'default', {
    key: 'vigil.sampling.keep_ratio', description: '', type: 'number', variants: { tenth: 0.1 }, default_variant: 'tenth',
    enabled: true, rules: [], fallthrough: undefined, bucket_by: 'targetingKey', metadata: {},
  }, 'test');
  vigil = await startVigil(config, createLogger(config.logLevel), { roles: ['processor'], embedded: true, demo: false });
}, 180_000);

afterAll(async () => {
  await pool?.end();
  await vigil?.stop();
});

function trace(traceId: string, error: boolean): string {
  const t = BigInt(Date.now()) * 1_000_000n;
  return JSON.stringify({
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'po-svc' } }] },
      scopeSpans: [{
        spans: Array.from({ length: 3 }, (_, i) => ({
          traceId,
          spanId: `${traceId.slice(0, 14)}0${i}`,
          name: 'op',
          startTimeUnixNano: String(t),
          endTimeUnixNano: String(t + BigInt(i + 1) * 1_000_000n),
          status: { code: error && i === 2 ? 2 : 0 },
        })),
      }],
    }],
  });
}

describe('pipeline switches in a processor-only process', () => {
  it('vigil.sampling.keep_ratio set in Postgres is applied by a processor running alone', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => ({
      id: (BigInt(0x20000000 + i) * 0x9e3779b97f4a7c15n % (1n << 120n)).toString(16).padStart(32, '2').slice(-32),
      error: i % 10 === 0,
    }));
    const producer = new Kafka({ clientId: 'po-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    try {
      await producer.send({
        topic: spansTopic,
        acks: -1,
        messages: ids.map((t) => ({ key: t.id, value: trace(t.id, t.error), headers: rawHeaders({ tenant: 'default', format: 'otlp-json', kind: 'spans', receivedAtMs: Date.now() }) })),
      });
    } finally {
      await producer.disconnect();
    }
    const ch = vigil.clickhouse!;
    const q = async <T>(sql: string): Promise<T[]> => (await (await ch.client.query({ query: sql, query_params: { db: ch.database }, format: 'JSONEachRow' })).json()) as T[];
    await eventually('aggregates of all 600 spans', async () => {
      const [r] = await q<{ n: string }>("SELECT sum(count) AS n FROM {db:Identifier}.span_metrics_1m WHERE service = 'po-svc'");
      return Number(r!.n) === 600 ? true : undefined;
    }, 120_000);
    const rows = await q<{ trace_id: string; n: string }>("SELECT trace_id, count() AS n FROM {db:Identifier}.spans WHERE service = 'po-svc' GROUP BY trace_id");
    const expected = ids.filter((t) => t.error || traceSampled(t.id, 0.1)).map((t) => t.id).sort();
    expect(rows.map((r) => r.trace_id).sort()).toEqual(expected);
    for (const r of rows) expect(Number(r.n)).toBe(3);
    expect(expected.length).toBeLessThan(100); // sampling happened: 20 error traces + ~10 % of 180
  }, 180_000);
});
