/**
 * The CSV form of one series for `vigil anomaly score` (NAB's data file form):
 *
 *   input   header `timestamp,value`, then one row per point;
 *           timestamp ISO-8601 (`2026-01-05T10:00:00Z`, zone optional → UTC)
 *           or `YYYY-MM-DD HH:MM:SS` (UTC); value a decimal number, or empty /
 *           `NaN` / `null` for "no observation".
 *   output  header `timestamp,value,anomaly_score`, one row per input row in
 *           order; timestamp and value copied as written; score in [0, 1]
 *           with 6 decimals.
 *
 * Fields may be double-quoted; there are no embedded commas in these columns.
 */
import { ValidationError } from '../platform/errors.js';

/** One parsed row: the raw fields (echoed back) and their values. */
export interface CsvPoint {
  rawTime: string;
  rawValue: string;
  /** Epoch seconds (fractional allowed). */
  tsSec: number;
  /** NaN for "no observation". */
  value: number;
}

const TS_RE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** Parse a timestamp to epoch seconds, or undefined when it is neither form. */
export function parseTimestamp(s: string): number | undefined {
  const m = TS_RE.exec(s.trim());
  if (m === null) return undefined;
  const [y, mo, d, h, mi, se] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? '0')) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return undefined;
  let ms = Date.UTC(y, mo - 1, d, h, mi, se) + Number(`0.${m[7] ?? '0'}`) * 1000;
  const zone = m[8];
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}

const unquote = (f: string): string => {
  const t = f.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).replace(/""/g, '"') : t;
};

/**
 * Parse the input text.
 * @throws ValidationError (field `--in`) naming the line: a header other than
 *   timestamp,value, a row without two fields, an unreadable timestamp or value.
 */
export function parseSeriesCsv(text: string): CsvPoint[] {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (lines.length === 0) throw new ValidationError('--in', 'empty file: expected the header timestamp,value');
  const header = lines[0]!.replace(/^\uFEFF/, '').split(',').map((h) => unquote(h).toLowerCase());
  if (header.length !== 2 || header[0] !== 'timestamp' || header[1] !== 'value') {
    throw new ValidationError('--in', `line 1: expected the header timestamp,value, got ${JSON.stringify(lines[0]!.slice(0, 80))}`);
  }
  const out: CsvPoint[] = [];
  for (let i = 1; i < lines.length; i++) {
    const fields = lines[i]!.split(',');
    if (fields.length !== 2) throw new ValidationError('--in', `line ${i + 1}: expected 2 fields (timestamp,value), got ${fields.length}`);
    const rawTime = fields[0]!;
    const rawValue = fields[1]!;
    const tsSec = parseTimestamp(unquote(rawTime));
    if (tsSec === undefined) {
      throw new ValidationError('--in', `line ${i + 1}: timestamp ${JSON.stringify(unquote(rawTime))} is not ISO-8601 or YYYY-MM-DD HH:MM:SS`);
    }
    const v = unquote(rawValue);
    const missing = v === '' || /^(nan|null|na)$/i.test(v);
    const value = missing ? Number.NaN : Number(v);
    if (!missing && !Number.isFinite(value)) throw new ValidationError('--in', `line ${i + 1}: value ${JSON.stringify(v)} is not a number`);
    out.push({ rawTime, rawValue, tsSec, value });
  }
  return out;
}

/** The output text: header and one row per point with its score. */
export function formatScoredCsv(points: readonly CsvPoint[], scores: ArrayLike<number>): string {
  const rows = ['timestamp,value,anomaly_score'];
  for (let i = 0; i < points.length; i++) rows.push(`${points[i]!.rawTime},${points[i]!.rawValue},${scores[i]!.toFixed(6)}`);
  return rows.join('\n') + '\n';
}
