/**
 * DDSketch helpers: the serialised form of duration sketches in
 * span_metrics_1m (`sketch_bins` Map(Int32, UInt64) + `sketch_zero`) and the
 * quantile read-back the query API reuses.
 *
 * Source: C. Masson, J. E. Rim, H. K. Lee, "DDSketch: A Fast and Fully-Mergeable
 * Quantile Sketch with Relative-Error Guarantees", PVLDB 12(12), 2019
 * (VLDB 2019). With relative accuracy α = 0.01 the logarithmic mapping sends a
 * value x > 0 to bin index ⌈log_γ(x)⌉, γ = (1+α)/(1−α); every value in a bin
 * is within α of the bin's representative value, so any quantile read from the
 * bins is within 1 % of the true sample quantile. Two sketches with the same
 * mapping merge exactly by adding the counts of equal indices — which is what
 * ClickHouse's sumMap does across rows, minutes and series.
 *
 * Implementation: @datadog/sketches-js (`DDSketch`, LogarithmicMapping). Bins
 * are computed with the library's own `mapping.key`, so they are identical to
 * what `sketch.accept(x)` stores.
 *
 * Units: the values are durations in milliseconds. Values ≤ 0 (and below the
 * mapping's smallest distinguishable value) count in the zero bucket.
 */
import { DDSketch } from '@datadog/sketches-js';

/** Relative accuracy of every Vigil duration sketch (1 %). */
export const SKETCH_RELATIVE_ACCURACY = 0.01;

/** Bin index (as a decimal string, JSON object key) → count. */
export type SketchBins = Record<string, number>;

/** A new, empty DDSketch with Vigil's parameters (α = 0.01, logarithmic mapping). */
export function newSketch(): DDSketch {
  return new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY });
}

const MAPPING = newSketch().mapping;

/**
 * Mutable accumulator of sketch bins: the cheap write-side form of a DDSketch.
 * `add(x)` is equivalent to `DDSketch.accept(x)` for the positive store and
 * zero bucket (durations are never negative).
 */
export class SketchAccumulator {
  readonly bins = new Map<number, number>();
  zero = 0;

  /** Add one duration in ms (≤ 0 → zero bucket). */
  add(valueMs: number, count = 1): void {
    if (!(valueMs > MAPPING.minPossible)) {
      this.zero += count;
      return;
    }
    const key = MAPPING.key(valueMs);
    this.bins.set(key, (this.bins.get(key) ?? 0) + count);
  }

  /** Bins as a JSON object for JSONEachRow (keys ascending). */
  toBins(): SketchBins {
    const out: SketchBins = {};
    for (const k of [...this.bins.keys()].sort((a, b) => a - b)) out[String(k)] = this.bins.get(k) ?? 0;
    return out;
  }
}

/**
 * Read the bins of a library DDSketch (its positive DenseStore: `bins[i]`
 * holds the count of key `i + offset`).
 * @returns bins (index → count) and the zero-bucket count.
 */
export function binsFromSketch(sketch: DDSketch): { bins: SketchBins; zero: number } {
  const bins: SketchBins = {};
  const { store } = sketch;
  for (let i = 0; i < store.bins.length; i++) {
    const c = store.bins[i] ?? 0;
    if (c > 0) bins[String(i + store.offset)] = c;
  }
  return { bins, zero: sketch.zeroCount };
}

/**
 * Rebuild a DDSketch from serialised bins by accepting each bin's
 * representative value `mapping.value(index)` with weight `count`.
 * @param bins index → count; keys as strings or numbers (ClickHouse may return
 *   Map(Int32, UInt64) counts as strings over HTTP — they are Number()-ed).
 * @param zero count of values ≤ 0.
 * @throws RangeError if an index does not map back to itself (a different
 *   mapping or accuracy produced the bins).
 */
export function sketchFromBins(
  bins: Record<string, number | string> | Map<number | string, number | string>,
  zero: number | string,
): DDSketch {
  const sketch = newSketch();
  const entries = bins instanceof Map ? [...bins.entries()] : Object.entries(bins);
  for (const [k, c] of entries) {
    const index = Number(k);
    const count = Number(c);
    if (!(count > 0)) continue;
    const value = sketch.mapping.value(index);
    if (sketch.mapping.key(value) !== index) {
      throw new RangeError(`sketch bin ${index} does not round-trip through the mapping (α=${SKETCH_RELATIVE_ACCURACY})`);
    }
    sketch.accept(value, count);
  }
  const z = Number(zero);
  if (z > 0) sketch.accept(0, z);
  return sketch;
}

/**
 * Quantile of the values summarised by bins (+ zero bucket).
 * @param q quantile in [0, 1], e.g. 0.99.
 * @returns the value in ms (within 1 % of the exact sample quantile), or null
 *   when the bins are empty.
 */
export function quantileFromBins(
  bins: Record<string, number | string> | Map<number | string, number | string>,
  zero: number | string,
  q: number,
): number | null {
  const sketch = sketchFromBins(bins, zero);
  if (sketch.count === 0) return null;
  const v = sketch.getValueAtQuantile(q);
  return Number.isNaN(v) ? null : v;
}

/** Merge bin maps by adding counts of equal indices (what sumMap does). */
export function mergeBins(...maps: SketchBins[]): SketchBins {
  const acc = new Map<number, number>();
  for (const m of maps) for (const [k, c] of Object.entries(m)) acc.set(Number(k), (acc.get(Number(k)) ?? 0) + c);
  const out: SketchBins = {};
  for (const k of [...acc.keys()].sort((a, b) => a - b)) out[String(k)] = acc.get(k) ?? 0;
  return out;
}

/**
 * ClickHouse expression of the DDSketch quantile *bin keys* of merged bins,
 * so that a query returns a few integers per point instead of whole bin maps
 * (the maps dominate the answer time: formatting, transfer and JSON parsing).
 *
 * It computes what `sketchFromBins(bins, zero).getValueAtQuantile(q)` looks
 * up (@datadog/sketches-js BaseDDSketch.getValueAtQuantile + DenseStore.keyAtRank
 * with lower = true; Masson, Rim, Lee, "DDSketch", PVLDB 12(12), 2019, §2):
 * total = zero + Σ counts, rank = q·(total − 1); the zero bucket answers when
 * rank < zero; otherwise the key is the first bin, in ascending key order
 * (sumMap returns keys sorted), whose running count exceeds rank − zero (the
 * largest key if none does). Ranks are Float64 and counts UInt64 in both
 * implementations, so the keys are identical; {@link quantileFromKey} then maps
 * a key to its value with the library's own mapping, giving exactly the
 * library's answer.
 *
 * @param bins SQL expression or column of type Map(Int32, UInt64) (merged bins).
 * @param zero SQL expression of the zero-bucket count (UInt64).
 * @param total SQL expression of zero + Σ bin counts (UInt64).
 * @param quantiles q values in [0, 1].
 * @returns SQL of an Array(Nullable(Int32)), one element per q: the bin key,
 *   or NULL when the zero bucket (or an empty sketch) answers.
 */
export function quantileKeysSql(bins: string, zero: string, total: string, quantiles: readonly number[]): string {
  for (const q of quantiles) if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile ${q} is not in [0, 1]`);
  const rank = `q * (${total} - 1)`;
  const index = `arrayFirstIndex(c -> c > ${rank} - ${zero}, arrayCumSum(mapValues(${bins})))`;
  return (
    `arrayMap(q -> if(${total} = 0 OR ${rank} < ${zero}, CAST(NULL AS Nullable(Int32)), ` +
    `CAST(mapKeys(${bins})[if(${index} = 0, -1, ${index})] AS Nullable(Int32))), [${quantiles.map(String).join(', ')}])`
  );
}

/**
 * Quantile value (ms) from a key computed by {@link quantileKeysSql}.
 * @param total zero + Σ bin counts of the merged sketch.
 * @param key the bin key, or null when the zero bucket answers.
 * @returns null for an empty sketch, 0 for the zero bucket, else the bin's
 *   representative value `mapping.value(key)` (within 1 % of the exact quantile).
 */
export function quantileFromKey(total: number, key: number | null): number | null {
  if (total === 0) return null;
  return key === null ? 0 : MAPPING.value(key);
}
