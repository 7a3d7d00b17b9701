/**
 * Significance tests for experiments, on summary statistics (counts, means,
 * sample variances), with the distributions of the stdlib project
 * (@stdlib/stats-base-dists-normal-cdf / -quantile, @stdlib/stats-base-dists-t-cdf / -quantile);
 * nothing here approximates a distribution by hand.
 *
 * - {@link twoProportionZTest}: error rates. z = (p₂ − p₁) / √(p̂(1 − p̂)(1/n₁ + 1/n₂))
 *   with the pooled p̂ (the test), two-sided p = 2(1 − Φ(|z|)); the interval of
 *   p₂ − p₁ is the unpooled Wald interval ± z₁₋α/₂ √(p₁(1−p₁)/n₁ + p₂(1−p₂)/n₂).
 *   Judged only when each arm has ≥ 30 requests and ≥ 5 errors and ≥ 5
 *   successes in total (the usual normal-approximation condition).
 * - {@link welchTTest}: means (latency, cost). t = (m₂ − m₁) / √(s₁²/n₁ + s₂²/n₂),
 *   Welch–Satterthwaite degrees of freedom, two-sided p = 2(1 − T_df(|t|)),
 *   interval ± t₁₋α/₂,df · se. Judged only with ≥ 30 samples per arm.
 * Both compare a variant (2) against the control (1): the difference is variant − control.
 */
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

/** Fewest samples per arm before a comparison is judged. */
export const MIN_SAMPLES = 30;

/** The outcome of one comparison. */
export interface Comparison {
  test: 'two-proportion z-test' | "Welch's t-test";
  control: number;
  variant: number;
  /** variant − control. */
  difference: number;
  /** Relative difference (variant − control) / control; null when control is 0. */
  relative: number | null;
  ci_low: number | null;
  ci_high: number | null;
  /** Confidence level of the interval, e.g. 0.95. */
  confidence: number;
  p_value: number | null;
  statistic: number | null;
  /** p < 1 − confidence, and the sample is large enough. */
  significant: boolean;
  sample: 'ok' | 'too_small';
  note?: string;
}

const rel = (c: number, v: number) => (c === 0 ? null : (v - c) / c);

/**
 * Two-sided two-proportion z-test of error rates.
 * @param e1 errors of the control, n1 its requests; e2, n2 the variant's.
 * @param confidence e.g. 0.95.
 */
export function twoProportionZTest(e1: number, n1: number, e2: number, n2: number, confidence = 0.95): Comparison {
  const p1 = n1 > 0 ? e1 / n1 : 0;
  const p2 = n2 > 0 ? e2 / n2 : 0;
  const base = { test: 'two-proportion z-test' as const, control: p1, variant: p2, difference: p2 - p1, relative: rel(p1, p2), confidence };
  const errors = e1 + e2;
  const successes = n1 + n2 - errors;
  if (n1 < MIN_SAMPLES || n2 < MIN_SAMPLES || errors < 5 || successes < 5) {
    return {
      ...base, ci_low: null, ci_high: null, p_value: null, statistic: null, significant: false, sample: 'too_small',
      note: `too small to judge: needs at least ${MIN_SAMPLES} requests per variant and 5 errors and 5 successes in all (has ${n1} and ${n2} requests, ${errors} errors, ${successes} successes)`,
    };
  }
  const pooled = errors / (n1 + n2);
  const se0 = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const z = se0 === 0 ? 0 : (p2 - p1) / se0;
  const p = 2 * (1 - normalCdf(Math.abs(z), 0, 1));
  const zc = normalQuantile(1 - (1 - confidence) / 2, 0, 1);
  const se = Math.sqrt((p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2);
  return {
    ...base, ci_low: p2 - p1 - zc * se, ci_high: p2 - p1 + zc * se, p_value: p, statistic: z,
    significant: p < 1 - confidence, sample: 'ok',
  };
}

/**
 * Two-sided Welch's t-test of means from summary statistics.
 * @param m1 mean, v1 sample variance (n − 1 denominator), n1 count of the control; m2, v2, n2 the variant's.
 */
export function welchTTest(m1: number, v1: number, n1: number, m2: number, v2: number, n2: number, confidence = 0.95): Comparison {
  const base = { test: "Welch's t-test" as const, control: m1, variant: m2, difference: m2 - m1, relative: rel(m1, m2), confidence };
  if (n1 < MIN_SAMPLES || n2 < MIN_SAMPLES) {
    return {
      ...base, ci_low: null, ci_high: null, p_value: null, statistic: null, significant: false, sample: 'too_small',
      note: `too small to judge: needs at least ${MIN_SAMPLES} requests per variant (has ${n1} and ${n2})`,
    };
  }
  const a = v1 / n1;
  const b = v2 / n2;
  const se = Math.sqrt(a + b);
  if (se === 0) {
    // No spread at all: equal means are no difference; different ones are as certain as it gets.
    const same = m1 === m2;
    return { ...base, ci_low: m2 - m1, ci_high: m2 - m1, p_value: same ? 1 : 0, statistic: null, significant: !same, sample: 'ok' };
  }
  const t = (m2 - m1) / se;
  const df = (a + b) ** 2 / ((a * a) / (n1 - 1) + (b * b) / (n2 - 1));
  const p = 2 * (1 - tCdf(Math.abs(t), df));
  const tc = tQuantile(1 - (1 - confidence) / 2, df);
  return { ...base, ci_low: m2 - m1 - tc * se, ci_high: m2 - m1 + tc * se, p_value: p, statistic: t, significant: p < 1 - confidence, sample: 'ok' };
}
