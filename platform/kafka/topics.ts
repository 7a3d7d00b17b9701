/**
 * Idempotent topic provisioning.
 */
import type { Admin, ITopicConfig, Kafka } from 'kafkajs';
import { VigilError } from '../errors.js';

/** Options of {@link ensureTopics}. */
export interface EnsureTopicsOptions {
  /** Topic names to make sure exist. */
  topics: string[];
  /** Partitions of newly created topics (existing topics are left as they are). */
  partitions: number;
  /** Replication factor of newly created topics (1 for the local broker). */
  replication: number;
  /** Extra topic configs for newly created topics, e.g. `{ 'retention.ms': '86400000' }`. */
  configs?: Record<string, string>;
  /** How long to wait for partition leaders, in ms (default 30000). */
  timeoutMs?: number;
}

/**
 * Create the topics that do not exist yet and wait until every partition of
 * every listed topic has a leader. Safe to call concurrently and repeatedly:
 * TOPIC_ALREADY_EXISTS (another caller won the race) is ignored, existing
 * topics are not altered.
 * @param kafka a kafkajs client (see createKafka).
 * @returns the names of the topics this call created.
 * @throws VigilError VIGIL_ERR_KAFKA_UNAVAILABLE when the cluster cannot be
 *   reached, rejects the creation (e.g. replication > brokers) or leaders do not
 *   appear in time.
 */
export async function ensureTopics(kafka: Kafka, opts: EnsureTopicsOptions): Promise<string[]> {
  const wanted = [...new Set(opts.topics)];
  if (wanted.length === 0) return [];
  const timeout = opts.timeoutMs ?? 30_000;
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t));
    const configEntries = Object.entries(opts.configs ?? {}).map(([name, value]) => ({ name, value }));
    const created: string[] = [];
    if (missing.length > 0) {
      const specs: ITopicConfig[] = missing.map((topic) => ({
        topic,
        numPartitions: opts.partitions,
        replicationFactor: opts.replication,
        configEntries,
      }));
      // Resolves false when every topic already existed (race with another caller).
      // Leaders are awaited below: kafkajs' own wait gives up on the transient
      // UNKNOWN_TOPIC_OR_PARTITION a fresh KRaft broker answers right after creation.
      const didCreate = await admin.createTopics({ topics: specs, waitForLeaders: false, timeout });
      if (didCreate) created.push(...missing);
    }
    await waitForLeaders(admin, wanted, timeout);
    return created;
  } catch (err) {
    if (err instanceof VigilError) throw err;
    throw new VigilError(
      'VIGIL_ERR_KAFKA_UNAVAILABLE',
      `could not ensure Kafka topics ${wanted.join(', ')}: ${(err as Error).message}`,
      { cause: err, retryAfterSeconds: 5 },
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Poll topic metadata until every partition has a leader (createTopics skips this when some topics pre-existed). */
async function waitForLeaders(admin: Admin, topics: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const md = await admin.fetchTopicMetadata({ topics });
      const ok =
        md.topics.length === topics.length &&
        md.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
      if (ok) return;
      last = 'some partitions have no leader yet';
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new VigilError(
        'VIGIL_ERR_KAFKA_UNAVAILABLE',
        `Kafka topics ${topics.join(', ')} have no leaders after ${timeoutMs} ms: ${last}`,
        { retryAfterSeconds: 5 },
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
