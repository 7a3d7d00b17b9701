/**
 * Sub-batch boundaries and their write-ahead "intent" (processors/consumer.ts).
 *
 * Before a sub-batch [F, L] of a partition is inserted, the consumer commits
 * offset F with metadata `{"vigil":1,"first":F,"last":L}` (offsets as decimal
 * strings). After a crash, the restarted member reads that metadata and cuts
 * its first sub-batch at exactly L, so the replayed inserts carry the same
 * insert deduplication tokens and ClickHouse drops the rows already written
 * (the technique of ClickHouse Kafka Connect's exactly-once state, kept in the
 * offset commit metadata instead of KeeperMap).
 */
import type { KafkaMessage } from 'kafkajs';

/** Version tag of the intent metadata. */
export const INTENT_VERSION = 1;

/** An unfinished sub-batch: inclusive offsets as decimal strings. */
export interface Intent {
  first: string;
  last: string;
}

/** Parse offset-commit metadata; null when it is not a Vigil intent. */
export function parseIntent(metadata: string | null | undefined): Intent | null {
  if (!metadata) return null;
  try {
    const m = JSON.parse(metadata) as { vigil?: unknown; first?: unknown; last?: unknown };
    if (m.vigil === INTENT_VERSION && typeof m.first === 'string' && typeof m.last === 'string') return { first: m.first, last: m.last };
  } catch {
    // Metadata written by someone else: no intent.
  }
  return null;
}

/** The metadata string of an intent. */
export function intentMetadata(intent: Intent): string {
  return JSON.stringify({ vigil: INTENT_VERSION, first: intent.first, last: intent.last });
}

/**
 * Cut messages into sub-batches of at most `size` messages and at most
 * `maxBytes` bytes of message values (a single larger message is a
 * sub-batch of its own); the first ends at offset `firstLast` (inclusive)
 * when given (intent replay: the recorded boundaries win over both bounds).
 */
export function cutSubBatches(messages: KafkaMessage[], size: number, firstLast?: string, maxBytes = Number.POSITIVE_INFINITY): KafkaMessage[][] {
  const out: KafkaMessage[][] = [];
  let i = 0;
  if (firstLast !== undefined) {
    const end = BigInt(firstLast);
    const head: KafkaMessage[] = [];
    while (i < messages.length && BigInt(messages[i]!.offset) <= end) head.push(messages[i++]!);
    if (head.length > 0) out.push(head);
  }
  let cur: KafkaMessage[] = [];
  let bytes = 0;
  for (; i < messages.length; i++) {
    const m = messages[i]!;
    const n = m.value?.length ?? 0;
    if (cur.length > 0 && (cur.length >= size || bytes + n > maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(m);
    bytes += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
