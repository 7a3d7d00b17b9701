/** Formatting of times (browser zone, UTC on hover), durations, money and numbers. */

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Local date-time, e.g. "2026-05-01 14:03:07.123". */
export function localTime(ms: number, withMs = false): string {
  const d = new Date(ms);
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withMs ? `${base}.${pad(d.getMilliseconds(), 3)}` : base;
}

/** UTC ISO form for the hover title. */
export function utcTitle(ms: number): string {
  return `${new Date(ms).toISOString().replace('T', ' ').replace('Z', '')} UTC`;
}

/** ms since the epoch of an ISO string with ns (the API's form) or of epoch ns as a decimal string. */
export function isoMs(iso: string): number {
  return Date.parse(iso);
}

export function nsToMs(ns: string | number | undefined): number {
  if (ns === undefined) return NaN;
  const s = String(ns);
  return s.length > 6 ? Number(s.slice(0, -6)) + Number(s.slice(-6)) / 1e6 : Number(s) / 1e6;
}

/** The browser's time zone name, e.g. "Europe/Paris". */
export const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local';

export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1) return `${(ms * 1000).toFixed(ms < 0.01 ? 2 : 0)} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

export function fmtUsd(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (v === 0) return '$0';
  if (Math.abs(v) < 0.01) return `$${v.toPrecision(3)}`;
  return `$${v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

export function fmtNum(v: number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function fmtPct(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return `${(v * 100).toFixed(digits)} %`;
}

/** A human form of an unknown JSON value: strings as is, others as JSON. */
export function show(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return JSON.stringify(v);
}

/** The OTLP type name of a typed attribute value as the API returns it. */
export function typeOf(v: unknown): string {
  if (v === null) return 'empty';
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'string':
      return /^-?\d{16,}$/.test(v) ? 'int (64-bit)' : 'string';
    case 'number':
      return Number.isInteger(v) ? 'int' : 'double';
    case 'boolean':
      return 'bool';
    case 'object':
      return 'kvlist';
    default:
      return typeof v;
  }
}
