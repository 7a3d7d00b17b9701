/**
 * Time conversions between OTLP nanosecond timestamps (decimal strings or
 * bigint, ns since the Unix epoch), epoch milliseconds and ClickHouse
 * DateTime64(9) literals ('YYYY-MM-DD hh:mm:ss.nnnnnnnnn', UTC).
 */

/**
 * Format ns since epoch as a ClickHouse DateTime64(9) UTC literal.
 * @param ns bigint nanoseconds since the Unix epoch (≥ 0).
 * @returns e.g. '2026-11-21 10:00:00.123456789'.
 */
export function nsToClickHouse(ns: bigint): string {
  const sec = ns / 1_000_000_000n;
  const frac = (ns - sec * 1_000_000_000n).toString().padStart(9, '0');
  // The spans of a batch share few distinct seconds: format each once.
  let prefix = secondPrefixes.get(sec);
  if (prefix === undefined) {
    const iso = new Date(Number(sec) * 1000).toISOString(); // YYYY-MM-DDThh:mm:ss.mmmZ
    prefix = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
    if (secondPrefixes.size >= 4096) secondPrefixes.clear();
    secondPrefixes.set(sec, prefix);
  }
  return `${prefix}.${frac}`;
}

/** 'YYYY-MM-DD hh:mm:ss' per whole second since the epoch (bounded: cleared at 4,096 entries). */
const secondPrefixes = new Map<bigint, string>();

/**
 * Parse a ClickHouse DateTime64(9) UTC literal back to ns since epoch.
 * @param s 'YYYY-MM-DD hh:mm:ss[.fraction]'.
 * @throws RangeError when s is not such a literal.
 */
export function clickHouseToNs(s: string): bigint {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?/.exec(s);
  if (!m) throw new RangeError(`not a DateTime64 literal: ${s}`);
  const secMs = Date.parse(`${m[1]}T${m[2]}Z`);
  const frac = BigInt((m[3] ?? '').padEnd(9, '0'));
  return BigInt(secMs) * 1_000_000n + frac;
}

/** Epoch milliseconds (may be fractional) → ns since epoch. */
export function msToNs(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1_000_000));
}

/** ns since epoch → the minute bucket as a ClickHouse DateTime literal 'YYYY-MM-DD hh:mm:00'. */
export function nsToMinute(ns: bigint): string {
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}:00`;
}
