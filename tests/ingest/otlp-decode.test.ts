import { describe, expect, it } from 'vitest';
import { DecodeError, decodeLogsJson, decodeLogsProtobuf, decodeTracesJson, decodeTracesProtobuf } from '../../ingest/otlp/decode.js';
import { validateTraces } from '../../ingest/otlp/validate.js';
import { BIG_NS, RECENT_NS, SPAN_1, SPAN_2, TRACE_A, logsJson, logsProtobuf, tracesJson, tracesProtobuf } from './fixtures.js';

const utf8 = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

describe('OTLP decoding', () => {
  it('protobuf and JSON traces decode to the same OTLP JSON shapes', () => {
    const req = tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }, { traceId: TRACE_A, spanId: SPAN_2, parentSpanId: SPAN_1 }]);
    const fromPb = decodeTracesProtobuf(tracesProtobuf(req));
    const fromJson = decodeTracesJson(utf8(req));
    expect(fromPb).toEqual(fromJson);
    const span = fromPb.resourceSpans[0]!.scopeSpans[0]!.spans[1]!;
    expect(span.traceId).toBe(TRACE_A);
    expect(span.parentSpanId).toBe(SPAN_1);
    expect(span.startTimeUnixNano).toBe(RECENT_NS);
    expect(span.attributes).toContainEqual({ key: 'http.status_code', value: { intValue: '200' } });
    expect(span.attributes).toContainEqual({ key: 'blob', value: { bytesValue: Buffer.from('hi').toString('base64') } });
    expect(fromPb.resourceSpans[0]!.scopeSpans[0]!.scope).toEqual({ name: 'test-scope', version: '1.0.0' });
  });

  it('fixed64 timestamps above 2^53 keep every digit (protobuf and JSON)', () => {
    const req = tracesJson([{ traceId: TRACE_A, spanId: SPAN_1, start: BIG_NS, end: BIG_NS }]);
    expect(decodeTracesProtobuf(tracesProtobuf(req)).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.endTimeUnixNano).toBe(BIG_NS);
    expect(decodeTracesJson(utf8(req)).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.endTimeUnixNano).toBe(BIG_NS);
  });

  it('JSON accepts upper-case hex ids and int64 as numbers', () => {
    const req = tracesJson([{ traceId: TRACE_A.toUpperCase(), spanId: SPAN_1.toUpperCase() }]);
    const span = (req.resourceSpans as Array<any>)[0].scopeSpans[0].spans[0];
    span.startTimeUnixNano = 1_700_000_000_000_000;
    span.endTimeUnixNano = 1_700_000_000_000_001;
    const out = decodeTracesJson(utf8(req)).resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(out.traceId).toBe(TRACE_A);
    expect(out.spanId).toBe(SPAN_1);
    expect(out.startTimeUnixNano).toBe('1700000000000000');
  });

  it('logs: protobuf and JSON agree; optional ids stay absent', () => {
    const req = logsJson([
      { timeUnixNano: '1700000000000000001', severityNumber: 9, severityText: 'INFO', body: { stringValue: 'hello' }, traceId: TRACE_A, spanId: SPAN_1, eventName: 'e' },
      { observedTimeUnixNano: '1700000000000000002', body: { kvlistValue: { values: [{ key: 'k', value: { doubleValue: 1.5 } }] } } },
    ]);
    const fromPb = decodeLogsProtobuf(logsProtobuf(req));
    expect(fromPb).toEqual(decodeLogsJson(utf8(req)));
    const [a, b] = fromPb.resourceLogs[0]!.scopeLogs[0]!.logRecords;
    expect(a).toMatchObject({ traceId: TRACE_A, spanId: SPAN_1, severityNumber: 9, eventName: 'e', body: { stringValue: 'hello' } });
    expect(b!.traceId).toBeUndefined();
    expect(b!.timeUnixNano).toBe('0');
  });

  it('undecodable bodies raise DecodeError naming the problem', () => {
    expect(() => decodeTracesProtobuf(Buffer.from([0x0a, 0xff, 0xff, 0xff]))).toThrow(DecodeError);
    expect(() => decodeTracesJson(Buffer.from('{not json'))).toThrow(/not valid JSON/);
    expect(() => decodeTracesJson(utf8({ resourceSpans: {} }))).toThrow(/resourceSpans: must be an array/);
    expect(() => decodeTracesJson(utf8({ resourceSpans: [{ scopeSpans: [{ spans: [{ kind: 'SPAN_KIND_SERVER' }] }] }] }))).toThrow(
      /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.kind: must be an integer/,
    );
  });

  it('int64 values outside the int64 range are rejected by path (they cannot be stored)', () => {
    const span = (v: unknown) => utf8({ resourceSpans: [{ scopeSpans: [{ spans: [{ attributes: [{ key: 'n', value: { intValue: v } }] }] }] }] });
    expect(() => decodeTracesJson(span('9223372036854775808'))).toThrow(/spans\[0\]\.attributes\[0\]\.value\.intValue: must be an integer within the int64 range/);
    expect(() => decodeTracesJson(span('-9223372036854775809'))).toThrow(/int64 range/);
    expect(decodeTracesJson(span('-9223372036854775808')).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes).toEqual([{ key: 'n', value: { intValue: '-9223372036854775808' } }]);
  });

  it('validation names each rejected span by path and groups the rest per trace id', () => {
    const req = tracesJson([
      { traceId: TRACE_A, spanId: SPAN_1 },
      { traceId: '00000000000000000000000000000000', spanId: SPAN_2 },
      { traceId: TRACE_A, spanId: SPAN_2, start: '5', end: '4' },
    ]);
    const v = validateTraces(decodeTracesJson(utf8(req)), 'proj', 1);
    expect(v.accepted).toBe(1);
    expect(v.rejected).toBe(2);
    expect(v.problems).toEqual([
      'resourceSpans[0].scopeSpans[0].spans[1].traceId: must be 16 bytes, not all zero',
      'resourceSpans[0].scopeSpans[0].spans[2].endTimeUnixNano: must not be before startTimeUnixNano',
    ]);
    expect(v.envelopes).toHaveLength(1);
    expect(v.envelopes[0]).toMatchObject({ v: 1, kind: 'spans', format: 'otlp', tenant: 'proj', receivedAtMs: 1 });
  });
});

describe('OTLP protobuf from the official OpenTelemetry serializer', () => {
  // Bytes made by the SDK's own serializer, not by our protobufjs root, so a
  // decoder that turned fixed64 into JS numbers (±256 ns at today's epoch) fails here.
  it('keeps fixed64 ns timestamps exact', async () => {
    const { ProtobufTraceSerializer } = await import('@opentelemetry/otlp-transformer');
    const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const span = provider.getTracer('t').startSpan('s', { startTime: [1795225532, 147123457] });
    span.end([1795225532, 187108001]);
    const bytes = ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans())!;
    const decoded = decodeTracesProtobuf(Buffer.from(bytes)).resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(decoded.startTimeUnixNano).toBe('1795225532147123457');
    expect(decoded.endTimeUnixNano).toBe('1795225532187108001');
  });
});
