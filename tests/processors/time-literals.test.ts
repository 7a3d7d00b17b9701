/**
 * DateTime64(9) literals of ns timestamps: the per-second cache of
 * nsToClickHouse (issue 6, a worker hot spot) must give exactly what
 * formatting every value from scratch gives, across second, day and year
 * boundaries and the whole storable range, and round-trip.
 */
import { describe, expect, it } from 'vitest';
import { clickHouseToNs, nsToClickHouse } from '../../schemas/time.js';
import { mulberry32 } from '../support/prng.js';

/** The formula without a cache. */
function reference(ns: bigint): string {
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;
}

describe('nsToClickHouse', () => {
  it('matches the uncached formula and round-trips (boundaries and 20,000 seeded values)', () => {
    const fixed = [0n, 1n, 999_999_999n, 1_000_000_000n, 1_767_225_599_999_999_999n, 1_767_225_600_000_000_000n, 4_102_444_800_000_000_000n - 1n];
    const r = mulberry32(6);
    const base = 1_763_719_200_000_000_000n;
    const random = Array.from({ length: 20_000 }, () => base + BigInt(Math.floor(r() * 86_400_000)) * 1_000_000n + BigInt(Math.floor(r() * 1_000_000)));
    for (const ns of [...fixed, ...random, ...fixed]) {
      expect(nsToClickHouse(ns)).toBe(reference(ns));
      expect(clickHouseToNs(nsToClickHouse(ns))).toBe(ns);
    }
  });
});
