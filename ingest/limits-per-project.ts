/**
 * Per-project ingest settings: rate limits (records per second) and retention
 * (days), stored per project in Postgres (`projects.spans_per_s`,
 * `projects.logs_per_s`, `projects.retention_days`; NULL = the configured
 * default) and held in memory here, refreshed from Postgres every
 * `refreshMs` (default 10 000 ms) and at once by {@link ProjectLimits.refresh}
 * (the admin API calls it after a change).
 *
 * Rate limits: one token bucket per (project, signal) counting records
 * (spans or log records, not requests). It fills at `rate` records/s up to a
 * capacity of `rate × burstSeconds` (default 10 s). A request of `n` records
 * is admitted when the bucket holds at least `min(n, capacity)` tokens — so a
 * batch larger than the burst passes when the bucket is full — and then takes
 * `n` (the bucket may go negative: later requests wait until it refilled).
 * Otherwise it fails with 429 VIGIL_ERR_PROJECT_RATE_LIMITED (gRPC
 * RESOURCE_EXHAUSTED with RetryInfo), `Retry-After` = the seconds until the
 * bucket holds enough, and a message naming the project's limit; nothing of
 * the request is published or acknowledged. A rate of 0 means unlimited.
 * Buckets are per process: with N ingest processes a project may send up to
 * N × its limit.
 *
 * Retention: {@link ProjectLimits.timePolicy} gives the acceptance window's
 * retention for a project (schemas/limits.ts), so ingest rejects records the
 * project's TTL would delete at once.
 */
import type pg from 'pg';
import { VigilError } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import type { VigilMetrics } from '../platform/metrics.js';
import type { TimePolicy } from '../schemas/limits.js';

/** The signals a limit applies to. */
export type LimitedSignal = 'spans' | 'logs';

/** One project's stored settings; null = the configured default. */
export interface ProjectSettings {
  /** Spans per second (0 = unlimited). */
  spansPerS: number | null;
  /** Log records per second (0 = unlimited). */
  logsPerS: number | null;
  /** Retention of the project's rows, days (positive). */
  retentionDays: number | null;
}

/** Options of {@link ProjectLimits}. */
export interface ProjectLimitsOptions {
  /** Defaults for projects without a stored value (VIGIL_PROJECT_RATE_LIMIT_*_PER_S, VIGIL_RETENTION_DAYS). */
  defaults: { spansPerS: number; logsPerS: number; retentionDays: number };
  /** Bucket capacity in seconds of the rate (default 10). */
  burstSeconds?: number;
  /** Reads every project's stored settings (default: none stored). See {@link loadProjectSettings}. */
  load?: () => Promise<Map<string, ProjectSettings>>;
  /** Refresh interval, ms (default 10 000); 0 = only on {@link ProjectLimits.refresh}. */
  refreshMs?: number;
  metrics?: VigilMetrics;
  log?: Logger;
  /** Clock, epoch ms (tests). */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date, epoch ms. */
  at: number;
  /** The rate the bucket was filled with, records/s. */
  rate: number;
}

/**
 * Reads `projects.spans_per_s, logs_per_s, retention_days` of every project
 * with at least one of them set.
 * @returns a loader for {@link ProjectLimitsOptions.load}; it throws what `pg` throws.
 */
export function loadProjectSettings(pool: pg.Pool): () => Promise<Map<string, ProjectSettings>> {
  return async () => {
    const res = await pool.query<{ id: string; spans_per_s: number | null; logs_per_s: number | null; retention_days: number | null }>(
      'SELECT id, spans_per_s, logs_per_s, retention_days FROM projects WHERE spans_per_s IS NOT NULL OR logs_per_s IS NOT NULL OR retention_days IS NOT NULL',
    );
    return new Map(res.rows.map((r) => [r.id, { spansPerS: r.spans_per_s, logsPerS: r.logs_per_s, retentionDays: r.retention_days }]));
  };
}

/** Per-project rate limits and retention of one ingest process (see module doc). */
export class ProjectLimits {
  private settings = new Map<string, ProjectSettings>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly burstSeconds: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ProjectLimitsOptions) {
    this.burstSeconds = opts.burstSeconds ?? 10;
    this.now = opts.now ?? Date.now;
  }

  /** Load the stored settings now, then every `refreshMs` (failures are logged; the last settings stay). */
  async start(): Promise<void> {
    await this.refresh();
    const every = this.opts.refreshMs ?? 10_000;
    if (every > 0 && this.timer === undefined) {
      this.timer = setInterval(() => {
        this.refresh().catch((err: unknown) => this.opts.log?.warn({ err }, 'per-project limits: refresh from Postgres failed; keeping the last settings'));
      }, every);
      this.timer.unref();
    }
  }

  /** Stop refreshing. Idempotent. */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Re-read the stored settings (e.g. after the admin API changed one). Throws what the loader throws. */
  async refresh(): Promise<void> {
    if (this.opts.load === undefined) return;
    this.settings = await this.opts.load();
  }

  /** The rate limit of `project` for `signal`, records/s (0 = unlimited). */
  rate(project: string, signal: LimitedSignal): number {
    const s = this.settings.get(project);
    const stored = signal === 'spans' ? s?.spansPerS : s?.logsPerS;
    return stored ?? (signal === 'spans' ? this.opts.defaults.spansPerS : this.opts.defaults.logsPerS);
  }

  /** The retention of `project`, days. */
  retentionDays(project: string): number {
    return this.settings.get(project)?.retentionDays ?? this.opts.defaults.retentionDays;
  }

  /** `base` with the retention of `project` (acceptance window, schemas/limits.ts). */
  timePolicy(project: string, base: TimePolicy | undefined): TimePolicy {
    return { ...base, retentionDays: this.retentionDays(project) };
  }

  /**
   * Admit `count` records of `signal` for `project`, or throw.
   * @param count records in the request (accepted ones; ≥ 0).
   * @throws VigilError VIGIL_ERR_PROJECT_RATE_LIMITED (429, retryAfterSeconds ≥ 1) when over the limit;
   *   counted in `vigil_ingest_rate_limited_total{signal}` and `vigil_ingest_records_total{outcome="rate_limited"}`.
   */
  take(project: string, signal: LimitedSignal, count: number): void {
    const rate = this.rate(project, signal);
    if (rate <= 0 || count <= 0) return;
    const capacity = rate * this.burstSeconds;
    const key = `${signal}\u0000${project}`;
    const now = this.now();
    let b = this.buckets.get(key);
    if (b === undefined || b.rate !== rate) {
      b = { tokens: capacity, at: now, rate };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(capacity, b.tokens + (Math.max(0, now - b.at) / 1000) * rate);
    b.at = now;
    const needed = Math.min(count, capacity);
    if (b.tokens >= needed) {
      b.tokens -= count;
      return;
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((needed - b.tokens) / rate));
    this.opts.metrics?.ingestRateLimited.inc({ signal });
    this.opts.metrics?.ingestRecords.inc({ signal, outcome: 'rate_limited' }, count);
    const noun = signal === 'spans' ? 'spans' : 'log records';
    throw new VigilError(
      'VIGIL_ERR_PROJECT_RATE_LIMITED',
      `project "${project}" is over its ingest rate limit of ${rate} ${noun}/s (bursts up to ${capacity}); none of the ${count} ${noun} of this request were accepted — retry after ${retryAfterSeconds} s or ask an admin to raise the limit`,
      { retryAfterSeconds },
    );
  }
}
