/**
 * Entry point of the instrumented demo process.
 *
 * Spawned by demo/index.ts with an IPC channel: it waits for one
 * `{ type: 'config' }` message, installs the OTel SDK (demo/telemetry.ts),
 * THEN imports `pg`, the service and the load generator (dynamic imports, so
 * the ESM instrumentation hooks see them), and answers `{ type: 'ready', url }`.
 * `{ type: 'stop' }`, SIGTERM, SIGINT or the parent going away → stop load,
 * close the server, end the pool, flush + shut down telemetry, exit 0.
 *
 * Standalone (no IPC), for manual runs:
 *   node --import tsx demo/main.ts --endpoint http://127.0.0.1:4318 --api-key KEY \
 *        --database-url postgres://... [--protocol http/json] [--port 8080] [--no-load]
 *   node dist/demo/main.js ...same flags
 * Diagnostics are printed as JSON lines on stdout in that mode.
 */
import { parseArgs } from 'node:util';
import { startTelemetry, type OtlpProtocol, type Telemetry } from './telemetry.js';
import type { DemoChildConfig, FromChild, ToChild } from './ipc.js';

function report(msg: FromChild): void {
  if (process.send && process.connected) process.send(msg);
  else if (msg.type === 'log' || msg.type === 'ready') process.stdout.write(`${JSON.stringify(msg)}\n`);
}

function log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>): void {
  report({ type: 'log', level, msg, ...(data ? { data } : {}) });
}

/** Config from the parent (IPC) or from argv (standalone). */
async function readConfig(): Promise<DemoChildConfig> {
  if (process.send) {
    return new Promise((resolve) => {
      const onMessage = (m: ToChild): void => {
        if (m.type !== 'config') return;
        process.off('message', onMessage);
        resolve(m.config);
      };
      process.on('message', onMessage);
    });
  }
  const { values } = parseArgs({
    options: {
      endpoint: { type: 'string', default: 'http://127.0.0.1:4318' },
      'api-key': { type: 'string' },
      'database-url': { type: 'string' },
      protocol: { type: 'string', default: 'http/protobuf' },
      'service-name': { type: 'string', default: 'vigil-demo-shop' },
      port: { type: 'string', default: '0' },
      'no-load': { type: 'boolean', default: false },
    },
  });
  const apiKey = values['api-key'];
  const databaseUrl = values['database-url'];
  if (!apiKey || !databaseUrl) throw new Error('--api-key and --database-url are required');
  if (values.protocol !== 'http/protobuf' && values.protocol !== 'http/json') {
    throw new Error('--protocol must be http/protobuf or http/json');
  }
  return {
    endpoint: values.endpoint,
    apiKey,
    databaseUrl,
    protocol: values.protocol as OtlpProtocol,
    serviceName: values['service-name'],
    port: Number(values.port),
    load: !values['no-load'],
    scheduledDelayMillis: 500,
  };
}

/**
 * Relay SDK diagnostics, deduplicated: while the ingest endpoint is down every
 * export fails the same way, so a repeated message is only relayed on its
 * 1st, 10th, 100th, 1000th... occurrence (with the count). SDK errors are relayed
 * at warn level: they concern the demo workload, not Vigil itself.
 */
function diagnosticsSink(): (level: 'warn' | 'error', msg: string) => void {
  const seen = new Map<string, number>();
  return (level, msg) => {
    const n = (seen.get(msg) ?? 0) + 1;
    seen.set(msg, n);
    if (Number.isInteger(Math.log10(n))) log(level === 'error' ? 'warn' : level, `otel: ${msg}`, { occurrences: n });
  };
}

async function main(): Promise<void> {
  const cfg = await readConfig();
  const telemetry: Telemetry = await startTelemetry({
    endpoint: cfg.endpoint,
    apiKey: cfg.apiKey,
    protocol: cfg.protocol,
    serviceName: cfg.serviceName,
    scheduledDelayMillis: cfg.scheduledDelayMillis,
    onDiagnostic: diagnosticsSink(),
  });

  // Only now: modules that the instrumentations must patch.
  const { default: pg } = await import('pg');
  const { startDemoService } = await import('./service.js');
  const { startLoad } = await import('./load.js');
  // The demo flag over OFREP (after the SDK: its fetch calls are traced too).
  const flags = cfg.ofrepUrl === undefined ? undefined : await (await import('./flags.js')).startDemoFlags(cfg.ofrepUrl, cfg.apiKey);

  const pool = new pg.Pool({ connectionString: cfg.databaseUrl, max: 4 });
  pool.on('error', (err) => log('warn', 'idle pg client error', { err: err.message }));

  let service: Awaited<ReturnType<typeof startDemoService>>;
  try {
    service = await startDemoService({ pool, port: cfg.port, flags });
  } catch (err) {
    await pool.end().catch(() => undefined);
    await telemetry.shutdown();
    throw err;
  }
  let failures = 0;
  const load = cfg.load
    ? startLoad({
        baseUrl: service.url,
        onError: (err) => {
          // Log the first few transport failures only; they repeat while a dependency is down.
          if (++failures <= 5) log('warn', 'load request failed', { err: String(err) });
        },
      })
    : undefined;

  let stopping: Promise<void> | undefined;
  const stop = (reason: string): Promise<void> =>
    (stopping ??= (async () => {
      log('info', 'demo stopping', { reason, requests: load?.stats.sent ?? 0 });
      await load?.stop();
      await service.close();
      await flags?.close().catch(() => undefined);
      await pool.end().catch(() => undefined);
      await telemetry.shutdown(); // flushes spans and log records still buffered
      report({ type: 'stopped' });
      process.exitCode = 0;
      if (process.connected) process.disconnect();
      // Everything is closed; do not let a stray handle keep the demo alive.
      setTimeout(() => process.exit(0), 1_000).unref();
    })());

  process.on('message', (m: ToChild) => {
    if (m.type === 'stop') void stop('stop message');
  });
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('disconnect', () => void stop('parent disconnected'));

  report({ type: 'ready', url: service.url });
  log('info', 'demo service listening', { url: service.url, protocol: cfg.protocol });
}

main().catch((err: unknown) => {
  log('error', `demo failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
  // Give IPC a moment to deliver, then leave even if handles (pool, timers) linger.
  setTimeout(() => process.exit(1), 200).unref();
  if (process.connected) process.disconnect();
});
