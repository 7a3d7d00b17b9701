/**
 * Durations in rules: Prometheus-style strings (`90s`, `5m`, `1h30m`, `2d`) or
 * a whole number of seconds, parsed to seconds; and back to the shortest such
 * string for API answers.
 */

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const DURATION_RE = /^(?:\d+[smhdw])+$/;

/**
 * Parse a duration.
 * @param v `"5m"`, `"1h30m"`, `"0s"`, or a non-negative integer number of seconds.
 * @returns whole seconds, or undefined when `v` is neither form.
 */
export function parseDurationS(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 10 * 365 * 86_400 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  if (/^\d{1,10}$/.test(t)) return Number(t);
  if (!DURATION_RE.test(t) || t.length > 32) return undefined;
  let total = 0;
  for (const m of t.matchAll(/(\d+)([smhdw])/g)) total += Number(m[1]) * UNIT_S[m[2]!]!;
  return total;
}

/** Seconds → the shortest duration string (`300` → `"5m"`, `5400` → `"1h30m"`, `0` → `"0s"`). */
export function formatDurationS(s: number): string {
  if (s === 0) return '0s';
  let rest = s;
  let out = '';
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
