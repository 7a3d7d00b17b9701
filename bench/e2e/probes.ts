/**
 * Ack→queryable probes for bench:e2e. The load generator reports, for one
 * request every ~250 ms, the first trace id and the wall-clock time its 200
 * arrived; this poller asks the query API `GET /api/v1/traces/:id` until it
 * answers 200 and records visible − acked, where "visible" is when the
 * successful poll was sent (so the query's own duration is not counted).
 *
 * Polling is bounded so that it does not become load itself (each poll is a
 * chDB query inside the Vigil process, and chDB runs parameterised queries one
 * at a time): one poll in flight at a time (`concurrency`), at most
 * `maxPollsPerSec` started per second, oldest probe first. A probe is polled
 * every 100 ms for its first 2.5 s after the ack (the resolution that matters
 * for the 2 s goal), then every 500 ms until 10 s; older than 10 s (a backlog),
 * only the 2 oldest outstanding probes are polled, every second — the rest
 * wait their turn (storage is close to FIFO, so a later probe is seldom
 * visible long before an earlier one; if it is, its latency is overstated by
 * at most the wait). A probe not visible after `timeoutMs` counts as never
 * visible (∞ in the percentiles).
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

const now = (): number => performance.timeOrigin + performance.now();

interface Probe {
  step: string;
  traceId: string;
  ackedAt: number;
  nextPollAt: number;
  polls: number;
  polling: boolean;
}

export interface ProbeStats {
  sent: number;
  visible: number;
  /** Not visible within the timeout (or still outstanding when read). */
  missing: number;
  /** acked → visible, ms (missing ones count as +∞). */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  polls: number;
}

export class ProbePoller {
  private readonly pool: Pool;
  private readonly pending = new Map<string, Probe>();
  private readonly results = new Map<string, { latencies: number[]; missing: number; polls: number; sent: number }>();
  private inflight = 0;
  private tokens = 0;
  private lastTick = now();
  /** Polls sent so far (all probes). */
  pollsSent = 0;
  private timer: NodeJS.Timeout | undefined;
  pollErrors: Record<string, number> = {};

  constructor(
    private readonly queryUrl: string,
    private readonly apiKey: string,
    private readonly concurrency = 1,
    private readonly timeoutMs = 180_000,
    private readonly maxPollsPerSec = 40,
  ) {
    this.pool = new Pool(queryUrl, { connections: concurrency, pipelining: 1, headersTimeout: 60_000, bodyTimeout: 60_000 });
    this.timer = setInterval(() => this.tick(), 20);
  }

  private bucket(step: string): { latencies: number[]; missing: number; polls: number; sent: number } {
    let b = this.results.get(step);
    if (!b) this.results.set(step, (b = { latencies: [], missing: 0, polls: 0, sent: 0 }));
    return b;
  }

  add(step: string, traceId: string, ackedAt: number): void {
    this.bucket(step).sent++;
    this.pending.set(traceId, { step, traceId, ackedAt, nextPollAt: ackedAt + 50, polls: 0, polling: false });
  }

  /** Probes of `step` (or of all steps when omitted) still waiting to become visible. */
  outstanding(step?: string): number {
    let n = 0;
    for (const p of this.pending.values()) if (step === undefined || p.step === step) n++;
    return n;
  }

  private tick(): void {
    const t = now();
    this.tokens = Math.min(Math.max(1, this.maxPollsPerSec / 10), this.tokens + ((t - this.lastTick) / 1000) * this.maxPollsPerSec);
    this.lastTick = t;
    if (this.inflight >= this.concurrency || this.tokens < 1) return;
    // Map iteration order = insertion order = oldest probe first.
    let oldSeen = 0;
    for (const p of this.pending.values()) {
      if (this.inflight >= this.concurrency || this.tokens < 1) break;
      if (p.polling) continue;
      const age = t - p.ackedAt;
      if (age > this.timeoutMs) {
        this.pending.delete(p.traceId);
        const b = this.bucket(p.step);
        b.missing++;
        b.polls += p.polls;
        continue;
      }
      if (age >= 10_000 && ++oldSeen > 2) continue;
      if (t < p.nextPollAt) continue;
      this.tokens--;
      this.pollsSent++;
      void this.poll(p, age);
    }
  }

  private async poll(p: Probe, age: number): Promise<void> {
    p.polling = true;
    p.polls++;
    this.inflight++;
    const sentAt = now();
    try {
      const res = await this.pool.request({ path: `/api/v1/traces/${p.traceId}`, method: 'GET', headers: { authorization: `Bearer ${this.apiKey}` } });
      await res.body.dump();
      if (res.statusCode === 200) {
        this.pending.delete(p.traceId);
        const b = this.bucket(p.step);
        b.latencies.push(sentAt - p.ackedAt);
        b.polls += p.polls;
        return;
      }
      if (res.statusCode !== 404) this.pollErrors[res.statusCode] = (this.pollErrors[res.statusCode] ?? 0) + 1;
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'error';
      this.pollErrors[code] = (this.pollErrors[code] ?? 0) + 1;
    } finally {
      this.inflight--;
      p.polling = false;
    }
    p.nextPollAt = now() + (age < 2_500 ? 100 : age < 10_000 ? 500 : 1_000);
  }

  stats(step: string): ProbeStats {
    const b = this.bucket(step);
    const still = this.outstanding(step);
    const lat = [...b.latencies].sort((a, c) => a - c);
    const missing = b.missing + still;
    const all = [...lat, ...Array<number>(missing).fill(Infinity)];
    const pct = (q: number): number => (all.length === 0 ? NaN : all[Math.min(all.length - 1, Math.max(0, Math.ceil((q / 100) * all.length) - 1))]!);
    return { sent: b.sent, visible: lat.length, missing, p50: pct(50), p90: pct(90), p99: pct(99), max: all.length ? all[all.length - 1]! : NaN, polls: b.polls };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.pool.close();
  }
}
