/**
 * The notification dispatcher: drains the webhook_deliveries outbox.
 *
 * {@link NotificationDispatcher.dispatchOnce} claims due pending deliveries
 * (`next_attempt_at <= now`, lease free or expired) with `FOR UPDATE SKIP
 * LOCKED` and a lease, so several dispatchers never send one attempt twice;
 * sends each once (alerts/sender.ts: Standard Webhooks signature, 10 s
 * timeout, SSRF-guarded agent, no redirects) and records the outcome under
 * the same lease:
 *
 * - 2xx → delivered;
 * - 408, 429, 5xx, timeout or connection error → retried after the backoff of
 *   alerts/backoff.ts (Retry-After honoured), failed when attempts run out;
 * - 410 Gone → failed, and the channel is disabled with the reason recorded
 *   (its other pending deliveries fail too);
 * - any other answer (3xx: redirects are not followed, 4xx) or a refused
 *   destination → failed.
 *
 * Queued messages live in Postgres, so nothing is lost across a restart; a
 * dispatcher that dies mid-attempt leaves a lease that expires after
 * `leaseMs` (default 60 s, longer than the 10 s send timeout), and the
 * attempt is made again with the same webhook-id.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Dispatcher } from 'undici';
import type { Logger } from '../platform/logger.js';
import { isRetryableStatus, nextDelayMs } from './backoff.js';
import { sendOnce, SEND_TIMEOUT_MS, type AttemptResult } from './sender.js';

export interface DispatcherOptions {
  pool: pg.Pool;
  log: Logger;
  /** The SSRF-guarded agent (alerts/ssrf.ts createGuardedAgent). */
  agent: Dispatcher;
  /** Lease owner id (default `disp-<pid>-<random>`). */
  owner?: string;
  /** Lease length, ms (default 60000). */
  leaseMs?: number;
  /** Most deliveries claimed per call (default 20). */
  batch?: number;
  /** Deliveries sent at once (default 4). */
  concurrency?: number;
  /** Per-attempt timeout, ms (default 10000). */
  timeoutMs?: number;
  /** Uniform [0, 1) source for the backoff jitter (tests). */
  random?: () => number;
}

/** Counts of one dispatchOnce() call. */
export interface DispatchSummary {
  claimed: number;
  delivered: number;
  retrying: number;
  failed: number;
}

export interface NotificationDispatcher {
  readonly owner: string;
  /** Claim and send every delivery due at `now` once. */
  dispatchOnce(now: Date): Promise<DispatchSummary>;
  /** Run dispatchOnce(new Date()) every `tickMs` until stop(). */
  start(tickMs: number): void;
  /** With start(): run a round now instead of at the next tick (messages were just queued). */
  kick(): void;
  /** Stop the loop and wait for the running round. */
  stop(): Promise<void>;
}

interface Claimed {
  id: string;
  message_id: string;
  channel_id: string;
  body: string;
  attempts: number;
  url: string;
  secret: string | null;
  type: 'webhook' | 'slack';
  enabled: boolean;
  disabled_reason: string | null;
}

/** Create a dispatcher (nothing runs until dispatchOnce() or start()). */
export function createDispatcher(opts: DispatcherOptions): NotificationDispatcher {
  const owner = opts.owner ?? `disp-${process.pid}-${randomUUID().slice(0, 8)}`;
  const leaseMs = opts.leaseMs ?? 60_000;
  const batch = opts.batch ?? 20;
  const concurrency = opts.concurrency ?? 4;
  const pool = opts.pool;
  const log = opts.log;

  async function claim(now: Date): Promise<Claimed[]> {
    const res = await pool.query<Claimed>(
      `WITH due AS (
         SELECT id FROM webhook_deliveries
         WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < $1)
         ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE webhook_deliveries d SET lease_owner = $2, lease_until = $1::timestamptz + make_interval(secs => $4::double precision / 1000)
         FROM due WHERE d.id = due.id
         RETURNING d.id, d.message_id, d.channel_id, d.payload::text AS body, d.attempts
       )
       SELECT claimed.id::text, claimed.message_id, claimed.channel_id::text, claimed.body, claimed.attempts,
              c.url, c.secret, c.type, c.enabled, c.disabled_reason
       FROM claimed JOIN notification_channels c ON c.id = claimed.channel_id`,
      [now, owner, batch, leaseMs],
    );
    return res.rows;
  }

  /** Record an outcome under our lease. */
  async function finish(d: Claimed, patch: { status: 'pending' | 'delivered' | 'failed'; attempts: number; code: number | null; error: string | null; nextAt?: Date; deliveredAt?: Date }): Promise<void> {
    await pool.query(
      `UPDATE webhook_deliveries SET status = $3, attempts = $4, last_status_code = $5, last_error = $6,
         next_attempt_at = COALESCE($7, next_attempt_at), delivered_at = $8, lease_owner = NULL, lease_until = NULL
       WHERE id = $1 AND lease_owner = $2`,
      [d.id, owner, patch.status, patch.attempts, patch.code, patch.error, patch.nextAt ?? null, patch.deliveredAt ?? null],
    );
  }

  async function disableChannel(d: Claimed, reason: string): Promise<void> {
    await pool.query('UPDATE notification_channels SET enabled = false, disabled_reason = $2, disabled_at = now(), updated_at = now() WHERE id = $1', [d.channel_id, reason]);
    await pool.query(
      `UPDATE webhook_deliveries SET status = 'failed', last_error = $2 WHERE channel_id = $1 AND status = 'pending' AND id <> $3`,
      [d.channel_id, `channel disabled: ${reason}`, d.id],
    );
    log.warn({ channel: d.channel_id, reason }, 'notification channel disabled');
  }

  async function deliver(d: Claimed, now: Date, sum: DispatchSummary): Promise<void> {
    const attempts = d.attempts + 1;
    if (!d.enabled) {
      await finish(d, { status: 'failed', attempts: d.attempts, code: null, error: `channel disabled: ${d.disabled_reason ?? 'disabled'}` });
      sum.failed += 1;
      return;
    }
    const r: AttemptResult = await sendOnce({
      agent: opts.agent,
      url: d.url,
      body: d.body,
      messageId: d.message_id,
      secret: d.type === 'webhook' ? d.secret : null,
      timeoutMs: opts.timeoutMs ?? SEND_TIMEOUT_MS,
    });
    const code = r.status;
    if (code !== null && code >= 200 && code < 300) {
      await finish(d, { status: 'delivered', attempts, code, error: null, deliveredAt: now });
      sum.delivered += 1;
      return;
    }
    if (code === 410) {
      const reason = `receiver answered 410 Gone at ${now.toISOString()}`;
      await finish(d, { status: 'failed', attempts, code, error: reason });
      await disableChannel(d, reason);
      sum.failed += 1;
      return;
    }
    if (!r.refused && isRetryableStatus(code)) {
      const delay = nextDelayMs(attempts, r.retryAfterS, opts.random);
      const error = r.error ?? `receiver answered ${code}`;
      if (delay !== undefined) {
        await finish(d, { status: 'pending', attempts, code, error, nextAt: new Date(now.getTime() + delay) });
        sum.retrying += 1;
        return;
      }
      await finish(d, { status: 'failed', attempts, code, error: `${error}; gave up after ${attempts} attempts` });
      sum.failed += 1;
      return;
    }
    const error = r.error ?? (code !== null && code >= 300 && code < 400 ? `receiver answered ${code} (redirects are not followed)` : `receiver answered ${code}`);
    await finish(d, { status: 'failed', attempts, code, error });
    sum.failed += 1;
  }

  async function dispatchOnce(now: Date): Promise<DispatchSummary> {
    const rows = await claim(now);
    const sum: DispatchSummary = { claimed: rows.length, delivered: 0, retrying: 0, failed: 0 };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < rows.length) await deliver(rows[next++]!, now, sum);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, rows.length) }, worker));
    return sum;
  }

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let failing = false;
  let kicked = false;
  const round = (): void => {
    if (running !== undefined) {
      kicked = true; // run again right after the round in flight
      return;
    }
    running = dispatchOnce(new Date())
      .then(
        () => {
          failing = false;
        },
        (err: unknown) => {
          if (!failing) log.error({ err }, 'notification dispatcher round failed (Postgres unreachable?); retrying every tick, logging once');
          failing = true;
        },
      )
      .finally(() => {
        running = undefined;
        if (kicked && !stopped) {
          kicked = false;
          round();
        }
      });
  };
  return {
    owner,
    dispatchOnce,
    kick() {
      if (timer !== undefined && !stopped) round();
    },
    start(tickMs: number) {
      if (timer !== undefined || stopped) return;
      const loop = (): void => {
        if (stopped) return;
        if (running === undefined) round();
        timer = setTimeout(loop, tickMs);
        timer.unref();
      };
      loop();
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
  };
}
