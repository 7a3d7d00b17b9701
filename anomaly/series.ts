/**
 * What Vigil scores online: the series, their signals, and how one closed
 * minute of aggregates becomes one detector point per signal.
 *
 * Series (from span_metrics_1m, merged per minute):
 *   kind `operation`: (tenant, service, operation) — every span;
 *   kind `model`:     (tenant, service, model) — LLM spans (model ≠ '').
 * Signals per series and minute:
 *   request_rate    spans per minute; a minute without spans is 0 (a gap is
 *                   an observation of zero requests); both directions score.
 *   error_rate      spans with status error / spans, fraction 0–1; a minute
 *                   without spans is "no observation"; increases score. Its
 *                   binomial sampling variance p(1−p)/n (p floored at 1/n) is
 *                   added to the detector's scale, so 1 error in 2 spans is not
 *                   an alarm on a low-volume series.
 *   latency_p99_ms  p99 of span durations, ms, read from the minute's merged
 *                   DDSketch bins (1 % relative accuracy; never from rescanned
 *                   spans); no spans = no observation; increases score. With n
 *                   spans a p99 is close to the maximum: variance (0.5·p99)²/n is added.
 *   cost_usd        USD per minute (model series only); 0 without spans; increases score.
 */
import { newResult, newState, step, type DetectorConfig, type Sides } from './detector.js';

export const SIGNALS = ['request_rate', 'error_rate', 'latency_p99_ms', 'cost_usd'] as const;
export type AnomalySignal = (typeof SIGNALS)[number];

export const SERIES_KINDS = ['operation', 'model'] as const;
export type SeriesKind = (typeof SERIES_KINDS)[number];

/** Signals scored for a series kind, in state order. */
export function signalsOf(kind: SeriesKind): readonly AnomalySignal[] {
  return kind === 'model' ? SIGNALS : SIGNALS.slice(0, 3);
}

const SIDES: Record<AnomalySignal, Sides> = { request_rate: 'both', error_rate: 'up', latency_p99_ms: 'up', cost_usd: 'up' };

/** Detector config of a signal on minute series. */
export function configOf(signal: AnomalySignal): DetectorConfig {
  return { intervalS: 60, sides: SIDES[signal] };
}

/** Identity of a series. `name` is the operation or the model. */
export interface SeriesKey {
  tenant: string;
  kind: SeriesKind;
  service: string;
  name: string;
}

/** Stable id of a series (map key, snapshot key). */
export function seriesId(k: SeriesKey): string {
  return `${k.tenant}\u0000${k.kind}\u0000${k.service}\u0000${k.name}`;
}

/** One minute of a series' merged aggregates. Cost in USD, p99 in ms (null: no spans or zero bucket). */
export interface MinuteObs {
  count: number;
  errors: number;
  costUsd: number;
  p99Ms: number | null;
}

/** A series with its detector states (one Float64Array per signal of its kind). */
export interface SeriesState {
  key: SeriesKey;
  states: Float64Array[];
  /** Last minute (epoch s) with spans. */
  lastSeenS: number;
}

/** A new series' states. */
export function newSeries(key: SeriesKey): SeriesState {
  return { key, states: signalsOf(key.kind).map((s) => newState(configOf(s))), lastSeenS: 0 };
}

/** A scored point (one row of anomaly_scores). Values in the signal's unit; NaN-free. */
export interface ScoredPoint {
  key: SeriesKey;
  minuteS: number;
  signal: AnomalySignal;
  observed: number;
  expected: number;
  lower: number;
  upper: number;
  score: number;
  /** Detector component (detector.ts StepResult.component). */
  component: number;
}

/** Value and extra variance of a signal for one minute (NaN: no observation). */
export function valueOf(signal: AnomalySignal, o: MinuteObs | undefined): { value: number; extraVar: number } {
  const n = o?.count ?? 0;
  switch (signal) {
    case 'request_rate':
      return { value: n, extraVar: 0 };
    case 'cost_usd':
      return { value: o?.costUsd ?? 0, extraVar: 0 };
    case 'error_rate': {
      if (n === 0) return { value: Number.NaN, extraVar: 0 };
      const r = o!.errors / n;
      const p = Math.min(Math.max(r, 1 / n), 0.5);
      return { value: r, extraVar: (p * (1 - p)) / n };
    }
    case 'latency_p99_ms': {
      if (n === 0 || o!.p99Ms === null) return { value: Number.NaN, extraVar: 0 };
      const v = o!.p99Ms;
      return { value: v, extraVar: (0.25 * v * v) / n };
    }
  }
}

/**
 * Score consecutive minutes of one series in order (mutates `series.states`).
 * @param minutes minute starts, epoch s, ascending, without holes (a minute
 *   missing from `obs` is a minute without spans: see the module comment).
 * @param obs observations by minute start.
 * @returns the scored points (signals without an observation are left out).
 */
export function scoreMinutes(series: SeriesState, minutes: readonly number[], obs: ReadonlyMap<number, MinuteObs>): ScoredPoint[] {
  const out: ScoredPoint[] = [];
  const sigs = signalsOf(series.key.kind);
  const r = newResult();
  for (const m of minutes) {
    const o = obs.get(m);
    if (o !== undefined && o.count > 0) series.lastSeenS = m;
    for (let i = 0; i < sigs.length; i++) {
      const signal = sigs[i]!;
      const { value, extraVar } = valueOf(signal, o);
      step(series.states[i]!, configOf(signal), m, value, r, extraVar);
      if (Number.isNaN(value) || Number.isNaN(r.expected)) continue;
      out.push({ key: series.key, minuteS: m, signal, observed: value, expected: r.expected, lower: r.lower, upper: r.upper, score: r.score, component: r.component });
    }
  }
  return out;
}
