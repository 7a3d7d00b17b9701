/**
 * Issue 5 chaos test: under steady load, make ClickHouse inserts fail for a
 * while (the spans table refuses inserts with TOO_MANY_PARTS), pause the
 * broker (SIGSTOP), kill it (SIGKILL; the supervisor restarts it) — and prove
 * that /readyz went red and back to green each time and that every
 * acknowledged span is stored exactly once (unacknowledged ones at most once).
 *
 * The broker is this file's own (other test files share the harness broker).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaPublisher } from '../../ingest/publisher.js';
import { createKafka } from '../../platform/kafka/client.js';
import { ensureTopics } from '../../platform/kafka/topics.js';
import { startLocalKafka, type LocalKafka } from '../../platform/kafka/local-broker.js';
import { defaultCacheDir } from '../../platform/kafka/maven.js';
import type { RunningVigil } from '../../platform/lifecycle.js';
import { createLogger } from '../../platform/logger.js';
import { buildIfStale, startVigilProcess, waitFor, type Running } from '../cli/support.js';
import { createTestDatabase, tempDir, uniqueName } from '../support/harness.js';
import { E2E_KEY, eventually, startTestVigil } from './support.js';
import { TraceLoad } from './load.js';
import type { Envelope } from '../../schemas/envelope.js';

let broker: LocalKafka;
let vigil: RunningVigil;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-chaos-kafka-'));
  broker = await startLocalKafka({
    version: '3.9.1',
    cacheDir: defaultCacheDir(),
    dataDir: dir,
    log: createLogger('silent'),
    restartBackoffMs: { initial: 500, max: 2_000 },
  });
  vigil = await startTestVigil(broker.brokers);
}, 300_000);

afterAll(async () => {
  await vigil?.stop();
  await broker?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}, 120_000);

async function readiness(): Promise<{ status: number; body: { checks?: Record<string, { ok: boolean; reason?: string }> } }> {
  try {
    const res = await fetch(`${vigil.queryUrl}/readyz`, { signal: AbortSignal.timeout(10_000) });
    return { status: res.status, body: (await res.json()) as { checks?: Record<string, { ok: boolean; reason?: string }> } };
  } catch {
    return { status: 0, body: {} };
  }
}

/** Wait until /readyz is 503 with check `name` failing (reason matching `why`), then return the reason. */
async function red(name: string, why: RegExp): Promise<string> {
  return eventually(`/readyz red on ${name}`, async () => {
    const r = await readiness();
    const c = r.body.checks?.[name];
    return r.status === 503 && c && !c.ok && why.test(c.reason ?? '') ? c.reason : undefined;
  }, 180_000);
}

async function green(): Promise<void> {
  await eventually('/readyz green', async () => ((await readiness()).status === 200 ? true : undefined), 240_000);
}

describe('issue 5 chaos: ClickHouse refusing inserts, broker paused and killed, under load', () => {
  it('readiness goes red and back to green each time; every acknowledged span is stored exactly once', async () => {
    const ch = vigil.clickhouse!;
    const load = new TraceLoad(() => vigil.ingestUrl, E2E_KEY, { concurrency: 4, pauseMs: 10 });
    await green();
    load.start();
    try {
      await load.ackedMore(50);

      // 1. ClickHouse refuses inserts into spans (TOO_MANY_PARTS, retryable) for a while.
      await ch.client.command({ query: 'ALTER TABLE {db:Identifier}.spans MODIFY SETTING parts_to_throw_insert = 1', query_params: { db: ch.database } });
      const chReason = await red('processor', /ClickHouse inserts failing/);
      expect(chReason).toMatch(/TOO_MANY_PARTS|code 252/);
      await load.ackedMore(50); // ingest keeps acknowledging: Kafka holds the data
      await ch.client.command({ query: 'ALTER TABLE {db:Identifier}.spans MODIFY SETTING parts_to_throw_insert = 3000', query_params: { db: ch.database } });
      await green();
      await load.ackedMore(50);

      // 2. The broker stops answering (SIGSTOP), then continues.
      process.kill(broker.pid, 'SIGSTOP');
      try {
        await red('kafka', /no answer|does not answer/);
      } finally {
        process.kill(broker.pid, 'SIGCONT');
      }
      await green();
      await load.ackedMore(50);

      // 3. The broker is killed; the supervisor restarts it.
      const before = broker.pid;
      process.kill(before, 'SIGKILL');
      await red('kafka', /.+/);
      await green();
      expect(broker.pid).not.toBe(before);
      await load.ackedMore(50);
    } finally {
      await load.stop();
    }

    // Every acknowledged trace complete, nothing twice.
    const result = await eventually('every acknowledged trace stored', async () => {
      const v = await load.verify(ch);
      return v.complete || v.problems.length > 0 ? v : undefined;
    }, 240_000);
    expect(result.problems).toEqual([]);
    expect(result.complete).toBe(true);
    expect(load.acked.size).toBeGreaterThanOrEqual(250);
  }, 1_200_000);

  it('regression (chaos run at 1145490: an unacknowledged trace stored twice): a produce request that timed out while the broker was paused is not re-sent', async () => {
    const log = createLogger('silent');
    // Every request attempt times out after 2 s; the publisher's own deadline
    // (15 s) outlasts any retry schedule, so the publish settling means every
    // attempt the producer was going to make has been made.
    const kafka = createKafka({ brokers: broker.brokers, clientId: uniqueName('once'), log, requestTimeout: 2_000 });
    const topics = { spans: uniqueName('once_spans'), logs: uniqueName('once_logs') };
    await ensureTopics(kafka, { topics: [topics.spans, topics.logs], partitions: 1, replication: 1 });
    const publisher = createKafkaPublisher({ kafka, topics, lingerMs: 1, log, ackTimeoutMs: 15_000 });
    const envelope = (id: string): Envelope => ({ v: 1, kind: 'spans', format: 'native', tenant: 'once', receivedAt: Date.now(), records: [{ id }] } as unknown as Envelope);
    try {
      await eventually('a first publish acknowledged', async () => publisher.publish('spans', [envelope('warm-up')]).then(() => true, () => undefined), 120_000);
      let outcome: unknown;
      try {
        await pauseBroker();
        outcome = await publisher.publish('spans', [envelope('paused')]).then(() => 'acknowledged', (err: unknown) => err);
      } finally {
        process.kill(broker.pid, 'SIGCONT');
      }
      expect(outcome).toMatchObject({ code: 'VIGIL_ERR_KAFKA_UNAVAILABLE' });
      await eventually('a publish after the pause acknowledged', async () => publisher.publish('spans', [envelope('after')]).then(() => true, () => undefined), 120_000);

      // Read the partition up to the first 'after' message (written after every attempt for 'paused').
      const consumer = kafka.consumer({ groupId: uniqueName('once_reader') });
      const seen: string[] = [];
      await consumer.connect();
      try {
        await consumer.subscribe({ topic: topics.spans, fromBeginning: true });
        await new Promise<void>((resolve) => {
          void consumer.run({
            eachMessage: async ({ message }: { message: KafkaMessage }) => {
              const id = (JSON.parse(message.value!.toString()) as { records: Array<{ id: string }> }).records[0]!.id;
              seen.push(id);
              if (id === 'after') resolve();
            },
          });
        });
      } finally {
        await consumer.disconnect();
      }
      expect(seen.filter((id) => id === 'paused').length).toBeLessThanOrEqual(1);
      expect(seen.filter((id) => id === 'warm-up').length).toBeGreaterThanOrEqual(1);
    } finally {
      await publisher.close();
    }
  }, 600_000);

  it('item 7: SIGTERM finishes within VIGIL_SHUTDOWN_TIMEOUT_MS while the broker does not answer', async () => {
    const proc = await startOnThisBroker('term', 8_000);
    try {
      await waitFor('the banner', () => {
        if (proc.child.exitCode !== null) throw new Error(`vigil start exited: ${proc.stderr().slice(-2000)}`);
        return /native ingest\s+http/.test(proc.stdout()) ? true : undefined;
      }, 240_000);
      process.kill(broker.pid, 'SIGSTOP');
      try {
        proc.child.kill('SIGTERM');
        // Time-boxed wait (not a timing assertion): the bound is 8 s, plus the backstop's 5 s.
        const exit = await waitFor('the process to exit', async () => (proc.child.exitCode !== null || proc.child.signalCode !== null ? true : undefined), 60_000);
        expect(exit).toBe(true);
        // It exited by itself (its handler ran), not by SIGTERM's default action.
        expect(proc.child.signalCode).toBeNull();
      } finally {
        process.kill(broker.pid, 'SIGCONT');
      }
    } finally {
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    }
  }, 600_000);

  it('item 7: a SIGTERM during start-up (regression: one sent before the handlers existed killed the process by its default action) stops it once up, exit 0', async () => {
    const proc = await startOnThisBroker('early', 30_000);
    try {
      // The first start-up step that logs; the roles are not up yet.
      await waitFor('start-up to reach Postgres', () => {
        if (proc.child.exitCode !== null) throw new Error(`vigil start exited: ${proc.stderr().slice(-2000)}`);
        return proc.stderr().includes('connected to postgres') ? true : undefined;
      }, 240_000);
      proc.child.kill('SIGTERM');
      const { code, signal } = await proc.exited;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(proc.stderr()).toContain('shutting down');
      expect(proc.stdout()).not.toMatch(/Vigil is running/);
    } finally {
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    }
  }, 600_000);
});

/** `vigil start --no-demo` on this file's broker, with its own topics, data directory and database. */
async function startOnThisBroker(name: string, shutdownTimeoutMs: number): Promise<Running> {
  await buildIfStale();
  const prefix = uniqueName(name);
  return startVigilProcess(['start', '--no-demo'], {
    KAFKA_BROKERS: broker.brokers.join(','),
    VIGIL_KAFKA_TOPIC_SPANS: `${prefix}_spans`,
    VIGIL_KAFKA_TOPIC_LOGS: `${prefix}_logs`,
    VIGIL_WORKER_THREADS: '1',
    VIGIL_INGEST_PORT: '0',
    VIGIL_QUERY_PORT: '0',
    VIGIL_API_KEY: E2E_KEY,
    VIGIL_LOG_LEVEL: 'info',
    VIGIL_DATA_DIR: tempDir(name),
    DATABASE_URL: await createTestDatabase(),
    VIGIL_SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
  });
}

/**
 * SIGSTOP this file's broker and wait until every JVM thread has stopped
 * (`/proc/<pid>/stat` state T): the signal is delivered to a multi-threaded
 * process asynchronously, so a request sent right after `kill()` could still
 * be answered (suspected cause of one "not re-sent" failure that saw the
 * paused publish acknowledged).
 */
async function pauseBroker(): Promise<void> {
  const pid = broker.pid;
  process.kill(pid, 'SIGSTOP');
  await waitFor('the broker JVM to be stopped (state T)', () => {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T') ? true : undefined;
  }, 30_000);
}
