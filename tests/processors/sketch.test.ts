import { DDSketch } from '@datadog/sketches-js';
import { describe, expect, it } from 'vitest';
import { aggregateSpans } from '../../processors/aggregate.js';
import { binsFromSketch, mergeBins, quantileFromBins, SketchAccumulator, sketchFromBins } from '../../processors/sketch.js';
import { processBatch } from '../../processors/worker.js';
import { otlpSpanEnvelope } from './fixtures.js';
import { mulberry32 as rng } from '../support/prng.js';

/** Log-normal-ish durations in ms, like request latencies. */
function durations(n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.exp(3 + 1.5 * Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r())));
}

function exactQuantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(q * (s.length - 1))]!; // same rank rule as DDSketch: q·(n−1), lower
}

function accumulate(values: number[]): SketchAccumulator {
  const acc = new SketchAccumulator();
  for (const v of values) acc.add(v);
  return acc;
}

describe('DDSketch bins', () => {
  it('p50/p99 from bins are within 1 % of the exact quantiles of 10 000 durations', () => {
    const values = durations(10_000, 7);
    const acc = accumulate(values);
    for (const q of [0.5, 0.9, 0.99]) {
      const exact = exactQuantile(values, q);
      const est = quantileFromBins(acc.toBins(), acc.zero, q)!;
      expect(Math.abs(est - exact) / exact).toBeLessThanOrEqual(0.01);
    }
  });

  it('bins equal what the library sketch stores, and round-trip', () => {
    const values = durations(2_000, 3);
    const lib = new DDSketch({ relativeAccuracy: 0.01 });
    for (const v of values) lib.accept(v);
    const acc = accumulate(values);
    expect(binsFromSketch(lib).bins).toEqual(acc.toBins());
    expect(binsFromSketch(sketchFromBins(acc.toBins(), 0)).bins).toEqual(acc.toBins());
  });

  it('merging two bin maps equals sketching the union', () => {
    const a = durations(5_000, 11);
    const b = durations(5_000, 12).map((x) => x * 3);
    const accA = accumulate(a);
    const accB = accumulate(b);
    accA.add(0);
    const union = accumulate([...a, ...b, 0]);
    expect(mergeBins(accA.toBins(), accB.toBins())).toEqual(union.toBins());
    for (const q of [0.01, 0.5, 0.99]) {
      expect(quantileFromBins(mergeBins(accA.toBins(), accB.toBins()), accA.zero + accB.zero, q)).toBe(quantileFromBins(union.toBins(), union.zero, q));
    }
  });

  it('empty bins have no quantile; zero durations go to the zero bucket', () => {
    expect(quantileFromBins({}, 0, 0.5)).toBeNull();
    const acc = new SketchAccumulator();
    acc.add(0);
    acc.add(-1);
    expect(acc.zero).toBe(2);
    expect(quantileFromBins(acc.toBins(), acc.zero, 0.5)).toBe(0);
  });

  it('aggregates spans per minute and series with sketch bins of durations in ms', () => {
    const { spans } = processBatch([otlpSpanEnvelope('t-agg', 1, 5)]);
    const [row, ...rest] = aggregateSpans(spans);
    expect(rest).toEqual([]);
    expect(row).toMatchObject({ tenant: 't-agg', service: 'checkout', operation: 'GET /cart', count: 5, error_count: 0,
      duration_sum_ns: (1 + 2 + 3 + 4 + 5) * 1_000_000, cost_usd: 0, unpriced_count: 0, sketch_zero: 0 });
    expect(Object.values(row!.sketch_bins).reduce((x, y) => x + y, 0)).toBe(5);
    expect(quantileFromBins(row!.sketch_bins, 0, 1)).toBeCloseTo(5, 1);
  });
});
