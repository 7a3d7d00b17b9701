/**
 * Issue 5 item 7 (part): with the broker killed, Vigil never restarted it in
 * the embedded default, and stopping could hang. The local broker is now
 * supervised: an unexpected exit restarts it on the same port and data
 * directory; `stop()` always finishes (SIGTERM, then SIGKILL).
 *
 * Each test starts its own broker (not the harness one) so it can kill it.
 */
import { Partitioners, type Producer } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../platform/kafka/client.js';
import { startLocalKafka, type LocalKafka, type LocalKafkaHealth } from '../../platform/kafka/local-broker.js';
import { ensureTopics } from '../../platform/kafka/topics.js';
import { createLogger } from '../../platform/logger.js';
import { cacheDir } from '../../platform/paths.js';
import { tempDir, uniqueName } from '../support/harness.js';
import { waitFor, waitUntil } from '../support/wait.js';

const log = createLogger('silent');

/** True while a process with this pid exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('issue 5 item 7: with the broker killed, Vigil restarts it (embedded default) and stops in bounded time', () => {
  const brokers: LocalKafka[] = [];
  const producers: Producer[] = [];
  afterAll(async () => {
    for (const p of producers) await p.disconnect().catch(() => undefined);
    for (const b of brokers) await b.stop();
  });

  it('kill -9 of the broker: it comes back on the same port and a producer can produce again', { timeout: 600_000 }, async () => {
    const dataDir = tempDir('supervised-kafka');
    const broker = await startLocalKafka({
      version: '3.9.1',
      cacheDir: cacheDir(),
      dataDir,
      log,
      restartBackoffMs: { initial: 200, max: 2_000 },
      stopTimeoutMs: 5_000,
    });
    brokers.push(broker);
    const seen: LocalKafkaHealth[] = [];
    broker.onHealthChange((h) => seen.push(h));
    expect(broker.healthy()).toBe(true);

    const kafka = createKafka({ brokers: broker.brokers, clientId: 'vigil-test', log });
    const topic = uniqueName('supervised');
    await ensureTopics(kafka, { topics: [topic], partitions: 1, replication: 1 });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    producers.push(producer);
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: 'before' }] });

    const firstPid = broker.pid;
    process.kill(firstPid, 'SIGKILL');

    await waitUntil('the supervisor to notice the exit', () => seen.some((h) => h.state === 'restarting'), { timeoutMs: 60_000 });
    await waitUntil('the broker to be restarted and healthy', () => broker.health().restarts === 1 && broker.healthy(), { timeoutMs: 300_000 });
    const h = broker.health();
    expect(h.state).toBe('running');
    expect(h.pid).not.toBe(firstPid);
    expect(alive(h.pid)).toBe(true);
    expect(alive(firstPid)).toBe(false);
    expect(h.lastExit?.signal).toBe('SIGKILL');
    expect(seen[0]?.state).toBe('restarting');
    expect(seen.at(-1)?.state).toBe('running');

    // The same producer (same bootstrap address) produces again once it has reconnected.
    await waitFor(
      'a produce to the restarted broker',
      async () => {
        const res = await producer.send({ topic, acks: -1, messages: [{ value: 'after' }] });
        return res.every((r) => r.errorCode === 0) ? res : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );

    // Nothing acknowledged before the kill is lost: both records are in the (same) log.
    const consumer = kafka.consumer({ groupId: uniqueName('supervised_group') });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const values = new Set<string>();
      await consumer.run({ eachMessage: async ({ message }) => void values.add(message.value?.toString() ?? '') });
      await waitUntil('both records to be consumed', () => values.has('before') && values.has('after'), { timeoutMs: 180_000 });
    } finally {
      await consumer.disconnect();
    }

    // A hung broker (SIGSTOPped: SIGTERM stays pending) still stops: SIGKILL after stopTimeoutMs.
    await producer.disconnect();
    const hungPid = broker.pid;
    process.kill(hungPid, 'SIGSTOP');
    await broker.stop();
    expect(broker.health().state).toBe('stopped');
    expect(seen.at(-1)?.state).toBe('stopped');
    await waitUntil('the stopped JVM to be gone', () => !alive(hungPid), { timeoutMs: 30_000 });
    expect(broker.health().restarts).toBe(1);
  });

  it('stop() during the restart backoff stops for good: no new JVM is started', { timeout: 300_000 }, async () => {
    const broker = await startLocalKafka({
      version: '3.9.1',
      cacheDir: cacheDir(),
      dataDir: tempDir('supervised-kafka'),
      log,
      restartBackoffMs: { initial: 3_600_000 },
    });
    brokers.push(broker);
    const pid = broker.pid;
    process.kill(pid, 'SIGKILL');
    await waitUntil('the supervisor to notice the exit', () => broker.health().state === 'restarting', { timeoutMs: 60_000 });
    expect(broker.healthy()).toBe(false);
    expect(broker.health().reason).toMatch(/exited unexpectedly/);
    await broker.stop();
    expect(broker.health()).toMatchObject({ state: 'stopped', restarts: 0, pid });
  });
});
