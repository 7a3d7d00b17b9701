/**
 * What storage accepts, checked at the edge (ingest) and again in the
 * processors (defence in depth for messages already in Kafka).
 *
 * Timestamps. ClickHouse stores record times as DateTime64(9, 'UTC') (range
 * 1900-01-01 … 2262-04-11), but the tables partition by `toDate(time)` and
 * expire rows with `TTL toDateTime(time) + INTERVAL <retention> DAY`; DateTime
 * is a UInt32 of seconds, so a time from 2106-02-07 06:28:16 UTC on wraps and a
 * time before the retention window is deleted by the next TTL merge. Vigil's
 * policy (README, "Semantics"): a record is accepted only when each of its
 * times lies in the **acceptance window**
 *
 *     [ now − retention , min(now + maxFutureSkew, 2106-02-07T06:28:15Z) ]
 *
 * and is otherwise rejected one by one with partial_success naming the field —
 * never acknowledged and then dropped. `0` (unset) is handled by the caller
 * (a span needs both times; a log falls back to its observed / receive time).
 *
 * Nesting. OTLP AnyValue (arrayValue / kvlistValue) and native attribute
 * objects may nest at most {@link MAX_VALUE_DEPTH} levels; deeper values are
 * a 400 naming the path and the limit (they are not storable usefully, and
 * unbounded recursion would exhaust the stack).
 */

/** Deepest AnyValue / native attribute nesting accepted (levels below the attribute). */
export const MAX_VALUE_DEPTH = 32;

/** Last second a ClickHouse DateTime (UInt32) holds: 2106-02-07T06:28:15Z, in ns. */
export const DATETIME_MAX_NS = 4_294_967_295n * 1_000_000_000n;

/** Default tolerated clock skew into the future, ms (24 h). */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 24 * 3600 * 1000;

/** The acceptance window of record times, ns since the Unix epoch (inclusive bounds). */
export interface TimeWindow {
  minNs: bigint;
  maxNs: bigint;
}

/** Options of {@link acceptanceWindow}. Times in ms. */
export interface TimePolicy {
  /** Retention of the tables, days (VIGIL_RETENTION_DAYS). */
  retentionDays: number;
  /** How far in the future a time may lie, ms (default {@link DEFAULT_MAX_FUTURE_SKEW_MS}). */
  maxFutureSkewMs?: number;
}

/**
 * The acceptance window at `nowMs` (see module doc).
 * @param nowMs epoch ms (the receive time).
 */
export function acceptanceWindow(policy: TimePolicy, nowMs: number): TimeWindow {
  const now = BigInt(Math.floor(nowMs)) * 1_000_000n;
  const retention = BigInt(policy.retentionDays) * 86_400_000_000_000n;
  const skew = BigInt(Math.floor(policy.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS)) * 1_000_000n;
  const min = now - retention > 0n ? now - retention : 0n;
  const max = now + skew < DATETIME_MAX_NS ? now + skew : DATETIME_MAX_NS;
  return { minNs: min, maxNs: max };
}

/** The window storage can hold at all, whatever the retention: [1970-01-01, 2106-02-07). */
export const STORABLE_WINDOW: TimeWindow = { minNs: 0n, maxNs: DATETIME_MAX_NS };

/** ISO-8601 of ns since epoch (for messages), clamped to what Date can print. */
export function nsToIso(ns: bigint): string {
  const ms = ns / 1_000_000n;
  if (ms > 8_640_000_000_000_000n) return `+${ns} ns (beyond year 275760)`;
  return new Date(Number(ms)).toISOString();
}

/**
 * Why `ns` is outside `w`, or null when inside.
 * @returns a sentence for partial_success / DLQ reasons, e.g.
 *   "1970-01-01T00:00:01.000Z is older than the retention window (earliest accepted 2026-10-22T…Z)".
 */
export function timeProblem(ns: bigint, w: TimeWindow): string | null {
  if (ns < w.minNs) return `${nsToIso(ns)} is older than the acceptance window (earliest accepted ${nsToIso(w.minNs)}; VIGIL_RETENTION_DAYS)`;
  if (ns > w.maxNs) return `${nsToIso(ns)} is later than the acceptance window (latest accepted ${nsToIso(w.maxNs)}); check the sender's clock`;
  return null;
}

/** Parse a decimal ns string; null when it is not one. */
export function parseNsString(v: string | undefined): bigint | null {
  if (v === undefined || !/^\d{1,30}$/.test(v)) return null;
  return BigInt(v);
}
