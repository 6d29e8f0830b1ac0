/**
 * gm's one seeded pseudo-random generator and what is built on it. Every seeded operation in gm — shuffles, splits,
 * mask pools, noise — draws from {@link mulberry32}, so a seed gives the same numbers on every run, platform and
 * JavaScript engine (it uses only 32-bit integer arithmetic and one exact division).
 */
import { GmError } from './errors.js';

/** A source of uniform random numbers in [0, 1). */
export type Rng = () => number;

/**
 * Mulberry32 (Tommy Ettinger's 32-bit-state generator): fast, tiny and good enough for shuffling and noise; not
 * cryptographic. The seed is taken modulo 2³².
 *
 * @example
 * ```ts
 * const rng = mulberry32(42);
 * rng(); // 0.6011037519201636 — the same on every run
 * ```
 */
export function mulberry32(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new GmError('BAD_ARGUMENT', 'mulberry32: seed', 'a finite number', seed);
  let state = Math.trunc(seed) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed or an existing generator as a generator, so callers can chain draws from one stream. */
export function toRng(seedOrRng: number | Rng): Rng {
  return typeof seedOrRng === 'function' ? seedOrRng : mulberry32(seedOrRng);
}

/** A uniform integer in [0, n). */
export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** A standard normal draw (Box–Muller; 1 − u keeps the log's argument in (0, 1]). */
export function randomNormal(rng: Rng): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * A seeded random permutation of 0..n−1 (Fisher–Yates).
 *
 * @example
 * ```ts
 * permutation(5, 1); // Uint32Array [ 4, 2, 1, 0, 3 ] on every run
 * ```
 */
export function permutation(n: number, seed: number | Rng): Uint32Array {
  if (!Number.isInteger(n) || n < 0) throw new GmError('BAD_ARGUMENT', 'permutation: n', 'a non-negative integer', n);
  const rng = toRng(seed);
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}
