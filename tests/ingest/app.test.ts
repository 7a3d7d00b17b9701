import zlib from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildIngestApp } from '../../ingest/app.js';
import { otlpProto } from '../../ingest/otlp/proto.js';
import { createInProcessPublisher, type EnvelopeKind } from '../../ingest/publisher.js';
import { KafkaUnavailableError } from '../../platform/errors.js';
import { createLogger } from '../../platform/logger.js';
import type { Envelope } from '../../schemas/envelope.js';
import { SPAN_1, SPAN_2, SPAN_3, TRACE_A, TRACE_B, logsJson, mapKeys, tracesJson, tracesProtobuf } from './fixtures.js';

const KEY = 'vgl_test_key';
const AUTH = { authorization: `Bearer ${KEY}` };
const LIMITS = { maxBodyBytes: 64 * 1024, maxInflightBytes: 1024 * 1024, maxInflightRequests: 16, maxEventLoopDelayMs: 0 };

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function build(handler?: (kind: EnvelopeKind, envs: Envelope[]) => Promise<void>, limits = LIMITS) {
  const published: Array<{ kind: EnvelopeKind; envelopes: Envelope[] }> = [];
  const publisher = createInProcessPublisher(
    handler ??
      (async (kind, envelopes) => {
        published.push({ kind, envelopes });
      }),
  );
  app = buildIngestApp({ log: createLogger('silent'), publisher, keys: mapKeys({ [KEY]: 'proj-a' }), limits });
  return { app, published };
}

const statusOf = (body: Buffer) => otlpProto().Status.toObject(otlpProto().Status.decode(body)) as { code?: number; message?: string };

describe('OTLP/HTTP routes', () => {
  it('protobuf traces: 200 with an empty ExportTraceServiceResponse, grouped per (resource, scope, trace id)', async () => {
    const { app, published } = build();
    const body = tracesProtobuf(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }, { traceId: TRACE_B, spanId: SPAN_2 }, { traceId: TRACE_A, spanId: SPAN_3 }]));
    const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/x-protobuf' }, payload: body });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-protobuf');
    expect(res.rawPayload.length).toBe(0); // full success: partial_success unset
    expect(published).toHaveLength(1);
    const envs = published[0]!.envelopes;
    expect(envs.map((e) => e.records.length)).toEqual([2, 1]);
    expect(envs[0]).toMatchObject({ tenant: 'proj-a', kind: 'spans', format: 'otlp', scope: { name: 'test-scope' } });
  });

  it('JSON traces gzip-compressed: 200 with JSON body', async () => {
    const { app, published } = build();
    const body = zlib.gzipSync(JSON.stringify(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }])));
    const res = await app.inject({
      method: 'POST', url: '/v1/traces', payload: body,
      headers: { ...AUTH, 'content-type': 'application/json; charset=utf-8', 'content-encoding': 'gzip' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({});
    expect(published[0]!.envelopes[0]!.records).toHaveLength(1);
  });

  it('partial success: invalid spans rejected with counts and paths, the rest published', async () => {
    const { app, published } = build();
    const req = tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }, { traceId: TRACE_A, spanId: '0000000000000000' }, { traceId: TRACE_A, spanId: SPAN_2, name: '' }]);
    const json = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/json' }, payload: req });
    expect(json.statusCode).toBe(200);
    expect(json.json()).toEqual({
      partialSuccess: {
        rejectedSpans: '2',
        errorMessage:
          'resourceSpans[0].scopeSpans[0].spans[1].spanId: must be 8 bytes, not all zero; resourceSpans[0].scopeSpans[0].spans[2].name: must be a non-empty string',
      },
    });
    const pb = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/x-protobuf' }, payload: tracesProtobuf(req) });
    const T = otlpProto().ExportTraceServiceResponse;
    const decoded = T.toObject(T.decode(pb.rawPayload), { longs: Number }) as { partialSuccess: { rejectedSpans: number; errorMessage: string } };
    expect(decoded.partialSuccess.rejectedSpans).toBe(2);
    expect(decoded.partialSuccess.errorMessage).toContain('spans[1].spanId');
    expect(published.map((p) => p.envelopes[0]!.records.length)).toEqual([1, 1]);
  });

  it('all spans invalid: 400 Bad Data with a Status naming them, nothing published', async () => {
    const { app, published } = build();
    const req = tracesJson([{ traceId: 'abcd', spanId: SPAN_1 }]);
    const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/x-protobuf' }, payload: tracesProtobuf(req) });
    expect(res.statusCode).toBe(400);
    expect(statusOf(res.rawPayload).message).toContain('spans[0].traceId: must be 16 bytes');
    expect(published).toHaveLength(0);
  });

  it('undecodable protobuf: 400 with a protobuf google.rpc.Status; bad JSON: 400 JSON Status', async () => {
    const { app } = build();
    const pb = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/x-protobuf' }, payload: Buffer.from([0x0a, 0xff, 0xff]) });
    expect(pb.statusCode).toBe(400);
    expect(pb.headers['content-type']).toBe('application/x-protobuf');
    expect(statusOf(pb.rawPayload)).toMatchObject({ code: 3, message: expect.stringContaining('not a valid protobuf') });
    const js = await app.inject({ method: 'POST', url: '/v1/logs', headers: { ...AUTH, 'content-type': 'application/json' }, payload: '{"resourceLogs": 3}' });
    expect(js.statusCode).toBe(400);
    expect(js.json()).toEqual({ code: 3, message: 'resourceLogs: must be an array' });
  });

  it('gzip bomb: small compressed body inflating past maxBodyBytes → 413, never accepted', async () => {
    const { app, published } = build();
    const bomb = zlib.gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20)); // 50 MiB of spaces, ~50 KiB gzip
    expect(bomb.length).toBeLessThan(LIMITS.maxBodyBytes);
    const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: bomb });
    expect(res.statusCode).toBe(413);
    expect(res.json().message).toContain('inflated body exceeds the limit');
    expect(published).toHaveLength(0);
  });

  it('compressed body over maxBodyBytes → 413', async () => {
    const { app } = build();
    const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/x-protobuf' }, payload: Buffer.alloc(LIMITS.maxBodyBytes + 1) });
    expect(res.statusCode).toBe(413);
    expect(statusOf(res.rawPayload).message).toContain('exceeds the limit');
  });

  it('unsupported Content-Type → 415; unsupported Content-Encoding → 415', async () => {
    const { app } = build();
    const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'text/plain' }, payload: 'hi' });
    expect(res.statusCode).toBe(415);
    expect(res.json().message).toContain("Content-Type 'text/plain' is not supported");
    const br = await app.inject({ method: 'POST', url: '/v1/logs', headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': 'br' }, payload: '{}' });
    expect(br.statusCode).toBe(415);
    const none = await app.inject({ method: 'POST', url: '/v1/traces', headers: AUTH, payload: Buffer.from('x') });
    expect(none.statusCode).toBe(415);
  });

  it('missing or unknown API key → 401 Status (before reading the body)', async () => {
    const { app } = build();
    const none = await app.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/x-protobuf' }, payload: Buffer.alloc(0) });
    expect(none.statusCode).toBe(401);
    expect(statusOf(none.rawPayload).code).toBe(16);
    const bad = await app.inject({ method: 'POST', url: '/v1/logs', headers: { authorization: 'Bearer nope', 'content-type': 'application/json' }, payload: '{}' });
    expect(bad.statusCode).toBe(401);
    expect(bad.json().message).toBe('unknown or revoked API key');
  });

  it('empty request is a full success (spec: empty request SHOULD succeed)', async () => {
    const { app, published } = build();
    const res = await app.inject({ method: 'POST', url: '/v1/logs', headers: { ...AUTH, 'content-type': 'application/json' }, payload: '{}' });
    expect(res.statusCode).toBe(200);
    expect(published).toHaveLength(0);
  });

  it('logs: invalid trace id rejected per record; logs without trace id grouped together', async () => {
    const { app, published } = build();
    const req = logsJson([{ body: { stringValue: 'a' } }, { body: { stringValue: 'b' }, traceId: '0000' }, { body: { stringValue: 'c' } }]);
    const res = await app.inject({ method: 'POST', url: '/v1/logs', headers: { ...AUTH, 'content-type': 'application/json' }, payload: req });
    expect(res.json().partialSuccess).toMatchObject({ rejectedLogRecords: '1', errorMessage: expect.stringContaining('logRecords[1].traceId') });
    expect(published[0]!.envelopes).toHaveLength(1);
    expect(published[0]!.envelopes[0]!.records).toHaveLength(2);
  });

  it('no 200 before the publisher resolved; publisher KafkaUnavailableError → 503 with Retry-After', async () => {
    let release: () => void = () => undefined;
    let fail = false;
    const { app } = build(async () => {
      if (fail) throw new KafkaUnavailableError('broker down', undefined, 7);
      await new Promise<void>((r) => (release = r));
    });
    let settled = false;
    const pending = app
      .inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/json' }, payload: tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }]) })
      .then((r) => ((settled = true), r));
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(false);
    release();
    expect((await pending).statusCode).toBe(200);

    fail = true;
    const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/x-protobuf' }, payload: tracesProtobuf(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }])) });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('7');
    expect(statusOf(res.rawPayload).code).toBe(14);
  });

  it('in-flight request budget exhausted → 429 with Retry-After', async () => {
    let release: () => void = () => undefined;
    let publishing = 0;
    const { app } = build(() => {
      publishing += 1;
      return new Promise<void>((r) => (release = r));
    }, { ...LIMITS, maxInflightRequests: 1 });
    const first = app.inject({ method: 'POST', url: '/api/v1/ingest/logs', headers: { ...AUTH, 'content-type': 'application/json' }, payload: [{ time: Date.now(), body: 'x', service: 's' }] });
    // Regression: a fixed 50 ms wait let the second request in first on a loaded machine. Wait until the first one holds the budget (it is publishing).
    for (const end = Date.now() + 30_000; publishing === 0; ) {
      if (Date.now() > end) throw new Error('the first request never reached the publisher');
      await new Promise((r) => setTimeout(r, 10));
    }
    const second = await app.inject({ method: 'POST', url: '/v1/logs', headers: { ...AUTH, 'content-type': 'application/json' }, payload: '{}' });
    expect(second.statusCode).toBe(429);
    expect(second.headers['retry-after']).toBe('1');
    release();
    expect((await first).statusCode).toBe(200);
    const third = await app.inject({ method: 'POST', url: '/v1/logs', headers: { ...AUTH, 'content-type': 'application/json' }, payload: '{}' });
    expect(third.statusCode).toBe(200); // budget returned
  });
});

describe('native JSON routes', () => {
  const span = (over: Record<string, unknown> = {}) => ({
    trace_id: TRACE_A, span_id: SPAN_1, name: 'llm.call', service: 'agent', start_time: '2026-11-21T10:00:00Z', duration_ms: 12, ...over,
  });

  it('validates each element and names the field of each error', async () => {
    const { app, published } = build();
    const res = await app.inject({
      method: 'POST', url: '/api/v1/ingest/spans', headers: { ...AUTH, 'content-type': 'application/json' },
      payload: [span(), span({ span_id: SPAN_2 }), span({ trace_id: 'xyz' }), span({ trace_id: TRACE_B, start_time: 'yesterday' })],
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ accepted: 2, rejected: 2 });
    expect(body.errors.map((e: { field: string }) => e.field)).toEqual(['[2].trace_id', '[3].start_time']);
    expect(body.errors[0]).toMatchObject({ index: 2, message: expect.stringContaining('trace id must be 32 hex') });
    expect(published[0]!.envelopes).toHaveLength(1); // both valid spans share TRACE_A
    expect(published[0]!.envelopes[0]).toMatchObject({ format: 'native', tenant: 'proj-a', kind: 'spans' });
  });

  it('body not an array → 400 VIGIL_ERR_VALIDATION; missing key → 401 VIGIL_ERR_UNAUTHORIZED', async () => {
    const { app } = build();
    const res = await app.inject({ method: 'POST', url: '/api/v1/ingest/logs', headers: { ...AUTH, 'content-type': 'application/json' }, payload: { time: 1 } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code: 'VIGIL_ERR_VALIDATION', message: 'body: must be a JSON array of records' } });
    const unauth = await app.inject({ method: 'POST', url: '/api/v1/ingest/logs', headers: { 'content-type': 'application/json' }, payload: [] });
    expect(unauth.statusCode).toBe(401);
    expect(unauth.json().error.code).toBe('VIGIL_ERR_UNAUTHORIZED');
  });
});
