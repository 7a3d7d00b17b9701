#!/usr/bin/env node
/**
 * The `vigil` CLI.
 *
 *   vigil start [--no-demo]           everything in one process (embedded default)
 *   vigil migrate                     apply ClickHouse and Postgres migrations
 *   vigil keys create --project NAME  create and print an API key
 *   vigil ingest | process | query    one role (distributed mode, real servers)
 *   vigil kafka start                 the local Kafka broker in the foreground
 *
 * Exit codes: 0 success, 1 runtime error, 2 usage error.
 */
import { parseArgs } from 'node:util';
import { loadConfig, type VigilConfig } from '../platform/config.js';
import { createLogger, type Logger } from '../platform/logger.js';
import { VigilError } from '../platform/errors.js';
import { startVigil, type Role, type RunningVigil } from '../platform/lifecycle.js';

const USAGE = `usage: vigil <command>
  start [--no-demo]            run ingest, processors and the query API in one process
  migrate                      apply ClickHouse and Postgres migrations
  keys create --project NAME   create an API key for a project and print it
  ingest | process | query     run one role against KAFKA_BROKERS, CLICKHOUSE_URL, DATABASE_URL
  kafka start                  run the local Kafka broker in the foreground`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'no-demo': { type: 'boolean', default: false },
      project: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, sub] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(USAGE + '\n');
    return command === undefined && !values.help ? 2 : 0;
  }
  const config = loadConfig(process.env);
  const log = createLogger(config.logLevel);

  switch (command) {
    case 'start':
      return runUntilSignal(config, log, ['ingest', 'processor', 'query'], { embedded: true, demo: !values['no-demo'] });
    case 'ingest':
      return runUntilSignal(config, log, ['ingest'], { embedded: false, demo: false });
    case 'process':
      return runUntilSignal(config, log, ['processor'], { embedded: false, demo: false });
    case 'query':
      return runUntilSignal(config, log, ['query'], { embedded: false, demo: false });
    case 'migrate':
      return migrate(config, log);
    case 'keys':
      if (sub !== 'create' || values.project === undefined || values.project.trim() === '') {
        process.stderr.write('usage: vigil keys create --project NAME\n');
        return 2;
      }
      return createKey(config, log, values.project.trim());
    case 'kafka':
      if (sub !== 'start') {
        process.stderr.write('usage: vigil kafka start\n');
        return 2;
      }
      return kafkaForeground(config, log);
    default:
      process.stderr.write(`unknown command: ${command}\n${USAGE}\n`);
      return 2;
  }
}

async function runUntilSignal(
  config: VigilConfig,
  log: Logger,
  roles: Role[],
  opts: { embedded: boolean; demo: boolean },
): Promise<number> {
  const vigil: RunningVigil = await startVigil(config, log, { roles, ...opts });
  printBanner(vigil);
  await new Promise<void>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) {
        log.warn({ signal }, 'second signal: exiting without a clean shutdown');
        process.exit(1);
      }
      signalled = true;
      log.info({ signal }, 'shutting down: stop intake, drain workers, flush, commit, close');
      vigil.stop().then(resolve, (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  return 0;
}

function printBanner(v: RunningVigil): void {
  const lines = [
    '',
    'Vigil is running',
    v.ingestUrl && `  OTLP/HTTP ingest   ${v.ingestUrl}/v1/traces  ${v.ingestUrl}/v1/logs`,
    v.ingestUrl && `  native ingest      ${v.ingestUrl}/api/v1/ingest/spans  ${v.ingestUrl}/api/v1/ingest/logs`,
    v.queryUrl && `  query API          ${v.queryUrl}/api/v1/traces`,
    v.demoUrl && `  demo service       ${v.demoUrl}`,
    `  transport          ${v.transport}`,
    v.apiKey && `  API key            ${v.apiKey}`,
    v.apiKey && v.queryUrl && `  try: curl -H "Authorization: Bearer ${v.apiKey}" '${v.queryUrl}/api/v1/traces?limit=5'`,
    '  Ctrl-C to stop',
    '',
  ].filter((l): l is string => typeof l === 'string' && l !== '');
  process.stdout.write(lines.join('\n') + '\n');
}

async function migrate(config: VigilConfig, log: Logger): Promise<number> {
  const { createClickHouse } = await import('../platform/clickhouse.js');
  const { startPostgres } = await import('../platform/postgres.js');
  const { migrateClickHouse, migratePostgres } = await import('../platform/migrate.js');
  const pg = await startPostgres({ url: config.postgres.url, dataDir: config.dataDir, port: config.postgres.embeddedPort, log });
  try {
    const p = await migratePostgres(pg.pool, { log });
    const ch = createClickHouse(config.clickhouse, config.dataDir);
    try {
      const c = await migrateClickHouse(ch, { retentionDays: config.clickhouse.retentionDays, log });
      process.stdout.write(`postgres: ${p.applied.length} applied; clickhouse: ${c.applied.length} applied\n`);
    } finally {
      await ch.client.close();
    }
  } finally {
    await pg.stop();
  }
  return 0;
}

async function createKey(config: VigilConfig, log: Logger, project: string): Promise<number> {
  const { startPostgres } = await import('../platform/postgres.js');
  const { migratePostgres } = await import('../platform/migrate.js');
  const { createApiKey } = await import('../platform/auth/keys.js');
  const pg = await startPostgres({ url: config.postgres.url, dataDir: config.dataDir, port: config.postgres.embeddedPort, log });
  try {
    await migratePostgres(pg.pool, { log });
    const created = await createApiKey(pg.pool, project);
    process.stdout.write(`${created.key}\n`);
    process.stderr.write(`created a key for project "${created.projectId}"; it is shown once, store it now\n`);
  } finally {
    await pg.stop();
  }
  return 0;
}

async function kafkaForeground(config: VigilConfig, log: Logger): Promise<number> {
  const path = await import('node:path');
  const { startLocalKafka } = await import('../platform/kafka/local-broker.js');
  const { cacheDir } = await import('../platform/paths.js');
  const broker = await startLocalKafka({
    version: config.kafka.localVersion,
    cacheDir: cacheDir(),
    dataDir: path.join(config.dataDir, 'kafka'),
    log,
  });
  process.stdout.write(`Kafka ${config.kafka.localVersion} at ${broker.brokers.join(',')} — Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await broker.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof VigilError) {
      process.stderr.write(`vigil: ${err.code}: ${err.message}\n`);
    } else {
      process.stderr.write(`vigil: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.exit(1);
  },
);
