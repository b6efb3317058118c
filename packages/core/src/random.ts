/**
 * Deterministic pseudo-random numbers for generated test data and synthetic benchmark inputs: the same
 * seed always gives the same sequence, on every machine (never `Math.random`).
 */

/**
 * A seeded mulberry32 generator.
 *
 * @param seed - any 32-bit integer
 * @returns a function giving numbers in [0, 1)
 * @example
 * const random = seededRandom(42);
 * random(); // the same value on every run
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
