/**
 * Scoring of anomaly scores against labels, as the Numenta Anomaly Benchmark
 * does it (A. Lavin, S. Ahmad, "Evaluating Real-time Anomaly Detection
 * Algorithms – the Numenta Anomaly Benchmark", ICMLA 2015; reimplemented from
 * the description and NAB's sweeper: windows, scaled sigmoid, probation,
 * standard profile, corpus-wide threshold), plus plain precision / recall /
 * detection delay at a fixed threshold.
 *
 * NAB-style score:
 * - Window: each label gets a window of width ⌊0.1·len / #labels⌋ points centred on it.
 * - Probation: the first min(⌊0.15·len⌋, 750) points are not scored.
 * - A point whose score ≥ threshold is a detection. Inside a window it is
 *   worth A_TP·σ(p), p = −(right − i + 1)/width ∈ [−1, 0) (σ(x) = 2/(1+e^{5x}) − 1:
 *   ≈ +0.99 at the window start, 0 at its end); only the best (earliest)
 *   detection of a window counts. Outside windows it costs A_FP·σ(p) with
 *   p = (i − right of the previous window)/(width − 1) (σ < 0; little just
 *   after a window), or −A_FP with no window before it. An undetected window costs A_FN.
 * - Standard profile: A_TP = 1, A_FP = 0.11, A_FN = 1.
 * - Normalised: 100·(S − S_null)/(S_perfect − S_null); S_null = no detections
 *   (−A_FN per window), S_perfect = each window detected at its first point.
 * - The threshold is chosen to maximise the total over the whole corpus (as NAB's optimiser does).
 */
import type { Series } from './generate.js';

const A_TP = 1;
const A_FP = 0.11;
const A_FN = 1;

const sigmoid = (x: number): number => 2 / (1 + Math.exp(5 * x)) - 1;

interface Window {
  left: number;
  right: number;
  label: number;
}

/** Windows of a series (index ranges, inclusive), merged when they overlap. */
export function windowsOf(len: number, labels: readonly number[]): Window[] {
  if (labels.length === 0) return [];
  const width = Math.floor((0.1 * len) / labels.length);
  const out: Window[] = [];
  for (const l of [...labels].sort((a, b) => a - b)) {
    const left = Math.max(0, l - Math.floor(width / 2));
    const right = Math.min(len - 1, left + width - 1);
    const prev = out[out.length - 1];
    if (prev !== undefined && left <= prev.right) prev.right = Math.max(prev.right, right);
    else out.push({ left, right, label: l });
  }
  return out;
}

export function probation(len: number): number {
  return Math.floor(Math.min(0.15 * len, 0.15 * 5000));
}

/** Per point: its weight if detected and the window it falls in (−1: none); points in probation have window −2. */
interface Weighted {
  weight: Float64Array;
  window: Int32Array;
  windows: number;
}

function weigh(s: Series): Weighted {
  const len = s.values.length;
  const wins = windowsOf(len, s.labels);
  const prob = probation(len);
  const weight = new Float64Array(len);
  const window = new Int32Array(len).fill(-1);
  let w = 0;
  let prevRight = -1;
  let prevWidth = 0;
  for (let i = 0; i < len; i++) {
    const cur = wins[w];
    if (cur !== undefined && i >= cur.left && i <= cur.right) {
      const width = cur.right - cur.left + 1;
      weight[i] = A_TP * sigmoid(-(cur.right - i + 1) / width);
      window[i] = w;
      if (i === cur.right) {
        prevRight = i;
        prevWidth = width;
        w += 1;
      }
    } else {
      weight[i] = prevRight < 0 ? -A_FP : A_FP * sigmoid((i - prevRight) / Math.max(prevWidth - 1, 1));
    }
    if (i < prob) window[i] = -2;
  }
  return { weight, window, windows: wins.length };
}

/** NAB raw score of one series at a threshold, plus its null and perfect scores. */
function rawScore(wt: Weighted, scores: ArrayLike<number>, threshold: number): { raw: number; detected: number } {
  const best = new Float64Array(wt.windows).fill(Number.NEGATIVE_INFINITY);
  let fp = 0;
  for (let i = 0; i < scores.length; i++) {
    if (!(scores[i]! >= threshold) || wt.window[i] === -2) continue;
    const w = wt.window[i]!;
    if (w >= 0) best[w] = Math.max(best[w]!, wt.weight[i]!);
    else fp += wt.weight[i]!;
  }
  let raw = fp;
  let detected = 0;
  for (const b of best) {
    if (b === Number.NEGATIVE_INFINITY) raw -= A_FN;
    else (raw += b, (detected += 1));
  }
  return { raw, detected };
}

/** Result of {@link nabScore}. */
export interface NabResult {
  /** Normalised NAB-style score (100 = perfect, 0 = no detections). */
  score: number;
  threshold: number;
  detected: number;
  windows: number;
}

/**
 * NAB-style normalised score over a corpus.
 * @param threshold fixed threshold, or undefined to pick the best one (grid 0.01 … 1.0 by 0.005).
 */
export function nabScore(corpus: readonly Series[], scores: readonly ArrayLike<number>[], threshold?: number): NabResult {
  const wts = corpus.map(weigh);
  let nul = 0;
  let perfect = 0;
  for (const wt of wts) {
    nul -= A_FN * wt.windows;
    // Perfect: every window detected at its first point (weight of its left edge).
    const seen = new Set<number>();
    for (let i = 0; i < wt.window.length; i++) {
      const w = wt.window[i]!;
      if (w >= 0 && !seen.has(w)) (seen.add(w), (perfect += wt.weight[i]!));
    }
    perfect -= A_FN * (wt.windows - seen.size);
  }
  const evalAt = (t: number): NabResult => {
    let total = 0;
    let detected = 0;
    let windows = 0;
    wts.forEach((wt, k) => {
      const r = rawScore(wt, scores[k]!, t);
      total += r.raw;
      detected += r.detected;
      windows += wt.windows;
    });
    return { score: (100 * (total - nul)) / (perfect - nul), threshold: t, detected, windows };
  };
  if (threshold !== undefined) return evalAt(threshold);
  let best = evalAt(1);
  for (let t = 0.01; t < 1; t += 0.005) {
    const r = evalAt(Math.round(t * 1000) / 1000);
    if (r.score > best.score) best = r;
  }
  return best;
}

/** Result of {@link detectionStats}. */
export interface DetectionStats {
  /** Alarm onsets (score crossing up through the threshold) after probation. */
  alarms: number;
  /** Of those, inside a label window. */
  truePositives: number;
  precision: number;
  /** Windows with at least one alarm / windows. */
  recall: number;
  windows: number;
  detected: number;
  /** Median and max of (first alarm − label), points, over detected windows. */
  medianDelay: number;
  maxDelay: number;
  /** False alarm onsets per 1000 points outside windows (after probation). */
  falsePer1000: number;
}

/** Precision, recall and delay at a fixed threshold (event level: alarm onsets). */
export function detectionStats(corpus: readonly Series[], scores: readonly ArrayLike<number>[], threshold: number): DetectionStats {
  let alarms = 0;
  let tp = 0;
  let windows = 0;
  let detected = 0;
  let outside = 0;
  const delays: number[] = [];
  corpus.forEach((s, k) => {
    const sc = scores[k]!;
    const wins = windowsOf(s.values.length, s.labels);
    const prob = probation(s.values.length);
    const inWin = (i: number): number => wins.findIndex((w) => i >= w.left && i <= w.right);
    const first = new Map<number, number>();
    let prev = false;
    for (let i = 0; i < sc.length; i++) {
      const on = sc[i]! >= threshold;
      const w = inWin(i);
      if (i >= prob && w < 0) outside += 1;
      if (on && w >= 0 && !first.has(w)) first.set(w, i);
      if (on && !prev && i >= prob) {
        alarms += 1;
        if (w >= 0) tp += 1;
      }
      prev = on;
    }
    windows += wins.length;
    detected += first.size;
    for (const [w, i] of first) delays.push(i - wins[w]!.label);
  });
  delays.sort((a, b) => a - b);
  return {
    alarms,
    truePositives: tp,
    precision: alarms === 0 ? 1 : tp / alarms,
    recall: windows === 0 ? 1 : detected / windows,
    windows,
    detected,
    medianDelay: delays.length === 0 ? Number.NaN : delays[Math.floor((delays.length - 1) / 2)]!,
    maxDelay: delays.length === 0 ? Number.NaN : delays[delays.length - 1]!,
    falsePer1000: outside === 0 ? 0 : (1000 * (alarms - tp)) / outside,
  };
}
