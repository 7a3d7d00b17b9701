/**
 * Issue 5 regressions at the ingest edge: abandoned requests return their
 * budget, times outside the acceptance window are rejected by name (never
 * acked and dropped), deep nesting and oversize records are 4xx naming the limit.
 */
import http from 'node:http';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import protobuf from 'protobufjs';
import { afterEach, describe, expect, it } from 'vitest';
import { buildIngestApp } from '../../ingest/app.js';
import { encodeEnvelopes } from '../../ingest/envelopes.js';
import { otlpProto } from '../../ingest/otlp/proto.js';
import { createInProcessPublisher, type EnvelopeKind } from '../../ingest/publisher.js';
import { VigilError } from '../../platform/errors.js';
import { createLogger } from '../../platform/logger.js';
import { VigilMetrics } from '../../platform/metrics.js';
import type { Envelope } from '../../schemas/envelope.js';
import { DATETIME_MAX_NS, MAX_VALUE_DEPTH } from '../../schemas/limits.js';
import { RECENT_END_NS, RECENT_NS, SPAN_1, SPAN_2, TRACE_A, logsJson, mapKeys, tracesJson, tracesProtobuf } from './fixtures.js';
import { mulberry32 as prng } from '../support/prng.js';

const KEY = 'vgl_test_key';
const AUTH = { authorization: `Bearer ${KEY}` };
const LIMITS = { maxBodyBytes: 256 * 1024, maxInflightBytes: 4 * 1024 * 1024, maxInflightRequests: 256, maxEventLoopDelayMs: 0 };

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function build(handler?: (kind: EnvelopeKind, envs: Envelope[]) => Promise<void>) {
  const published: Envelope[] = [];
  const metrics = new VigilMetrics({ defaultMetrics: false });
  const publisher = createInProcessPublisher(handler ?? (async (_k, envs) => void published.push(...envs)));
  app = buildIngestApp({ log: createLogger('silent'), publisher, keys: mapKeys({ [KEY]: 'proj-a' }), limits: LIMITS, metrics, timePolicy: { retentionDays: 30 } });
  return { app, published, metrics };
}

/** Value of an unlabelled gauge/counter in the exposition text. */
function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

const NS_PER_DAY = 86_400_000_000_000n;

describe('issue 5 — ingest never leaks, never acks what it cannot store', () => {
  it('item 2: thousands of requests aborted at random points return the in-flight budget; a new request gets 200', async () => {
    const rand = prng(5);
    const { app, metrics } = build(async () => {
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 20)));
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as net.AddressInfo).port;
    const body = JSON.stringify(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }]));
    const head = (len: number) =>
      `POST /v1/traces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${len}\r\n\r\n`;

    /** Send part of a request (headers only, part of the body, or all of it), then reset the connection after 0–20 ms. */
    const abortOne = () =>
      new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        s.on('close', () => resolve());
        s.on('connect', () => {
          const stage = rand();
          if (stage < 0.33) s.write(head(body.length));
          else if (stage < 0.66) s.write(head(body.length) + body.slice(0, Math.floor(rand() * body.length)));
          else s.write(head(body.length) + body);
          setTimeout(() => s.resetAndDestroy(), Math.floor(rand() * 20));
        });
      });
    const total = 3_000;
    let started = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (started < total) {
          started++;
          await abortOne();
        }
      }),
    );
    // Every abandoned request settles and returns its share (the publisher waits at most 20 ms).
    const deadline = Date.now() + 60_000;
    let text = await metrics.render();
    while (metricValue(text, 'vigil_ingest_inflight_requests') !== 0 || metricValue(text, 'vigil_ingest_inflight_bytes') !== 0) {
      if (Date.now() > deadline) throw new Error(`budget not returned: ${text.split('\n').filter((l) => l.startsWith('vigil_ingest_inflight')).join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
      text = await metrics.render();
    }
    const res = await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
  });

  it('item 4: spans older than the retention or from 2106-02-07 on are rejected by name in partial_success, not acked and dropped', async () => {
    const { app, published, metrics } = build();
    const now = BigInt(Date.now()) * 1_000_000n;
    const ns = (v: bigint) => v.toString();
    const bad = [
      { start: '1', end: '2' }, // 1970
      { start: ns(946_684_800_000_000_000n), end: ns(946_684_800_000_000_001n) }, // 2000
      { start: ns(now - 31n * NS_PER_DAY), end: ns(now - 31n * NS_PER_DAY + 1n) },
      { start: ns(DATETIME_MAX_NS + 1_000_000_000n), end: ns(DATETIME_MAX_NS + 2_000_000_000n) }, // 2106-02-07T06:28:16Z and later
      { start: ns(10_413_792_000_000_000_000n), end: ns(10_413_792_000_000_000_001n) }, // year 2300
      { start: RECENT_NS, end: '18446744073709551615' },
    ];
    const spans = [
      ...bad.map((t, i) => ({ traceId: TRACE_A, spanId: `00000000000000${(i + 1).toString(16).padStart(2, '0')}`, start: t.start, end: t.end })),
      { traceId: TRACE_A, spanId: SPAN_2 },
    ];
    const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/json' }, payload: tracesJson(spans) });
    expect(res.statusCode).toBe(200);
    const partial = (res.json() as { partialSuccess: { rejectedSpans: string; errorMessage: string } }).partialSuccess;
    expect(partial.rejectedSpans).toBe(String(bad.length));
    expect(partial.errorMessage).toMatch(/spans\[0\]\.startTimeUnixNano: 1970-01-01T00:00:00\.000Z is older than the acceptance window/);
    expect(partial.errorMessage).toMatch(/spans\[3\]\.startTimeUnixNano: .* is later than the acceptance window/);
    expect(partial.errorMessage).toMatch(/and 1 more rejected/);
    expect(published.flatMap((e) => e.records)).toHaveLength(1);
    expect(await metrics.render()).toMatch(/vigil_ingest_records_total\{signal="spans",outcome="rejected"\} 6/);

    // All rejected → 400 (nothing accepted), naming the field.
    const all = await app.inject({
      method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/x-protobuf' },
      payload: tracesProtobuf(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1, start: '1', end: '2' }])),
    });
    expect(all.statusCode).toBe(400);
  });

  it('item 1: a log with timeUnixNano = 2^64−1 is rejected by name; a log with only an observed time is accepted', async () => {
    const { app, published } = build();
    const body = logsJson([
      { timeUnixNano: '18446744073709551615', body: { stringValue: 'poison' } },
      { timeUnixNano: '0', observedTimeUnixNano: RECENT_NS, body: { stringValue: 'ok' } },
    ]);
    const res = await app.inject({ method: 'POST', url: '/v1/logs', headers: { ...AUTH, 'content-type': 'application/json' }, payload: body });
    expect(res.statusCode).toBe(200);
    const partial = (res.json() as { partialSuccess: { rejectedLogRecords: string; errorMessage: string } }).partialSuccess;
    expect(partial.rejectedLogRecords).toBe('1');
    expect(partial.errorMessage).toMatch(/logRecords\[0\]\.timeUnixNano: .* later than the acceptance window/);
    expect(published.flatMap((e) => e.records)).toHaveLength(1);
  });

  it(`item 5: AnyValues nested ~1,000 levels deep answer 400 naming the limit (${MAX_VALUE_DEPTH}), JSON and protobuf`, async () => {
    const { app } = build();
    let deep: Record<string, unknown> = { stringValue: 'leaf' };
    for (let i = 0; i < 1_000; i++) deep = { kvlistValue: { values: [{ key: `k${i}`, value: deep }] } };
    const req = tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }]) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ attributes: unknown[] }> }> }> };
    req.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes.push({ key: 'deep', value: deep });
    const json = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/json' }, payload: req });
    expect(json.statusCode).toBe(400);
    expect(json.json().message).toMatch(new RegExp(`nested deeper than ${MAX_VALUE_DEPTH} levels`));

    // Protobuf, built bottom-up (a 1,000-level object graph is too deep for structuredClone / fromObject).
    const ld = (field: number, bytes: Uint8Array): Buffer => {
      const w = protobuf.Writer.create();
      w.uint32((field << 3) | 2).bytes(bytes);
      return Buffer.from(w.finish());
    };
    let anyValue: Buffer = Buffer.from(otlpProto().ExportTraceServiceRequest.lookupType('.opentelemetry.proto.common.v1.AnyValue').encode({ intValue: 1 }).finish());
    for (let i = 0; i < 1_000; i++) anyValue = ld(5, ld(1, anyValue)); // AnyValue.array_value(5) → ArrayValue.values(1)
    const keyValue = Buffer.concat([ld(1, Buffer.from('deep')), ld(2, anyValue)]);
    const spanType = otlpProto().ExportTraceServiceRequest.lookupType('.opentelemetry.proto.trace.v1.Span');
    const spanBase = spanType.encode(spanType.fromObject({
      traceId: Buffer.from(TRACE_A, 'hex'), spanId: Buffer.from(SPAN_1, 'hex'), name: 'op', kind: 1,
      startTimeUnixNano: RECENT_NS, endTimeUnixNano: RECENT_END_NS,
    })).finish();
    const span = Buffer.concat([Buffer.from(spanBase), ld(9, keyValue)]); // Span.attributes(9)
    const request = ld(1, ld(2, ld(2, span))); // request.resource_spans(1) → ResourceSpans.scope_spans(2) → ScopeSpans.spans(2)
    const pb = await app.inject({ method: 'POST', url: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/x-protobuf' }, payload: request });
    expect(pb.statusCode).toBe(400);
    const status = otlpProto().Status.toObject(otlpProto().Status.decode(pb.rawPayload)) as { message?: string };
    expect(status.message).toMatch(/nested deeper than|not a valid protobuf/);
  });

  it('item 5: envelopes are split into messages under the Kafka limit; a single record that can never fit is a 413 naming it', () => {
    const span = (i: number, pad: number) => ({
      traceId: TRACE_A, spanId: (i + 1).toString(16).padStart(16, '0'), name: 'op', kind: 1,
      startTimeUnixNano: RECENT_NS, endTimeUnixNano: RECENT_END_NS,
      attributes: [{ key: 'pad', value: { stringValue: 'x'.repeat(pad) } }],
    });
    const env = (records: unknown[]): Envelope =>
      ({ v: 1, kind: 'spans', format: 'otlp', tenant: 't', receivedAtMs: Date.now(), resource: { attributes: [] }, scope: {}, records }) as Envelope;
    const many = env(Array.from({ length: 100_000 }, (_, i) => span(i, 0)));
    const messages = encodeEnvelopes([many], 1_000_000);
    expect(messages.length).toBeGreaterThan(1);
    expect(Math.max(...messages.map((m) => m.bytes!))).toBeLessThanOrEqual(1_000_000);
    expect(messages.reduce((n, m) => n + (JSON.parse(m.value) as { records: unknown[] }).records.length, 0)).toBe(100_000);
    expect(new Set(messages.map((m) => m.key))).toEqual(new Set([TRACE_A]));

    let err: unknown;
    try {
      encodeEnvelopes([env([span(1, 10), span(2, 2_000_000)])], 1_000_000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VigilError);
    expect((err as VigilError).statusCode).toBe(413);
    expect((err as VigilError).message).toMatch(/span 'op' \(traceId 5b8efff798038103d269b633813fc60c, spanId 0000000000000003\) encodes to \d+ bytes, over the per-record limit/);
  });

  it('item 2: a client that goes away mid-body does not hang its request', async () => {
    const { app } = build();
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as net.AddressInfo).port;
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/traces', headers: { ...AUTH, 'content-type': 'application/json', 'content-length': '1000' } });
    req.on('error', () => undefined);
    req.write('{"resourceSpans":');
    await new Promise((r) => setTimeout(r, 50));
    req.destroy();
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    const deadline = Date.now() + 30_000;
    let text = await res.text();
    while (metricValue(text, 'vigil_ingest_inflight_requests') !== 0) {
      if (Date.now() > deadline) throw new Error('request still holds budget');
      await new Promise((r) => setTimeout(r, 50));
      text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    }
    expect(metricValue(text, 'vigil_ingest_inflight_bytes')).toBe(0);
  });

  it('items 4 and 5 (native): old or far-future times and ~1,000-level attribute nesting are rejected by name, the rest accepted', async () => {
    const { app, published } = build();
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 1_000; i++) deep = { [`k${i}`]: deep };
    const now = Date.now();
    const res = await app.inject({
      method: 'POST', url: '/api/v1/ingest/logs', headers: { ...AUTH, 'content-type': 'application/json' },
      payload: [
        { time: 1, body: '1970', service: 's' },
        { time: '2300-01-01T00:00:00Z', body: '2300', service: 's' },
        { time: now, body: 'deep', service: 's', attributes: deep },
        { time: now, body: 'ok', service: 's' },
      ],
    });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { accepted: number; rejected: number; errors: Array<{ field: string; message: string }> };
    expect(body).toMatchObject({ accepted: 1, rejected: 3 });
    expect(body.errors.map((e) => e.field)).toEqual(['[0].time', '[1].time', '[2].attributes']);
    expect(body.errors[0]!.message).toMatch(/older than the acceptance window/);
    expect(body.errors[2]!.message).toMatch(/nested deeper than 32 levels/);
    expect(published.flatMap((e) => e.records)).toHaveLength(1);

    const spans = await app.inject({
      method: 'POST', url: '/api/v1/ingest/spans', headers: { ...AUTH, 'content-type': 'application/json' },
      payload: [{ trace_id: TRACE_A, span_id: SPAN_1, name: 'op', service: 's', start_time: now, duration_ms: 1e17 }],
    });
    expect(spans.statusCode).toBe(400);
    expect(spans.json().errors[0]).toMatchObject({ field: '[0].duration_ms' });
  });
});
