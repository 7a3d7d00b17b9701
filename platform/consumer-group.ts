/**
 * Guard against two Vigil instances with their own embedded ClickHouse sharing
 * one consumer group: Kafka would split the partitions between them and each
 * would store only part of the data, without a word (issue 12, item 5).
 *
 * By default such instances cannot meet, because the group id is derived from
 * the data directory (platform/config.ts, consumerGroupFor). With an explicit
 * VIGIL_KAFKA_CONSUMER_GROUP, lifecycle.ts calls {@link refuseSharedGroup}
 * before the processors join.
 */
import type { Kafka } from 'kafkajs';
import { VigilError } from './errors.js';
import type { Logger } from './logger.js';

/** Options of {@link refuseSharedGroup}. */
export interface RefuseSharedGroupOptions {
  groupId: string;
  log: Logger;
  /** Time limit of the group lookup (ms; default 10 000). A lookup that fails or times out is logged and does not block start-up. */
  timeoutMs?: number;
}

/**
 * Throw when the consumer group already has members.
 * @throws VigilError VIGIL_ERR_CONSUMER_GROUP_IN_USE naming the group, its members (client id and host) and the fixes.
 */
export async function refuseSharedGroup(kafka: Kafka, opts: RefuseSharedGroupOptions): Promise<void> {
  const admin = kafka.admin();
  let timer: NodeJS.Timeout | undefined;
  try {
    const lookup = (async () => {
      await admin.connect();
      const { groups } = await admin.describeGroups([opts.groupId]);
      return groups.find((g) => g.groupId === opts.groupId);
    })();
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), opts.timeoutMs ?? 10_000);
    });
    let group: Awaited<typeof lookup> | 'timeout';
    try {
      group = await Promise.race([lookup, timeout]);
    } catch (err) {
      opts.log.warn({ err, groupId: opts.groupId }, 'could not check whether the consumer group already has members; joining it');
      return;
    }
    if (group === 'timeout') {
      lookup.catch(() => undefined);
      opts.log.warn({ groupId: opts.groupId }, 'checking the consumer group for members timed out; joining it');
      return;
    }
    const members = group?.members ?? [];
    if (members.length === 0) return;
    const who = members.map((m) => `${m.clientId} on ${m.clientHost}`).join(', ');
    throw new VigilError(
      'VIGIL_ERR_CONSUMER_GROUP_IN_USE',
      `consumer group "${opts.groupId}" (VIGIL_KAFKA_CONSUMER_GROUP) already has ${members.length} member${members.length === 1 ? '' : 's'} (${who}); ` +
        'this instance stores into its own embedded ClickHouse, so joining would split the records between the instances and each would hold only part of them — ' +
        'unset VIGIL_KAFKA_CONSUMER_GROUP (the group is then derived from VIGIL_DATA_DIR), choose another group, or give every instance the same CLICKHOUSE_URL ' +
        '(if the member is a crashed earlier run of this instance, it leaves after the Kafka session timeout, 30 s)',
    );
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => undefined);
  }
}
