/**
 * kafkajs client factory with Vigil's defaults: kafkajs logs bridged into the
 * given pino logger (child `{ component: 'kafkajs' }`) and a bounded
 * exponential retry.
 *
 * Producers should pass `createPartitioner: Partitioners.DefaultPartitioner`
 * (murmur2, Java-compatible) to `kafka.producer()`; kafkajs otherwise prints a
 * one-time partitioner-change warning. Idempotent producers
 * (`idempotent: true`) should also pass `retry: { retries: Number.MAX_SAFE_INTEGER }`
 * or kafkajs warns that limited retries may break exactly-once.
 *
 * Verified against the local Apache Kafka 3.9.1 broker: produce (acks -1,
 * gzip), consumer groups, idempotent and transactional producers, admin.
 * Kafka 4.x removed protocol versions kafkajs 2.2.4 speaks; stay on 3.9.x.
 */
import { Kafka, logLevel as KafkaLogLevel, type KafkaConfig, type LogEntry, type RetryOptions } from 'kafkajs';
import type { Logger } from '../logger.js';
import { installGzipCodec } from './gzip-codec.js';

export { Kafka };

/** kafkajs level → pino method. NOTHING never reaches the creator. */
const LEVEL_METHOD: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

/** The kafkajs level that lets through exactly what the pino logger would print. */
export function kafkaLogLevelFor(log: Logger): KafkaLogLevel {
  if (log.isLevelEnabled('debug')) return KafkaLogLevel.DEBUG;
  if (log.isLevelEnabled('info')) return KafkaLogLevel.INFO;
  if (log.isLevelEnabled('warn')) return KafkaLogLevel.WARN;
  if (log.isLevelEnabled('error')) return KafkaLogLevel.ERROR;
  return KafkaLogLevel.NOTHING;
}

/**
 * A kafkajs `logCreator` writing to pino. kafkajs' `log.message` becomes the
 * pino message; its other fields (broker, groupId, error, stack...) become
 * structured fields, plus `namespace` (kafkajs component, e.g. 'Connection').
 */
export function pinoLogCreator(log: Logger): NonNullable<KafkaConfig['logCreator']> {
  return () =>
    ({ namespace, level, log: entry }: LogEntry) => {
      let method = LEVEL_METHOD[level];
      if (method === undefined) return;
      const { message, timestamp: _ts, logger: _logger, ...fields } = entry;
      // kafkajs logs every broker error response (`Response Produce(...)`) at
      // ERROR, including retriable ones it then retries (coordinator loading,
      // leader moved...). The caller gets a thrown error if it finally fails.
      if (method === 'error' && namespace === 'Connection' && message.startsWith('Response ')) method = 'warn';
      log[method]({ namespace, ...fields }, message);
    };
}

/** Default retry: ~0.3 s first delay, doubling up to 30 s, 8 attempts (≈ 1 min in total). */
export const DEFAULT_RETRY: RetryOptions = {
  initialRetryTime: 300,
  maxRetryTime: 30_000,
  retries: 8,
  factor: 0.2,
  multiplier: 2,
};

/** Options of {@link createKafka}. */
export interface CreateKafkaOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: string[];
  /** Client id reported to the brokers (quotas, logs). */
  clientId: string;
  /** pino logger; kafkajs logs go to a `{ component: 'kafkajs' }` child. */
  log: Logger;
  /** Override kafkajs' log level (default: derived from the pino level). */
  logLevel?: KafkaLogLevel;
  /** Override the retry policy (default {@link DEFAULT_RETRY}). */
  retry?: RetryOptions;
  /** TCP connect timeout in ms (default 3000). */
  connectionTimeout?: number;
  /** Request timeout in ms (default 30000). */
  requestTimeout?: number;
}

/**
 * Create a kafkajs client. Creating it opens no connection; producers,
 * consumers and admins connect on `connect()`. Installs Vigil's GZIP codec
 * (platform/kafka/gzip-codec.ts: larger inflate steps) in kafkajs' registry.
 * @returns the kafkajs {@link Kafka} instance.
 */
export function createKafka(opts: CreateKafkaOptions): Kafka {
  installGzipCodec();
  const child = opts.log.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    connectionTimeout: opts.connectionTimeout ?? 3_000,
    requestTimeout: opts.requestTimeout ?? 30_000,
    retry: opts.retry ?? DEFAULT_RETRY,
    logLevel: opts.logLevel ?? kafkaLogLevelFor(child),
    logCreator: pinoLogCreator(child),
  });
}
