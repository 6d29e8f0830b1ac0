/**
 * Seeds for reproducible training: every shuffle and every draw of input noise gets its own integer seed derived
 * from the run's seed, the epoch and the batch, so a seeded run repeats exactly (a fixed tfjs seed would instead
 * repeat the same noise on every call).
 */

/** mulberry32: a tiny 32-bit PRNG; returns uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes a seed with stream numbers (epoch, batch, …) into a new 31-bit seed (splitmix-style hashing). */
export function mixSeed(seed: number, ...streams: number[]): number {
  let h = (seed >>> 0) ^ 0x9e3779b9;
  for (const s of streams) {
    h = Math.imul(h ^ (s >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h & 0x7fffffff;
}

/** A seeded random permutation of 0…n−1 (Fisher–Yates). */
export function seededPermutation(n: number, seed: number): Int32Array {
  const rand = mulberry32(seed);
  const out = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const tmp = out[i] as number;
    out[i] = out[j] as number;
    out[j] = tmp;
  }
  return out;
}
