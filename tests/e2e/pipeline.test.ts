/**
 * End to end on real OpenTelemetry input: the official OTel JS exporters send
 * traces and logs over http/protobuf and http/json to Vigil's ingest; records
 * go through the real Kafka broker, the Piscina processors and chDB; the query
 * API then returns every span with its attributes, the trace tree, logs by
 * trace id, a p99 within 1 % of the exact p99 of the sent durations, and cost
 * equal to the price table's for the tokens sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, trace, SpanKind, SpanStatusCode, type HrTime, type Span } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { calcPrice } from '@pydantic/genai-prices';
import type { RunningVigil } from '../../platform/lifecycle.js';
import { E2E_KEY, eventually, exactQuantile, getJson, startTestVigil } from './support.js';
import { mulberry32 as rng } from '../support/prng.js';

const SERVICE = 'e2e-checkout';
const TRACES_PER_PROTOCOL = 20;
const DB_SPANS_PER_TRACE = 8;

interface SentSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  durationMs: number;
  protocol: string;
}

interface TreeSpan {
  span_id: string;
  parent_span_id: string;
  name: string;
  service: string;
  duration_ms: number;
  status: string;
  attributes: Record<string, string>;
  resource_attributes: Record<string, string>;
  model: string;
  cost_usd: number | null;
  unpriced: boolean | number;
  children: TreeSpan[];
}

/**
 * µs since epoch (an integer) → OTel HrTime. Times are kept in integer µs:
 * epoch ms as a double resolves only ~0.24 µs, so sums of ms drift.
 */
function hr(us: number): HrTime {
  return [Math.floor(us / 1_000_000), (us % 1_000_000) * 1000];
}

function flatten(spans: TreeSpan[]): TreeSpan[] {
  return spans.flatMap((s) => [s, ...flatten(s.children)]);
}

describe('Vigil end to end with the official OpenTelemetry exporters', () => {
  let vigil: RunningVigil;
  const sent: SentSpan[] = [];
  const dbDurations: number[] = [];
  let expectedCost = 0;
  let expectedInput = 0;
  let expectedOutput = 0;
  // All spans start inside one minute, two minutes ago, so they form one latency bucket.
  const minuteStart = Math.floor(Date.now() / 60_000) * 60_000 - 120_000;

  beforeAll(async () => {
    vigil = await startTestVigil();
    const random = rng(42);
    for (const protocol of ['http/protobuf', 'http/json'] as const) {
      const headers = { Authorization: `Bearer ${E2E_KEY}` };
      const resource = resourceFromAttributes({ 'service.name': SERVICE, 'deployment.environment.name': 'e2e', 'e2e.protocol': protocol });
      const traceExporter =
        protocol === 'http/protobuf'
          ? new ProtoTraceExporter({ url: `${vigil.ingestUrl}/v1/traces`, headers })
          : new JsonTraceExporter({ url: `${vigil.ingestUrl}/v1/traces`, headers });
      const logExporter =
        protocol === 'http/protobuf'
          ? new ProtoLogExporter({ url: `${vigil.ingestUrl}/v1/logs`, headers })
          : new JsonLogExporter({ url: `${vigil.ingestUrl}/v1/logs`, headers });
      const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(traceExporter, { maxExportBatchSize: 64 })] });
      const loggerProvider = new LoggerProvider({ resource, processors: [new BatchLogRecordProcessor({ exporter: logExporter })] });
      const tracer = tracerProvider.getTracer('vigil-e2e', '1.0.0');
      const logger = loggerProvider.getLogger('vigil-e2e');

      for (let t = 0; t < TRACES_PER_PROTOCOL; t++) {
        const start = Math.round((minuteStart + random() * 40_000) * 1000); // µs
        const root: Span = tracer.startSpan('POST /checkout', { kind: SpanKind.SERVER, startTime: hr(start), attributes: { 'http.route': '/checkout', 'e2e.trace_index': t, 'e2e.protocol': protocol } });
        const rootCtx = trace.setSpan(context.active(), root);
        let cursor = start + 500;
        let rootEnd = cursor;
        for (let d = 0; d < DB_SPANS_PER_TRACE; d++) {
          // Log-normal durations, median ~20 ms, long tail; rounded to µs.
          const u1 = Math.max(random(), 1e-12);
          const u2 = random();
          const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
          const durationUs = Math.max(1, Math.round(Math.exp(Math.log(20) + 0.9 * z) * 1000));
          const durationMs = durationUs / 1000;
          const span = tracer.startSpan('db.query', { kind: SpanKind.CLIENT, startTime: hr(cursor), attributes: { 'db.system.name': 'postgresql', 'e2e.span_index': d, 'e2e.cached': d % 2 === 0 } }, rootCtx);
          span.end(hr(cursor + durationUs));
          sent.push({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId, parentSpanId: root.spanContext().spanId, name: 'db.query', durationMs, protocol });
          dbDurations.push(durationMs);
          cursor += durationUs;
        }
        // One LLM call per trace (GenAI semantic conventions); every fifth trace calls a model with no price.
        const priced = t % 5 !== 0;
        const model = priced ? 'gpt-4o-mini' : 'acme-private-llm';
        const input = 100 + Math.floor(random() * 900);
        const output = 10 + Math.floor(random() * 400);
        const cached = Math.floor(input / 4);
        const llm = tracer.startSpan(`chat ${model}`, {
          kind: SpanKind.CLIENT,
          startTime: hr(cursor),
          attributes: {
            'gen_ai.operation.name': 'chat',
            'gen_ai.provider.name': 'openai',
            'gen_ai.request.model': model,
            'gen_ai.usage.input_tokens': input,
            'gen_ai.usage.output_tokens': output,
            'gen_ai.usage.cache_read.input_tokens': cached,
            'user.id': `user-${t % 3}`,
          },
        }, rootCtx);
        const llmCtx = trace.setSpan(context.active(), llm);
        logger.emit({ body: `llm answered trace ${t}`, severityNumber: SeverityNumber.INFO, severityText: 'INFO', attributes: { 'e2e.trace_index': t }, context: llmCtx, timestamp: hr(cursor + 1000) });
        if (t % 4 === 0) {
          llm.setStatus({ code: SpanStatusCode.ERROR, message: 'rate limited' });
          logger.emit({ body: `llm call failed in trace ${t}`, severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', context: llmCtx, timestamp: hr(cursor + 2000) });
        }
        llm.end(hr(cursor + 150_000));
        sent.push({ traceId: llm.spanContext().traceId, spanId: llm.spanContext().spanId, parentSpanId: root.spanContext().spanId, name: `chat ${model}`, durationMs: 150, protocol });
        if (priced) {
          const price = calcPrice({ input_tokens: input, output_tokens: output, cache_read_tokens: cached }, model, { providerId: 'openai', timestamp: new Date(cursor / 1000) });
          expectedCost += price!.total_price;
          expectedInput += input;
          expectedOutput += output;
        }
        rootEnd = cursor + 151_000;
        root.end(hr(rootEnd));
        sent.push({ traceId: root.spanContext().traceId, spanId: root.spanContext().spanId, parentSpanId: '', name: 'POST /checkout', durationMs: (rootEnd - start) / 1000, protocol });
      }
      await tracerProvider.forceFlush();
      await loggerProvider.forceFlush();
      await tracerProvider.shutdown();
      await loggerProvider.shutdown();
    }
  });

  afterAll(async () => {
    await vigil?.stop();
  });

  it('serves every span with its attributes, nested as its trace tree, from both protocols', async () => {
    const traceIds = [...new Set(sent.map((s) => s.traceId))];
    expect(traceIds).toHaveLength(2 * TRACES_PER_PROTOCOL);
    for (const traceId of traceIds) {
      const expected = sent.filter((s) => s.traceId === traceId);
      const body = await eventually(`all ${expected.length} spans of trace ${traceId}`, async () => {
        const res = await getJson<{ spans: TreeSpan[] }>(vigil.queryUrl!, `/api/v1/traces/${traceId}`);
        return res.status === 200 && flatten(res.body.spans).length === expected.length ? res.body : undefined;
      });
      expect(body.spans).toHaveLength(1);
      const root = body.spans[0]!;
      expect(root.name).toBe('POST /checkout');
      expect(root.parent_span_id).toBe('');
      expect(root.children).toHaveLength(DB_SPANS_PER_TRACE + 1);
      expect(root.resource_attributes['service.name']).toBe(SERVICE);
      const protocol = expected[0]!.protocol;
      expect(root.resource_attributes['e2e.protocol']).toBe(protocol);
      expect(root.attributes['http.route']).toBe('/checkout');
      for (const child of root.children) {
        const want = expected.find((s) => s.spanId === child.span_id)!;
        expect(want, `span ${child.span_id} was sent`).toBeDefined();
        expect(child.parent_span_id).toBe(root.span_id);
        expect(child.service).toBe(SERVICE);
        expect(child.name).toBe(want.name);
        expect(child.duration_ms, `${want.protocol} ${want.name}`).toBeCloseTo(want.durationMs, 6);
        if (child.name === 'db.query') {
          expect(child.attributes['db.system.name']).toBe('postgresql');
          expect([true, false]).toContain(child.attributes['e2e.cached']); // typed (issue 8): a boolean, not 'true'
        }
      }
    }
  });

  it('lists the traces newest first and finds the failed LLM calls by status', async () => {
    const res = await eventually('40 traces listed', async () => {
      const r = await getJson<{ traces: Array<{ trace_id: string; start_time_unix_nano: string }> }>(
        vigil.queryUrl!,
        `/api/v1/traces?service=${SERVICE}&from=${minuteStart - 60_000}&limit=100`,
      );
      return r.body.traces?.length === 2 * TRACES_PER_PROTOCOL ? r.body.traces : undefined;
    });
    const starts = res.map((t) => BigInt(t.start_time_unix_nano));
    expect(starts).toEqual([...starts].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
    const failed = await getJson<{ traces: unknown[] }>(vigil.queryUrl!, `/api/v1/traces?service=${SERVICE}&status=error&from=${minuteStart - 60_000}&limit=100`);
    expect(failed.body.traces).toHaveLength(2 * Math.ceil(TRACES_PER_PROTOCOL / 4));
  });

  it('returns the logs of a trace, correlated by trace and span id', async () => {
    const llmSpans = sent.filter((s) => s.name.startsWith('chat '));
    for (const span of llmSpans.slice(0, 8)) {
      const logs = await eventually(`logs of trace ${span.traceId}`, async () => {
        const r = await getJson<{ logs: Array<{ body: string; trace_id: string; span_id: string; severity_text: string }> }>(
          vigil.queryUrl!,
          `/api/v1/logs?trace_id=${span.traceId}&from=${minuteStart - 60_000}`,
        );
        return r.body.logs?.length ? r.body.logs : undefined;
      });
      for (const l of logs) {
        expect(l.trace_id).toBe(span.traceId);
        expect(l.span_id).toBe(span.spanId);
        expect(l.body).toMatch(/^llm (answered|call failed in) trace \d+$/);
      }
    }
    const errors = await getJson<{ logs: unknown[] }>(vigil.queryUrl!, `/api/v1/logs?service=${SERVICE}&severity=error&from=${minuteStart - 60_000}&limit=100`);
    expect(errors.body.logs).toHaveLength(2 * Math.ceil(TRACES_PER_PROTOCOL / 4));
  });

  it('gives a p99 from the stored DDSketches within 1 % of the exact p99 of the sent durations', async () => {
    const q = `/api/v1/metrics/latency?service=${SERVICE}&operation=db.query&from=${minuteStart}&to=${minuteStart + 60_000}&step=60`;
    const point = await eventually('latency point covering every db.query span', async () => {
      const r = await getJson<{ points: Array<{ count: number; p50_ms: number; p95_ms: number; p99_ms: number }> }>(vigil.queryUrl!, q);
      const p = r.body.points?.[0];
      return r.body.points?.length === 1 && p!.count === dbDurations.length ? p : undefined;
    });
    for (const [q2, got] of [[0.5, point.p50_ms], [0.95, point.p95_ms], [0.99, point.p99_ms]] as const) {
      const exact = exactQuantile(dbDurations, q2);
      expect(Math.abs(got - exact) / exact, `p${q2 * 100}: got ${got}, exact ${exact}`).toBeLessThanOrEqual(0.01);
    }
  });

  it('prices the LLM calls exactly as the price table does, and flags the unknown model', async () => {
    const q = `/api/v1/metrics/cost?service=${SERVICE}&group_by=model&from=${minuteStart}&to=${minuteStart + 60_000}&step=60`;
    const points = await eventually('cost points for both models', async () => {
      const r = await getJson<{ points: Array<{ group: string; cost_usd: number; input_tokens: number; output_tokens: number; unpriced_spans: number; spans: number }> }>(vigil.queryUrl!, q);
      const llmPoints = (r.body.points ?? []).filter((p) => p.group !== '');
      const spans = llmPoints.reduce((n, p) => n + p.spans, 0);
      return spans === 2 * TRACES_PER_PROTOCOL ? llmPoints : undefined;
    });
    const priced = points.find((p) => p.group === 'gpt-4o-mini')!;
    const unknown = points.find((p) => p.group === 'acme-private-llm')!;
    expect(priced.cost_usd).toBeCloseTo(expectedCost, 12);
    expect(priced.input_tokens).toBe(expectedInput);
    expect(priced.output_tokens).toBe(expectedOutput);
    expect(priced.unpriced_spans).toBe(0);
    expect(unknown.unpriced_spans).toBe(unknown.spans);
    expect(unknown.cost_usd).toBeNull(); // every span unpriced: null, not 0 (issue 8)
    // The span itself carries NULL cost, never 0.
    const unknownSpan = sent.find((s) => s.name === 'chat acme-private-llm')!;
    const tree = await getJson<{ spans: TreeSpan[] }>(vigil.queryUrl!, `/api/v1/traces/${unknownSpan.traceId}`);
    const llm = flatten(tree.body.spans).find((s) => s.span_id === unknownSpan.spanId)!;
    expect(llm.cost_usd).toBeNull();
    expect(Boolean(llm.unpriced)).toBe(true);
  });
});
