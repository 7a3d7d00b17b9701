/**
 * Script entry for the local Kafka broker:
 *
 *   tsx platform/kafka/cli.ts fetch   resolve the broker jars into <repo>/.cache/vigil (npm run kafka:fetch)
 *   tsx platform/kafka/cli.ts start   run the broker in the foreground until Ctrl-C (npm run kafka:start)
 *
 * Options: `--port <n>` (default: free port), `--data-dir <dir>` (default
 * `<VIGIL_DATA_DIR>/kafka`), `--version <x.y.z>` (default VIGIL_KAFKA_VERSION),
 * `--cache-dir <dir>` (default `<repo>/.cache/vigil`). Like bin/, this is an
 * edge entry point: it parses the environment through loadConfig.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { VigilError } from '../errors.js';
import { createLogger } from '../logger.js';
import { startLocalKafka } from './local-broker.js';
import { defaultCacheDir, resolveKafkaJars } from './maven.js';

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      version: { type: 'string' },
      'cache-dir': { type: 'string' },
    },
  });
  const cfg = loadConfig(process.env);
  const log = createLogger(cfg.logLevel);
  const version = values.version ?? cfg.kafka.localVersion;
  const cacheDir = path.resolve(values['cache-dir'] ?? defaultCacheDir());
  const command = positionals[0];

  if (command === 'fetch') {
    const jars = await resolveKafkaJars({ version, cacheDir, log });
    process.stdout.write(`${jars.libsDir}${jars.cached ? ' (cached)' : ''}\n`);
    return 0;
  }
  if (command === 'start') {
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new VigilError('VIGIL_ERR_CONFIG', `--port must be a TCP port, got '${values.port}'`);
    }
    const dataDir = path.resolve(values['data-dir'] ?? path.join(cfg.dataDir, 'kafka'));
    const broker = await startLocalKafka({ version, cacheDir, dataDir, port, log });
    process.stdout.write(`KAFKA_BROKERS=${broker.brokers.join(',')}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await broker.stop();
    return 0;
  }
  process.stderr.write('usage: tsx platform/kafka/cli.ts fetch|start [--port N] [--data-dir DIR] [--version X.Y.Z] [--cache-dir DIR]\n');
  return 2;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
