/**
 * Issue 6: a large sub-batch is split across the pool's threads
 * (processors/pool.ts `splitBatch` / `joinEncoded`) and still becomes one
 * insert per table. What is stored must be what one thread's encoding of the
 * whole batch stores: the same spans, the same aggregates, the same
 * rejections (named by their Kafka offsets).
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { VigilError } from '../../platform/errors.js';
import { createLogger } from '../../platform/logger.js';
import { storeSubBatch } from '../../processors/store.js';
import { createClickHouseWriter, type ClickHouseWriter } from '../../processors/writer.js';
import { createWorkerPool, joinEncoded, splitBatch, type WorkerPool } from '../../processors/pool.js';
import { TABLE_ORDER } from '../../processors/store.js';
import { processBatchEncoded, type WorkerItem } from '../../processors/worker.js';
import type { KeyValue } from '../../schemas/otlp.js';
import { createTestClickHouse } from '../support/clickhouse.js';
import { uniqueName } from '../support/harness.js';
import { otlpSpanEnvelope } from './fixtures.js';
import { SPAN_1, SPAN_2, TRACE_A, tracesJson, tracesProtobuf } from '../ingest/fixtures.js';

const GEN_AI: KeyValue[] = [
  { key: 'gen_ai.system', value: { stringValue: 'openai' } },
  { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o-mini' } },
  { key: 'gen_ai.usage.input_tokens', value: { intValue: '1200' } },
  { key: 'gen_ai.usage.output_tokens', value: { intValue: '300' } },
  { key: 'user.id', value: { stringValue: 'u-1' } },
];

/** `n` Kafka-like messages of 10 spans each for `tenant`; message `bad` (if any) is not JSON. */
function messages(tenant: string, n: number, bad = -1): WorkerItem[] {
  return Array.from({ length: n }, (_, i) => ({
    offset: String(1000 + i),
    value: i === bad ? '{not json' : JSON.stringify(otlpSpanEnvelope(tenant, 1 + i * 100, 10, i % 3 === 0 ? GEN_AI : [])),
  }));
}

async function query<T>(ch: ClickHouseHandle, sql: string, tenant: string): Promise<T[]> {
  const rs = await ch.client.query({ query: sql, query_params: { db: ch.database, t: tenant }, format: 'JSONEachRow' });
  return rs.json<T>();
}

describe('issue 6 — a sub-batch split across worker threads', () => {
  let ch: ClickHouseHandle;
  let pool: WorkerPool;
  beforeAll(async () => {
    ch = await createTestClickHouse();
    pool = createWorkerPool({ threads: 2, splitBytes: 16 * 1024 });
  });
  afterAll(async () => {
    await pool?.close();
  });

  it('splitBatch: contiguous chunks of whole messages, in order, about equal bytes, one per thread at most; small batches stay whole', () => {
    const items = messages('s', 41);
    const chunks = splitBatch(items, 2, 16 * 1024);
    expect(chunks).toHaveLength(2);
    expect(chunks.flat()).toEqual(items);
    const bytes = chunks.map((c) => c.reduce((n, i) => n + ((i as { value: string }).value.length), 0));
    expect(Math.abs(bytes[0]! - bytes[1]!)).toBeLessThan(bytes[0]! / 5);
    expect(splitBatch(items, 2, 100 * 1024 * 1024)).toEqual([items]);
    expect(splitBatch(items.slice(0, 1), 2, 1)).toEqual([items.slice(0, 1)]);
    expect(splitBatch(items.slice(0, 3), 8, 1).map((c) => c.length)).toEqual([1, 1, 1]);
    // Items without offsets (batch indices) are never split: a chunk would misname its rejections.
    const plain = items.map((i) => (i as { value: string }).value);
    expect(splitBatch(plain, 2, 1)).toEqual([plain]);
  });

  it('stores the same spans, aggregates and rejections as one thread encoding the whole batch', async () => {
    const [split, whole] = [uniqueName('split'), uniqueName('whole')];
    const a = await pool.runEncoded(messages(split, 40, 33));
    const b = processBatchEncoded(messages(whole, 40, 33));
    // It was split: the spans body is two Native blocks.
    expect(a.bodies.spans.format).toBe('Native');
    expect(Array.isArray(a.bodies.spans.data) && a.bodies.spans.data.length).toBe(2);
    expect(a.counts.spans).toBe(b.counts.spans);
    // Each chunk has its own partial aggregate rows (ClickHouse sums them): more rows, the same sums (below).
    expect(a.counts.span_metrics_1m).toBe(2 * b.counts.span_metrics_1m);
    expect(a.rejected.map((r) => r.offset)).toEqual(['1033']);
    expect(b.rejected.map((r) => r.offset)).toEqual(['1033']);
    for (const [tenant, r] of [[split, a], [whole, b]] as const) {
      for (const table of TABLE_ORDER) {
        if (r.counts[table] > 0) await ch.insertRaw(table, r.bodies[table], { insert_deduplicate: 1, insert_deduplication_token: `${tenant}-${table}` });
      }
    }
    const spans = (t: string) => query<{ ids: string[]; n: string }>(ch, 'SELECT arraySort(groupArray(span_id)) AS ids, toString(count()) AS n FROM {db:Identifier}.spans WHERE tenant = {t:String}', t);
    const [sa] = await spans(split);
    const [sb] = await spans(whole);
    expect(sa!.n).toBe('390');
    expect(sa!.ids).toEqual(sb!.ids);
    const metrics = (t: string) => query(ch, "SELECT service, operation, model, toString(sum(count)) AS n, toString(sum(error_count)) AS e, toString(sum(duration_sum_ns)) AS d, toString(sum(input_tokens)) AS it FROM {db:Identifier}.span_metrics_1m WHERE tenant = {t:String} GROUP BY ALL ORDER BY ALL", t);
    const ma = await metrics(split);
    expect(ma.length).toBeGreaterThan(0);
    expect(ma).toEqual(await metrics(whole));
    const costs = (t: string) => query(ch, 'SELECT user_id, model, toString(sum(count)) AS n, toString(round(sum(cost_usd), 9)) AS c FROM {db:Identifier}.span_user_costs_1m WHERE tenant = {t:String} GROUP BY ALL ORDER BY ALL', t);
    const ca = await costs(split);
    // 13 GenAI messages (every third of 40, less the rejected 33rd) of 10 spans; the rest without a model.
    expect(ca).toEqual([{ user_id: '', model: '', n: '260', c: '0' }, { user_id: 'u-1', model: 'gpt-4o-mini', n: '130', c: expect.any(String) }]);
    expect(ca).toEqual(await costs(whole));
  });

  it('raw message bodies (views into a fetched batch) reach the worker whole and stay intact for the caller (a bisection runs them again)', async () => {
    const body = tracesProtobuf(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }, { traceId: TRACE_A, spanId: SPAN_2 }]));
    // Two requests inside one larger buffer, as kafkajs hands out message values.
    const fetched = Buffer.concat([Buffer.alloc(100, 7), body, body, Buffer.alloc(100, 7)]);
    const views = [fetched.subarray(100, 100 + body.length), fetched.subarray(100 + body.length, 100 + 2 * body.length)];
    const items = views.map((raw, i) => ({ offset: String(i), raw, meta: { tenant: uniqueName('raw'), format: 'otlp-proto' as const, kind: 'spans' as const, receivedAtMs: Date.now() } }));
    for (let round = 0; round < 2; round++) {
      const r = await pool.runEncoded(items);
      expect(r.rejected).toEqual([]);
      expect(r.counts.spans).toBe(4);
    }
    expect(items.map((i) => Buffer.compare(i.raw, body))).toEqual([0, 0]);
    expect(fetched.byteLength).toBe(200 + 2 * body.length);
  });

  it('joinEncoded: bodies of different formats for one table (a chunk fell back to JSONEachRow) are not joined', () => {
    const x = processBatchEncoded(messages('j1', 2));
    const y = processBatchEncoded(messages('j2', 2));
    y.bodies.spans = { format: 'JSONEachRow', data: '{}\n' };
    expect(joinEncoded([x, y])).toBeNull();
    const joined = joinEncoded([x, processBatchEncoded(messages('j3', 2))])!;
    expect(joined.counts.spans).toBe(40);
    expect(joined.bodies.span_metrics_1m.format).toBe('JSONEachRow');
  });

  describe('with a spool directory (embedded ClickHouse): the workers write the Native bodies to files', () => {
    let spooled: WorkerPool;
    const mine = () => fs.readdirSync(ch.spoolDir!).filter((f) => f.startsWith(`${process.pid}-`));
    beforeAll(() => {
      spooled = createWorkerPool({ threads: 2, splitBytes: 16 * 1024, spoolDir: ch.spoolDir });
    });
    afterAll(async () => {
      await spooled?.close();
    });

    it('a split batch is one insert of both threads\' files; storeSubBatch stores the rows and removes the files', async () => {
      const tenant = uniqueName('spool');
      const items = messages(tenant, 40);
      const r = await spooled.runEncoded(items);
      expect(r.bodies.spans.format).toBe('NativeFiles');
      const paths = r.bodies.spans.format === 'NativeFiles' ? r.bodies.spans.paths : [];
      expect(paths).toHaveLength(2);
      for (const p of paths) expect(fs.statSync(p).size).toBeGreaterThan(0);
      await Promise.all(paths.map((p) => fs.promises.rm(p)));
      for (const b of Object.values(r.bodies)) if (b.format === 'NativeFiles') for (const p of b.paths) fs.rmSync(p, { force: true });

      const writer = createClickHouseWriter({ clickhouse: ch, log: createLogger('silent') });
      const out = await storeSubBatch({ pool: spooled, writer, log: createLogger('silent'), backoff: { baseMs: 10, maxMs: 10 } }, items, `${tenant}-0-39`);
      expect(out.rows.spans).toBe(400);
      const [n] = await query<{ n: string; parts: string }>(ch, 'SELECT toString(count()) AS n, toString(uniqExact(_part)) AS parts FROM {db:Identifier}.spans WHERE tenant = {t:String}', tenant);
      expect(n).toEqual({ n: '400', parts: '1' });
      expect(mine()).toEqual([]);
    });

    it('the files are removed when the store gives up (shutdown while an insert is being retried)', async () => {
      const tenant = uniqueName('spool_abort');
      const abort = new AbortController();
      const failing: ClickHouseWriter = {
        insert: async () => ({ ok: true }),
        insertEncoded: async () => {
          abort.abort();
          return { ok: false, retryable: true, error: new VigilError('VIGIL_ERR_CLICKHOUSE_UNAVAILABLE', 'down (test)') };
        },
      };
      await expect(storeSubBatch({ pool: spooled, writer: failing, log: createLogger('silent'), backoff: { baseMs: 10, maxMs: 10 }, signal: abort.signal }, messages(tenant, 40), `${tenant}-0-39`))
        .rejects.toMatchObject({ code: 'VIGIL_ERR_SHUTTING_DOWN' });
      expect(mine()).toEqual([]);
    });
  });
});
