/**
 * processors/flag-variants.ts: which flags a span evaluated (semantic-convention
 * events and attributes) and the per-variant partial rows the worker emits.
 */
import { describe, expect, it } from 'vitest';
import { aggregateFlagVariants, flagEvaluations } from '../../processors/flag-variants.js';
import { quantileFromBins } from '../../processors/sketch.js';
import { processBatch } from '../../processors/worker.js';
import type { SpanRow } from '../../schemas/rows.js';
import { msToNs, nsToClickHouse } from '../../schemas/time.js';
import { otlpSpanEnvelope, str } from '../processors/fixtures.js';

const T0 = Date.UTC(2026, 0, 2, 10, 15, 0);

function span(startMs: number, ms: number, p: Partial<SpanRow> = {}): SpanRow {
  const start = msToNs(startMs);
  return {
    tenant: 't', trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16), parent_span_id: '', name: 'chat', kind: 'client',
    service: 'svc', start_time: nsToClickHouse(start), end_time: nsToClickHouse(start + msToNs(ms)),
    duration_ns: ms * 1_000_000, status_code: 'ok', status_message: '', scope_name: '', scope_version: '',
    resource_attributes: {}, attributes: {}, events: '[]', model: '', provider: '', user_id: '',
    input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: null, unpriced: 0,
    ...p,
  };
}
const evaluation = (flag: string, attrs: Record<string, unknown>) => ({ time_unix_nano: '1', name: 'feature_flag.evaluation', attributes: { 'feature_flag.key': flag, ...attrs } });
const events = (...e: object[]) => JSON.stringify(e);

describe('flagEvaluations', () => {
  it('reads evaluation events, the first per flag, with result.variant or the older variant', () => {
    expect(flagEvaluations(span(T0, 1, {
      events: events(
        { time_unix_nano: '1', name: 'exception', attributes: { 'feature_flag.key': 'x', 'feature_flag.result.variant': 'no' } },
        evaluation('a', { 'feature_flag.result.variant': 'on', 'feature_flag.result.value': true }),
        evaluation('a', { 'feature_flag.result.variant': 'off' }),
        evaluation('b', { 'feature_flag.variant': 'blue' }),
        evaluation('c', { 'error.type': 'flag_not_found' }),
        evaluation('d', { 'feature_flag.result.variant': 3 }),
      ),
    }))).toEqual([{ flag: 'a', variant: 'on' }, { flag: 'b', variant: 'blue' }]);
  });

  it('reads span attributes, which win over events of the same flag', () => {
    expect(flagEvaluations(span(T0, 1, {
      attributes: { 'feature_flag.key': 'a', 'feature_flag.variant': 'old' },
      events: events(evaluation('a', { 'feature_flag.result.variant': 'event' }), evaluation('b', { 'feature_flag.result.variant': 'x' })),
    }))).toEqual([{ flag: 'a', variant: 'old' }, { flag: 'b', variant: 'x' }]);
    expect(flagEvaluations(span(T0, 1, { attributes: { 'feature_flag.key': 'a', 'feature_flag.result.variant': 'new', 'feature_flag.variant': 'old' } })))
      .toEqual([{ flag: 'a', variant: 'new' }]);
    expect(flagEvaluations(span(T0, 1, { attributes: { 'feature_flag.key': 'a' } }))).toEqual([]);
    expect(flagEvaluations(span(T0, 1, { events: 'not json feature_flag.evaluation' }))).toEqual([]);
  });
});

describe('aggregateFlagVariants', () => {
  const ev = (v: string) => events(evaluation('f', { 'feature_flag.result.variant': v }));
  it('one partial row per (tenant, minute, flag, variant, service, operation), in order of first appearance', () => {
    const rows = aggregateFlagVariants([
      span(T0 + 1_000, 10, { events: ev('on'), cost_usd: 0.5, input_tokens: 100, output_tokens: 10, model: 'gpt-4o' }),
      span(T0 + 2_000, 30, { events: ev('on'), cost_usd: 0.25, status_code: 'error', model: 'gpt-4o' }),
      span(T0 + 3_000, 20, { events: ev('off') }),
      span(T0 + 4_000, 5),
      span(T0 + 61_000, 40, { events: ev('on'), cost_usd: null, unpriced: 1, model: 'mystery' }),
      span(T0 + 5_000, 50, { events: ev('on'), tenant: 'u' }),
    ]);
    expect(rows.map((r) => [r.tenant, r.minute, r.variant, r.count, r.error_count])).toEqual([
      ['t', '2026-01-02 10:15:00', 'on', 2, 1],
      ['t', '2026-01-02 10:15:00', 'off', 1, 0],
      ['t', '2026-01-02 10:16:00', 'on', 1, 0],
      ['u', '2026-01-02 10:15:00', 'on', 1, 0],
    ]);
    expect(rows[0]).toMatchObject({
      flag: 'f', service: 'svc', operation: 'chat', duration_sum_ns: 40_000_000, duration_sq_sum_ms2: 100 + 900,
      cost_usd: 0.75, cost_sq_sum_usd2: 0.25 + 0.0625, unpriced_count: 0, input_tokens: 100, output_tokens: 10, sketch_zero: 0,
    });
    expect(quantileFromBins(rows[0]!.sketch_bins, 0, 1)).toBeCloseTo(30, 0);
    expect(rows[2]).toMatchObject({ cost_usd: 0, cost_sq_sum_usd2: 0, unpriced_count: 1 });
  });

  it('runs in the worker on every span before sampling, deterministically', () => {
    const batch = [otlpSpanEnvelope('t1', 1, 5, [str('feature_flag.key', 'f'), str('feature_flag.result.variant', 'on')]), otlpSpanEnvelope('t1', 10, 3)];
    const r = processBatch(batch, { keepRatio: { t1: 0 } });
    expect(r.flagVariants.map((f) => [f.flag, f.variant, f.count])).toEqual([['f', 'on', 5]]);
    expect(JSON.stringify(processBatch(batch).flagVariants)).toBe(JSON.stringify(processBatch(batch).flagVariants));
  });
});
