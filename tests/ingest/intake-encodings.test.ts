/**
 * Issue 8, "Intake every exporter can use" (HTTP side) and "Fidelity" warnings:
 * Content-Encoding deflate (zlib and raw) beside gzip with the same inflated-size
 * cap, zstd refused by name (Node 20 has no zstd), POST /v1/metrics answered with
 * an OTLP Status saying metrics are not stored, and values Vigil cannot store
 * (duplicate keys, resource entity_refs) named in partial_success.error_message
 * while every record is accepted.
 */
import zlib from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildIngestApp } from '../../ingest/app.js';
import { otlpProto } from '../../ingest/otlp/proto.js';
import { createInProcessPublisher, type EnvelopeKind } from '../../ingest/publisher.js';
import { createLogger } from '../../platform/logger.js';
import type { Envelope } from '../../schemas/envelope.js';
import { SPAN_1, SPAN_2, TRACE_A, mapKeys, tracesJson, tracesProtobuf } from './fixtures.js';

const KEY = 'vgl_test_key';
const AUTH = { authorization: `Bearer ${KEY}` };
const LIMITS = { maxBodyBytes: 64 * 1024, maxInflightBytes: 1024 * 1024, maxInflightRequests: 16, maxEventLoopDelayMs: 0 };

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function build() {
  const published: Array<{ kind: EnvelopeKind; envelopes: Envelope[] }> = [];
  const publisher = createInProcessPublisher(async (kind, envelopes) => {
    published.push({ kind, envelopes });
  });
  app = buildIngestApp({ log: createLogger('silent'), publisher, keys: mapKeys({ [KEY]: 'proj-a' }), limits: LIMITS });
  return { app, published };
}

const statusOf = (body: Buffer) => otlpProto().Status.toObject(otlpProto().Status.decode(body)) as { code?: number; message?: string };

describe('Content-Encoding', () => {
  it('deflate (zlib format, as the Collector and Python exporters send it) and raw deflate are inflated like gzip', async () => {
    const { app, published } = build();
    const body = tracesProtobuf(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }]));
    for (const payload of [zlib.deflateSync(body), zlib.deflateRawSync(body)]) {
      const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/x-protobuf', 'content-encoding': 'deflate' }, payload });
      expect(res.statusCode, res.body).toBe(200);
    }
    expect(published).toHaveLength(2);
    expect(published.map((p) => p.envelopes[0]!.records.length)).toEqual([1, 1]);
    const json = await app.inject({
      method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': 'Deflate' },
      payload: zlib.deflateSync(Buffer.from(JSON.stringify(tracesJson([{ traceId: TRACE_A, spanId: SPAN_2 }])))),
    });
    expect(json.statusCode, json.body).toBe(200);
    expect(json.json()).toEqual({});
  });

  it('a deflate bomb is cut off at maxBodyBytes while inflating → 413; corrupt deflate → 400', async () => {
    const { app, published } = build();
    const bomb = zlib.deflateSync(Buffer.alloc(50 * 1024 * 1024, 0x20)); // ~50 KB compressed, 50 MiB inflated
    expect(bomb.length).toBeLessThan(LIMITS.maxBodyBytes);
    const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': 'deflate' }, payload: bomb });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 8, message: expect.stringContaining('inflated body exceeds the limit of 65536 bytes') });
    const corrupt = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': 'deflate' }, payload: Buffer.from([0x78, 0x9c, 1, 2, 3, 4, 5]) });
    expect(corrupt.statusCode).toBe(400);
    expect(corrupt.json().message).toContain('not valid deflate');
    expect(published).toHaveLength(0);
  });

  it('zstd → 415 saying why (Node 20 zlib has no zstd)', async () => {
    const { app } = build();
    const res = await app.inject({ method: 'POST', url: '/v1/logs', headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': 'zstd' }, payload: '{}' });
    expect(res.statusCode).toBe(415);
    expect(res.json().message).toMatch(/use gzip, deflate or identity \(zstd needs a newer Node/);
  });
});

describe('POST /v1/metrics', () => {
  it('answers 404 with a google.rpc.Status saying metrics are not stored (protobuf and JSON), not a bare 404', async () => {
    const { app } = build();
    const pb = await app.inject({ method: 'POST', url: '/v1/metrics', headers: { ...AUTH, 'content-type': 'application/x-protobuf' }, payload: Buffer.alloc(0) });
    expect(pb.statusCode).toBe(404);
    expect(pb.headers['content-type']).toBe('application/x-protobuf');
    expect(statusOf(pb.rawPayload)).toEqual({ code: 12, message: expect.stringContaining('OTLP metrics are not accepted') });
    const json = await app.inject({ method: 'POST', url: '/v1/metrics', headers: { ...AUTH, 'content-type': 'application/json' }, payload: '{}' });
    expect(json.statusCode).toBe(404);
    expect(json.json()).toEqual({ code: 12, message: expect.stringContaining('Vigil stores traces and logs only') });
  });
});

describe('values Vigil cannot store', () => {
  it('are named in partial_success.error_message with 0 rejected; every record is accepted', async () => {
    const { app, published } = build();
    const req = tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }]) as { resourceSpans: Array<{ resource: Record<string, unknown>; scopeSpans: Array<{ spans: Array<{ attributes: unknown[] }> }> }> };
    req.resourceSpans[0]!.resource['entityRefs'] = [{ type: 'service', idKeys: ['service.name'] }];
    req.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes.push({ key: 'http.status_code', value: { intValue: '500' } });
    const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(req) });
    expect(res.statusCode).toBe(200);
    const partial = res.json().partialSuccess;
    expect(partial.rejectedSpans).toBe('0');
    expect(partial.errorMessage).toBe(
      "2 values of accepted records not stored: resourceSpans[0].resource.entityRefs: 1 entity references are not stored (development-status field); " +
        "resourceSpans[0].scopeSpans[0].spans[0].attributes: 1 duplicate attribute key (first 'http.status_code'); only the last value of a key is stored",
    );
    expect(published[0]!.envelopes[0]!.records).toHaveLength(1);
    // Protobuf: the same warning in ExportTracePartialSuccess.
    const pb = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/x-protobuf' }, payload: tracesProtobuf(req) });
    const decoded = otlpProto().ExportTraceServiceResponse.toObject(otlpProto().ExportTraceServiceResponse.decode(pb.rawPayload)) as { partialSuccess?: { errorMessage?: string } };
    expect(decoded.partialSuccess?.errorMessage).toContain('entity references are not stored');
  });
});
