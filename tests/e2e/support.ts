/**
 * Helpers for the end-to-end tests: a whole Vigil (startVigil, all roles) on the
 * harness Kafka broker and Postgres, embedded chDB in a temp data dir, unique
 * topics and consumer group, free ports; and a small query-API client.
 */
import { loadConfig } from '../../platform/config.js';
import { createLogger } from '../../platform/logger.js';
import { startVigil, type RunningVigil } from '../../platform/lifecycle.js';
import { createTestDatabase, kafkaBrokers, tempDir, uniqueName } from '../support/harness.js';

/** A valid API key (format vgl_<12 hex>_<32 base64url>) made sure of at start. */
export const E2E_KEY = 'vgl_e2e0e2e0e2e0_abcdefghijklmnopqrstuvwxyzABCDEF';

/**
 * Start every role of Vigil in this process.
 * @param brokers Kafka brokers (default: the harness broker).
 */
export async function startTestVigil(brokers: string[] = kafkaBrokers()): Promise<RunningVigil> {
  const config = loadConfig({
    VIGIL_DATA_DIR: tempDir('e2e'),
    VIGIL_INGEST_PORT: '0',
    VIGIL_QUERY_PORT: '0',
    VIGIL_LOG_LEVEL: process.env['VIGIL_TEST_LOG_LEVEL'] ?? 'silent',
    VIGIL_API_KEY: E2E_KEY,
    KAFKA_BROKERS: brokers.join(','),
    VIGIL_KAFKA_TOPIC_SPANS: uniqueName('e2e_spans'),
    VIGIL_KAFKA_TOPIC_LOGS: uniqueName('e2e_logs'),
    VIGIL_KAFKA_CONSUMER_GROUP: uniqueName('e2e_group'),
    VIGIL_KAFKA_PARTITIONS: '3',
    VIGIL_WORKER_THREADS: '2',
    DATABASE_URL: await createTestDatabase(),
  });
  return startVigil(config, createLogger(config.logLevel), {
    roles: ['ingest', 'processor', 'query'],
    embedded: true,
    demo: false,
  });
}

/** GET a query-API path with the e2e key; returns status and parsed JSON. */
export async function getJson<T = unknown>(baseUrl: string, pathAndQuery: string): Promise<{ status: number; body: T }> {
  const res = await fetch(baseUrl + pathAndQuery, { headers: { authorization: `Bearer ${E2E_KEY}` } });
  return { status: res.status, body: (await res.json()) as T };
}

/** Poll `check` every 250 ms until it returns a value; fail after `timeoutMs` naming `what` and the last value seen. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The exact q-quantile as DDSketch defines its rank: sorted[floor(q · (n − 1))]. */
export function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}
