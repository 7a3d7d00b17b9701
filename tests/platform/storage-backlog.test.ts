/**
 * Regression (issue 6, bench:e2e): with ingest and the processors in one
 * process, intake above storage's rate took the CPU and storage fell to a
 * tenth while every request was still acknowledged. StorageBacklog measures
 * how far storage is behind and the ingest budget refuses (429 + Retry-After)
 * as the delay passes half the limit, all of it at the limit.
 */
import { describe, expect, it } from 'vitest';
import { StorageBacklog } from '../../platform/storage-backlog.js';
import { InflightBudget } from '../../ingest/body.js';
import { OverloadedError } from '../../platform/errors.js';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('StorageBacklog', () => {
  it('the delay is the age of the oldest published message not yet processed; 0 once processed', () => {
    const c = clock();
    const b = new StorageBacklog(4000, c.now);
    expect(b.delayMs()).toBe(0);
    b.notePublished(10); // t = 0
    c.advance(1000);
    b.notePublished(10); // t = 1000
    c.advance(2000); // t = 3000
    expect(b.delayMs()).toBe(3000);
    expect(b.backlogMessages()).toBe(20);
    b.noteProcessed(15); // the first flush is done, the second half done
    expect(b.delayMs()).toBe(2000);
    b.noteProcessed(5);
    expect(b.delayMs()).toBe(0);
    expect(b.backlogMessages()).toBe(0);
  });

  it('keeps growing while nothing is processed (unlike lag gauges that move only when a batch completes)', () => {
    const c = clock();
    const b = new StorageBacklog(4000, c.now);
    b.notePublished(1);
    for (const ms of [500, 5000, 60_000]) {
      c.advance(ms);
      expect(b.delayMs()).toBe(ms === 500 ? 500 : ms === 5000 ? 5500 : 65_500);
    }
  });

  it('messages processed from before this process started do not make later ones look processed early', () => {
    const c = clock();
    const b = new StorageBacklog(4000, c.now);
    b.noteProcessed(1000); // an old backlog drained: clamped at 0 published
    b.notePublished(5);
    c.advance(3000);
    expect(b.delayMs()).toBe(3000);
  });

  it('admits below half the limit, refuses a share growing linearly to all at the limit, with Retry-After', () => {
    const c = clock();
    let r = 0;
    const b = new StorageBacklog(4000, c.now, () => r);
    b.notePublished(1);
    c.advance(2000); // half the limit: admitted whatever the draw
    r = 0;
    expect(b.admit()).toBeUndefined();
    c.advance(1000); // 3000 ms: half of the requests refused
    r = 0.49;
    const refused = b.admit();
    expect(refused).toBeInstanceOf(OverloadedError);
    expect(refused!.code).toBe('VIGIL_ERR_OVERLOADED');
    expect(refused!.retryAfterSeconds).toBe(1);
    expect(refused!.message).toMatch(/storage is 3\.0 s behind intake \(limit VIGIL_INGEST_MAX_STORAGE_DELAY_MS=4000\)/);
    r = 0.51;
    expect(b.admit()).toBeUndefined();
    c.advance(5000); // 8000 ms: all refused, Retry-After grows with the delay
    r = 0.999;
    expect(b.admit()?.retryAfterSeconds).toBe(6);
    b.noteProcessed(1);
    expect(b.admit()).toBeUndefined();
  });

  it("the processors' partition view counts when partitions progress unevenly (the count view alone said 0)", () => {
    const c = clock();
    let r = 0;
    const b = new StorageBacklog(4000, c.now, () => r);
    b.notePublished(10);
    b.noteProcessed(10); // by count, caught up
    expect(b.delayMs()).toBe(0);
    let partitionLag = 0;
    b.usePartitionLag(() => partitionLag);
    partitionLag = 5000; // one partition is 5 s behind
    expect(b.delayMs()).toBe(5000);
    r = 0.999;
    expect(b.admit()).toBeInstanceOf(OverloadedError);
  });

  it('predicts the wait of a message published now from the backlog and the recent storage rate (intake at 6× storage)', () => {
    const c = clock();
    const b = new StorageBacklog(30_000, c.now, () => 0.999);
    // 10 s of intake at 60 messages/s while storage does 10/s.
    for (let t = 0; t < 10; t++) {
      b.notePublished(60);
      c.advance(1000);
      b.noteProcessed(10);
    }
    // The oldest unprocessed message is ~9 s old, but 500 wait at 10/s: ~50 s.
    expect(b.backlogMessages()).toBe(500);
    expect(b.delayMs()).toBeGreaterThanOrEqual(49_000);
    expect(b.delayMs()).toBeLessThanOrEqual(51_000);
    expect(b.admit()).toBeInstanceOf(OverloadedError);
    // Caught up: the next busy period starts afresh.
    b.noteProcessed(500);
    expect(b.delayMs()).toBe(0);
    b.notePublished(5);
    expect(b.delayMs()).toBe(0);
  });

  it('does not predict from the first seconds of a busy period (one early sub-batch overstated the wait)', () => {
    const c = clock();
    const b = new StorageBacklog(4000, c.now, () => 0.999);
    b.notePublished(40);
    c.advance(1200);
    b.noteProcessed(1); // 39 left at 1 per 1.2 s would "predict" 47 s
    expect(b.delayMs()).toBe(1200); // the oldest message's age only
    expect(b.admit()).toBeUndefined();
  });

  it('limit 0 never refuses', () => {
    const c = clock();
    const b = new StorageBacklog(0, c.now, () => 0);
    b.notePublished(1);
    c.advance(600_000);
    expect(b.admit()).toBeUndefined();
  });

  it('memory stays bounded over many flushes', () => {
    const c = clock();
    const b = new StorageBacklog(4000, c.now);
    for (let i = 0; i < 100_000; i++) {
      c.advance(25);
      b.notePublished(1);
      if (i % 2 === 0) b.noteProcessed(1);
    }
    expect((b as unknown as { marks: unknown[] }).marks.length).toBeLessThanOrEqual(4096 * 2 + 1024);
    expect(b.delayMs()).toBeGreaterThan(0);
  });

  it('the ingest budget refuses with it before admitting, and holds nothing for a refused request', () => {
    const c = clock();
    const b = new StorageBacklog(1000, c.now, () => 0);
    const budget = new InflightBudget({ maxInflightBytes: 1 << 20, maxInflightRequests: 10 }, () => b.admit());
    budget.acquire(100);
    budget.release(100);
    b.notePublished(1);
    c.advance(1500);
    expect(() => budget.acquire(100)).toThrow(OverloadedError);
    expect(budget.requests).toBe(0);
    expect(budget.bytes).toBe(0);
  });
});
