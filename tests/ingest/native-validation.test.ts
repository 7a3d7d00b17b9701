/**
 * Issue 12, item 6: "Native ingest accepts nothing with 200". A native batch
 * whose every record is invalid answers 400 (as OTLP does) and publishes
 * nothing; unknown fields are reported per record as warnings with a
 * did-you-mean hint, and the rest of the record is still accepted.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildIngestApp } from '../../ingest/app.js';
import { createInProcessPublisher, type EnvelopeKind } from '../../ingest/publisher.js';
import { createLogger } from '../../platform/logger.js';
import type { Envelope } from '../../schemas/envelope.js';
import { suggestField } from '../../schemas/native.js';
import { SPAN_1, SPAN_2, TRACE_A, mapKeys } from './fixtures.js';

const KEY = 'vgl_test_key';
const HEADERS = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
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

const now = new Date().toISOString();
const span = (over: Record<string, unknown> = {}) => ({
  trace_id: TRACE_A, span_id: SPAN_1, name: 'llm.call', service: 'agent', start_time: now, duration_ms: 12, ...over,
});
const log = (over: Record<string, unknown> = {}) => ({ time: now, body: 'hello', service: 'agent', ...over });

interface Problem { index: number; field: string; message: string }
interface Answer { accepted: number; rejected: number; errors: Problem[]; warnings: Problem[]; error?: { code: string; message: string } }

describe('issue 12 item 6: native ingest answers 400 when nothing is valid and warns about unknown fields', () => {
  it('spans: every record invalid → 400 VIGIL_ERR_VALIDATION with per-record errors; nothing published', async () => {
    const { app, published } = build();
    const res = await app.inject({
      method: 'POST', url: '/api/v1/ingest/spans', headers: HEADERS,
      payload: [span({ trace_id: 'xyz' }), span({ start_time: 'yesterday' }), { name: 'x' }],
    });
    expect(res.statusCode).toBe(400);
    const body = res.json() as Answer;
    expect(body.error?.code).toBe('VIGIL_ERR_VALIDATION');
    expect(body.error?.message).toMatch(/^all 3 spans were rejected, nothing was accepted; first problem: \[0\]\.trace_id: trace id must be 32 hex/);
    expect(body).toMatchObject({ accepted: 0, rejected: 3 });
    expect(body.errors.map((e) => e.index)).toContain(2);
    expect(body.errors.slice(0, 2).map((e) => e.field)).toEqual(['[0].trace_id', '[1].start_time']);
    expect(published).toEqual([]);
  });

  it('logs: every record invalid → 400 with the same shape', async () => {
    const { app, published } = build();
    const res = await app.inject({ method: 'POST', url: '/api/v1/ingest/logs', headers: HEADERS, payload: [log({ time: 'soon' }), log({ service: '' })] });
    expect(res.statusCode).toBe(400);
    const body = res.json() as Answer;
    expect(body).toMatchObject({ accepted: 0, rejected: 2, error: { code: 'VIGIL_ERR_VALIDATION' } });
    expect(body.errors.map((e) => e.field)).toEqual(['[0].time', '[1].service']);
    expect(published).toEqual([]);
  });

  it('some valid: still 200 with accepted/rejected counts (partial success)', async () => {
    const { app, published } = build();
    const res = await app.inject({ method: 'POST', url: '/api/v1/ingest/spans', headers: HEADERS, payload: [span(), span({ span_id: 'nope' })] });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 1, rejected: 1, warnings: [] });
    expect(published).toHaveLength(1);
  });

  it('unknown fields are reported per record as warnings with a did-you-mean hint; the records are accepted', async () => {
    const { app, published } = build();
    const res = await app.inject({
      method: 'POST', url: '/api/v1/ingest/spans', headers: HEADERS,
      payload: [
        span({ cost: 0.12, tokens: 300 }),
        span({ span_id: SPAN_2, start_time: undefined, started_at: now, serviec: 'x', zzz_custom: 1 }),
      ],
    });
    expect(res.statusCode).toBe(200); // [0] is valid; [1] lacks start_time and its warning says why
    const body = res.json() as Answer;
    expect(body.warnings).toEqual([
      { index: 0, field: '[0].cost', message: expect.stringMatching(/^unknown field \(ignored\); cost is computed by Vigil from model, provider and the token counts/) },
      { index: 0, field: '[0].tokens', message: 'unknown field (ignored); did you mean input_tokens / output_tokens?' },
      { index: 1, field: '[1].started_at', message: 'unknown field (ignored); did you mean start_time?' },
      { index: 1, field: '[1].serviec', message: 'unknown field (ignored); did you mean service?' },
      { index: 1, field: '[1].zzz_custom', message: 'unknown field (ignored)' },
    ]);
    expect(body).toMatchObject({ accepted: 1, rejected: 1 });
    expect(body.errors).toEqual([{ index: 1, field: '[1].start_time', message: expect.any(String) }]);
    expect(published).toHaveLength(1);
    // The accepted record carries only known fields.
    expect(Object.keys(published[0]!.envelopes[0]!.records[0] as object)).not.toContain('cost');
  });

  it('logs: unknown fields warn with hints (message → body, level → severity, traceId → trace_id)', async () => {
    const { app } = build();
    const res = await app.inject({
      method: 'POST', url: '/api/v1/ingest/logs', headers: HEADERS,
      payload: [log({ message: 'x', level: 'warn', traceId: TRACE_A })],
    });
    expect(res.statusCode).toBe(200);
    expect((res.json() as Answer).warnings.map((w) => `${w.field}: ${w.message}`)).toEqual([
      '[0].message: unknown field (ignored); did you mean body?',
      '[0].level: unknown field (ignored); did you mean severity?',
      '[0].traceId: unknown field (ignored); did you mean trace_id?',
    ]);
  });

  it('suggestField: aliases, camelCase, close spellings; nothing for unrelated names', () => {
    expect(suggestField('spans', 'ended_at')).toBe('did you mean end_time?');
    expect(suggestField('spans', 'parentSpanId')).toBe('did you mean parent_span_id?');
    expect(suggestField('spans', 'duration')).toBe('did you mean duration_ms?');
    expect(suggestField('spans', 'modle')).toBe('did you mean model?');
    expect(suggestField('logs', 'timestamp')).toBe('did you mean time?');
    expect(suggestField('logs', 'customer_tier')).toBeUndefined();
  });
});
