/**
 * Issue 8, "Fidelity of what is stored" and "Intake every exporter can use",
 * end to end on a whole Vigil (real Kafka, Piscina, chDB, Postgres):
 * - the official OTel JS exporters (http/protobuf, http/json) send spans with
 *   int, double, bool, array and bytes attributes, links with trace state and
 *   attributes, more events / links / attributes than the SDK limits (dropped
 *   counts), a remote parent with trace state, and logs with structured and
 *   numeric bodies; the trace API returns every value with its type, the links
 *   and the dropped counts; the logs API returns the bodies as JSON values; the
 *   typed columns compare numerically in ClickHouse;
 * - the official OTel JS gRPC exporters (gzip) send to the OTLP/gRPC port
 *   unchanged and every span and log record is stored exactly once.
 */
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, trace, SpanKind, TraceFlags, type Attributes, type HrTime } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import type { RunningVigil } from '../../platform/lifecycle.js';
import { E2E_KEY, eventually, getJson, startTestVigil } from './support.js';

type Protocol = 'http/protobuf' | 'http/json' | 'grpc';

interface ApiSpan {
  span_id: string;
  name: string;
  attributes: Record<string, unknown>;
  resource_attributes: Record<string, unknown>;
  events: Array<{ name: string; attributes: Record<string, unknown> }>;
  links: Array<{ trace_id: string; span_id: string; trace_state: string; attributes: Record<string, unknown> }>;
  trace_state: string;
  parent_span_id: string;
  dropped_attributes_count: number;
  dropped_events_count: number;
  dropped_links_count: number;
  children: ApiSpan[];
}

interface ApiLog {
  body: unknown;
  body_type: string;
  attributes: Record<string, unknown>;
  event_name: string;
  trace_id: string;
}

const REMOTE_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const REMOTE_PARENT = '00f067aa0ba902b7';
const LINKED = ['0af7651916cd43dd8448eb211c80319c', '5b8efff798038103d269b633813fc60c', 'a3ce929d0e0e47364bf92f3577b34da6'];

const hr = (ms: number): HrTime => [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];
const flatten = (spans: ApiSpan[]): ApiSpan[] => spans.flatMap((s) => [s, ...flatten(s.children)]);

/**
 * The OTel JS API accepts no bytes attribute values (its sanitizer drops a
 * Uint8Array), but the official exporters encode one as AnyValue.bytesValue:
 * add `blob` to the finished 'typed' span on its way into the real exporter.
 */
function withBytes(inner: SpanExporter): SpanExporter {
  return {
    export: (spans, done) => {
      for (const s of spans) if (s.name === 'typed') (s.attributes as Record<string, unknown>)['blob'] = new Uint8Array([1, 2, 3]);
      inner.export(spans, done);
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}

function exporters(protocol: Protocol, vigil: RunningVigil): { traces: SpanExporter; logs: LogRecordExporter } {
  const headers = { Authorization: `Bearer ${E2E_KEY}` };
  if (protocol === 'grpc') {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${E2E_KEY}`);
    const opts = { url: vigil.grpcUrl!, metadata, compression: 'gzip' as never };
    return { traces: new GrpcTraceExporter(opts), logs: new GrpcLogExporter(opts) };
  }
  if (protocol === 'http/protobuf') {
    return { traces: new ProtoTraceExporter({ url: `${vigil.ingestUrl}/v1/traces`, headers }), logs: new ProtoLogExporter({ url: `${vigil.ingestUrl}/v1/logs`, headers }) };
  }
  return { traces: new JsonTraceExporter({ url: `${vigil.ingestUrl}/v1/traces`, headers }), logs: new JsonLogExporter({ url: `${vigil.ingestUrl}/v1/logs`, headers }) };
}

/** Send one trace (a remote parent, a typed span, a span over the attribute limit, 20 plain spans) and logs; returns the trace id. */
async function send(protocol: Protocol, vigil: RunningVigil): Promise<{ traceId: string; spans: number; logs: number }> {
  const service = `fidelity-${protocol}`;
  const { traces, logs } = exporters(protocol, vigil);
  const resource = resourceFromAttributes({ 'service.name': service, 'host.cpus': 8, 'deploy.canary': true, 'k8s.ratio': 0.25 });
  const tracerProvider = new BasicTracerProvider({
    resource,
    spanLimits: { attributeCountLimit: 12, linkCountLimit: 2, eventCountLimit: 1 },
    spanProcessors: [new BatchSpanProcessor(withBytes(traces))],
  });
  const loggerProvider = new LoggerProvider({ resource, processors: [new BatchLogRecordProcessor({ exporter: logs })] });
  const tracer = tracerProvider.getTracer('fidelity', '1.2.3');
  const logger = loggerProvider.getLogger('fidelity');
  const now = Date.now() - 60_000;

  const parent = trace.setSpanContext(context.active(), {
    traceId: REMOTE_TRACE.slice(0, 30) + (protocol === 'grpc' ? '01' : protocol === 'http/json' ? '02' : '03'),
    spanId: REMOTE_PARENT,
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: new TraceState('vendor=fidelity,other=1'),
  });
  const links = LINKED.map((traceId, i) => ({
    context: { traceId, spanId: `${i + 1}`.padStart(16, '0'), traceFlags: TraceFlags.SAMPLED, traceState: new TraceState(`lk=${i}`) },
    attributes: { 'link.kind': 'follows', n: i + 3 },
  }));
  const typed = tracer.startSpan('typed', {
    kind: SpanKind.SERVER,
    startTime: hr(now),
    links,
    attributes: {
      'http.status_code': 503,
      neg: -7,
      ratio: 0.125,
      flag: false,
      tags: ['a', 'b'],
      nums: [1, 2.5],
      'looks.numeric': '42',
    },
  }, parent);
  // The SDK keeps the newest eventCountLimit events: the first one is dropped.
  typed.addEvent('dropped-by-the-sdk', {}, hr(now + 1));
  typed.addEvent('retry', { retry: 2, ok: true }, hr(now + 2));
  const attrs: Attributes = {};
  for (let i = 0; i < 15; i++) attrs[`a${i}`] = i;
  const limited = tracer.startSpan('limited', { startTime: hr(now + 3), attributes: attrs }, trace.setSpan(context.active(), typed));
  limited.end(hr(now + 4));
  for (let i = 0; i < 20; i++) tracer.startSpan(`plain ${i}`, { startTime: hr(now + 5 + i) }, trace.setSpan(context.active(), typed)).end(hr(now + 6 + i));
  const traceId = typed.spanContext().traceId;
  const ctx = trace.setSpan(context.active(), typed);
  logger.emit({ body: { order: 42, items: ['a', 'b'], paid: true }, severityNumber: SeverityNumber.INFO, attributes: { n: 5, d: 1.5, ok: true }, eventName: 'checkout.done', context: ctx, timestamp: hr(now + 30) });
  logger.emit({ body: 7, severityNumber: SeverityNumber.WARN, context: ctx, timestamp: hr(now + 31) });
  logger.emit({ body: 'plain text', severityNumber: SeverityNumber.INFO, context: ctx, timestamp: hr(now + 32) });
  typed.end(hr(now + 50));
  await tracerProvider.forceFlush();
  await loggerProvider.forceFlush();
  await tracerProvider.shutdown();
  await loggerProvider.shutdown();
  return { traceId, spans: 22, logs: 3 };
}

describe('issue 8: typed attributes, links, dropped counts, structured bodies; OTLP/gRPC intake', () => {
  let vigil: RunningVigil;
  const sent = new Map<Protocol, { traceId: string; spans: number; logs: number }>();

  beforeAll(async () => {
    vigil = await startTestVigil();
    expect(vigil.grpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    for (const protocol of ['http/protobuf', 'http/json', 'grpc'] as const) sent.set(protocol, await send(protocol, vigil));
  });

  afterAll(async () => {
    await vigil?.stop();
  });

  const traceOf = async (protocol: Protocol): Promise<ApiSpan[]> => {
    const { traceId, spans } = sent.get(protocol)!;
    return eventually(`the ${spans} spans of the ${protocol} trace`, async () => {
      const res = await getJson<{ spans: ApiSpan[] }>(vigil.queryUrl!, `/api/v1/traces/${traceId}`);
      return res.status === 200 && flatten(res.body.spans).length === spans ? flatten(res.body.spans) : undefined;
    });
  };

  for (const protocol of ['http/protobuf', 'http/json', 'grpc'] as const) {
    it(`${protocol}: every attribute comes back with its type, links and dropped counts are kept`, async () => {
      const spans = await traceOf(protocol);
      const typed = spans.find((s) => s.name === 'typed')!;
      expect(typed.attributes).toEqual({
        'http.status_code': 503,
        neg: -7,
        ratio: 0.125,
        flag: false,
        tags: ['a', 'b'],
        nums: [1, 2.5],
        blob: Buffer.from([1, 2, 3]).toString('base64'),
        'looks.numeric': '42',
      });
      expect(typed.resource_attributes).toMatchObject({ 'service.name': `fidelity-${protocol}`, 'host.cpus': 8, 'deploy.canary': true, 'k8s.ratio': 0.25 });
      expect(typed.parent_span_id).toBe(REMOTE_PARENT);
      expect(typed.trace_state).toBe('vendor=fidelity,other=1');
      // The SDK keeps the newest linkCountLimit links (here the last 2 of 3).
      expect(typed.links).toEqual(
        LINKED.map((traceId, i) => ({
          trace_id: traceId,
          span_id: `${i + 1}`.padStart(16, '0'),
          trace_state: `lk=${i}`,
          attributes: { 'link.kind': 'follows', n: i + 3 },
          flags: expect.any(Number),
        })).slice(1),
      );
      expect(typed.dropped_links_count).toBe(1);
      expect(typed.events).toEqual([{ time_unix_nano: expect.any(String), name: 'retry', attributes: { retry: 2, ok: true } }]);
      expect(typed.dropped_events_count).toBe(1);
      const limited = spans.find((s) => s.name === 'limited')!;
      expect(Object.keys(limited.attributes)).toHaveLength(12);
      expect(limited.dropped_attributes_count).toBe(3);
      expect(spans.find((s) => s.name === 'plain 0')!.dropped_attributes_count).toBe(0);
    });
  }

  it('typed columns compare numerically in ClickHouse (not as strings)', async () => {
    await Promise.all((['http/protobuf', 'http/json', 'grpc'] as const).map(traceOf));
    const ch = vigil.clickhouse!;
    const rs = await ch.client.query({
      query: `SELECT service, attributes_int['http.status_code'] AS code, attributes_float['ratio'] AS ratio, attributes_bool['flag'] AS flag, resource_attributes_int['host.cpus'] AS cpus
              FROM {db:Identifier}.spans
              WHERE service LIKE 'fidelity-%' AND attributes_int['http.status_code'] >= 500 AND attributes_float['ratio'] < 0.2 AND resource_attributes_int['host.cpus'] > 7
              ORDER BY service`,
      query_params: { db: ch.database },
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ service: string; code: unknown; ratio: number; flag: unknown; cpus: unknown }>();
    expect(rows.map((r) => [r.service, Number(r.code), r.ratio, Number(r.flag), Number(r.cpus)])).toEqual([
      ['fidelity-grpc', 503, 0.125, 0, 8],
      ['fidelity-http/json', 503, 0.125, 0, 8],
      ['fidelity-http/protobuf', 503, 0.125, 0, 8],
    ]);
    // '10' > '9' is false as strings; as Int64 it is true: the typed map, not the string map.
    const lexical = await ch.client.query({
      query: `SELECT countIf(attributes_int['a10'] > 9) AS typed, countIf(attributes['a10'] > '9') AS strings FROM {db:Identifier}.spans WHERE service LIKE 'fidelity-%' AND name = 'limited'`,
      query_params: { db: ch.database },
      format: 'JSONEachRow',
    });
    const [counts] = await lexical.json<{ typed: unknown; strings: unknown }>();
    expect([Number(counts!.typed), Number(counts!.strings)]).toEqual([3, 0]);
  });

  for (const protocol of ['http/protobuf', 'http/json', 'grpc'] as const) {
    it(`${protocol}: log bodies come back as JSON values (kvlist → object, int → number), attributes typed`, async () => {
      const { traceId, logs } = sent.get(protocol)!;
      const records = await eventually(`the ${logs} ${protocol} log records`, async () => {
        const res = await getJson<{ logs: ApiLog[] }>(vigil.queryUrl!, `/api/v1/logs?trace_id=${traceId}&from=now-1h`);
        return res.status === 200 && res.body.logs.length === logs ? res.body.logs : undefined;
      });
      const byType = Object.fromEntries(records.map((r) => [r.body_type, r]));
      expect(byType['kvlist']).toMatchObject({ body: { order: 42, items: ['a', 'b'], paid: true }, attributes: { n: 5, d: 1.5, ok: true }, event_name: 'checkout.done' });
      expect(byType['int']!.body).toBe(7);
      expect(byType['string']!.body).toBe('plain text');
    });
  }

  it('OTLP/gRPC from the OTel JS gRPC exporters: every span and log record stored exactly once', async () => {
    const { traceId, spans, logs } = sent.get('grpc')!;
    await traceOf('grpc');
    const ch = vigil.clickhouse!;
    const count = async (table: string): Promise<number> => {
      const rs = await ch.client.query({ query: `SELECT count() AS n FROM {db:Identifier}.${table} WHERE trace_id = {t:String}`, query_params: { db: ch.database, t: traceId }, format: 'JSONEachRow' });
      return Number((await rs.json<{ n: unknown }>())[0]!.n);
    };
    expect(await count('spans')).toBe(spans);
    expect(await eventually('grpc logs', async () => ((await count('logs')) === logs ? logs : undefined))).toBe(logs);
  });
});
