/**
 * Load generator for the demo service: one request at a time, a random pause
 * of `minDelayMs..maxDelayMs` (default 200..500 ms) between requests, a fixed
 * cyclic mix of routes, bounded by `maxRequests` and stopped by `stop()` or an AbortSignal.
 *
 * Runs inside the instrumented demo process; its own outgoing requests are
 * made with tracing suppressed, so the demo's traces start at the service's
 * SERVER span (as if a browser called it) rather than at the load generator.
 */
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';

/** Options of {@link startLoad}. */
export interface LoadOptions {
  /** Demo service base URL, e.g. `http://127.0.0.1:41234`. */
  baseUrl: string;
  /** Minimum pause between requests, ms (default 200). */
  minDelayMs?: number;
  /** Maximum pause between requests, ms (default 500). */
  maxDelayMs?: number;
  /** Stop after this many requests (default: unbounded until stopped). */
  maxRequests?: number;
  /** Per-request timeout, ms (default 5000). */
  timeoutMs?: number;
  /** Aborting stops the loop like `stop()`. */
  signal?: AbortSignal;
  /** Called for transport failures (not for 4xx/5xx answers, which are part of the mix). */
  onError?: (err: unknown) => void;
}

/** Counters of a running load loop. */
export interface LoadStats {
  /** Requests answered (any status). */
  sent: number;
  /** Answers by HTTP status, e.g. `{ 200: 40, 404: 3, 500: 4 }`. */
  byStatus: Record<number, number>;
  /** Transport failures (connection refused, timeout). */
  failed: number;
}

/** A running load loop. */
export interface Load {
  stats: LoadStats;
  /** Stop after the in-flight request (if any) finishes. Idempotent. */
  stop(): Promise<void>;
  /** Resolves when the loop ended (stopped, aborted or maxRequests reached). */
  done: Promise<void>;
}

const USERS = ['user-alice', 'user-bob', 'user-carol', 'user-dave'];
const PROMPTS = [
  'Where is my order?',
  'Can I change the delivery address for order 7?',
  'Summarise my last three orders in one sentence.',
  'What is your refund policy?',
];

/**
 * Fixed 20-step cycle of the mix (deterministic, so every route shows up in
 * any 20 consecutive requests): 9 order lookups (ids 21..23 are 404s),
 * 7 chats, 2 errors, 2 health checks.
 */
const CYCLE = ['order', 'chat', 'order', 'health', 'chat', 'order', 'error', 'chat', 'order', 'chat',
  'order', 'order', 'chat', 'health', 'order', 'chat', 'error', 'order', 'chat', 'order'] as const;

/** The n-th request of the mix. */
function pick(n: number): { method: string; path: string; body?: string } {
  switch (CYCLE[n % CYCLE.length]) {
    case 'order':
      return { method: 'GET', path: `/orders/${1 + (n % 23)}` };
    case 'chat':
      return { method: 'POST', path: '/chat', body: JSON.stringify({ prompt: PROMPTS[n % PROMPTS.length] }) };
    case 'error':
      return { method: 'GET', path: '/error' };
    default:
      return { method: 'GET', path: '/healthz' };
  }
}

/** Start the loop; the first request is sent immediately. */
export function startLoad(opts: LoadOptions): Load {
  const min = opts.minDelayMs ?? 200;
  const max = Math.max(min, opts.maxDelayMs ?? 500);
  const stats: LoadStats = { sent: 0, byStatus: {}, failed: 0 };
  const stopper = new AbortController();
  const onAbort = (): void => stopper.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const done = (async () => {
    for (let n = 0; !stopper.signal.aborted; n++) {
      if (opts.maxRequests !== undefined && n >= opts.maxRequests) break;
      const { method, path, body } = pick(n);
      const user = USERS[n % USERS.length] ?? 'user-anon';
      try {
        const res = await context.with(suppressTracing(context.active()), () =>
          fetch(`${opts.baseUrl}${path}`, {
            method,
            headers: { 'x-user-id': user, ...(body ? { 'content-type': 'application/json' } : {}) },
            ...(body ? { body } : {}),
            signal: AbortSignal.timeout(opts.timeoutMs ?? 5_000),
          }),
        );
        await res.arrayBuffer();
        stats.sent++;
        stats.byStatus[res.status] = (stats.byStatus[res.status] ?? 0) + 1;
      } catch (err) {
        stats.failed++;
        opts.onError?.(err);
      }
      await sleep(min + Math.random() * (max - min), stopper.signal);
    }
    opts.signal?.removeEventListener('abort', onAbort);
  })();

  return {
    stats,
    done,
    async stop() {
      stopper.abort();
      await done;
    },
  };
}

/** Resolve after `ms`, or early when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
