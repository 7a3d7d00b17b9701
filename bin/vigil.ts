#!/usr/bin/env node
/**
 * The `vigil` CLI (argument parsing: commander).
 *
 *   vigil start [--no-demo]           everything in one process (embedded default)
 *   vigil migrate                     apply ClickHouse and Postgres migrations
 *   vigil keys create --project NAME [--admin]  create an API key (--admin: may use /api/v1/admin) and print it (only the key, on stdout)
 *   vigil ingest | process | query    one role (distributed mode, real servers)
 *   vigil alerts                      the alerting role: evaluator + notification dispatcher
 *   vigil alerts init --project NAME  create the built-in alert rules for a project
 *   vigil kafka start                 the local Kafka broker in the foreground
 *   vigil --version | --help | <command> --help
 *
 * Output: results (the banner, a key, migration counts) on stdout; logs (pino
 * JSON lines) and errors on stderr. Errors are one line `vigil: CODE: message`
 * without a stack trace (VIGIL_LOG_LEVEL=debug adds it for unexpected errors).
 *
 * Exit codes: {@link EXIT_OK} 0 success, {@link EXIT_FAILURE} 1 runtime or
 * configuration error, {@link EXIT_USAGE} 2 usage error (unknown command or
 * option, missing argument).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { pino } from 'pino';
import { checkStartup, loadConfig, type StartupChecks, type VigilConfig } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';
import { VigilError } from '../platform/errors.js';
import { applyHeapGrowing } from '../platform/heap-tuning.js';
import type { Role, RunningVigil } from '../platform/lifecycle.js';
import { registerAdminCommands } from './admin-commands.js';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** Version from the package.json above this file (bin/ when run with tsx, dist/bin/ when built). */
function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'vigil' && typeof pkg.version === 'string') return pkg.version;
    }
    dir = path.dirname(dir);
  }
  return 'unknown';
}

/** The root logger of a CLI process: pino JSON lines on stderr (stdout is for results). */
function stderrLogger(level: string): Logger {
  return pino({ level, base: { app: 'vigil' } }, pino.destination({ dest: 2, sync: true }));
}

/**
 * Parse the environment, run the fast start-up checks (before any slow step), create the logger.
 * @param checks what this command listens on and connects to.
 * @throws VigilError VIGIL_ERR_CONFIG naming the variable, its value and the fix.
 */
async function prepare(checks: (c: VigilConfig) => StartupChecks): Promise<{ config: VigilConfig; log: Logger }> {
  const config = loadConfig(process.env);
  await checkStartup(config, checks(config));
  return { config, log: stderrLogger(config.logLevel) };
}

const INGEST_PORT = (c: VigilConfig) => ({ variable: 'VIGIL_INGEST_PORT' as const, port: c.ingest.port });
const QUERY_PORT = (c: VigilConfig) => ({ variable: 'VIGIL_QUERY_PORT' as const, port: c.query.port });
const GRPC_PORT = (c: VigilConfig) => ({ variable: 'VIGIL_GRPC_PORT' as const, port: c.ingest.grpcPort });

/** Build the command tree. Every command has --help; commander errors are thrown (exitOverride) and mapped in {@link main}. */
function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('vigil');
  program
    .description('Vigil: telemetry pipeline (OTLP ingest → Kafka → processors → ClickHouse) with a query API')
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show help for the command')
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) => write(`vigil: ${s}`),
    })
    .addHelpText(
      'after',
      '\nExit codes: 0 success, 1 runtime or configuration error, 2 usage error.\n' +
        'Configuration comes from environment variables (README.md, "Configuration").',
    );

  program
    .command('start')
    .description('run ingest, processors and the query API in one process (embedded stores unless URLs are set)')
    .option('--no-demo', 'do not start the demo service')
    .action(async (opts: { demo: boolean }) => {
      const { config, log } = await prepare((c) => ({ listen: [INGEST_PORT(c), GRPC_PORT(c), QUERY_PORT(c)], servers: ['kafka', 'clickhouse', 'postgres'] }));
      setExit(await runUntilSignal(config, log, ['ingest', 'processor', 'query', 'alerts'], { embedded: true, demo: opts.demo }));
    });

  program
    .command('migrate')
    .description('apply ClickHouse and Postgres migrations, then exit')
    .action(async () => {
      const { config, log } = await prepare(() => ({ listen: [], servers: ['clickhouse', 'postgres'] }));
      setExit(await migrate(config, log));
    });

  const keys = program.command('keys').description('manage API keys');
  keys
    .command('create')
    .description('create an API key for a project (the project is created if missing); prints only the key on stdout')
    .requiredOption('-p, --project <name>', 'project (tenant) the key belongs to')
    .option('--admin', 'an admin key: may also use /api/v1/admin (projects, keys, limits, retention of every project)')
    .action(async (opts: { project: string; admin?: boolean }, cmd: Command) => {
      const project = opts.project.trim();
      if (project === '') cmd.error('error: option --project must not be empty', { exitCode: EXIT_USAGE, code: 'vigil.usage' });
      const { config, log } = await prepare(() => ({ listen: [], servers: ['postgres'] }));
      setExit(await createKey(config, log, project, opts.admin === true));
    });

  // keys list | revoke, projects list | create (bin/admin-commands.ts); work while `vigil start` runs.
  registerAdminCommands(program, keys, { prepare: () => prepare(() => ({ listen: [], servers: ['postgres'] })), setExit, usageExit: EXIT_USAGE });

  program
    .command('ingest')
    .description('run the ingest role against KAFKA_BROKERS and DATABASE_URL')
    .action(async () => {
      const { config, log } = await prepare((c) => ({ listen: [INGEST_PORT(c), GRPC_PORT(c)], servers: ['kafka', 'postgres'] }));
      setExit(await runUntilSignal(config, log, ['ingest'], { embedded: false, demo: false }));
    });
  program
    .command('process')
    .description('run the processor role against KAFKA_BROKERS and CLICKHOUSE_URL')
    .action(async () => {
      const { config, log } = await prepare(() => ({ listen: [], servers: ['kafka', 'clickhouse'] }));
      setExit(await runUntilSignal(config, log, ['processor'], { embedded: false, demo: false }));
    });
  program
    .command('query')
    .description('run the query API against CLICKHOUSE_URL and DATABASE_URL')
    .action(async () => {
      const { config, log } = await prepare((c) => ({ listen: [QUERY_PORT(c)], servers: ['clickhouse', 'postgres'] }));
      setExit(await runUntilSignal(config, log, ['query'], { embedded: false, demo: false }));
    });

  const alerts = program.command('alerts').description('alerting: the evaluator and dispatcher role, built-in rules');
  alerts
    .command('run', { isDefault: true })
    .description('run the alerting role (rule evaluator + webhook dispatcher) against CLICKHOUSE_URL and DATABASE_URL; `vigil alerts` alone does this')
    .action(async () => {
      const { config, log } = await prepare(() => ({ listen: [], servers: ['clickhouse', 'postgres'] }));
      setExit(await runUntilSignal(config, log, ['alerts'], { embedded: false, demo: false }));
    });
  alerts
    .command('init')
    .description('create the built-in alert rules (high error rate, high p99 latency, LLM cost spike, no data) for a project; prints the rules created')
    .requiredOption('-p, --project <name>', 'project (tenant) the rules belong to (created if missing)')
    .action(async (opts: { project: string }, cmd: Command) => {
      const project = opts.project.trim();
      if (project === '') cmd.error('error: option --project must not be empty', { exitCode: EXIT_USAGE, code: 'vigil.usage' });
      const { config, log } = await prepare(() => ({ listen: [], servers: ['postgres'] }));
      setExit(await alertsInit(config, log, project));
    });

  const anomaly = program.command('anomaly').description('anomaly scores (the detector the processors run)');
  anomaly
    .command('score')
    .description('score one series offline: CSV timestamp,value in, CSV timestamp,value,anomaly_score out (one row per input row, no look-ahead)')
    .requiredOption('--in <file>', 'input CSV with the header timestamp,value (ISO-8601 or YYYY-MM-DD HH:MM:SS times, fixed interval)')
    .requiredOption('--out <file>', 'output CSV (- for stdout)')
    .action(async (opts: { in: string; out: string }) => {
      const { scoreCsvFile } = await import('../anomaly/cli.js');
      await scoreCsvFile(opts.in, opts.out);
      setExit(EXIT_OK);
    });

  const kafka = program.command('kafka').description('the local Kafka broker');
  kafka
    .command('start')
    .description('run the local Kafka broker (KRaft) in the foreground; prints its address')
    .action(async () => {
      const { config, log } = await prepare(() => ({ listen: [], servers: [] }));
      setExit(await kafkaForeground(config, log));
    });

  // Usage errors point at the help of the command that failed to parse.
  const hint = (cmd: Command, name: string): void => {
    cmd.showHelpAfterError(`(run "${name} --help" for usage)`);
    for (const sub of cmd.commands) hint(sub, `${name} ${sub.name()}`);
  };
  hint(program, 'vigil');
  return program;
}

/**
 * Start the roles, print the banner and run until SIGINT or SIGTERM, then stop in
 * lifecycle order. The signal handlers are installed before start-up (and so before
 * the banner a supervisor may wait for): a signal that arrives while the roles start
 * stops them as soon as they are up, never by the signal's default action
 * (regression: a SIGTERM sent right after the banner, before the handlers existed,
 * killed the process without a shutdown). A second signal exits at once with 1.
 * @returns the exit code, 0; a failed start-up throws instead.
 */
async function runUntilSignal(
  config: VigilConfig,
  log: Logger,
  roles: Role[],
  opts: { embedded: boolean; demo: boolean },
): Promise<number> {
  const { startVigil } = await import('../platform/lifecycle.js');
  applyHeapGrowing(config.runtime.heapGrowingPercent);
  let signalled: (() => void) | undefined;
  const stopRequested = new Promise<void>((resolve) => { signalled = resolve; });
  let count = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    count += 1;
    if (count > 1) {
      log.warn({ signal }, 'second signal: exiting without a clean shutdown');
      process.exit(EXIT_FAILURE);
    }
    log.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'shutting down: stop intake, drain workers, flush, commit, close');
    // Backstop: whatever hangs, the process is gone shortly after the bound.
    setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown exceeded its bound; exiting');
      process.exit(EXIT_FAILURE);
    }, config.shutdownTimeoutMs + 5_000).unref();
    signalled?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const vigil: RunningVigil = await startVigil(config, log, { roles, ...opts });
  if (count === 0) printBanner(vigil, config);
  await stopRequested;
  try {
    await vigil.stop();
  } catch (err) {
    log.error({ err }, 'shutdown failed');
  }
  return EXIT_OK;
}

const GROUP_SOURCE: Record<VigilConfig['kafka']['consumerGroupSource'], string> = {
  explicit: 'VIGIL_KAFKA_CONSUMER_GROUP',
  'data-dir': 'derived from the data directory: embedded ClickHouse',
  default: 'shared by all processors of the ClickHouse server',
};

function printBanner(v: RunningVigil, config: VigilConfig): void {
  const kafka = v.transport !== 'in-process';
  const lines = [
    '',
    'Vigil is running',
    v.queryUrl && `  dashboards         ${v.queryUrl}/ui/  (sign in with the API key below)`,
    v.ingestUrl && `  OTLP/HTTP ingest   ${v.ingestUrl}/v1/traces  ${v.ingestUrl}/v1/logs`,
    v.grpcUrl && `  OTLP/gRPC ingest   ${v.grpcUrl}  (TraceService/Export, LogsService/Export)`,
    v.ingestUrl && `  native ingest      ${v.ingestUrl}/api/v1/ingest/spans  ${v.ingestUrl}/api/v1/ingest/logs`,
    v.queryUrl && `  query API          ${v.queryUrl}/api/v1/traces`,
    v.demoUrl && `  demo service       ${v.demoUrl}`,
    v.queryUrl && v.demoAlerts && `  alerts             ${v.queryUrl}/api/v1/alerts  (${v.demoAlerts.rules} rules for project ${config.auth.defaultProject})`,
    v.demoAlerts && `  alert receiver     ${v.demoAlerts.receiverUrl}  (prints each signed alert here as it arrives; error bursts start after 1 min)`,
    v.queryUrl && config.anomaly.enabled && `  anomalies          ${v.queryUrl}/api/v1/anomalies?min_score=0.9  (scores per series and minute; the demo's first scores after ~12 min)`,
    v.queryUrl && v.demoFlag && `  feature flags      ${v.queryUrl}/api/v1/flags  (OFREP ${v.queryUrl}/ofrep/v1/evaluate/flags; the demo's /chat evaluates ${v.demoFlag.flag})`,
    v.queryUrl && v.demoFlag && `  experiment         ${v.queryUrl}/api/v1/experiments/${v.demoFlag.flag}  (gpt-4o vs gpt-4o-mini: latency, errors, cost per variant)`,
    v.queryUrl && `  API docs           ${v.queryUrl}/docs  (Swagger UI; OpenAPI document ${v.queryUrl}/openapi.json)`,
    `  transport          ${v.transport}`,
    kafka && v.queryUrl !== undefined && `  consumer group     ${config.kafka.consumerGroup} (${GROUP_SOURCE[config.kafka.consumerGroupSource]})`,
    `  data directory     ${config.dataDir}`,
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
  fs.mkdirSync(config.dataDir, { recursive: true });
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
  return EXIT_OK;
}

async function createKey(config: VigilConfig, log: Logger, project: string, admin = false): Promise<number> {
  const { migratePostgres } = await import('../platform/migrate.js');
  const { createApiKey } = await import('../platform/auth/keys.js');
  const { connectAdminPostgres } = await import('../platform/admin.js');
  // The running instance's Postgres when `vigil start` runs on this data directory (platform/admin.ts).
  const pg = await connectAdminPostgres({ url: config.postgres.url, dataDir: config.dataDir, port: config.postgres.embeddedPort, log });
  try {
    if (pg.via !== 'running-instance') await migratePostgres(pg.pool, { log });
    const created = await createApiKey(pg.pool, project, { admin });
    process.stdout.write(`${created.key}\n`);
    process.stderr.write(`created ${admin ? 'an admin key' : 'a key'} for project "${created.projectId}"; it is shown once, store it now\n`);
  } finally {
    await pg.stop();
  }
  return EXIT_OK;
}

async function alertsInit(config: VigilConfig, log: Logger, project: string): Promise<number> {
  const { startPostgres } = await import('../platform/postgres.js');
  const { migratePostgres } = await import('../platform/migrate.js');
  const { createBuiltinRules, BUILTIN_RULES } = await import('../alerts/builtins.js');
  fs.mkdirSync(config.dataDir, { recursive: true });
  const pg = await startPostgres({ url: config.postgres.url, dataDir: config.dataDir, port: config.postgres.embeddedPort, log });
  try {
    await migratePostgres(pg.pool, { log });
    const created = await createBuiltinRules(pg.pool, project);
    for (const name of created) process.stdout.write(`${name}\n`);
    process.stderr.write(
      `created ${created.length} of ${BUILTIN_RULES.length} built-in rules for project "${project}"` +
        (created.length < BUILTIN_RULES.length ? ' (the others exist already)' : '') +
        '; add a notification channel with POST /api/v1/alerts/channels and list it in the rules\n',
    );
  } finally {
    await pg.stop();
  }
  return EXIT_OK;
}

async function kafkaForeground(config: VigilConfig, log: Logger): Promise<number> {
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
  return EXIT_OK;
}

/** One line on stderr for a failure; the stack only for unexpected errors and only at debug level. */
function reportFailure(err: unknown): void {
  if (err instanceof VigilError) {
    process.stderr.write(`vigil: ${err.code}: ${err.message}\n`);
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  const level = process.env['VIGIL_LOG_LEVEL'] ?? '';
  if ((level === 'debug' || level === 'trace') && err instanceof Error && err.stack !== undefined) {
    process.stderr.write(`vigil: unexpected error: ${err.stack}\n`);
  } else {
    process.stderr.write(`vigil: unexpected error: ${message.split('\n')[0]} (VIGIL_LOG_LEVEL=debug shows the stack trace)\n`);
  }
}

async function main(argv: string[]): Promise<number> {
  let exitCode = EXIT_OK;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  if (argv.length === 0) {
    process.stderr.write(program.helpInformation());
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    reportFailure(err);
    return EXIT_FAILURE;
  }
  return exitCode;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    reportFailure(err);
    process.exit(EXIT_FAILURE);
  },
);
