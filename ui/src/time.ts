/**
 * The time range of a page: `from` / `to` in the URL as the query API accepts
 * them (`now-15m`, `now`, ISO-8601, epoch ms), resolved to epoch ms once per
 * load or refresh so that every query of a page uses the same window.
 */

export const PRESETS = [
  { label: 'Last 5 minutes', from: 'now-5m' },
  { label: 'Last 15 minutes', from: 'now-15m' },
  { label: 'Last hour', from: 'now-1h' },
  { label: 'Last 6 hours', from: 'now-6h' },
  { label: 'Last 24 hours', from: 'now-24h' },
  { label: 'Last 7 days', from: 'now-7d' },
] as const;

export const DEFAULT_FROM = 'now-1h';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Epoch ms of a range bound, or NaN when it is not understood. */
export function resolveBound(v: string, now: number): number {
  const t = v.trim();
  if (t === 'now') return now;
  const rel = /^now-(\d+)([smhdw])$/.exec(t);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2]!]!;
  if (/^\d{10,16}$/.test(t)) return Number(t);
  return Date.parse(t);
}

export interface Range {
  from: string;
  to: string;
  fromMs: number;
  toMs: number;
  /** True when `to` is `now` (the range moves on refresh). */
  live: boolean;
}

export function resolveRange(query: URLSearchParams, now: number): Range {
  const from = query.get('from') || DEFAULT_FROM;
  const to = query.get('to') || 'now';
  let fromMs = resolveBound(from, now);
  let toMs = resolveBound(to, now);
  if (!Number.isFinite(toMs)) toMs = now;
  if (!Number.isFinite(fromMs) || fromMs >= toMs) fromMs = toMs - 3_600_000;
  return { from, to, fromMs: Math.floor(fromMs), toMs: Math.floor(toMs), live: to === 'now' };
}

/** A readable form of a range. */
export function rangeLabel(from: string, to: string): string {
  const p = PRESETS.find((x) => x.from === from);
  if (p && to === 'now') return p.label;
  const rel = /^now-(\d+)([smhdw])$/.exec(from);
  if (rel && to === 'now') return `Last ${rel[1]}${rel[2]}`;
  return 'Custom range';
}

/**
 * Bucket width in seconds (a multiple of 60) giving at most `target` buckets
 * over the range, rounded to a friendly value.
 */
export function stepFor(fromMs: number, toMs: number, target: number): number {
  const raw = (toMs - fromMs) / 1000 / target;
  const nice = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
  for (const s of nice) if (s >= raw) return s;
  return Math.ceil(raw / 86400) * 86400;
}

/** datetime-local input value (browser zone) of epoch ms. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
