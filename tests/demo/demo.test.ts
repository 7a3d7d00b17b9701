/**
 * The demo workload end to end, against a stand-in OTLP/HTTP receiver (a
 * plain node:http server recording every request) and the harness Postgres:
 * the telemetry must come out of the real OpenTelemetry SDK as OTLP
 * protobuf with the bearer key, carry the GenAI chat span, http/pg spans and
 * trace-correlated log records — and never trace the export requests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../platform/logger.js';
import { startDemo, type Demo } from '../../demo/index.js';
import { createTestDatabase } from '../support/harness.js';
import { decodeLogs, decodeSpans, type DecodedLog, type DecodedSpan } from './otlp-decode.js';

interface Recorded {
  path: string;
  contentType: string;
  authorization: string;
  body: Buffer;
}

/** OTLP/HTTP stand-in: records requests, answers 200 with an empty (valid) export response. */
async function startReceiver(): Promise<{ url: string; requests: Recorded[]; close(): Promise<void> }> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        path: req.url ?? '',
        contentType: String(req.headers['content-type'] ?? ''),
        authorization: String(req.headers.authorization ?? ''),
        body: Buffer.concat(chunks),
      });
      res.writeHead(200, { 'content-type': String(req.headers['content-type'] ?? 'application/x-protobuf') });
      res.end(req.headers['content-type'] === 'application/json' ? '{}' : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Poll `check` every 100 ms until it returns true; fail after `timeoutMs` with `what`. */
async function waitFor(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const API_KEY = 'vgl_demo_test_key';
const log = createLogger('silent');
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function spansOf(requests: Recorded[]): DecodedSpan[] {
  return requests.filter((r) => r.path === '/v1/traces').flatMap((r) => decodeSpans(r.body));
}
function logsOf(requests: Recorded[]): DecodedLog[] {
  return requests.filter((r) => r.path === '/v1/logs').flatMap((r) => decodeLogs(r.body));
}

describe('demo workload', () => {
  it('exports SDK-made OTLP protobuf traces and logs with the bearer key (load generator on)', async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const demo: Demo = await startDemo({
      ingestUrl: receiver.url,
      apiKey: API_KEY,
      databaseUrl: await createTestDatabase(),
      log,
      scheduledDelayMillis: 100,
    });
    cleanups.push(() => demo.stop());
    expect(demo.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    // The load cycle hits every route within 20 requests; wait for each kind of span.
    await waitFor('chat, order, pg and error spans', () => {
      const names = new Set(spansOf(receiver.requests).map((s) => s.name));
      return ['chat gpt-4o-mini', 'GET /orders/:id', 'GET /error'].every((n) => names.has(n)) &&
        [...names].some((n) => n.startsWith('pg.query'));
    });
    await demo.stop(); // flushes what is still buffered
    await waitFor('log records', () => logsOf(receiver.requests).length > 0, 10_000);

    const paths = new Set(receiver.requests.map((r) => r.path));
    expect(paths).toEqual(new Set(['/v1/traces', '/v1/logs']));
    for (const r of receiver.requests) {
      expect(r.contentType).toBe('application/x-protobuf');
      expect(r.authorization).toBe(`Bearer ${API_KEY}`);
      expect(r.body.length).toBeGreaterThan(0);
    }

    const spans = spansOf(receiver.requests);
    expect(new Set(spans.map((s) => s.serviceName))).toEqual(new Set(['vigil-demo-shop']));

    const chat = spans.find((s) => s.name === 'chat gpt-4o-mini');
    expect(chat?.kind).toBe(3); // CLIENT
    expect(chat?.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.usage.input_tokens': expect.any(Number),
      'gen_ai.usage.output_tokens': expect.any(Number),
      'gen_ai.usage.cache_read.input_tokens': expect.any(Number),
      'user.id': expect.stringMatching(/^user-/),
    });
    expect(chat?.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    // The chat span sits under the POST /chat SERVER span and over the undici fetch span.
    const chatServer = spans.find((s) => s.spanId === chat?.parentSpanId);
    expect(chatServer).toMatchObject({ name: 'POST /chat', kind: 2 });
    expect(spans.some((s) => s.parentSpanId === chat?.spanId && s.kind === 3 && s.name === 'POST')).toBe(true);

    // pg instrumentation: a query span inside an /orders/:id request trace.
    const order = spans.find((s) => s.name === 'GET /orders/:id');
    expect(order?.attributes['http.route']).toBe('/orders/:id');
    const query = spans.find((s) => s.name.startsWith('pg.query') && s.traceId === order?.traceId);
    expect(query?.attributes['db.system.name']).toBe('postgresql');

    const failed = spans.find((s) => s.name === 'GET /error');
    expect(failed?.statusCode).toBe(2); // STATUS_CODE_ERROR
    expect(failed?.attributes['http.response.status_code']).toBe(500);

    // No loop: the exporter's own requests to the receiver are never traced.
    const receiverPort = Number(new URL(receiver.url).port);
    expect(spans.filter((s) => s.attributes['server.port'] === receiverPort)).toEqual([]);

    // Logs come through the Logs API inside active spans: every record names a span we got.
    const logs = logsOf(receiver.requests);
    const spanIds = new Set(spans.map((s) => `${s.traceId}/${s.spanId}`));
    for (const rec of logs) {
      expect(rec.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(spanIds.has(`${rec.traceId}/${rec.spanId}`)).toBe(true);
    }
    expect(logs.some((l) => l.body === 'chat answered' && l.traceId === chat?.traceId)).toBe(true);
    expect(logs.some((l) => l.severityNumber === 17 && l.body === 'simulated failure: inventory service unavailable')).toBe(true);
  });

  it('serves requests without load and can export OTLP/JSON', async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const demo = await startDemo({
      ingestUrl: receiver.url,
      apiKey: API_KEY,
      databaseUrl: await createTestDatabase(),
      log,
      protocol: 'http/json',
      load: false,
      scheduledDelayMillis: 100,
    });
    cleanups.push(() => demo.stop());

    const order = await fetch(`${demo.url}/orders/3`);
    expect(order.status).toBe(200);
    expect(await order.json()).toMatchObject({ id: 3, customer: 'customer-3', status: 'new' });
    expect((await fetch(`${demo.url}/orders/999`)).status).toBe(404);
    const chat = await fetch(`${demo.url}/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'test-user' },
      body: JSON.stringify({ prompt: 'hello' }),
    });
    expect(await chat.json()).toEqual({ answer: expect.any(String) });

    await demo.stop();
    const traces = receiver.requests.filter((r) => r.path === '/v1/traces');
    expect(traces.length).toBeGreaterThan(0);
    for (const r of receiver.requests) {
      expect(r.contentType).toBe('application/json');
      expect(r.authorization).toBe(`Bearer ${API_KEY}`);
    }
    const json = traces.map((r) => r.body.toString('utf8')).join('\n');
    expect(json).toContain('"gen_ai.usage.input_tokens"');
    expect(json).toContain('"test-user"');
    expect(receiver.requests.some((r) => r.path === '/v1/logs')).toBe(true);
  });
});
