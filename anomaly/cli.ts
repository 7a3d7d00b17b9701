/**
 * `vigil anomaly score --in FILE.csv --out FILE.csv`: the production detector
 * (./detector.ts, the same code and constants the processors run) over one
 * series offline. File forms: ./csv.ts. Writes only the output file (or
 * stdout with `--out -`); nothing else goes to stdout.
 *
 * No look-ahead: the score of row i depends on rows ≤ i only. The sampling
 * interval (which sizes the daily profile) is the median spacing of the first
 * {@link INTERVAL_ROWS} rows, taken once those rows are read; they are warm-up
 * points scoring 0 whatever the interval, so nothing after a row changes its score.
 */
import fs from 'node:fs';
import { newResult, newState, step, WARMUP, type DetectorConfig } from './detector.js';
import { formatScoredCsv, parseSeriesCsv, type CsvPoint } from './csv.js';

/** Rows whose spacing fixes the interval (≤ the detector's warm-up). */
export const INTERVAL_ROWS = Math.min(8, WARMUP);

/** Median positive spacing of times[0..k), seconds (60 when there is none). */
function intervalOf(times: readonly number[]): number {
  const d: number[] = [];
  for (let i = 1; i < times.length; i++) if (times[i]! > times[i - 1]!) d.push(times[i]! - times[i - 1]!);
  if (d.length === 0) return 60;
  d.sort((a, b) => a - b);
  return d[(d.length - 1) >> 1]!;
}

/**
 * Scores of parsed points, causally (see the module comment).
 * @returns one score in [0, 1] per point.
 */
export function scorePoints(points: readonly CsvPoint[]): Float64Array {
  const scores = new Float64Array(points.length);
  const head = Math.min(INTERVAL_ROWS, points.length);
  const cfg: DetectorConfig = { intervalS: intervalOf(points.slice(0, head).map((p) => p.tsSec)), sides: 'both' };
  const state = newState(cfg);
  const out = newResult();
  for (let i = 0; i < points.length; i++) {
    step(state, cfg, points[i]!.tsSec, points[i]!.value, out);
    scores[i] = out.score;
  }
  return scores;
}

/**
 * Read `inPath`, score, write `outPath` ('-' = stdout).
 * @throws ValidationError (VIGIL_ERR_VALIDATION) for a malformed file; fs errors (ENOENT …) as thrown.
 */
export async function scoreCsvFile(inPath: string, outPath: string): Promise<{ rows: number }> {
  const points = parseSeriesCsv(await fs.promises.readFile(inPath, 'utf8'));
  const text = formatScoredCsv(points, scorePoints(points));
  if (outPath === '-') process.stdout.write(text);
  else await fs.promises.writeFile(outPath, text);
  return { rows: points.length };
}
