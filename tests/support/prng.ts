/**
 * Seeded pseudo-random numbers for tests: mulberry32 (Tommy Ettinger's
 * 32-bit generator, public domain), small and well distributed, so a failing
 * seeded test reproduces exactly.
 * @param seed any 32-bit integer.
 * @returns a function giving floats in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
}
