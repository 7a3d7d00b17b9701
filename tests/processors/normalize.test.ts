import { describe, expect, it } from 'vitest';
import { processBatch } from '../../processors/worker.js';
import { nsToClickHouse } from '../../schemas/time.js';
import { genAiInfo } from '../../processors/genai.js';
import { severityNumber, severityText } from '../../processors/normalize/logs.js';
import type { Envelope } from '../../schemas/envelope.js';
import { int, nowNs, str } from './fixtures.js';

describe('normalisation', () => {
  it('turns an OTLP span and its resource into a SpanRow', () => {
    const start = nowNs();
    const env: Envelope = {
      v: 1, tenant: 'acme', receivedAtMs: Date.now(), kind: 'spans', format: 'otlp',
      resource: { attributes: [str('service.name', 'api'), int('host.cpus', 8), { key: 'tags', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '2' }] } } }] },
      scope: { name: 'io.opentelemetry.http', version: '2.1' },
      records: [{
        traceId: 'AB'.repeat(16), spanId: 'cd'.repeat(8), parentSpanId: '0000000000000000', name: 'POST /chat', kind: 3,
        startTimeUnixNano: String(start), endTimeUnixNano: String(start + 1_500_000n),
        attributes: [
          { key: 'http.ok', value: { boolValue: true } },
          { key: 'ratio', value: { doubleValue: 0.5 } },
          { key: 'kv', value: { kvlistValue: { values: [str('x', 'y')] } } },
          str('gen_ai.request.model', 'gpt-4o'), str('gen_ai.response.model', 'gpt-4o-2024-08-06'),
          str('gen_ai.system', 'openai'), int('gen_ai.usage.prompt_tokens', 10), int('gen_ai.usage.completion_tokens', 5),
          str('enduser.id', 'u-1'),
        ],
        events: [{ timeUnixNano: String(start), name: 'exception', attributes: [str('exception.type', 'E')] }],
        status: { code: 2, message: 'boom' },
      }],
    };
    const { spans, rejected } = processBatch([JSON.stringify(env)]);
    expect(rejected).toEqual([]);
    const row = spans[0]!;
    expect(row).toMatchObject({
      tenant: 'acme', trace_id: 'ab'.repeat(16), span_id: 'cd'.repeat(8), parent_span_id: '',
      name: 'POST /chat', kind: 'client', service: 'api',
      start_time: nsToClickHouse(start), end_time: nsToClickHouse(start + 1_500_000n), duration_ns: 1_500_000,
      status_code: 'error', status_message: 'boom', scope_name: 'io.opentelemetry.http', scope_version: '2.1',
      model: 'gpt-4o-2024-08-06', provider: 'openai', user_id: 'u-1', input_tokens: 10, output_tokens: 5, cached_tokens: 0, unpriced: 0,
    });
    expect(row.resource_attributes).toEqual({ 'service.name': 'api', 'host.cpus': '8', tags: '["a",2]' });
    expect(row.attributes).toMatchObject({ 'http.ok': 'true', ratio: '0.5', kv: '{"x":"y"}', 'gen_ai.usage.prompt_tokens': '10' });
    expect(JSON.parse(row.events)).toEqual([{ time_unix_nano: String(start), name: 'exception', attributes: { 'exception.type': 'E' } }]);
    expect(row.cost_usd).toBeGreaterThan(0);
  });

  it('defaults service to unknown_service and kind/status to unspecified/unset', () => {
    const start = nowNs();
    const env: Envelope = { v: 1, tenant: 't', receivedAtMs: 0, kind: 'spans', format: 'otlp', resource: {}, scope: {},
      records: [{ traceId: '1'.repeat(32), spanId: '2'.repeat(16), name: 'x', startTimeUnixNano: String(start), endTimeUnixNano: String(start) }] };
    const row = processBatch([env]).spans[0]!;
    expect(row).toMatchObject({ service: 'unknown_service', kind: 'unspecified', status_code: 'unset', model: '', cost_usd: null, unpriced: 0 });
  });

  it('normalises native spans (status mapping, end from duration_ms, GenAI fields)', () => {
    const start = Date.now();
    const env: Envelope = { v: 1, tenant: 't', receivedAtMs: start, kind: 'spans', format: 'native', records: [{
      trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16), name: 'llm', kind: 'client', service: 'bot', start_time: start, duration_ms: 250,
      status: 'failed', error: 'rate limited', error_type: 'RateLimit', attributes: { n: 1 }, resource: {},
      model: 'no-such-model-xyz', provider: 'acme', input_tokens: 3, output_tokens: 4, user_id: 'u9',
    }] };
    const row = processBatch([env]).spans[0]!;
    expect(row).toMatchObject({ status_code: 'error', status_message: 'rate limited', duration_ns: 250_000_000, service: 'bot',
      model: 'no-such-model-xyz', provider: 'acme', user_id: 'u9', input_tokens: 3, output_tokens: 4, cost_usd: null, unpriced: 1 });
    expect(row.attributes).toMatchObject({ n: '1', 'error.type': 'RateLimit' });
    for (const [s, want] of [['completed', 'ok'], ['ok', 'ok'], ['error', 'error'], ['running', 'unset']] as const) {
      const e = structuredClone(env) as Extract<Envelope, { format: 'native'; kind: 'spans' }>;
      e.records[0]!.status = s;
      expect(processBatch([e]).spans[0]!.status_code).toBe(want);
    }
  });

  it('normalises OTLP and native logs (severity mapping, AnyValue body)', () => {
    const t = nowNs();
    const otlp: Envelope = { v: 1, tenant: 't', receivedAtMs: Date.now(), kind: 'logs', format: 'otlp',
      resource: { attributes: [str('service.name', 'api')] }, scope: { name: 'log4j' },
      records: [
        { timeUnixNano: String(t), severityNumber: 18, body: { kvlistValue: { values: [str('msg', 'hi')] } }, traceId: 'f'.repeat(32), spanId: 'e'.repeat(16) },
        { observedTimeUnixNano: String(t), severityText: 'warn', body: { stringValue: 'plain' } },
      ] };
    const [a, b] = processBatch([otlp]).logs;
    expect(a).toMatchObject({ severity_number: 18, severity_text: 'ERROR2', body: '{"msg":"hi"}', service: 'api', trace_id: 'f'.repeat(32), scope_name: 'log4j', time: nsToClickHouse(t) });
    expect(b).toMatchObject({ severity_number: 13, severity_text: 'warn', body: 'plain', time: nsToClickHouse(t), trace_id: '' });
    const native = processBatch([{ v: 1, tenant: 't', receivedAtMs: Date.now(), kind: 'logs', format: 'native',
      records: [{ time: Date.now(), severity: 'critical', body: 'down', service: 'db', attributes: {}, resource: {} }] }]).logs[0]!;
    expect(native).toMatchObject({ severity_number: 21, severity_text: 'FATAL', body: 'down', service: 'db' });
    expect(severityText(1)).toBe('TRACE');
    expect(severityText(24)).toBe('FATAL4');
    expect(severityNumber('INFO3')).toBe(11);
  });

  it('reads current, older and vendor GenAI attribute names', () => {
    expect(genAiInfo({ 'gen_ai.request.model': 'm', 'gen_ai.provider.name': 'p', 'gen_ai.system': 'old', 'user.id': 'u',
      'gen_ai.usage.input_tokens': '100', 'gen_ai.usage.output_tokens': '7', 'gen_ai.usage.cache_read.input_tokens': '40' }))
      .toEqual({ model: 'm', provider: 'p', userId: 'u', inputTokens: 100, outputTokens: 7, cachedTokens: 40, hasTokens: true });
    expect(genAiInfo({ 'gen_ai.usage.input_tokens': '10', 'gen_ai.usage.cache_read_input_tokens': '30' }))
      .toMatchObject({ inputTokens: 40, cachedTokens: 30 });
    expect(genAiInfo({ 'gen_ai.usage.cached_tokens': '5', 'gen_ai.usage.input_tokens': '9' })).toMatchObject({ cachedTokens: 5, inputTokens: 9 });
    expect(genAiInfo({ 'gen_ai.request.model': 'm' })).toMatchObject({ hasTokens: false, inputTokens: 0 });
  });

  it('rejects malformed messages without dropping the rest of the batch', () => {
    const good: Envelope = { v: 1, tenant: 't', receivedAtMs: 0, kind: 'logs', format: 'native', records: [{ time: Date.now(), severity: 'info', body: 'x', service: 's', attributes: {}, resource: {} }] };
    const r = processBatch([
      { offset: '7', value: '{not json' },
      { offset: '8', value: JSON.stringify({ ...good, v: 99 }) },
      { offset: '9', value: JSON.stringify(good) },
    ]);
    expect(r.logs).toHaveLength(1);
    expect(r.rejected.map((x) => x.offset)).toEqual(['7', '8']);
    expect(r.rejected[0]!.reason).toMatch(/malformed JSON/);
  });
});
