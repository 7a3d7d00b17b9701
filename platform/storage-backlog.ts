/**
 * How far storage is behind intake, in one process that runs both ingest and
 * the processors (`vigil start`), and the admission rule built on it.
 *
 * Why: ingest and the processors share the same cores. Measured with
 * `npm run bench:e2e` (bench/README.md, "End to end"): as the offered rate
 * rose, ingest took the CPU and storage fell from ~6,000 to ~600 spans/s
 * while every request was acknowledged — the backlog, and ack→queryable,
 * grew without bound. The issue's rule is that ingest and processing must not
 * starve each other, and the project's that overload answers 429 with
 * Retry-After rather than acknowledging what will not be stored for minutes.
 *
 * Measure: ingest reports each Kafka-acknowledged flush (messages), the
 * processors each committed sub-batch (messages). The storage delay is the
 * largest of three views: the age of the oldest acknowledged message not yet
 * processed (the time of the flush that pushed the published count past the
 * processed count), the processors' slowest partition (their own view, as
 * partitions progress unevenly), and the predicted wait of a message
 * published now (backlog ÷ recent storage rate), which reacts while the
 * backlog is still young but growing fast. The age views keep growing while
 * the processors make no progress at all, unlike Kafka's lag gauges, which
 * only move when a batch completes. Messages consumed from
 * before this process started count as processed (the count is clamped at
 * what was published), so the delay is a lower bound while an old backlog
 * drains.
 *
 * Rule ({@link StorageBacklog.admit}): below `maxDelayMs / 2` every request is
 * admitted; from there to `maxDelayMs` a growing share is refused (random,
 * linear in the delay), above it every one — a smooth brake instead of an
 * on/off oscillation. Refused requests get 429 VIGIL_ERR_OVERLOADED with
 * Retry-After; OTLP exporters retry them. The rule is for contention, not
 * outages: while the processors report a failure (ClickHouse inserts
 * failing, dead letters unwritable, consumer restarting) the composition
 * (platform/lifecycle.ts) does not apply it — Kafka holds the data and
 * /readyz is red — and applies it again once they recover, so the backlog
 * the outage left drains before intake returns to full speed.
 */
import { OverloadedError } from './errors.js';

/** Most publish marks kept (one per flush, coalesced within 20 ms): bounds memory; beyond it the delay is a lower bound. */
const MAX_MARKS = 4096;
const COALESCE_MS = 20;
/** Window of the storage rate behind the predicted delay (ms), and most processed batches kept for it. */
const RATE_WINDOW_MS = 10_000;
const RATE_MIN_SPAN_MS = 5_000;
const MAX_DONE = 10_000;

/** Publish-vs-process accounting and the admission rule (see module doc). */
export class StorageBacklog {
  private published = 0;
  private processed = 0;
  /** Cumulative published count after each flush, with its time (ms); increasing in both. */
  private marks: Array<{ count: number; at: number }> = [];
  private head = 0;

  /**
   * @param maxDelayMs storage delay (ms) at and above which every request is refused; 0 turns the rule off.
   * @param now clock (ms), injectable for tests.
   * @param random uniform [0, 1) source for the graded refusal.
   */
  constructor(
    private readonly maxDelayMs: number,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  /** Processed batches (time ms, messages) of the current busy period, at most RATE_WINDOW_MS old. */
  private done: Array<{ at: number; n: number }> = [];
  /** When the backlog last went from empty to non-empty (ms). */
  private busySince = 0;

  /** Kafka acknowledged `messages` messages published by this process. */
  notePublished(messages: number): void {
    if (messages <= 0) return;
    const at = this.now();
    if (this.published === this.processed) {
      this.busySince = at;
      this.done = [];
    }
    this.published += messages;
    const last = this.marks[this.marks.length - 1];
    if (last !== undefined && this.marks.length > this.head && at - last.at < COALESCE_MS) last.count = this.published;
    else this.marks.push({ count: this.published, at });
    if (this.marks.length - this.head > MAX_MARKS) this.head++;
    this.compact();
  }

  /** The processors committed `messages` messages (stored or dead-lettered). */
  noteProcessed(messages: number): void {
    if (messages <= 0) return;
    const at = this.now();
    this.done.push({ at, n: messages });
    while (this.done.length > 0 && at - this.done[0]!.at > RATE_WINDOW_MS) this.done.shift();
    if (this.done.length > MAX_DONE) this.done.shift();
    this.processed = Math.min(this.published, this.processed + messages);
    while (this.head < this.marks.length && this.marks[this.head]!.count <= this.processed) this.head++;
    this.compact();
  }

  /** A second view of the delay (ms), from the processors' partitions (see {@link delayMs}). */
  private partitionsLag: () => number = () => 0;

  /**
   * Also take the processors' own per-partition view
   * (processors/consumer.ts Processor.lagMs): the count above assumes
   * messages are stored in publish order, but partitions progress unevenly
   * (several in flight, others waiting), and the slowest one decides
   * ack→queryable.
   */
  usePartitionLag(lagMs: () => number): void {
    this.partitionsLag = lagMs;
  }

  /**
   * Age (ms) of the oldest published message not yet processed (the larger of
   * the publish/process count view and the processors' partition view); 0
   * when storage has caught up.
   */
  delayMs(): number {
    const byCount = this.processed >= this.published || this.head >= this.marks.length ? 0 : Math.max(0, this.now() - this.marks[this.head]!.at);
    return Math.max(byCount, this.partitionsLag(), this.predictedMs());
  }

  /**
   * How long a message published now would wait: the backlog divided by the
   * rate storage processed messages at during the current busy period (the
   * last RATE_WINDOW_MS of it). The age of the oldest message alone reacts
   * too late while the backlog grows fast — measured: with intake at 6×
   * storage's rate, messages acknowledged 10 s into a burst waited ~50 s,
   * while the oldest was 10 s old. 0 while the busy period is under 5 s old
   * (no trustworthy rate yet) or nothing was processed in it (the age views
   * decide then).
   */
  private predictedMs(): number {
    const backlog = this.published - this.processed;
    if (backlog <= 0) return 0;
    const now = this.now();
    const from = Math.max(this.busySince, now - RATE_WINDOW_MS);
    const span = now - from;
    // A rate needs a few seconds of a busy period: at its start the first
    // sub-batches are still in flight and a rate from one of them overstates
    // the wait many times (seen as a stray 429 in a test under a CPU hog).
    if (span < RATE_MIN_SPAN_MS) return 0;
    let n = 0;
    for (const d of this.done) if (d.at >= from) n += d.n;
    if (n === 0) return 0;
    return (backlog * span) / n;
  }

  /** Acknowledged messages not yet processed. */
  backlogMessages(): number {
    return this.published - this.processed;
  }

  /**
   * The admission decision for one request (see module doc).
   * @returns undefined to admit, or the 429 to answer.
   */
  admit(): OverloadedError | undefined {
    if (this.maxDelayMs <= 0) return undefined;
    const delay = this.delayMs();
    const low = this.maxDelayMs / 2;
    if (delay <= low) return undefined;
    const refuseShare = Math.min(1, (delay - low) / (this.maxDelayMs - low));
    if (this.random() >= refuseShare) return undefined;
    const retryAfterS = Math.min(30, Math.max(1, Math.ceil((delay - low) / 1000)));
    return new OverloadedError(
      `storage is ${(delay / 1000).toFixed(1)} s behind intake (limit VIGIL_INGEST_MAX_STORAGE_DELAY_MS=${this.maxDelayMs}); retry later`,
      retryAfterS,
    );
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.marks.length) {
      this.marks = this.marks.slice(this.head);
      this.head = 0;
    }
  }
}
