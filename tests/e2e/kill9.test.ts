/**
 * Issue 5 chaos, the process side: `vigil start` killed with SIGKILL under
 * steady load — mid-batch, between inserts and offset commits — and started
 * again on the same data directory, twice. Every acknowledged span is stored
 * exactly once, unacknowledged ones at most once. The embedded chDB of the
 * child is opened here only after the child has stopped (one process per
 * data directory).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../platform/clickhouse.js';
import { buildIfStale, startVigilProcess, waitFor, type Running } from '../cli/support.js';
import { createTestDatabase, kafkaBrokers, tempDir, uniqueName } from '../support/harness.js';
import { E2E_KEY } from './support.js';
import { TraceLoad } from './load.js';

const running: Running[] = [];
let current: { proc: Running; ingestUrl: string } | undefined;

beforeAll(async () => {
  await buildIfStale();
}, 300_000);
afterAll(async () => {
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
});

async function start(env: Record<string, string>): Promise<{ proc: Running; ingestUrl: string }> {
  const proc = startVigilProcess(['start', '--no-demo'], env);
  running.push(proc);
  const ingestUrl = await waitFor(
    'the "Vigil is running" banner',
    () => {
      if (proc.child.exitCode !== null) throw new Error(`vigil start exited ${proc.child.exitCode}: ${proc.stderr().slice(-2000)}`);
      return /native ingest\s+(http:\/\/\S+)\/api\/v1\/ingest\/spans/.exec(proc.stdout())?.[1];
    },
    240_000,
  );
  return { proc, ingestUrl };
}

describe('issue 5 chaos: kill -9 under load', () => {
  it('vigil start killed with SIGKILL twice mid-batch: every acknowledged span stored exactly once', async () => {
    const dataDir = tempDir('kill9');
    const prefix = uniqueName('k9');
    const env = {
      KAFKA_BROKERS: kafkaBrokers().join(','),
      VIGIL_KAFKA_TOPIC_SPANS: `${prefix}_spans`,
      VIGIL_KAFKA_TOPIC_LOGS: `${prefix}_logs`,
      VIGIL_KAFKA_PARTITIONS: '3',
      VIGIL_WORKER_THREADS: '1',
      VIGIL_INGEST_PORT: '0',
      VIGIL_QUERY_PORT: '0',
      VIGIL_API_KEY: E2E_KEY,
      VIGIL_LOG_LEVEL: 'warn',
      VIGIL_DATA_DIR: dataDir,
      DATABASE_URL: await createTestDatabase(),
    };
    const load = new TraceLoad(() => current?.ingestUrl, E2E_KEY, { concurrency: 4, pauseMs: 5 });
    current = await start(env);
    load.start();
    try {
      for (let round = 0; round < 2; round++) {
        await load.ackedMore(100);
        const victim = current;
        current = undefined;
        victim.proc.child.kill('SIGKILL');
        await victim.proc.exited;
        current = await start(env);
      }
      await load.ackedMore(100);
    } finally {
      await load.stop();
    }
    // Let the last instance store everything, then stop it cleanly.
    const last = current!;
    const queryUrl = /query API\s+(http:\/\/\S+)\/api\/v1\/traces/.exec(last.proc.stdout())![1]!;
    /** Trace ids the query API lists for the last hour (every page). */
    const listed = async (): Promise<Set<string> | undefined> => {
      const ids = new Set<string>();
      let cursor: string | null = null;
      do {
        const res = await fetch(`${queryUrl}/api/v1/traces?limit=500&from=now-1h${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: { authorization: `Bearer ${E2E_KEY}` } });
        if (res.status !== 200) return undefined;
        const page = (await res.json()) as { traces: Array<{ trace_id: string }>; next_cursor: string | null };
        for (const t of page.traces) ids.add(t.trace_id);
        cursor = page.next_cursor;
      } while (cursor !== null);
      return ids;
    };
    await waitFor('all acknowledged traces listed', async () => {
      const ids = await listed();
      return ids !== undefined && [...load.acked].every((t) => ids.has(t)) ? true : undefined;
    }, 240_000);
    last.proc.child.kill('SIGTERM');
    const exit = await last.proc.exited;
    expect(exit.code).toBe(0);

    const ch = createClickHouse({ url: undefined, username: undefined, password: undefined, database: 'vigil', retentionDays: 30 }, dataDir, path.join(dataDir, 'clickhouse'));
    const result = await load.verify(ch);
    expect(result.problems).toEqual([]);
    expect(result.complete).toBe(true);
    expect(load.acked.size).toBeGreaterThanOrEqual(300);
  }, 1_200_000);
});
