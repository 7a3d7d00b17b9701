/**
 * Retry with exponential backoff, full jitter and an overall deadline.
 *
 * Delay before attempt n+1 (n ≥ 1 failed attempts) is uniform in
 * [0, min(maxMs, baseMs · 2^(n-1))] ms — "full jitter" (M. Brooker,
 * "Exponential Backoff And Jitter", AWS Architecture Blog, 2015), which
 * spreads competing retries out instead of synchronising them.
 *
 * Used by the processors' consumer to retry retryable ClickHouse writes until
 * they succeed or the consumer stops.
 */
import { isRetryable, VigilError } from './errors.js';

/** Options of {@link retry}. Times in ms. */
export interface RetryOptions {
  /** Maximum number of calls of `fn` (default: unlimited). */
  attempts?: number;
  /** First backoff ceiling, ms (> 0). */
  baseMs: number;
  /** Largest backoff ceiling, ms. */
  maxMs: number;
  /** Overall budget from the first call, ms (default: none). No attempt starts after it. */
  deadlineMs?: number;
  /**
   * Aborting stops a backoff sleep at once and rejects with VIGIL_ERR_SHUTTING_DOWN;
   * no attempt starts after an abort, except the first (an in-flight operation
   * gets its one try, so a clean shutdown can finish its last piece of work).
   */
  signal?: AbortSignal;
  /** Whether an error is worth another attempt (default: {@link isRetryable}). */
  shouldRetry?: (err: unknown) => boolean;
  /** Called before each backoff sleep (for logging). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Call `fn` until it resolves, backing off between failures.
 * @param fn the operation; receives the 1-based attempt number.
 * @returns what `fn` resolved to.
 * @throws the last error of `fn` when it is not retryable or attempts ran out;
 *   VigilError VIGIL_ERR_DEADLINE (cause: last error) when the deadline passed;
 *   VigilError VIGIL_ERR_SHUTTING_DOWN when `signal` aborted.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const started = Date.now();
  const attempts = opts.attempts ?? Number.POSITIVE_INFINITY;
  const shouldRetry = opts.shouldRetry ?? isRetryable;
  for (let attempt = 1; ; attempt++) {
    if (attempt > 1) throwIfAborted(opts.signal, undefined);
    try {
      return await fn(attempt);
    } catch (err) {
      if (!shouldRetry(err) || attempt >= attempts) throw err;
      const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt - 1, 30));
      let delay = Math.random() * ceiling;
      if (opts.deadlineMs !== undefined) {
        const left = started + opts.deadlineMs - Date.now();
        if (left <= 0 || delay >= left) {
          throw new VigilError('VIGIL_ERR_DEADLINE', `gave up after ${attempt} attempts: deadline of ${opts.deadlineMs} ms reached`, { cause: err });
        }
      }
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay, opts.signal, err);
    }
  }
}

function throwIfAborted(signal: AbortSignal | undefined, last: unknown): void {
  if (signal?.aborted) {
    throw new VigilError('VIGIL_ERR_SHUTTING_DOWN', 'retry aborted: shutting down', { cause: last ?? signal.reason });
  }
}

/** Sleep `ms`, rejecting with VIGIL_ERR_SHUTTING_DOWN as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined, last: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new VigilError('VIGIL_ERR_SHUTTING_DOWN', 'retry aborted: shutting down', { cause: last }));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new VigilError('VIGIL_ERR_SHUTTING_DOWN', 'retry aborted: shutting down', { cause: last }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
