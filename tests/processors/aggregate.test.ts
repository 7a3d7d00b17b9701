import { describe, expect, it } from 'vitest';
import { createLogger } from '../../platform/logger.js';
import { aggregateBatch, aggregateSpans, minuteOf } from '../../processors/aggregate.js';
import { quantileFromBins } from '../../processors/sketch.js';
import { TABLE_ORDER } from '../../processors/store.js';
import { processBatch } from '../../processors/worker.js';
import { createClickHouseWriter, type ProcessorTable } from '../../processors/writer.js';
import type { SpanRow } from '../../schemas/rows.js';
import { clickHouseToNs, msToNs, nsToClickHouse, nsToMinute } from '../../schemas/time.js';
import { createTestClickHouse } from '../support/clickhouse.js';
import { uniqueName } from '../support/harness.js';
import { int, otlpSpanEnvelope, str } from './fixtures.js';

const log = createLogger('silent');

/** A normalised span at `startMs` (epoch ms) lasting `ms`, with overrides. */
function span(startMs: number, ms: number, p: Partial<SpanRow> = {}): SpanRow {
  const start = msToNs(startMs);
  return {
    tenant: 't', trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16), parent_span_id: '', name: 'op', kind: 'server',
    service: 'svc', start_time: nsToClickHouse(start), end_time: nsToClickHouse(start + msToNs(ms)),
    duration_ns: ms * 1_000_000, status_code: 'ok', status_message: '', scope_name: '', scope_version: '',
    resource_attributes: {}, attributes: {}, events: '[]', model: '', provider: '', user_id: '',
    input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: null, unpriced: 0,
    ...p,
  };
}

const T0 = Date.UTC(2026, 0, 2, 10, 15, 0);
const MINUTE = '2026-01-02 10:15:00';

describe('aggregateBatch', () => {
  const llm = (user: string, name: string, cost: number | null, extra: Partial<SpanRow> = {}) => ({
    name, model: 'gpt-4o', provider: 'openai', user_id: user, input_tokens: 100, output_tokens: 10, cached_tokens: 5,
    cost_usd: cost, unpriced: (cost === null ? 1 : 0) as 0 | 1, ...extra,
  });
  const spans = [
    span(T0 + 1_000, 10, llm('alice', 'chat', 0.5)),
    span(T0 + 2_000, 20, llm('bob', 'chat', 0.25, { status_code: 'error' })),
    span(T0 + 3_000, 30, llm('alice', 'summarise', null)),
    span(T0 + 4_000, 40, { name: 'GET /' }),
    span(T0 + 61_000, 50, llm('alice', 'chat', 1)),
  ];

  it('keys sketches by series without the user, and costs by user without the operation', () => {
    const { metrics, userCosts } = aggregateBatch(spans);
    expect(metrics.map((m) => [m.minute, m.operation, m.model, m.count, m.error_count])).toEqual([
      [MINUTE, 'chat', 'gpt-4o', 2, 1],
      [MINUTE, 'summarise', 'gpt-4o', 1, 0],
      [MINUTE, 'GET /', '', 1, 0],
      ['2026-01-02 10:16:00', 'chat', 'gpt-4o', 1, 0],
    ]);
    expect(metrics[0]).toMatchObject({ tenant: 't', service: 'svc', provider: 'openai', duration_sum_ns: 30_000_000,
      input_tokens: 200, output_tokens: 20, cached_tokens: 10, cost_usd: 0.75, unpriced_count: 0, sketch_zero: 0 });
    expect(metrics[1]).toMatchObject({ cost_usd: 0, unpriced_count: 1 });
    expect(Object.values(metrics[0]!.sketch_bins).reduce((a, b) => a + b, 0)).toBe(2);
    expect(quantileFromBins(metrics[0]!.sketch_bins, 0, 1)).toBeCloseTo(20, 0);
    for (const m of metrics) expect(m).not.toHaveProperty('user_id');

    expect(userCosts).toEqual([
      { tenant: 't', minute: MINUTE, service: 'svc', model: 'gpt-4o', provider: 'openai', user_id: 'alice',
        count: 2, input_tokens: 200, output_tokens: 20, cached_tokens: 10, cost_usd: 0.5, unpriced_count: 1 },
      { tenant: 't', minute: MINUTE, service: 'svc', model: 'gpt-4o', provider: 'openai', user_id: 'bob',
        count: 1, input_tokens: 100, output_tokens: 10, cached_tokens: 5, cost_usd: 0.25, unpriced_count: 0 },
      { tenant: 't', minute: MINUTE, service: 'svc', model: '', provider: '', user_id: '',
        count: 1, input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0, unpriced_count: 0 },
      { tenant: 't', minute: '2026-01-02 10:16:00', service: 'svc', model: 'gpt-4o', provider: 'openai', user_id: 'alice',
        count: 1, input_tokens: 100, output_tokens: 10, cached_tokens: 5, cost_usd: 1, unpriced_count: 0 },
    ]);
    // Both tables account for every span, tokens and cost once.
    const total = (rows: { count: number; cost_usd: number; input_tokens: number }[]) =>
      rows.reduce((a, r) => [a[0]! + r.count, a[1]! + r.cost_usd, a[2]! + r.input_tokens], [0, 0, 0]);
    expect(total(userCosts)).toEqual(total(metrics));
    expect(aggregateSpans(spans)).toEqual(metrics);
  });

  it('is deterministic: the same input gives identical rows in the same order (dedup on replay)', () => {
    expect(JSON.stringify(aggregateBatch(spans))).toBe(JSON.stringify(aggregateBatch(spans.map((s) => ({ ...s })))));
  });

  it('does not confuse keys whose parts run into each other', () => {
    const { metrics, userCosts } = aggregateBatch([
      span(T0, 1, { service: 'a', name: 'bc' }),
      span(T0, 1, { service: 'ab', name: 'c' }),
      span(T0, 1, { model: 'x', provider: 'yz' }),
      span(T0, 1, { model: 'xy', provider: 'z' }),
    ]);
    expect(metrics).toHaveLength(4);
    expect(userCosts).toHaveLength(4);
  });

  it('minuteOf cuts canonical literals and converts other forms', () => {
    for (const ms of [0, T0, T0 + 59_999, Date.UTC(2099, 11, 31, 23, 59, 59, 999)]) {
      const lit = nsToClickHouse(msToNs(ms));
      expect(minuteOf(lit)).toBe(nsToMinute(clickHouseToNs(lit)));
    }
    expect(minuteOf('2026-01-02T10:15:59.5')).toBe(MINUTE);
    expect(() => minuteOf('yesterday')).toThrow(RangeError);
  });
});

describe('processor output in ClickHouse', () => {
  async function sums(table: string, tenant: string): Promise<{ n: number; cost: number; rows: number }> {
    const ch = await createTestClickHouse();
    const rs = await ch.client.query({
      query: 'SELECT sum(count) AS n, sum(cost_usd) AS cost, count() AS rows FROM {db:Identifier}.{t:Identifier} WHERE tenant = {tenant:String}',
      query_params: { db: ch.database, t: table, tenant },
      format: 'JSONEachRow',
    });
    const [r] = (await rs.json()) as { n: string; cost: number; rows: string }[];
    return { n: Number(r!.n), cost: Number(r!.cost), rows: Number(r!.rows) };
  }

  it('writes every table in TABLE_ORDER; a replay with the same tokens changes no table, hourly rollups included', async () => {
    const ch = await createTestClickHouse();
    const writer = createClickHouseWriter({ clickhouse: ch, log });
    const tenant = uniqueName('agg');
    const genai = [str('gen_ai.request.model', 'gpt-4o'), str('gen_ai.system', 'openai'), int('gen_ai.usage.input_tokens', 1000), int('gen_ai.usage.output_tokens', 100)];
    const result = processBatch([
      otlpSpanEnvelope(tenant, 1, 3, [...genai, str('user.id', 'alice')]),
      otlpSpanEnvelope(tenant, 10, 2, [...genai, str('user.id', 'bob')]),
      otlpSpanEnvelope(tenant, 20, 4, [str('feature_flag.key', 'new-cart'), str('feature_flag.result.variant', 'on')]),
    ]);
    expect(TABLE_ORDER).toEqual(['spans', 'span_metrics_1m', 'span_user_costs_1m', 'flag_variant_metrics_1m', 'logs']);
    expect(result.userCosts.map((u) => [u.user_id, u.count])).toEqual([['alice', 3], ['bob', 2], ['', 4]]);
    expect(result.flagVariants.map((f) => [f.flag, f.variant, f.service, f.operation, f.count])).toEqual([['new-cart', 'on', 'checkout', 'GET /cart', 4]]);
    const rowsOf: Record<ProcessorTable, readonly object[]> = {
      spans: result.spans, span_metrics_1m: result.metrics, span_user_costs_1m: result.userCosts,
      flag_variant_metrics_1m: result.flagVariants, logs: result.logs,
    };
    const cost = result.spans.reduce((a, s) => a + (s.cost_usd ?? 0), 0);
    expect(cost).toBeGreaterThan(0);

    for (let round = 0; round < 2; round++) {
      for (const table of TABLE_ORDER) {
        expect(await writer.insert(table, rowsOf[table] as never, `${tenant}-0-9-${table}`)).toEqual({ ok: true });
      }
      for (const table of ['span_metrics_1m', 'span_metrics_5m', 'span_metrics_1h', 'span_user_costs_1m', 'span_user_costs_1h']) {
        const s = await sums(table, tenant);
        expect(s.n, `${table} round ${round}`).toBe(9);
        expect(s.cost).toBeCloseTo(cost, 12);
      }
      // The flag aggregate: only the 4 evaluating spans (unpriced: cost 0), stored once whatever the replays.
      expect(await sums('flag_variant_metrics_1m', tenant), `flag_variant_metrics_1m round ${round}`).toEqual({ n: 4, cost: 0, rows: 1 });
    }
    // A different token (a different sub-batch) counts again, in the rollups too.
    await writer.insert('span_metrics_1m', result.metrics, `${tenant}-10-19-span_metrics_1m`);
    expect((await sums('span_metrics_1h', tenant)).n).toBe(18);
    expect((await sums('span_metrics_5m', tenant)).n).toBe(18);
  });
});
