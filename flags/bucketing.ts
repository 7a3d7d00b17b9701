/**
 * Sticky bucketing for percentage rollouts.
 *
 * A context is placed in one of 10,000 buckets (0.01 % each):
 * ```
 * h      = SHA-256( UTF-8( flagKey + "/" + bucketKey ) )
 * bucket = floor( uint32_be(h[0..4]) × 10000 / 2^32 )        // 0 … 9999
 * ```
 * where `bucketKey` is the context attribute named by the flag's `bucket_by`
 * (default `targetingKey`). The hash depends only on the flag key and that
 * value, so a user keeps their bucket for the life of the flag, on every
 * Vigil process, and users are spread independently across flags.
 *
 * A rollout `[{variant: a, weight: 10}, {variant: b, weight: 90}]` lays its
 * variants over the buckets in the order listed: `a` gets buckets 0–999, `b`
 * 1000–9999. Raising `a` to 20 % gives it 0–1999: everyone who had `a` keeps
 * it, and only users from the next 10 % move from `b` to `a`. (Reordering the
 * list, not its weights, reshuffles users.)
 */
import { createHash } from 'node:crypto';

/** Buckets per rollout (10,000: weights have two decimals). */
export const BUCKETS = 10_000;

/** The bucket (0 … 9999) of `bucketKey` for flag `flagKey`. */
export function bucketOf(flagKey: string, bucketKey: string): number {
  const h = createHash('sha256').update(`${flagKey}/${bucketKey}`, 'utf8').digest();
  return Math.floor((h.readUInt32BE(0) * BUCKETS) / 2 ** 32);
}

/**
 * The variant of a rollout that owns `bucket`.
 * @param rollout weights in percent (two decimals), summing to 100 (validated by flags/model.ts).
 * @returns the variant name; the last one if rounding left the bucket past the end.
 */
export function pickVariant(rollout: ReadonlyArray<{ variant: string; weight: number }>, bucket: number): string {
  let upper = 0;
  for (const w of rollout) {
    upper += Math.round(w.weight * 100);
    if (bucket < upper) return w.variant;
  }
  return rollout[rollout.length - 1]!.variant;
}
