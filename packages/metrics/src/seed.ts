import * as tf from '@tensorflow/tfjs-core';

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

/** xoshiro128** — a fast, well-tested 32-bit generator; the state comes from a seed through splitmix-style mixing. */
function xoshiro128ss(seed: number): () => number {
  let s0 = deriveSeed(seed, 1) | 1;
  let s1 = deriveSeed(seed, 2);
  let s2 = deriveSeed(seed, 3);
  let s3 = deriveSeed(seed, 4);
  return () => {
    const result = Math.imul(((Math.imul(s1, 5) << 7) | (Math.imul(s1, 5) >>> 25)) >>> 0, 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  };
}

/**
 * Standard normal draws as a float32 tensor, generated in JS (as tf.randomNormal also does) but faster:
 * xoshiro128** uniforms through Marsaglia's polar method (two normals per accepted pair, no trigonometry). Seeded →
 * reproducible on every backend; without a seed, seeded from Math.random.
 */
export function randomStandardNormal(shape: number[], seed?: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const next = xoshiro128ss(seed ?? Math.floor(Math.random() * 2 ** 32));
  const out = new Float32Array(size);
  let i = 0;
  while (i < size) {
    // u, v uniform in [−1, 1); accept points inside the unit disc (probability π/4), excluding the centre.
    const u = next() / 2147483648 - 1;
    const v = next() / 2147483648 - 1;
    const s = u * u + v * v;
    if (s >= 1 || s === 0) continue;
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    out[i++] = u * f;
    if (i < size) out[i++] = v * f;
  }
  return tf.tensor(out, shape, 'float32');
}
