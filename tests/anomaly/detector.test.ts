/**
 * The streaming detector (anomaly/detector.ts) on synthetic series with known
 * anomalies: each injected spike, dip and level shift is flagged within a few
 * points, the clean seasonal part stays quiet (counts, not exact scores), a
 * persisting shift becomes the new normal, gaps are explicit, and scores are
 * causal and survive a snapshot.
 */
import { describe, expect, it } from 'vitest';
import { decodeState, encodeState, newResult, newState, scoreSeries, step, type DetectorConfig } from '../../anomaly/detector.js';
import { rng } from '../../bench/anomaly/generate.js';

const STEP = 300;
const DAY = 86_400 / STEP; // 288 points
const START = Date.UTC(2026, 0, 5) / 1000;
const THRESHOLD = 0.9;

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
}

/** 10 days of a daily pattern (level 100, amplitude 30, noise σ 2) with anomalies injected. */
function series(seed: number) {
  const r = rng(seed);
  const times = Array.from({ length: 10 * DAY }, (_, i) => START + i * STEP);
  const values = times.map((t) => 100 + 30 * Math.sin((2 * Math.PI * (t % 86_400)) / 86_400) + 2 * normal(r));
  const spikes = [3 * DAY + 40, 4 * DAY + 100, 5 * DAY + 200];
  const dips = [3 * DAY + 190, 4 * DAY + 250, 6 * DAY + 10];
  const shift = 7 * DAY + 60;
  for (const i of spikes) values[i] = values[i]! + 25;
  for (const i of dips) values[i] = values[i]! - 25;
  for (let i = shift; i < values.length; i++) values[i] = values[i]! + 20;
  return { times, values, spikes, dips, shift };
}

const cfg: DetectorConfig = { intervalS: STEP };

/** First index in [from, from + within] whose score reaches the threshold, or -1. */
function flaggedWithin(scores: Float64Array, from: number, within: number): number {
  for (let i = from; i <= from + within; i++) if (scores[i]! >= THRESHOLD) return i - from;
  return -1;
}

describe('anomaly detector', () => {
  for (const seed of [1, 2, 3]) {
    it(`flags every spike, dip and level shift within a few points and stays quiet elsewhere (seed ${seed})`, () => {
      const s = series(seed);
      const scores = scoreSeries(s.times, s.values, cfg);
      for (const i of [...s.spikes, ...s.dips]) expect(flaggedWithin(scores, i, 0), `point ${i}`).toBe(0);
      const shiftDelay = flaggedWithin(scores, s.shift, 3);
      expect(shiftDelay).toBeGreaterThanOrEqual(0);

      // Clean seasonal part: after the first day, away from the injected points.
      const near = (i: number): boolean => [...s.spikes, ...s.dips].some((a) => Math.abs(i - a) <= 3) || (i >= s.shift && i < s.shift + 12);
      let falseAlarms = 0;
      for (let i = DAY; i < scores.length; i++) if (!near(i) && scores[i]! >= THRESHOLD) falseAlarms += 1;
      expect(falseAlarms).toBeLessThanOrEqual(2);

      // The shift persists: it becomes the new normal (at most a brief echo at
      // the same time the next day, while the daily profile unlearns it).
      let after = 0;
      for (let i = s.shift + 12; i < scores.length; i++) if (scores[i]! >= THRESHOLD) after += 1;
      expect(after).toBeLessThanOrEqual(3);
    });
  }

  it('flags a flat line (stuck value) and a variance burst', () => {
    const r = rng(7);
    const times = Array.from({ length: 4 * DAY }, (_, i) => START + i * STEP);
    const values = times.map((t) => 50 + 10 * Math.sin((2 * Math.PI * (t % 86_400)) / 86_400) + normal(r));
    const flat = 2 * DAY + 30;
    for (let i = flat; i < flat + 40; i++) values[i] = values[flat - 1]!;
    const burst = 3 * DAY + 30;
    for (let i = burst; i < burst + 40; i++) values[i] = values[i]! + 6 * normal(r);
    const scores = scoreSeries(times, values, cfg);
    expect(flaggedWithin(scores, flat, 12)).toBeGreaterThanOrEqual(0);
    expect(flaggedWithin(scores, burst, 12)).toBeGreaterThanOrEqual(0);
  });

  it('is causal: the scores of a prefix equal the first scores of the whole series', () => {
    const s = series(4);
    const whole = scoreSeries(s.times, s.values, cfg);
    const cut = 5 * DAY + 17;
    const prefix = scoreSeries(s.times.slice(0, cut), s.values.slice(0, cut), cfg);
    expect(Array.from(prefix)).toEqual(Array.from(whole.slice(0, cut)));
  });

  it('continues from a snapshot exactly as without one', () => {
    const s = series(5);
    const whole = scoreSeries(s.times, s.values, cfg);
    const state = newState(cfg);
    const out = newResult();
    const cut = 6 * DAY;
    for (let i = 0; i < cut; i++) step(state, cfg, s.times[i]!, s.values[i]!, out);
    const restored = decodeState(encodeState(state), cfg)!;
    expect(restored).toBeDefined();
    for (let i = cut; i < s.values.length; i++) {
      step(restored, cfg, s.times[i]!, s.values[i]!, out);
      expect(out.score).toBe(whole[i]);
    }
    expect(decodeState(encodeState(state), { intervalS: 86_400 })).toBeUndefined();
  });

  it('treats NaN as "no observation": score 0, state unchanged', () => {
    const s = series(6);
    const state = newState(cfg);
    const out = newResult();
    for (let i = 0; i < 2 * DAY; i++) step(state, cfg, s.times[i]!, s.values[i]!, out);
    const before = encodeState(state);
    step(state, cfg, s.times[2 * DAY]!, Number.NaN, out);
    expect(out.score).toBe(0);
    expect(Number.isFinite(out.expected)).toBe(true);
    expect(encodeState(state)).toBe(before);
  });

  it('scores only increases with sides "up" and reports a band around the forecast', () => {
    const s = series(8);
    const up = scoreSeries(s.times, s.values, { intervalS: STEP, sides: 'up' });
    for (const i of s.spikes) expect(up[i]!).toBeGreaterThanOrEqual(THRESHOLD);
    for (const i of s.dips) expect(up[i]!).toBeLessThan(THRESHOLD);
    const state = newState(cfg);
    const out = newResult();
    for (let i = 0; i < 3 * DAY; i++) step(state, cfg, s.times[i]!, s.values[i]!, out);
    expect(out.lower).toBeLessThan(out.expected);
    expect(out.upper).toBeGreaterThan(out.expected);
    expect(Math.abs(out.expected - s.values[3 * DAY - 1]!)).toBeLessThan(10);
  });
});
