/**
 * Seed derivation: one run seed becomes many independent, reproducible seeds — one per epoch, batch, layer or
 * chunk — so that a seeded run repeats exactly and no two random draws share a stream (a fixed seed reused for every
 * call would repeat the same noise).
 */
import { GmError } from './errors.js';

/** Mixes a 32-bit state into a well-scrambled 32-bit value (the murmur3 / splitmix32 finaliser). */
function mix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A seed (an unsigned 32-bit integer) derived from `seed` and a path of non-negative integers such as (epoch,
 * batch). The same inputs always give the same seed; different paths give unrelated seeds. Any finite `seed` works
 * (fractional or larger than 2³²: it is folded in through its decimal text).
 *
 * @example
 * ```ts
 * deriveSeed(7, 3, 1); // the seed of epoch 3, stream 1 of run 7
 * ```
 */
export function deriveSeed(seed: number, ...path: number[]): number {
  if (!Number.isFinite(seed)) throw new GmError('BAD_ARGUMENT', 'deriveSeed: seed', 'a finite number', seed);
  let h = 0x811c9dc5;
  for (const ch of String(seed)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  h = mix32(h);
  for (const p of path) h = mix32((h + 0x9e3779b9 + mix32(p >>> 0)) >>> 0);
  return h;
}

/** An endless, reproducible sequence of seeds (for APIs that take one seed per call, like tfjs's random ops). */
export class SeedStream {
  private counter = 0;
  private readonly base: number;

  constructor(seed: number) {
    this.base = deriveSeed(seed);
  }

  /** The next seed (an unsigned 32-bit integer). */
  next(): number {
    return deriveSeed(this.base, this.counter++);
  }
}
