/**
 * Regression (bench:e2e, peak RSS 5.4 GiB): sub-batches were bounded only in
 * messages (500), so with bigger fetches one sub-batch could hold 50,000
 * spans and their rows at once. cutSubBatches also bounds the bytes of the
 * message values, keeps offset order, never splits a replayed intent range,
 * and lets a single larger message through alone.
 */
import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { cutSubBatches } from '../../processors/intent.js';

const msg = (offset: number, bytes: number): KafkaMessage => ({ offset: String(offset), value: Buffer.alloc(bytes), key: null, timestamp: '0', attributes: 0, headers: {} }) as KafkaMessage;
const offsets = (subs: KafkaMessage[][]): string[][] => subs.map((s) => s.map((m) => m.offset));

describe('cutSubBatches', () => {
  it('cuts at the message count or the byte bound, whichever comes first, in offset order', () => {
    const ms = [msg(0, 400), msg(1, 400), msg(2, 400), msg(3, 100), msg(4, 100), msg(5, 100), msg(6, 100)];
    expect(offsets(cutSubBatches(ms, 3, undefined, 1000))).toEqual([['0', '1'], ['2', '3', '4'], ['5', '6']]);
    expect(offsets(cutSubBatches(ms, 500))).toEqual([['0', '1', '2', '3', '4', '5', '6']]);
  });

  it('a message larger than the bound is a sub-batch of its own', () => {
    const ms = [msg(0, 10), msg(1, 5000), msg(2, 10)];
    expect(offsets(cutSubBatches(ms, 500, undefined, 1000))).toEqual([['0'], ['1'], ['2']]);
  });

  it('an intent being replayed keeps its recorded range whatever the bounds', () => {
    const ms = [msg(10, 900), msg(11, 900), msg(12, 900), msg(13, 900)];
    expect(offsets(cutSubBatches(ms, 500, '12', 1000))).toEqual([['10', '11', '12'], ['13']]);
  });
});
