/**
 * Retry schedule of notification deliveries.
 *
 * After failed attempt n (1-based) the next one is due after
 * {@link RETRY_DELAYS_S}[n − 1] seconds (5 s, 30 s, 2 min, 10 min, 30 min, 1 h,
 * 2 h, 4 h, 8 h, 8 h: about 24 h in all), times a jitter factor uniform in
 * [0.8, 1.2) so that many failed messages do not come back at once. A
 * `Retry-After` from the receiver (429, 503 …) is honoured: the delay is at
 * least that, capped at 24 h. After the last delay is used up (11 attempts)
 * the delivery fails for good.
 */

/** Delays after each failed attempt, seconds. */
export const RETRY_DELAYS_S = [5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800, 28_800] as const;

/** Most attempts of one delivery. */
export const MAX_ATTEMPTS = RETRY_DELAYS_S.length + 1;

/** Longest delay honoured from a Retry-After header, seconds (24 h). */
export const MAX_RETRY_AFTER_S = 86_400;

/**
 * Delay before the next attempt.
 * @param attempts attempts made so far (≥ 1).
 * @param retryAfterS the receiver's Retry-After, seconds, if any.
 * @param random source of uniform [0, 1) numbers (injectable for tests).
 * @returns delay in ms, or undefined when no attempt is left.
 */
export function nextDelayMs(attempts: number, retryAfterS: number | undefined, random: () => number = Math.random): number | undefined {
  if (attempts >= MAX_ATTEMPTS) return undefined;
  const base = RETRY_DELAYS_S[Math.max(0, attempts - 1)]! * 1000;
  const jittered = Math.round(base * (0.8 + 0.4 * random()));
  if (retryAfterS === undefined) return jittered;
  return Math.max(jittered, Math.min(retryAfterS, MAX_RETRY_AFTER_S) * 1000);
}

/** True for answers worth retrying: 408, 429, 5xx (and no answer at all). */
export function isRetryableStatus(status: number | null): boolean {
  return status === null || status === 408 || status === 429 || status >= 500;
}
