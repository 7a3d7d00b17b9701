/**
 * Issue 10, "Flags that steer Vigil", through a whole Vigil (real Kafka, chDB,
 * Postgres): `vigil.ingest.logs` = false answers 403 to OTLP and native logs
 * (traces still accepted) until turned back on; `vigil.sampling.keep_ratio` =
 * 0.1 stores whole traces chosen by trace id plus every error trace, while
 * the aggregates still count every span sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningVigil } from '../../platform/lifecycle.js';
import { traceSampled } from '../../processors/sampling.js';
import { E2E_KEY, eventually, startTestVigil } from '../e2e/support.js';

let vigil: RunningVigil;
beforeAll(async () => {
  vigil = await startTestVigil();
});
afterAll(async () => {
  await vigil?.stop();
});

const auth = { authorization: `Bearer ${E2E_KEY}` };

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${vigil.queryUrl}${path}`, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

async function ingest(path: string, body: unknown): Promise<Response> {
  return fetch(`${vigil.ingestUrl}${path}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

const nowNs = () => BigInt(Date.now()) * 1_000_000n;

function otlpLogs(): unknown {
  return { resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'switches' } }] }, scopeLogs: [{ logRecords: [{ timeUnixNano: String(nowNs()), body: { stringValue: 'hi' } }] }] }] };
}

function trace(traceId: string, error: boolean, service = 'sampled-svc'): unknown {
  const t = nowNs();
  return {
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeSpans: [{
        spans: Array.from({ length: 4 }, (_, i) => ({
          traceId,
          spanId: `${traceId.slice(0, 14)}0${i}`,
          name: 'op',
          kind: 2,
          startTimeUnixNano: String(t),
          endTimeUnixNano: String(t + BigInt(i + 1) * 1_000_000n),
          status: { code: error && i === 3 ? 2 : 0 },
        })),
      }],
    }],
  };
}

describe('issue 10: flags that steer Vigil', () => {
  it('vigil.ingest.logs = false answers 403 to OTLP and native logs, traces still accepted; true accepts again', async () => {
    const created = await api('POST', '/api/v1/flags', { key: 'vigil.ingest.logs', type: 'boolean', variants: { on: true, off: false }, default_variant: 'off' });
    expect(created.status).toBe(201);
    await eventually('logs refused', async () => ((await ingest('/v1/logs', otlpLogs())).status === 403 ? true : undefined), 30_000);
    const otlp = await ingest('/v1/logs', otlpLogs());
    expect(otlp.status).toBe(403);
    expect(((await otlp.json()) as { message: string }).message).toMatch(/vigil\.ingest\.logs/);
    const native = await ingest('/api/v1/ingest/logs', [{ time: Date.now(), body: 'x', service: 's' }]);
    expect(native.status).toBe(403);
    expect(((await native.json()) as { error: { code: string } }).error.code).toBe('VIGIL_ERR_FORBIDDEN');
    expect((await ingest('/v1/traces', trace('a'.repeat(31) + '1', false, 'other-svc'))).status).toBe(200);

    expect((await api('PATCH', '/api/v1/flags/vigil.ingest.logs', { default_variant: 'on' })).status).toBe(200);
    await eventually('logs accepted again', async () => ((await ingest('/v1/logs', otlpLogs())).status === 200 ? true : undefined), 30_000);
  });

  it('vigil.sampling.keep_ratio = 0.1: whole traces kept by trace id, every error trace kept, aggregates count every span', async () => {
    const created = await api('POST', '/api/v1/flags', { key: 'vigil.sampling.keep_ratio', type: 'number', variants: { tenth: 0.1 }, default_variant: 'tenth' });
    expect(created.status).toBe(201);
    // The processors read the flag from the shared cache; wait until a probe trace is dropped.
    const ids: Array<{ id: string; error: boolean }> = [];
    for (let i = 0; i < 300; i++) {
      const id = (BigInt(0x10000000 + i) * 0x9e3779b97f4a7c15n % (1n << 120n)).toString(16).padStart(32, '1').slice(-32);
      ids.push({ id, error: i % 10 === 0 });
    }
    for (const t of ids) expect((await ingest('/v1/traces', trace(t.id, t.error))).status).toBe(200);

    const ch = vigil.clickhouse!;
    const q = async <T>(sql: string): Promise<T[]> => {
      const rs = await ch.client.query({ query: sql, query_params: { db: ch.database }, format: 'JSONEachRow' });
      return (await rs.json()) as T[];
    };
    // Aggregates: every span sent (300 traces × 4 spans).
    await eventually('aggregates of all 1,200 spans', async () => {
      const [r] = await q<{ n: string }>("SELECT sum(count) AS n FROM {db:Identifier}.span_metrics_1m WHERE service = 'sampled-svc'");
      return Number(r!.n) === 1200 ? true : undefined;
    }, 120_000);
    const rows = await q<{ trace_id: string; n: string }>("SELECT trace_id, count() AS n FROM {db:Identifier}.spans WHERE service = 'sampled-svc' GROUP BY trace_id");
    const stored = new Map(rows.map((r) => [r.trace_id, Number(r.n)]));
    const expected = ids.filter((t) => t.error || traceSampled(t.id, 0.1));
    expect([...stored.keys()].sort()).toEqual(expected.map((t) => t.id).sort());
    for (const n of stored.values()) expect(n).toBe(4); // whole traces
    const sampledHealthy = expected.filter((t) => !t.error).length;
    expect(sampledHealthy).toBeGreaterThan(5); // about 10 % of the 270 healthy traces
    expect(sampledHealthy).toBeLessThan(60);
  });
});
