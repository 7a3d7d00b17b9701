/**
 * Issue 8, "Intake every exporter can use": the OpenTelemetry Collector's stock
 * exporters send to Vigil unchanged, end to end (real Kafka, Piscina, chDB, Postgres).
 *
 * One Collector process (built by scripts/otelcol-build.sh from the Go module proxy
 * with the OpenTelemetry Collector Builder; manifest tools/otelcol/builder-config.yaml)
 * runs three pipelines, each fed by its own otlp receiver (OTLP/HTTP on a free port):
 * - `otlp` → the default `otlp` exporter (gRPC; its v0.155 type is `otlp_grpc`, `otlp`
 *   its alias, which existing configs use) → Vigil's OTLP/gRPC port, with the only
 *   settings a user must give: endpoint, `tls.insecure`, the `authorization` header.
 *   Everything else (gzip compression, sending queue, retries, timeouts) is the default;
 * - `otlp/http` → the `otlphttp` exporter → Vigil's OTLP/HTTP port (defaults: protobuf, gzip);
 * - `otlp/badkey` → an `otlp_grpc` exporter with a well-formed key Vigil does not know:
 *   the Collector logs Unauthenticated and drops the data (not retryable), nothing is stored.
 * The OTel JS OTLP/HTTP (protobuf) exporters send spans and logs with typed
 * attributes, events, links, a kvlist log body to the Collector; the query API
 * returns them with every value and type intact, stored exactly once (copies are
 * allowed only when the Collector logged a retry: delivery is at-least-once).
 *
 * The binary must exist: the test fails (it does not skip) when it is missing.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, trace, SpanKind, TraceFlags } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { RunningVigil } from '../../platform/lifecycle.js';
import { tempDir } from '../support/harness.js';
import { E2E_KEY, eventually, getJson, startTestVigil } from './support.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD_SCRIPT = 'scripts/otelcol-build.sh';
/** Well-formed (vgl_<12 hex>_<32 base64url>) but unknown to Vigil. */
const WRONG_KEY = 'vgl_0badc0ffee00_ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ';
const LINKED_TRACE = '0af7651916cd43dd8448eb211c80319c';

type Route = 'grpc' | 'http' | 'badkey';

interface ApiSpan {
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  name: string;
  attributes: Record<string, unknown>;
  resource_attributes: Record<string, unknown>;
  events: Array<{ name: string; attributes: Record<string, unknown> }>;
  links: Array<{ trace_id: string; span_id: string; trace_state: string; attributes: Record<string, unknown> }>;
  children: ApiSpan[];
}

interface ApiLog {
  body: unknown;
  body_type: string;
  attributes: Record<string, unknown>;
  resource_attributes?: Record<string, unknown>;
  severity_text?: string;
  trace_id: string;
}

const flatten = (spans: ApiSpan[]): ApiSpan[] => spans.flatMap((s) => [s, ...flatten(s.children)]);
const hr = (ms: number): [number, number] => [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];

/** Where scripts/otelcol-build.sh puts the binary for the manifest in this clone (or VIGIL_OTELCOL_BIN). */
function collectorBinary(): string {
  const fromEnv = process.env['VIGIL_OTELCOL_BIN'];
  const bin = fromEnv !== undefined && fromEnv !== '' ? fromEnv : execFileSync('bash', [path.join(REPO, BUILD_SCRIPT), '--print-path'], { encoding: 'utf8' }).trim();
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    throw new Error(
      `the OpenTelemetry Collector binary is missing (${bin}): build it with \`${BUILD_SCRIPT}\` (or \`npm run otelcol:build\`; ` +
        'needs Go, modules come from the Go module proxy; .ci/run does this before `npm test`)',
    );
  }
  return bin;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => (s.destroy(), resolve(false)));
  });
}

interface RunningCollector {
  child: ChildProcess;
  ports: Record<Route, number>;
  logFile: string;
  /** The Collector's log lines (JSON encoding) so far. */
  logLines(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

async function startCollector(bin: string, vigil: RunningVigil): Promise<RunningCollector> {
  const dir = tempDir('otelcol');
  const ports = { grpc: await freePort(), http: await freePort(), badkey: await freePort() };
  const grpcEndpoint = new URL(vigil.grpcUrl!).host;
  const receiver = (port: number): string[] => ['    protocols:', '      http:', `        endpoint: 127.0.0.1:${port}`];
  const config = [
    'receivers:',
    '  otlp:',
    ...receiver(ports.grpc),
    '  otlp/http:',
    ...receiver(ports.http),
    '  otlp/badkey:',
    ...receiver(ports.badkey),
    'exporters:',
    '  otlp:',
    `    endpoint: ${grpcEndpoint}`,
    '    tls:',
    '      insecure: true',
    '    headers:',
    `      authorization: "Bearer ${E2E_KEY}"`,
    '  otlphttp:',
    `    endpoint: ${vigil.ingestUrl}`,
    '    headers:',
    `      authorization: "Bearer ${E2E_KEY}"`,
    '  otlp_grpc/badkey:',
    `    endpoint: ${grpcEndpoint}`,
    '    tls:',
    '      insecure: true',
    '    headers:',
    `      authorization: "Bearer ${WRONG_KEY}"`,
    'service:',
    '  telemetry:',
    '    logs:',
    '      level: info',
    '      encoding: json',
    '    metrics:',
    '      level: none',
    '  pipelines:',
    '    traces:',
    '      receivers: [otlp]',
    '      exporters: [otlp]',
    '    logs:',
    '      receivers: [otlp]',
    '      exporters: [otlp]',
    '    traces/http:',
    '      receivers: [otlp/http]',
    '      exporters: [otlphttp]',
    '    logs/http:',
    '      receivers: [otlp/http]',
    '      exporters: [otlphttp]',
    '    traces/badkey:',
    '      receivers: [otlp/badkey]',
    '      exporters: [otlp_grpc/badkey]',
    '',
  ].join('\n');
  const configFile = path.join(dir, 'otelcol.yaml');
  fs.writeFileSync(configFile, config);
  const logFile = path.join(dir, 'otelcol.log');
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(bin, ['--config', configFile], { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  let exited: string | undefined;
  const exitedP = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = `code ${code}, signal ${signal}`;
      resolve();
    }),
  );
  child.once('error', (err) => (exited = String(err)));
  // vitest may end a fork without running afterAll: never leave the Collector behind.
  const onExit = (): void => void child.kill('SIGKILL');
  process.once('exit', onExit);
  const stop = async (): Promise<void> => {
    process.removeListener('exit', onExit);
    if (exited !== undefined) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exitedP;
    clearTimeout(killer);
  };
  const logLines = (): Array<Record<string, unknown>> =>
    fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  try {
    // Receivers start after exporters: when all three listen, the pipelines are up.
    await eventually(
      'the Collector to listen on its three OTLP/HTTP receivers',
      async () => {
        if (exited !== undefined) throw new Error(`the Collector exited during start-up (${exited}):\n${fs.readFileSync(logFile, 'utf8').slice(-4000)}`);
        const up = await Promise.all(Object.values(ports).map(canConnect));
        return up.every(Boolean) ? true : undefined;
      },
      120_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { child, ports, logFile, logLines, stop };
}

/** Send one trace (a server span with typed attributes, an event and a link, 5 children) and 2 logs to a Collector receiver. */
async function send(route: Route, port: number): Promise<{ traceId: string; spans: number; logs: number }> {
  const url = `http://127.0.0.1:${port}`;
  const resource = resourceFromAttributes({ 'service.name': `otelcol-${route}`, 'host.cpus': 8, 'deploy.canary': true, 'k8s.ratio': 0.25 });
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${url}/v1/traces` }))] });
  const loggerProvider = new LoggerProvider({ resource, processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${url}/v1/logs` }) })] });
  const tracer = tracerProvider.getTracer('otelcol-test', '1.0.0');
  const logger = loggerProvider.getLogger('otelcol-test');
  const now = Date.now() - 60_000;
  const root = tracer.startSpan('checkout', {
    kind: SpanKind.SERVER,
    startTime: hr(now),
    links: [{ context: { traceId: LINKED_TRACE, spanId: '0000000000000001', traceFlags: TraceFlags.SAMPLED, traceState: new TraceState('lk=1') }, attributes: { 'link.kind': 'follows', n: 3 } }],
    attributes: { 'http.status_code': 503, neg: -7, ratio: 0.125, flag: false, tags: ['a', 'b'], nums: [1, 2.5], 'looks.numeric': '42', route },
  });
  root.addEvent('retry', { retry: 2, ok: true }, hr(now + 1));
  const ctx = trace.setSpan(context.active(), root);
  for (let i = 0; i < 5; i++) tracer.startSpan(`step ${i}`, { startTime: hr(now + 2 + i), attributes: { i } }, ctx).end(hr(now + 3 + i));
  logger.emit({ body: { order: 42, items: ['a', 'b'], paid: true }, severityNumber: SeverityNumber.INFO, attributes: { n: 5, d: 1.5, ok: true }, context: ctx, timestamp: hr(now + 10) });
  logger.emit({ body: 'plain text', severityNumber: SeverityNumber.WARN, context: ctx, timestamp: hr(now + 11) });
  root.end(hr(now + 20));
  const traceId = root.spanContext().traceId;
  await tracerProvider.forceFlush();
  await loggerProvider.forceFlush();
  await tracerProvider.shutdown();
  await loggerProvider.shutdown();
  return { traceId, spans: 6, logs: 2 };
}

describe('issue 8: the OpenTelemetry Collector sends to Vigil unchanged', () => {
  let vigil: RunningVigil | undefined;
  let collector: RunningCollector | undefined;
  const sent = new Map<Route, { traceId: string; spans: number; logs: number }>();

  beforeAll(async () => {
    const bin = collectorBinary(); // before anything starts: a missing binary fails fast with how to build it
    vigil = await startTestVigil();
    collector = await startCollector(bin, vigil);
    for (const route of ['grpc', 'http', 'badkey'] as const) sent.set(route, await send(route, collector.ports[route]));
  });

  afterAll(async () => {
    try {
      await collector?.stop();
    } finally {
      await vigil?.stop();
    }
  });

  /** Wait for `check`; on timeout, say what the Collector warned about (export failures, retries). */
  const waitFor = <T>(what: string, check: () => Promise<T | undefined>): Promise<T> =>
    eventually(what, check, 180_000).catch((err: unknown) => {
      const lines = collector?.logLines().filter((l) => l['level'] === 'warn' || l['level'] === 'error') ?? [];
      throw new Error(`${String(err)}; the Collector's warnings and errors (${collector?.logFile}):\n${lines.map((l) => JSON.stringify(l)).join('\n').slice(-6000)}`);
    });

  /**
   * Whether the Collector retried an export of this route (e.g. the default 5 s
   * timeout passed on a loaded machine). Delivery is at-least-once: a request
   * retried after Vigil stored it is stored again, so only then may copies exist.
   */
  const retried = (route: Route): boolean => {
    const id = route === 'grpc' ? 'otlp' : 'otlphttp';
    return collector!.logLines().some((l) => l['otelcol.component.id'] === id && /retry/i.test(String(l['msg'] ?? '')));
  };

  /** The route's spans from the query API, one per span id, once all arrived. */
  const traceOf = async (route: Route): Promise<ApiSpan[]> => {
    const { traceId, spans } = sent.get(route)!;
    return waitFor(`the ${spans} spans sent through the Collector's ${route} route`, async () => {
      const res = await getJson<{ spans: ApiSpan[] }>(vigil!.queryUrl!, `/api/v1/traces/${traceId}`);
      if (res.status !== 200) return undefined;
      const unique = [...new Map(flatten(res.body.spans).map((s) => [s.span_id, s])).values()];
      return unique.length === spans ? unique : undefined;
    });
  };

  const count = async (table: 'spans' | 'logs', traceId: string): Promise<number> => {
    const ch = vigil!.clickhouse!;
    const rs = await ch.client.query({ query: `SELECT count() AS n FROM {db:Identifier}.${table} WHERE trace_id = {t:String}`, query_params: { db: ch.database, t: traceId }, format: 'JSONEachRow' });
    return Number((await rs.json<{ n: unknown }>())[0]!.n);
  };

  for (const route of ['grpc', 'http'] as const) {
    const exporter = route === 'grpc' ? 'otlp (gRPC)' : 'otlphttp';
    it(`${exporter} exporter: spans come back with typed attributes, resource, event and link intact`, async () => {
      const spans = await traceOf(route);
      const root = spans.find((s) => s.name === 'checkout')!;
      expect(root.attributes).toEqual({ 'http.status_code': 503, neg: -7, ratio: 0.125, flag: false, tags: ['a', 'b'], nums: [1, 2.5], 'looks.numeric': '42', route });
      expect(root.resource_attributes).toMatchObject({ 'service.name': `otelcol-${route}`, 'host.cpus': 8, 'deploy.canary': true, 'k8s.ratio': 0.25 });
      expect(root.events).toEqual([{ time_unix_nano: expect.any(String), name: 'retry', attributes: { retry: 2, ok: true } }]);
      expect(root.links).toEqual([{ trace_id: LINKED_TRACE, span_id: '0000000000000001', trace_state: 'lk=1', attributes: { 'link.kind': 'follows', n: 3 }, flags: expect.any(Number) }]);
      const steps = spans.filter((s) => s.name.startsWith('step ')).sort((a, b) => a.name.localeCompare(b.name));
      expect(steps.map((s) => [s.name, s.attributes['i'], s.parent_span_id])).toEqual([0, 1, 2, 3, 4].map((i) => [`step ${i}`, i, root.span_id]));
    });

    it(`${exporter} exporter: logs come back with the kvlist body as JSON and typed attributes`, async () => {
      const { traceId, logs } = sent.get(route)!;
      const records = await waitFor(`the ${logs} log records sent through the Collector's ${route} route`, async () => {
        const res = await getJson<{ logs: ApiLog[] }>(vigil!.queryUrl!, `/api/v1/logs?trace_id=${traceId}&from=now-1h`);
        return res.status === 200 && res.body.logs.length >= logs ? res.body.logs : undefined;
      });
      const byType = Object.fromEntries(records.map((r) => [r.body_type, r]));
      expect(byType['kvlist']).toMatchObject({ body: { order: 42, items: ['a', 'b'], paid: true }, attributes: { n: 5, d: 1.5, ok: true } });
      expect(byType['string']!.body).toBe('plain text');
    });

    it(`${exporter} exporter: every span and log record is stored exactly once in ClickHouse (unless the Collector retried)`, async () => {
      const { traceId, spans, logs } = sent.get(route)!;
      await traceOf(route);
      const storedLogs = await waitFor(`${route} logs in ClickHouse`, async () => {
        const n = await count('logs', traceId);
        return n >= logs ? n : undefined;
      });
      const storedSpans = await count('spans', traceId);
      if (retried(route)) {
        expect(storedSpans).toBeGreaterThanOrEqual(spans);
        expect(storedLogs).toBeGreaterThanOrEqual(logs);
      } else {
        expect([storedSpans, storedLogs]).toEqual([spans, logs]);
      }
    });
  }

  it('a wrong key: the Collector logs Unauthenticated, drops the data, and Vigil stores nothing', async () => {
    const line = await waitFor('the Collector to log the otlp_grpc/badkey export failure', async () => {
      return collector!.logLines().find((l) => l['otelcol.component.id'] === 'otlp_grpc/badkey' && /Unauthenticated/.test(String(l['error'] ?? '')));
    });
    expect(line['level']).toBe('error');
    expect(String(line['msg'])).toMatch(/dropping data/i);
    // The key's own routes delivered (so Vigil was up and answering); the rejected trace is nowhere.
    await traceOf('grpc');
    const { traceId } = sent.get('badkey')!;
    expect(await count('spans', traceId)).toBe(0);
    expect((await getJson(vigil!.queryUrl!, `/api/v1/traces/${traceId}`)).status).toBe(404);
  });
});
