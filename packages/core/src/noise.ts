/**
 * Seeded noise as plain float32 arrays (callers wrap them in tensors), with per-example streams: when a draw names
 * the axis that holds a batch's examples, example e's values come from their own stream, keyed by the seed and the
 * example's index in the whole batch. So noise does not depend on how a batch is split: a data-parallel replica
 * holding examples [s, e) of a step — which sets that offset with {@link withExampleOffset} — draws, example for
 * example, the noise one thread draws for the whole batch, and trains as one thread does.
 */
import { GmError } from './errors.js';
import { mulberry32, type Rng } from './random.js';
import { deriveSeed } from './seeds.js';

/** Index in the step's whole batch of example 0 of the batch being computed (non-zero only inside a replica's loss). */
let offset = 0;

/**
 * Runs `fn` with the batch's examples numbered from `firstExample`: per-example draws made inside it (any
 * `exampleAxis` draw below, and what gm builds on them — posterior samples, dequantization, input corruption) take
 * the streams of examples firstExample, firstExample + 1, … . What a data-parallel replica wraps its loss in.
 *
 * @example
 * ```ts
 * const whole = normalNoise([4, 3], 9, 0);
 * const back = withExampleOffset(2, () => normalNoise([2, 3], 9, 0)); // examples 2 and 3 of the whole batch
 * // back equals whole.subarray(6)
 * ```
 */
export function withExampleOffset<T>(firstExample: number, fn: () => T): T {
  if (!Number.isInteger(firstExample) || firstExample < 0) throw new GmError('BAD_ARGUMENT', 'withExampleOffset: firstExample', 'a non-negative integer', firstExample);
  const outer = offset;
  offset = firstExample;
  try {
    return fn();
  } finally {
    offset = outer;
  }
}

/** The index of the current batch's first example in its step's whole batch (0 outside {@link withExampleOffset}). */
export function exampleOffset(): number {
  return offset;
}

/** Standard normals from `next` into `out` by Marsaglia's polar method (two per accepted pair, no trigonometry). */
function fillNormal(out: Float32Array, next: Rng): void {
  let i = 0;
  while (i < out.length) {
    // u, v uniform in [−1, 1); accept points inside the unit disc (probability π/4), excluding the centre.
    const u = 2 * next() - 1;
    const v = 2 * next() - 1;
    const s = u * u + v * v;
    if (s >= 1 || s === 0) continue;
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    out[i++] = u * f;
    if (i < out.length) out[i++] = v * f;
  }
}

/** Uniforms in [0, 1) on the float32 grid of 2⁻²⁴ (a float32 rounding of a finer value could reach 1). */
function fillUniform(out: Float32Array, next: Rng): void {
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(next() * 16777216) / 16777216;
}

function checkShape(where: string, shape: readonly number[]): number {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new GmError('BAD_ARGUMENT', `${where}: shape`, 'an array of non-negative integers', shape);
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * `shape`'s values from `fill`: one stream from `seed`, or with `exampleAxis` one stream per example, keyed by
 * (seed, the example's index in the whole batch), each filling its example's values in row-major order.
 */
function draw(where: string, shape: readonly number[], seed: number | undefined, exampleAxis: number | undefined, fill: (out: Float32Array, next: Rng) => void): Float32Array {
  const size = checkShape(where, shape);
  if (seed !== undefined && !Number.isFinite(seed)) throw new GmError('BAD_ARGUMENT', `${where}: seed`, 'a finite number', seed);
  const s = seed ?? Math.floor(Math.random() * 2 ** 32);
  const out = new Float32Array(size);
  if (exampleAxis === undefined) {
    fill(out, mulberry32(s));
    return out;
  }
  if (!Number.isInteger(exampleAxis) || exampleAxis < 0 || exampleAxis >= shape.length) {
    throw new GmError('BAD_ARGUMENT', `${where}: exampleAxis`, `an axis of the shape [${shape.join(', ')}]`, exampleAxis);
  }
  const examples = shape[exampleAxis] as number;
  const outer = shape.slice(0, exampleAxis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(exampleAxis + 1).reduce((a, b) => a * b, 1);
  const own = new Float32Array(outer * inner);
  for (let e = 0; e < examples; e++) {
    fill(own, mulberry32(deriveSeed(s, offset + e)));
    for (let o = 0; o < outer; o++) out.set(own.subarray(o * inner, (o + 1) * inner), (o * examples + e) * inner);
  }
  return out;
}

/**
 * Standard normal draws of `shape` (row-major), seeded (from Math.random without a seed). With `exampleAxis`, the
 * examples along that axis draw from their own streams (see the module comment), e.g. axis 0 of a `[batch, latent]`
 * draw, axis 1 of `[samples, batch, latent]`.
 *
 * @example
 * ```ts
 * const eps = normalNoise([128, 32], 7, 0); // 128 examples' posterior noise
 * ```
 */
export function normalNoise(shape: readonly number[], seed?: number, exampleAxis?: number): Float32Array {
  return draw('normalNoise', shape, seed, exampleAxis, fillNormal);
}

/** Uniform draws in [0, 1) of `shape`, seeded as {@link normalNoise}, with the same per-example streams. */
export function uniformNoise(shape: readonly number[], seed?: number, exampleAxis?: number): Float32Array {
  return draw('uniformNoise', shape, seed, exampleAxis, fillUniform);
}
