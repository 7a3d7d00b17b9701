/**
 * A Vigil for the anomaly tests: ingest, processor and query roles on the
 * harness Kafka and Postgres, embedded chDB, with the built-in anomaly scorer
 * off (VIGIL_ANOMALY_SCORING=off) so that tests drive their own scorers with
 * an injected clock.
 */
import { loadConfig } from '../../platform/config.js';
import { createLogger } from '../../platform/logger.js';
import { startVigil, type RunningVigil } from '../../platform/lifecycle.js';
import { E2E_KEY } from '../e2e/support.js';
import { createTestDatabase, kafkaBrokers, tempDir, uniqueName } from '../support/harness.js';

export { E2E_KEY };

/** Start Vigil; returns it and its Postgres URL (keys of other projects can be created there). */
export async function startAnomalyVigil(): Promise<{ vigil: RunningVigil; databaseUrl: string }> {
  const databaseUrl = await createTestDatabase();
  const config = loadConfig({
    VIGIL_DATA_DIR: tempDir('anomaly'),
    VIGIL_INGEST_PORT: '0',
    VIGIL_QUERY_PORT: '0',
    VIGIL_LOG_LEVEL: process.env['VIGIL_TEST_LOG_LEVEL'] ?? 'silent',
    VIGIL_API_KEY: E2E_KEY,
    KAFKA_BROKERS: kafkaBrokers().join(','),
    VIGIL_KAFKA_TOPIC_SPANS: uniqueName('anomaly_spans'),
    VIGIL_KAFKA_TOPIC_LOGS: uniqueName('anomaly_logs'),
    VIGIL_KAFKA_CONSUMER_GROUP: uniqueName('anomaly_group'),
    VIGIL_KAFKA_PARTITIONS: '3',
    VIGIL_WORKER_THREADS: '2',
    VIGIL_ANOMALY_SCORING: 'off',
    DATABASE_URL: databaseUrl,
  });
  const vigil = await startVigil(config, createLogger(config.logLevel), { roles: ['ingest', 'processor', 'query'], embedded: true, demo: false });
  return { vigil, databaseUrl };
}
