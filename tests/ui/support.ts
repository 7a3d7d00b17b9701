/**
 * Support of the dashboard browser tests: the dashboard build, a whole Vigil
 * (real Kafka, chDB, Postgres; with the alerting role so that alerts fire),
 * telemetry sent with the official OpenTelemetry SDK, and Debian's Chromium
 * driven by playwright-core (which never downloads a browser).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { context, trace, SpanKind, SpanStatusCode, type HrTime, type Link, type Span, type SpanContext } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { chromium, type Browser } from 'playwright-core';
import { loadConfig } from '../../platform/config.js';
import { createLogger } from '../../platform/logger.js';
import { startVigil, type RunningVigil } from '../../platform/lifecycle.js';
import { E2E_KEY } from '../e2e/support.js';
import { createTestDatabase, kafkaBrokers, tempDir, uniqueName } from '../support/harness.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'ui');
export { E2E_KEY };

/** Build the dashboards if their sources changed (scripts/build-ui.mjs, as npm start does). */
export function buildUi(): void {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-ui.mjs')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * Vigil as tests/e2e/support.ts startTestVigil starts it (every value the
 * same), plus the alerting role with a 1 s tick so that a rule created by the
 * test fires and its alert can be acknowledged in the browser.
 */
export async function startUiVigil(): Promise<RunningVigil> {
  const config = loadConfig({
    VIGIL_DATA_DIR: tempDir('ui'),
    VIGIL_INGEST_PORT: '0',
    VIGIL_QUERY_PORT: '0',
    VIGIL_LOG_LEVEL: process.env['VIGIL_TEST_LOG_LEVEL'] ?? 'silent',
    VIGIL_API_KEY: E2E_KEY,
    KAFKA_BROKERS: kafkaBrokers().join(','),
    VIGIL_KAFKA_TOPIC_SPANS: uniqueName('ui_spans'),
    VIGIL_KAFKA_TOPIC_LOGS: uniqueName('ui_logs'),
    VIGIL_KAFKA_CONSUMER_GROUP: uniqueName('ui_group'),
    VIGIL_KAFKA_PARTITIONS: '3',
    VIGIL_WORKER_THREADS: '2',
    VIGIL_ALERTS_TICK_MS: '1000',
    DATABASE_URL: await createTestDatabase(),
  });
  return startVigil(config, createLogger(config.logLevel), { roles: ['ingest', 'processor', 'query', 'alerts'], embedded: true, demo: false });
}

/** Debian's Chromium (apt-get install -y chromium); CHROMIUM_PATH overrides. */
export function chromiumPath(): string {
  const candidates = [process.env['CHROMIUM_PATH'], '/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
  const found = candidates.find((p) => fs.existsSync(p));
  if (found === undefined) throw new Error(`Chromium not found (looked at ${candidates.join(', ')}): install it with "apt-get install -y chromium" (the browser tests need it; see README "Tests")`);
  return found;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // --no-sandbox: the tests may run as root (CI); the browser only loads the local Vigil.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

/** µs since the epoch → OTel HrTime. */
export function hr(us: number): HrTime {
  const u = Math.round(us);
  return [Math.floor(u / 1_000_000), (u % 1_000_000) * 1000];
}

/** An OTel SDK tracer and logger exporting over OTLP/HTTP protobuf to Vigil, for one service. */
export function otel(ingestUrl: string, service: string) {
  const headers = { Authorization: `Bearer ${E2E_KEY}` };
  const resource = resourceFromAttributes({ 'service.name': service, 'deployment.environment.name': 'ui-test' });
  const tracerProvider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${ingestUrl}/v1/traces`, headers }), { maxQueueSize: 20_000, maxExportBatchSize: 2000, scheduledDelayMillis: 200 })],
  });
  const loggerProvider = new LoggerProvider({
    resource,
    processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${ingestUrl}/v1/logs`, headers }), scheduledDelayMillis: 100 })],
  });
  return {
    tracer: tracerProvider.getTracer('vigil-ui-test', '1.0.0'),
    logger: loggerProvider.getLogger('vigil-ui-test'),
    async flush(): Promise<void> {
      await tracerProvider.forceFlush();
      await loggerProvider.forceFlush();
    },
    async shutdown(): Promise<void> {
      await tracerProvider.shutdown();
      await loggerProvider.shutdown();
    },
  };
}

export type Otel = ReturnType<typeof otel>;

/** The attacker-controlled string of the XSS probe: executes `window.__xss = 1` if it is ever parsed as HTML. */
export const XSS = '<img src=x onerror="window.__xss=(window.__xss||0)+1"><script>window.__xss=1</script>';

/** The known trace: name, parent name and depth of each span in the waterfall's order. */
export const KNOWN_ORDER = [
  { name: 'GET /checkout', depth: 0 },
  { name: 'auth.verify', depth: 1 },
  { name: 'db.query users', depth: 2 },
  { name: 'chat gpt-4o-mini', depth: 1 },
  { name: 'POST api.openai.com', depth: 2 },
  { name: 'payment.charge', depth: 1 },
  { name: 'db.query payments', depth: 2 },
];
/** Spans of the known trace on its critical path. */
export const KNOWN_CRITICAL = ['GET /checkout', 'chat gpt-4o-mini', 'POST api.openai.com', 'payment.charge', 'db.query payments'];

export interface Seeded {
  knownTraceId: string;
  /** The known trace's root span context (to send logs "of" it later). */
  knownRoot: SpanContext;
  xssTraceId: string;
  bigTraceId: string;
  bigSpans: number;
  /** Spans sent in all (for waiting until every one is stored). */
  spans: number;
  logs: number;
}

/**
 * Send the test's telemetry, all in closed minutes before now: the known
 * trace (nesting, an error, an LLM call with events and a link, logs), the
 * XSS probe as a service name, span name, attribute, event name and log body,
 * a 10,000-span trace, spans of an unpriced model and of a flag's variants.
 */
export async function seed(shop: Otel, xss: Otel, nowMs: number): Promise<Seeded> {
  const t0 = (Math.floor(nowMs / 60_000) * 60_000 - 90_000) * 1000; // µs, in a closed minute
  let spans = 0;
  let logs = 0;
  const { tracer, logger } = shop;
  const child = (parent: Span, name: string, startMs: number, _durMs: number, attributes: Record<string, string | number | boolean> = {}, kind = SpanKind.INTERNAL, links: Link[] = []): Span => {
    const s = tracer.startSpan(name, { kind, startTime: hr(t0 + startMs * 1000), attributes, links }, trace.setSpan(context.active(), parent));
    spans++;
    return s;
  };
  const end = (s: Span, startMs: number, durMs: number): void => s.end(hr(t0 + (startMs + durMs) * 1000));

  // XSS probe: its own service (service.name is attacker-controlled too).
  const x = xss.tracer.startSpan(XSS, { kind: SpanKind.SERVER, startTime: hr(t0), attributes: { 'user.comment': XSS, 'http.route': '/x' } });
  spans++;
  x.addEvent(XSS, { detail: XSS }, hr(t0 + 1000));
  xss.logger.emit({ body: `probe ${XSS}`, severityNumber: SeverityNumber.WARN, severityText: 'WARN', attributes: { note: XSS }, context: trace.setSpan(context.active(), x), timestamp: hr(t0 + 2000) });
  logs++;
  x.end(hr(t0 + 5000));
  const xssTraceId = x.spanContext().traceId;

  // The known trace (times in ms from t0): A and B overlap, so A is not on the critical path.
  const root = tracer.startSpan('GET /checkout', { kind: SpanKind.SERVER, startTime: hr(t0), attributes: { 'http.route': '/checkout', 'http.response.status_code': 500, 'ui.retry': false, 'ui.ratio': 0.25 } });
  spans++;
  const a = child(root, 'auth.verify', 10, 30);
  const a1 = child(a, 'db.query users', 12, 20, { 'db.system.name': 'postgresql' }, SpanKind.CLIENT);
  end(a1, 12, 20);
  end(a, 10, 30);
  const b = child(root, 'chat gpt-4o-mini', 20, 200, {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': 'gpt-4o-mini',
    'gen_ai.usage.input_tokens': 1200,
    'gen_ai.usage.output_tokens': 300,
    'user.id': 'user-1',
  }, SpanKind.CLIENT, [{ context: x.spanContext(), attributes: { 'link.reason': 'probe' } }]);
  b.addEvent('gen_ai.choice', { 'gen_ai.response.finish_reason': 'stop', index: 0 }, hr(t0 + 210_000));
  const b1 = child(b, 'POST api.openai.com', 25, 190, { 'http.request.method': 'POST' }, SpanKind.CLIENT);
  end(b1, 25, 190);
  logger.emit({ body: 'model answered', severityNumber: SeverityNumber.INFO, severityText: 'INFO', context: trace.setSpan(context.active(), b), timestamp: hr(t0 + 215_000) });
  logs++;
  end(b, 20, 200);
  const c = child(root, 'payment.charge', 230, 150);
  const c1 = child(c, 'db.query payments', 240, 100, { 'db.system.name': 'postgresql' }, SpanKind.CLIENT);
  end(c1, 240, 100);
  c.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
  logger.emit({ body: 'payment declined for order 42', severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', context: trace.setSpan(context.active(), c), timestamp: hr(t0 + 370_000) });
  logs++;
  end(c, 230, 150);
  root.setStatus({ code: SpanStatusCode.ERROR, message: 'payment failed' });
  end(root, 0, 400);
  const knownTraceId = root.spanContext().traceId;

  // Flag variants and an unpriced model, one trace each.
  for (let i = 0; i < 40; i++) {
    const on = i % 2 === 0;
    const s = tracer.startSpan('POST /chat', {
      kind: SpanKind.SERVER,
      startTime: hr(t0 + (1000 + i * 50) * 1000),
      attributes: { 'feature_flag.key': 'ui.new-chat', 'feature_flag.result.variant': on ? 'on' : 'off', 'feature_flag.provider.name': 'Vigil' },
    });
    spans++;
    const m = child(s, on ? 'chat acme-private-llm' : 'chat gpt-4o-mini', 1000 + i * 50 + 1, 10, {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': on ? 'acme' : 'openai',
      'gen_ai.request.model': on ? 'acme-private-llm' : 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': 100,
      'gen_ai.usage.output_tokens': 20,
    }, SpanKind.CLIENT);
    end(m, 1000 + i * 50 + 1, 10);
    if (i % 10 === 3) s.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    s.end(hr(t0 + (1000 + i * 50 + (on ? 30 : 15)) * 1000));
  }

  // A 10,000-span trace: root → 99 stages → 100 steps each.
  const big = tracer.startSpan('batch import', { kind: SpanKind.SERVER, startTime: hr(t0) });
  spans++;
  let bigSpans = 1;
  for (let i = 0; i < 99; i++) {
    const stage = child(big, `stage ${i}`, i * 10, 10);
    bigSpans++;
    for (let j = 0; j < 100; j++) {
      const step = child(stage, `step ${i}.${j}`, i * 10 + j * 0.1, 0.1);
      end(step, i * 10 + j * 0.1, 0.1);
      bigSpans++;
    }
    end(stage, i * 10, 10);
  }
  big.end(hr(t0 + 1_000_000));
  await Promise.all([shop.flush(), xss.flush()]);
  return { knownTraceId, knownRoot: root.spanContext(), xssTraceId, bigTraceId: big.spanContext().traceId, bigSpans, spans, logs };
}
