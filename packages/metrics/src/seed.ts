/**
 * Seeds for tfjs random ops. tfjs seeds each random op separately (`tf.randomNormal(shape, 0, 1, 'float32', seed)`),
 * so a reproducible run needs a fresh, deterministic seed per call: {@link SeedStream} hands them out.
 */

/** Mixes a 32-bit state into a well-scrambled 32-bit value (the splitmix32 / murmur3 finaliser). */
function mix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function checkSeed(seed: number, where: string): void {
  if (!Number.isFinite(seed)) throw new Error(`${where}: seed must be a finite number, got ${seed}`);
}

/**
 * A deterministic seed derived from `seed` and a path of non-negative integers (e.g. batch and chunk indices).
 * Different paths give unrelated seeds; the same path always gives the same seed.
 */
export function deriveSeed(seed: number, ...path: number[]): number {
  checkSeed(seed, 'deriveSeed');
  // Fold the (possibly fractional or huge) seed into 32 bits through its decimal text, then mix in the path.
  let h = 0x811c9dc5;
  for (const ch of String(seed)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  h = mix32(h);
  for (const p of path) h = mix32((h + 0x9e3779b9 + mix32(p >>> 0)) >>> 0);
  return h;
}

/** An endless, reproducible sequence of seeds for tfjs random ops. */
export class SeedStream {
  private counter = 0;
  private readonly base: number;

  constructor(seed: number) {
    checkSeed(seed, 'SeedStream');
    this.base = deriveSeed(seed);
  }

  /** The next seed (a 32-bit unsigned integer). */
  next(): number {
    return deriveSeed(this.base, this.counter++);
  }
}
