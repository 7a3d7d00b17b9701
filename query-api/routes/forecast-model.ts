/**
 * Spend forecasting from a daily cost history (issue 8, seed 001).
 *
 * Method (documented in the API and README):
 * - 14 or more days of history: ARIMA(0,2,2) fitted by the `arima` package
 *   (an Emscripten build of ctsa, maximum likelihood), which is the model
 *   underlying Holt's linear-trend exponential smoothing (Hyndman &
 *   Athanasopoulos, "Forecasting: Principles and Practice", 3rd ed., §9.10:
 *   ETS(A,A,N) ≡ ARIMA(0,2,2)); it gives point forecasts and their error
 *   variances v_h for h = 1 … H days ahead.
 * - 1 … 13 days: the mean method (FPP3 §5.2): every forecast is the mean of
 *   the history, v_h = s² (1 + 1/T) with s the sample standard deviation.
 * - no history: forecasts 0 with variance 0.
 * Daily forecasts are clamped at 0 (spend is never negative). The projected
 * spend of the rest of the period is Σ w_h · ŷ_h, where w_1 is the fraction
 * of today still to come and w_h = 1 for later days. Its standard deviation is
 * bounded by Σ w_h · √v_h (forecast errors of an integrated model are
 * positively correlated; treating them as perfectly correlated gives this
 * upper bound, so the interval is conservative); the 95 % interval is
 * projected ± 1.96 · that bound, its lower end not below the spend so far.
 */
import ARIMA from 'arima';

/** Days of history from which ARIMA(0,2,2) is used instead of the mean method. */
export const MIN_ARIMA_DAYS = 14;
/** z for a two-sided 95 % normal interval. */
const Z95 = 1.959963984540054;

/** Forecast of one daily series. */
export interface DailyForecast {
  /** 'arima(0,2,2)' | 'mean' | 'none'. */
  method: string;
  /** Point forecasts for 1 … H days ahead, ≥ 0 (USD). */
  mean: number[];
  /** Forecast error variances for 1 … H days ahead (USD²). */
  variance: number[];
}

/**
 * Forecast `horizon` days after a daily series.
 * @param history daily values, oldest first (USD per day).
 * @param horizon days to forecast (≥ 0).
 */
export function forecastDaily(history: readonly number[], horizon: number): DailyForecast {
  const T = history.length;
  if (horizon <= 0) return { method: T >= MIN_ARIMA_DAYS ? 'arima(0,2,2)' : T > 0 ? 'mean' : 'none', mean: [], variance: [] };
  if (T === 0) return { method: 'none', mean: Array(horizon).fill(0), variance: Array(horizon).fill(0) };
  if (T >= MIN_ARIMA_DAYS && history.some((v) => v !== history[0])) {
    const model = new ARIMA({ p: 0, d: 2, q: 2, verbose: false }).train([...history]);
    try {
      const [pred, errs] = model.predict(horizon);
      const mean = Array.from(pred, (v) => (Number.isFinite(v) ? Math.max(0, v) : NaN));
      const variance = Array.from(errs, (v) => (Number.isFinite(v) && v >= 0 ? v : NaN));
      if (mean.every(Number.isFinite) && variance.every(Number.isFinite)) return { method: 'arima(0,2,2)', mean, variance };
    } finally {
      model.destroy();
    }
  }
  // The mean method (also when ARIMA could not be fitted, e.g. a constant series).
  const m = history.reduce((a, b) => a + b, 0) / T;
  const s2 = T > 1 ? history.reduce((a, b) => a + (b - m) ** 2, 0) / (T - 1) : 0;
  return { method: 'mean', mean: Array(horizon).fill(Math.max(0, m)), variance: Array(horizon).fill(s2 * (1 + 1 / T)) };
}

/** Projected spend to the end of a period. USD. */
export interface Projection {
  method: string;
  /** Spend so far in the period. */
  spent: number;
  /** spent + the forecast of the rest of the period. */
  projected: number;
  /** 95 % interval of `projected` (see module doc). */
  lower: number;
  upper: number;
}

/**
 * Project a period's total.
 * @param history complete days before today, oldest first (USD per day).
 * @param spent spend so far in the period (USD).
 * @param todayLeft fraction of today still to come, 0 … 1.
 * @param daysAfterToday whole days after today up to the end of the period.
 */
export function projectPeriod(history: readonly number[], spent: number, todayLeft: number, daysAfterToday: number): Projection {
  const horizon = 1 + daysAfterToday;
  const f = forecastDaily(history, horizon);
  let rest = 0;
  let sd = 0;
  for (let h = 0; h < horizon; h++) {
    const w = h === 0 ? todayLeft : 1;
    rest += w * f.mean[h]!;
    sd += w * Math.sqrt(f.variance[h]!);
  }
  const projected = spent + rest;
  return {
    method: f.method,
    spent,
    projected,
    lower: Math.max(spent, projected - Z95 * sd),
    upper: projected + Z95 * sd,
  };
}
