import { describe, expect, it } from 'vitest';
import { createLogger } from '../../platform/logger.js';
import { retry } from '../../platform/retry.js';
import { VigilError } from '../../platform/errors.js';
import { processEnvelopes } from '../../processors/consumer.js';
import { createWorkerPool } from '../../processors/pool.js';
import { classifyClickHouseError, createClickHouseWriter, dedupToken } from '../../processors/writer.js';
import { processBatch } from '../../processors/worker.js';
import { createTestClickHouse } from '../support/clickhouse.js';
import { uniqueName } from '../support/harness.js';
import { otlpSpanEnvelope } from './fixtures.js';

const log = createLogger('silent');

async function countSpans(tenant: string): Promise<number> {
  const ch = await createTestClickHouse();
  const rs = await ch.client.query({
    query: 'SELECT count() AS c FROM {db:Identifier}.spans WHERE tenant = {tenant:String}',
    query_params: { db: ch.database, tenant },
    format: 'JSONEachRow',
  });
  return Number(((await rs.json()) as { c: string }[])[0]!.c);
}

describe('ClickHouse writer', () => {
  it('drops a replayed insert with the same dedup token', async () => {
    const ch = await createTestClickHouse();
    const writer = createClickHouseWriter({ clickhouse: ch, log });
    const tenant = uniqueName('w');
    const { spans, metrics } = processBatch([otlpSpanEnvelope(tenant, 1, 3)]);
    const token = dedupToken('vigil.spans', 0, '10', '12', 'spans');
    expect(token).toBe('vigil.spans-0-10-12-spans');
    expect(await writer.insert('spans', spans, token)).toEqual({ ok: true });
    expect(await writer.insert('spans', spans, token)).toEqual({ ok: true });
    expect(await writer.insert('span_metrics_1m', metrics, `${token}-m`)).toEqual({ ok: true });
    expect(await countSpans(tenant)).toBe(3);
    expect(await writer.insert('spans', spans, `${token}-other`)).toEqual({ ok: true });
    expect(await countSpans(tenant)).toBe(6);
  });

  it('classifies a bad row as a permanent rejection by error code', async () => {
    const ch = await createTestClickHouse();
    const writer = createClickHouseWriter({ clickhouse: ch, log });
    const { spans } = processBatch([otlpSpanEnvelope(uniqueName('w'), 1, 1)]);
    const r = await writer.insert('spans', [{ ...spans[0]!, start_time: 'not a time' }], uniqueName('tok'));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.retryable).toBe(false);
      expect(r.error.code).toBe('VIGIL_ERR_CLICKHOUSE_REJECTED');
    }
  });

  it('classifies by code: retryable server codes, network errors; permanent others', () => {
    expect(classifyClickHouseError(Object.assign(new Error('x'), { code: '252', type: 'TOO_MANY_PARTS' })).retryable).toBe(true);
    expect(classifyClickHouseError(Object.assign(new Error('x'), { code: '159' })).retryable).toBe(true);
    expect(classifyClickHouseError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })).error.code).toBe('VIGIL_ERR_CLICKHOUSE_UNAVAILABLE');
    expect(classifyClickHouseError(Object.assign(new Error('x'), { code: '62', type: 'SYNTAX_ERROR' })).retryable).toBe(false);
    expect(classifyClickHouseError(Object.assign(new Error('x'), { code: '53' })).error.code).toBe('VIGIL_ERR_CLICKHOUSE_REJECTED');
  });
});

describe('retry', () => {
  it('retries retryable errors with backoff, stops on permanent ones and on abort', async () => {
    let n = 0;
    const v = await retry(async () => {
      n += 1;
      if (n < 3) throw new VigilError('VIGIL_ERR_CLICKHOUSE_UNAVAILABLE', 'down');
      return 'ok';
    }, { baseMs: 1, maxMs: 5 });
    expect([v, n]).toEqual(['ok', 3]);
    await expect(retry(async () => { throw new VigilError('VIGIL_ERR_CLICKHOUSE_REJECTED', 'no'); }, { baseMs: 1, maxMs: 5 }))
      .rejects.toMatchObject({ code: 'VIGIL_ERR_CLICKHOUSE_REJECTED' });
    await expect(retry(async () => { throw new VigilError('VIGIL_ERR_OVERLOADED', 'busy'); }, { baseMs: 1, maxMs: 5, attempts: 2 }))
      .rejects.toMatchObject({ code: 'VIGIL_ERR_OVERLOADED' });
    const ac = new AbortController();
    const p = retry(async () => { throw new VigilError('VIGIL_ERR_OVERLOADED', 'busy'); }, { baseMs: 60_000, maxMs: 60_000, signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'VIGIL_ERR_SHUTTING_DOWN' });
    await expect(retry(async () => { throw new VigilError('VIGIL_ERR_OVERLOADED', 'busy'); }, { baseMs: 50, maxMs: 50, deadlineMs: 1 }))
      .rejects.toMatchObject({ code: 'VIGIL_ERR_DEADLINE' });
  });
});

describe('worker pool', () => {
  it('runs the TypeScript worker in threads and feeds processEnvelopes (embedded mode)', async () => {
    const pool = createWorkerPool({ threads: 2, maxQueue: 8 });
    try {
      const tenant = uniqueName('pool');
      const r = await pool.run([JSON.stringify(otlpSpanEnvelope(tenant, 1, 2)), 'garbage']);
      expect(r.spans).toHaveLength(2);
      expect(r.metrics).toHaveLength(1);
      expect(r.rejected).toEqual([{ offset: '1', reason: expect.stringMatching(/malformed JSON/) }]);
      const ch = await createTestClickHouse();
      const writer = createClickHouseWriter({ clickhouse: ch, log });
      const env = [otlpSpanEnvelope(tenant, 100, 4)];
      const out = await processEnvelopes(env, { pool, writer, tokenPrefix: uniqueName('inproc') });
      expect(out).toMatchObject({ spans: 4, logs: 0, metrics: 1, rejected: [] });
      expect(await countSpans(tenant)).toBe(4);
    } finally {
      await pool.close();
    }
  });
});
