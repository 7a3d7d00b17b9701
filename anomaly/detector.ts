/**
 * Vigil's streaming anomaly detector: one series, one point at a time, the
 * score of point i computed from points ≤ i only.
 *
 * What it is — a robust seasonal exponential-smoothing model with three change
 * tests on its standardised one-step residuals, combined by a fixed rule
 * (maximum of the component severities):
 *
 * 1. Forecast: a robust Holt–Winters-type decomposition, value = level +
 *    daily profile + noise. The level is an exponentially weighted mean of
 *    the deseasonalised value updated with Huber-clipped residuals, and the
 *    scale an exponentially weighted mean absolute residual with clipped
 *    updates, as in S. Gelper, R. Fried, C. Croux, "Robust forecasting with
 *    exponential and Holt–Winters smoothing", Journal of Forecasting
 *    29(3):285–300, 2010. The daily profile has B buckets on the UTC time of
 *    day (B = min(96, points per day); none below 4 points per day), each
 *    learned against a slow baseline (time constant ½ day) rather than the
 *    fast level, so the level cannot absorb the daily shape; a bucket keeps
 *    ≈ 60 % of its weight on the last day (a seasonal-naive flavour, as in
 *    STL-like decompositions: R. B. Cleveland et al., "STL: A seasonal-trend
 *    decomposition procedure based on loess", J. Official Statistics 6(1), 1990).
 *    Point component: z = (x − forecast) / scale (spikes, dips).
 * 2. Level shift: consecutive residuals beyond ±{@link SHIFT_Z} on one side
 *    score as a run (|Σz| / √R, a sum test: a persisting shift outranks a
 *    single point) and after {@link SHIFT_RUN} of them the level is
 *    re-anchored at their median (deseasonalised), so a shift that persists
 *    is flagged for a few points and then becomes the new normal instead of
 *    alarming forever (robust re-initialisation, Gelper et al. §3).
 * 3. Two-sided CUSUM on the clipped standardised residuals (E. S. Page,
 *    "Continuous inspection schemes", Biometrika 41(1/2):100–115, 1954;
 *    reference value k, decision interval h): small persistent shifts and
 *    fast drifts. On an alarm the level moves by the CUSUM estimate of the
 *    shift, σ·(k + S/N) (D. C. Montgomery, "Introduction to Statistical
 *    Quality Control", §9.1), and the sums restart. Drifts slower than about
 *    k·α scales per point are followed by the level and not flagged.
 * 4. Variance change: a short exponentially weighted mean of u², u the
 *    standardised residual (≈ 1 in control), compared with a limit — the
 *    EWMA-of-squares chart (S. V. Crowder, M. D. Hamilton, "An EWMA for
 *    monitoring a process standard deviation", J. Quality Technology 24(1),
 *    1992).
 * 5. Flat line: the run length R of unchanged values against the learned
 *    fraction f of steps that change; a run is as surprising as
 *    (1 − f)^R (a stuck sensor, a frozen exporter).
 *
 * Severities are in "alarm units" (1 = the component's own limit) times a
 * calibration gain; the score is sev⁴ / (1 + sev⁴) of the largest, in [0, 1].
 * The calibration puts the threshold that maximises the NAB-style score
 * (standard profile; A. Lavin, S. Ahmad, "Evaluating Real-time Anomaly
 * Detection Algorithms – the Numenta Anomaly Benchmark", ICMLA 2015) of the
 * training series near 0.9, the production threshold (bench/README.md).
 * The first {@link WARMUP} points only initialise (median / MAD) and score 0;
 * the next {@link WARMUP} ramp up.
 *
 * Gaps: a point with value NaN means "no observation" (latency of a minute
 * without spans): it scores 0 and leaves the state untouched. A missing
 * minute of a rate must be passed as 0 by the caller (series.ts does).
 *
 * State: one Float64Array per series ({@link newState}), so it is cheap to
 * pass to worker threads and to snapshot ({@link encodeState}). Per point
 * the work is O(1) (one profile bucket; no allocation except the small
 * median of a re-anchoring): see bench/anomaly for µs per point.
 * Scoring the same points from the same state always gives the same scores
 * (no randomness, no wall clock), which replay and restart rely on.
 */

/** Which deviations count: both directions, only increases or only decreases. */
export type Sides = 'both' | 'up' | 'down';

/** Fixed parameters of a series' detector (the state records B so they must match). */
export interface DetectorConfig {
  /** Sampling interval of the series, seconds (60 for Vigil's minutes). */
  intervalS: number;
  /** Deviations that score; default both. */
  sides?: Sides;
}

/** Output of one {@link step}, written into a reused object (no allocation per point). */
export interface StepResult {
  /** Anomaly score in [0, 1]; 0 while warming up or without an observation. */
  score: number;
  /** Forecast for this point (level + seasonal), NaN while warming up. Same unit as the value. */
  expected: number;
  /** Forecast ∓ the deviation that scores 0.9 on the point component (band), NaN while warming up. */
  lower: number;
  upper: number;
  /** Which component gave the score: 0 none, 1 point, 2 level shift (run), 3 CUSUM, 4 variance, 5 flat line. */
  component: number;
}

/** A fresh {@link StepResult} to pass to {@link step}. */
export function newResult(): StepResult {
  return { score: 0, expected: Number.NaN, lower: Number.NaN, upper: Number.NaN, component: 0 };
}

// --- tuning (bench/anomaly: tuned on the training seeds, checked on held-out seeds) ---
/** Points used to initialise (median, MAD) before scoring. */
export const WARMUP = 12;
/** Level smoothing per point. */
const ALPHA = 0.12;
/** Smallest weight of one day's points in a profile bucket (first days learn faster: 1/count). */
const GAMMA_DAY = 0.6;
/** Scale smoothing per point. */
const BETA = 0.025;
/** Huber clip of residuals in level / profile updates, in scales. */
const HUBER = 2.5;
/** Scale update clip, in scales (a spike moves the scale at most this much). */
const SCALE_CLIP = 4;
/** Level shift: this many consecutive residuals beyond SHIFT_Z on one side re-anchor the level. */
export const SHIFT_RUN = 3;
const SHIFT_Z = 3.5;
/** |z| at which the point component reaches severity 1 (score 0.5). */
const Z_LIMIT = 4.5;
/** CUSUM reference value and decision interval (in scales). */
const CUSUM_K = 0.5;
const CUSUM_H = 12;
/** Variance chart: smoothing and limit of the EWMA of u² (u clipped at 5). */
const VAR_BETA = 0.15;
const VAR_LIMIT = 7;
/** Flat line: smoothing of the change fraction, and −log10 surprise at severity 1. */
const FLAT_BETA = 0.01;
const FLAT_LIMIT = 9;
/**
 * Severity gain before the score mapping: puts the NAB-optimal threshold of
 * the training set near 0.9, the production threshold (bench/README.md).
 */
const CALIBRATION = 1.5;
/** Most buckets of the daily profile. */
export const MAX_BUCKETS = 96;
/** Baseline smoothing per point = this / points per day (time constant ≈ 1/this days). */
const BASE_DAYS_INV = 2;
/** Days after which level re-anchoring also moves the profile's baseline. */
const SETTLED_DAYS = 3;
const LAYOUT_VERSION = 1;

// --- state layout ---
const HDR = 0; // LAYOUT_VERSION * 1000 + B
const N = 1; // observations seen
const LEVEL = 2;
const SIGMA = 3;
const CPOS = 4;
const CNEG = 5;
const CPOS_N = 6;
const CNEG_N = 7;
const SVAR = 8;
const LAST = 9;
const RUN = 10;
const CHFRAC = 11;
const QUANTUM = 12;
const ABSLEVEL = 13;
const STREAK = 14; // signed count of consecutive residuals beyond SHIFT_Z
const BASE = 15; // slow baseline (≈ daily mean) the profile is learned against
const AMP = 16; // spread of the value around the baseline (profile update clip)
const ZSUM = 17; // Σz of the current streak
const SHIFT0 = 18; // SHIFT_RUN deseasonalised values of the streak
const WARM0 = SHIFT0 + SHIFT_RUN; // WARMUP raw values
const SEAS0 = WARM0 + WARMUP; // B profile buckets

/** Buckets of the daily profile for a sampling interval, s (0: no daily profile). */
export function bucketsFor(intervalS: number): number {
  const perDay = Math.round(86_400 / intervalS);
  return perDay >= 4 ? Math.min(MAX_BUCKETS, perDay) : 0;
}

/** A fresh state for one series (header set). Length 18 + SHIFT_RUN + WARMUP + B Float64 values (≤ 129, 1 KB). */
export function newState(cfg: DetectorConfig): Float64Array {
  const b = bucketsFor(cfg.intervalS);
  const s = new Float64Array(SEAS0 + b);
  s[HDR] = LAYOUT_VERSION * 1000 + b;
  s[QUANTUM] = Number.POSITIVE_INFINITY;
  s[CHFRAC] = 1;
  return s;
}

/** True when `s` is a state of this layout for `cfg` (after decoding a snapshot). */
export function isCompatibleState(s: Float64Array, cfg: DetectorConfig): boolean {
  const b = bucketsFor(cfg.intervalS);
  return s.length === SEAS0 + b && s[HDR] === LAYOUT_VERSION * 1000 + b;
}

/** Observations a state has seen. */
export function observations(s: Float64Array): number {
  return s[N]!;
}

/** Median of a[from .. from+len) (copies; len ≤ 16). */
function median(a: Float64Array, from: number, len: number): number {
  const v = Array.from(a.subarray(from, from + len)).sort((x, y) => x - y);
  const m = len >> 1;
  return len % 2 === 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

/** Score from severity: sev⁴ / (1 + sev⁴) (0.5 at the alarm limit, 0.9 at 1.73×). */
function scoreOf(sev: number): number {
  if (!(sev > 0)) return 0;
  const s4 = sev * sev * sev * sev;
  return s4 === Number.POSITIVE_INFINITY ? 1 : s4 / (1 + s4);
}

/** Severity of 0.9: the band half-width in z units is Z_LIMIT × this. */
const SEV_AT_09 = Math.pow(9, 0.25) / CALIBRATION;

/**
 * Score one point and update the state.
 * @param s state from {@link newState} (mutated).
 * @param cfg the series' config (same interval as at newState).
 * @param tsSec point time, epoch seconds (for the time of day).
 * @param value observed value; NaN = no observation (scores 0, state unchanged).
 * @param out result object (overwritten).
 * @param extraVar extra variance of this observation, value units² (e.g. the
 *   sampling noise of a p99 over few spans); added to the scale² when scoring.
 */
export function step(s: Float64Array, cfg: DetectorConfig, tsSec: number, value: number, out: StepResult, extraVar = 0): void {
  out.score = 0;
  out.component = 0;
  const b = s[HDR]! % 1000;
  // Time of day → bucket of the daily profile (piecewise constant).
  let k = 0;
  if (b > 0) {
    const day = ((tsSec % 86_400) + 86_400) % 86_400;
    k = Math.min(b - 1, Math.floor((day / 86_400) * b));
  }
  const seas = b > 0 ? s[SEAS0 + k]! : 0;
  const n = s[N]!;
  const perDay = 86_400 / cfg.intervalS;

  if (Number.isNaN(value)) {
    out.expected = n >= WARMUP ? s[LEVEL]! + seas : Number.NaN;
    out.lower = out.upper = Number.NaN;
    return;
  }
  // Resolution and flat-line bookkeeping (also during warm-up).
  const last = s[LAST]!;
  let flatSurprise = 0;
  if (n > 0) {
    const d = Math.abs(value - last);
    const changed = d > 1e-12 * Math.max(1, Math.abs(value)) ? 1 : 0;
    if (changed === 1 && d < s[QUANTUM]!) s[QUANTUM] = d;
    s[RUN] = changed === 1 ? 0 : s[RUN]! + 1;
    const f = s[CHFRAC]!;
    // Surprise of a run of R unchanged values when a fraction f of steps change.
    if (f > 0.9 && s[RUN]! > 0) flatSurprise = -s[RUN]! * Math.log10(Math.max(1 - f, 0.01));
    s[CHFRAC] = f + FLAT_BETA * (changed - f);
  }
  s[LAST] = value;
  s[ABSLEVEL] = n === 0 ? Math.abs(value) : s[ABSLEVEL]! + 0.01 * (Math.abs(value) - s[ABSLEVEL]!);

  if (n < WARMUP) {
    s[WARM0 + n] = value;
    s[N] = n + 1;
    if (n + 1 === WARMUP) {
      const med = median(s, WARM0, WARMUP);
      for (let i = 0; i < WARMUP; i++) s[WARM0 + i] = Math.abs(s[WARM0 + i]! - med);
      s[LEVEL] = med;
      s[BASE] = med;
      s[SIGMA] = 1.4826 * median(s, WARM0, WARMUP);
      s[SVAR] = 1;
    }
    out.expected = out.lower = out.upper = Number.NaN;
    return;
  }

  // Forecast and standardised residual.
  const quantum = s[QUANTUM]! === Number.POSITIVE_INFINITY ? 0 : s[QUANTUM]!;
  const floor = Math.max(0.5 * quantum, 1e-3 * s[ABSLEVEL]!, 1e-9);
  const sigma = Math.max(s[SIGMA]!, floor);
  const sig = Math.sqrt(sigma * sigma + Math.max(extraVar, 0));
  const pred = s[LEVEL]! + seas;
  const e = value - pred;
  const z = e / sig;
  const sides = cfg.sides ?? 'both';
  const zs = sides === 'both' ? Math.abs(z) : sides === 'up' ? Math.max(z, 0) : Math.max(-z, 0);
  let sev = zs / Z_LIMIT;
  let comp = sev > 0 ? 1 : 0;

  // Level (Huber-clipped, on the deseasonalised value); the slow baseline the
  // profile is learned against (so the fast level cannot absorb the daily
  // shape); the profile bucket; the scale (clipped update).
  const hc = HUBER * sig;
  s[LEVEL] = s[LEVEL]! + ALPHA * Math.max(-hc, Math.min(hc, e));
  // Once the profile is established (recurring daily steps learned), a level
  // shift moves the baseline too, so the profile does not learn it as a daily shape.
  const settled = n > SETTLED_DAYS * perDay;
  // The profile may learn shapes far larger than the noise (a daily square
  // wave): its updates are clipped at the spread around the baseline, not at the scale.
  const aB = Math.min(0.05, Math.max(1e-4, BASE_DAYS_INV / perDay));
  const dev = value - s[BASE]!;
  s[AMP] = s[AMP]! + 0.02 * (Math.min(Math.abs(dev), SCALE_CLIP * Math.max(s[AMP]!, sig)) - s[AMP]!);
  const hs = HUBER * Math.max(sig, s[AMP]!);
  s[BASE] = s[BASE]! + aB * Math.max(-hs, Math.min(hs, value - seas - s[BASE]!));
  if (b > 0) {
    const perBucket = Math.max(perDay / b, 1);
    const g = Math.max(1 - Math.pow(1 - GAMMA_DAY, 1 / perBucket), 1 / (1 + n / Math.min(b, perDay)));
    s[SEAS0 + k] = seas + g * Math.max(-hs, Math.min(hs, value - s[BASE]! - seas));
  }
  const ae = Math.min(Math.abs(e), SCALE_CLIP * sigma) * 1.2533;
  s[SIGMA] = Math.max(s[SIGMA]! + BETA * (ae - s[SIGMA]!), 0);

  // Level shift: a run of large residuals on one side re-anchors the level.
  const big = Math.abs(z) > SHIFT_Z ? Math.sign(z) : 0;
  let streak = s[STREAK]!;
  const extend = big !== 0 && Math.sign(streak) === big;
  streak = extend ? streak + big : big;
  s[ZSUM] = extend ? s[ZSUM]! + z : big !== 0 ? z : 0;
  s[STREAK] = streak;
  const run = Math.abs(streak);
  if (run > 1) {
    // Evidence of a run: |Σz| / √R (a sum test), so a persisting shift outranks one point.
    const zr = sides === 'both' ? Math.abs(s[ZSUM]!) : sides === 'up' ? Math.max(s[ZSUM]!, 0) : Math.max(-s[ZSUM]!, 0);
    const runSev = zr / Math.sqrt(run) / Z_LIMIT;
    if (runSev > sev) {
      sev = runSev;
      comp = 2;
    }
  }
  if (run > 0) s[SHIFT0 + ((run - 1) % SHIFT_RUN)] = value - seas;
  if (run >= SHIFT_RUN) {
    const shift = median(s, SHIFT0, SHIFT_RUN) - s[LEVEL]!;
    s[LEVEL] = s[LEVEL]! + shift;
    if (settled) s[BASE] = s[BASE]! + shift;
    s[STREAK] = 0;
    s[ZSUM] = 0;
    s[SVAR] = 1;
    s[CPOS] = s[CNEG] = s[CPOS_N] = s[CNEG_N] = 0;
  }

  // CUSUM on clipped u (two-sided; the shift estimate moves the level on alarm).
  const u = Math.max(-5, Math.min(5, z));
  const cp = Math.max(0, s[CPOS]! + u - CUSUM_K);
  const cn = Math.max(0, s[CNEG]! - u - CUSUM_K);
  s[CPOS_N] = cp > 0 ? s[CPOS_N]! + 1 : 0;
  s[CNEG_N] = cn > 0 ? s[CNEG_N]! + 1 : 0;
  s[CPOS] = cp;
  s[CNEG] = cn;
  const cs = sides === 'both' ? Math.max(cp, cn) : sides === 'up' ? cp : cn;
  const cusumSev = cs / CUSUM_H;
  if (cusumSev > sev) {
    sev = cusumSev;
    comp = 3;
  }
  if (cp > CUSUM_H || cn > CUSUM_H) {
    const up = cp > CUSUM_H;
    const nRun = Math.max(up ? s[CPOS_N]! : s[CNEG_N]!, 1);
    const shift = (up ? 1 : -1) * sigma * (CUSUM_K + (up ? cp : cn) / nRun);
    s[LEVEL] = s[LEVEL]! + shift;
    if (settled) s[BASE] = s[BASE]! + shift;
    s[SVAR] = 1;
    s[CPOS] = s[CNEG] = s[CPOS_N] = s[CNEG_N] = 0;
  }

  // Variance: EWMA of u² against its limit (two-sided change in spread counts as both).
  // (points continuing a one-sided run are a shift, not spread: skipped)
  if (Math.abs(s[STREAK]!) < 2) s[SVAR] = s[SVAR]! + VAR_BETA * (u * u - s[SVAR]!);
  const varSev = sides === 'down' ? 0 : s[SVAR]! / VAR_LIMIT;
  if (varSev > sev) {
    sev = varSev;
    comp = 4;
  }
  const flatSev = sides === 'up' ? 0 : flatSurprise / FLAT_LIMIT;
  if (flatSev > sev) {
    sev = flatSev;
    comp = 5;
  }

  s[N] = n + 1;
  // Ramp over the WARMUP points after initialisation.
  const ramp = Math.min(1, (n + 1 - WARMUP) / WARMUP);
  out.score = scoreOf(sev * ramp * CALIBRATION);
  out.component = out.score > 0 ? comp : 0;
  out.expected = pred;
  const half = Z_LIMIT * SEV_AT_09 * sig;
  out.lower = pred - half;
  out.upper = pred + half;
}

/** Snapshot form of a state: base64 of its little-endian Float64 bytes. */
export function encodeState(s: Float64Array): string {
  const buf = Buffer.allocUnsafe(s.length * 8);
  for (let i = 0; i < s.length; i++) buf.writeDoubleLE(s[i]!, i * 8);
  return buf.toString('base64');
}

/**
 * Decode {@link encodeState}.
 * @returns the state, or undefined when the bytes are not a state of this layout for `cfg`
 *   (a snapshot of an older layout: the series then starts afresh).
 */
export function decodeState(b64: string, cfg: DetectorConfig): Float64Array | undefined {
  const buf = Buffer.from(b64, 'base64');
  if (buf.byteLength % 8 !== 0) return undefined;
  const s = new Float64Array(buf.byteLength / 8);
  for (let i = 0; i < s.length; i++) s[i] = buf.readDoubleLE(i * 8);
  return isCompatibleState(s, cfg) ? s : undefined;
}

/**
 * Score a whole series (offline; what `vigil anomaly score` runs).
 * @param times epoch seconds per point.
 * @param values values (NaN = no observation).
 * @returns scores in [0, 1], one per point, each from points ≤ it only.
 */
export function scoreSeries(times: readonly number[], values: readonly number[], cfg: DetectorConfig): Float64Array {
  const s = newState(cfg);
  const out = newResult();
  const scores = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    step(s, cfg, times[i]!, values[i]!, out);
    scores[i] = out.score;
  }
  return scores;
}
