/**
 * Test support for the query API: the shared test chDB, an app with an
 * in-memory KeyVerifier, and row builders in the shape of schemas/rows.ts.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { createLogger } from '../../platform/logger.js';
import type { LogRow, SpanMetricRow, SpanRow } from '../../schemas/rows.js';
import { msToNs, nsToClickHouse, nsToMinute } from '../../schemas/time.js';
import { buildQueryApp } from '../../query-api/app.js';
import { createTestClickHouse } from '../support/clickhouse.js';

export interface TestApp {
  app: FastifyInstance;
  ch: ClickHouseHandle;
  /** Register a fresh tenant; returns its id and an API key for it. */
  tenant(): { tenant: string; key: string; auth: { authorization: string } };
}

/** Build the query app against the test chDB with a Map-based KeyVerifier. */
export async function testApp(): Promise<TestApp> {
  const ch = await createTestClickHouse();
  const keys = new Map<string, string>();
  const app = buildQueryApp({
    log: createLogger('silent'),
    clickhouse: ch,
    keys: { verify: async (k) => (keys.has(k) ? { projectId: keys.get(k)! } : null) },
  });
  await app.ready();
  return {
    app,
    ch,
    tenant() {
      const tenant = `t_${randomBytes(4).toString('hex')}`;
      const key = `key_${randomBytes(8).toString('hex')}`;
      keys.set(key, tenant);
      return { tenant, key, auth: { authorization: `Bearer ${key}` } };
    },
  };
}

/** A random 32-hex trace id / 16-hex span id. */
export const traceId = (): string => randomBytes(16).toString('hex');
export const spanId = (): string => randomBytes(8).toString('hex');

/** Epoch ms of a whole minute `minutesAgo` before now (inside the 30-day TTL). */
export function minuteAgo(minutesAgo: number): number {
  return (Math.floor(Date.now() / 60_000) - minutesAgo) * 60_000;
}

/** A span row starting at `startMs` lasting `durationMs`, with overrides. */
export function spanRow(
  p: Partial<SpanRow> & { tenant: string; trace_id: string; startMs: number; durationMs: number },
): SpanRow {
  const { startMs, durationMs, ...rest } = p;
  const start = msToNs(startMs);
  const dur = msToNs(durationMs);
  return {
    span_id: spanId(),
    parent_span_id: '',
    name: 'op',
    kind: 'server',
    service: 'svc',
    start_time: nsToClickHouse(start),
    end_time: nsToClickHouse(start + dur),
    duration_ns: Number(dur),
    status_code: 'unset',
    status_message: '',
    scope_name: '',
    scope_version: '',
    resource_attributes: {},
    attributes: {},
    events: '[]',
    model: '',
    provider: '',
    user_id: '',
    input_tokens: 0,
    output_tokens: 0,
    cached_tokens: 0,
    cost_usd: null,
    unpriced: 0,
    ...rest,
  };
}

/** A log row at `timeMs` with overrides. */
export function logRow(p: Partial<LogRow> & { tenant: string; timeMs: number }): LogRow {
  const { timeMs, ...rest } = p;
  const t = nsToClickHouse(msToNs(timeMs));
  return {
    time: t,
    observed_time: t,
    severity_number: 9,
    severity_text: 'INFO',
    body: '',
    service: 'svc',
    trace_id: '',
    span_id: '',
    scope_name: '',
    resource_attributes: {},
    attributes: {},
    ...rest,
  };
}

/** A span_metrics_1m row for the minute containing `minuteMs`, with overrides. */
export function metricRow(p: Partial<SpanMetricRow> & { tenant: string; minuteMs: number }): SpanMetricRow {
  const { minuteMs, ...rest } = p;
  return {
    minute: nsToMinute(msToNs(minuteMs)),
    service: 'svc',
    operation: 'op',
    model: '',
    provider: '',
    user_id: '',
    count: 0,
    error_count: 0,
    duration_sum_ns: 0,
    input_tokens: 0,
    output_tokens: 0,
    cached_tokens: 0,
    cost_usd: 0,
    unpriced_count: 0,
    sketch_bins: {},
    sketch_zero: 0,
    ...rest,
  };
}

/** Insert rows (JSONEachRow) into `table` of the test database. */
export async function insert(ch: ClickHouseHandle, table: 'spans' | 'logs' | 'span_metrics_1m', values: object[]): Promise<void> {
  await ch.client.insert({ table: `${ch.database}.${table}`, format: 'JSONEachRow', values });
}
