/**
 * The benchmarks' realistic OTLP workload, shared by bench/ingest.ts and
 * bench:e2e (bench/e2e/request.ts): 10 traces × 10 spans (a SERVER root and 9
 * CLIENT children) made by the OpenTelemetry SDK and read back from an
 * InMemorySpanExporter; ~20 attributes per span; every third child an LLM
 * call with 10 gen_ai.* attributes; one event per trace.
 */
import { SpanKind, SpanStatusCode, context, trace, type Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** Traces per request. */
export const TRACES_PER_REQUEST = 10;
/** Spans per trace. */
export const SPANS_PER_TRACE = 10;
/** Spans per request. */
export const SPANS_PER_REQUEST = TRACES_PER_REQUEST * SPANS_PER_TRACE;


const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet-20241022', 'gemini-1.5-pro'];
const SYSTEMS: Record<string, string> = { 'gpt-4o': 'openai', 'gpt-4o-mini': 'openai', 'claude-3-5-sonnet-20241022': 'anthropic', 'gemini-1.5-pro': 'gcp.gemini' };

export function attributesFor(t: number, i: number): Record<string, string | number | boolean | string[]> {
  const base: Record<string, string | number | boolean | string[]> = {
    'http.request.method': i % 2 ? 'POST' : 'GET',
    'http.route': `/api/v1/orders/:id/items`,
    'url.full': `https://shop.example.com/api/v1/orders/${1000 + t}/items?page=${i}`,
    'http.response.status_code': i % 17 === 0 ? 500 : 200,
    'server.address': 'shop.example.com',
    'server.port': 443,
    'network.protocol.version': '1.1',
    'user_agent.original': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
    'client.address': `10.0.${t}.${i}`,
    'enduser.id': `user-${(t * 31 + i) % 997}`,
    'app.tenant': 'acme-corp',
    'app.region': 'eu-west-1',
    'app.retry': i % 5 === 0,
    'app.items': ['sku-1', 'sku-2', 'sku-3'],
    'db.system': 'postgresql',
    'db.query.text': 'SELECT id, price, qty FROM order_items WHERE order_id = $1 ORDER BY id LIMIT 100',
    'code.function.name': `handler${i}`,
    'code.file.path': '/srv/app/src/routes/orders.ts',
    'thread.id': i,
    'deployment.environment.name': 'production',
  };
  if (i > 0 && i % 3 === 0) {
    const model = MODELS[(t + i) % MODELS.length]!;
    Object.assign(base, {
      'gen_ai.operation.name': 'chat',
      'gen_ai.system': SYSTEMS[model]!,
      'gen_ai.provider.name': SYSTEMS[model]!,
      'gen_ai.request.model': model,
      'gen_ai.response.model': model,
      'gen_ai.request.temperature': 0.2,
      'gen_ai.request.max_tokens': 1024,
      'gen_ai.usage.input_tokens': 800 + 37 * i,
      'gen_ai.usage.output_tokens': 120 + 11 * i,
      'gen_ai.response.finish_reasons': ['stop'],
    });
  }
  return base;
}

export function makeSpans(): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'checkout',
      'service.version': '1.4.2',
      'service.instance.id': 'checkout-7f9c-1',
      'telemetry.sdk.language': 'nodejs',
      'host.name': 'bench-host',
    }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer: Tracer = provider.getTracer('bench', '1.0.0');
  const base = Date.now() - 60_000;
  for (let t = 0; t < TRACES_PER_REQUEST; t++) {
    const t0 = base + t * 1_000;
    const root = tracer.startSpan(`POST /api/v1/orders`, { kind: SpanKind.SERVER, startTime: t0, attributes: attributesFor(t, 0) });
    const ctx = trace.setSpan(context.active(), root);
    for (let i = 1; i < SPANS_PER_TRACE; i++) {
      const llm = i % 3 === 0;
      const child = tracer.startSpan(llm ? `chat ${MODELS[(t + i) % MODELS.length]}` : `SELECT order_items ${i}`, {
        kind: SpanKind.CLIENT,
        startTime: t0 + i * 20,
        attributes: attributesFor(t, i),
      }, ctx);
      if (i === 7) child.addEvent('retry', { attempt: 1 }, t0 + i * 20 + 5);
      if (i % 17 === 0) child.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
      child.end(t0 + i * 20 + (llm ? 900 : 15));
    }
    root.setStatus({ code: SpanStatusCode.OK });
    root.end(t0 + 950);
  }
  const spans = exporter.getFinishedSpans();
  if (spans.length !== SPANS_PER_REQUEST) throw new Error(`expected ${SPANS_PER_REQUEST} spans, got ${spans.length}`);
  return spans;
}
