import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the stock gradients (its copy of tfjs's, as an app loads them)
import { afterAll, describe, expect, it } from 'vitest';
import { installTileGradient, uninstallTileGradient } from './tile-gradient';

/** Shapes and reps: broadcasts of a per-channel value, tiles of every axis, odd sizes, ranks 1 to 5. */
const CASES: Array<{ shape: number[]; reps: number[] }> = [
  { shape: [1, 1, 1, 8], reps: [64, 7, 7, 1] },
  { shape: [1], reps: [64] },
  { shape: [3, 2], reps: [2, 3] },
  { shape: [2, 3, 4], reps: [1, 2, 1] },
  { shape: [2, 1, 3, 1], reps: [3, 5, 1, 2] },
  { shape: [1, 2, 1, 2, 3], reps: [2, 1, 3, 2, 1] },
];

/** The weights w of Σ w ⊙ tile(x, reps), seeded: the gradient of case k is w summed over the tiles. */
const weights = (k: number): tf.Tensor => {
  const { shape, reps } = CASES[k] as (typeof CASES)[number];
  return tf.randomUniform(shape.map((s, i) => s * (reps[i] as number)), -1, 1, 'float32', 9 + k);
};

/** ∂/∂x of Σ w ⊙ tile(x, reps) for the cases `ks`. */
function gradients(ks: number[]): Float32Array[] {
  return ks.map((k) => {
    const { shape, reps } = CASES[k] as (typeof CASES)[number];
    const g = tf.tidy(() => {
      const x = tf.randomNormal(shape, 0, 1, 'float32', 5 + k);
      const w = weights(k);
      return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.tile(t, reps), w)))(x);
    });
    const values = g.dataSync() as Float32Array;
    g.dispose();
    return values;
  });
}

/** The same gradient counted in JavaScript (float64): every element of w added to the x element it tiles. */
function byHand(k: number): Float64Array {
  const { shape, reps } = CASES[k] as (typeof CASES)[number];
  const yShape = shape.map((s, i) => s * (reps[i] as number));
  const w = weights(k);
  const values = w.dataSync();
  w.dispose();
  const out = new Float64Array(shape.reduce((a, b) => a * b, 1));
  values.forEach((v, flat) => {
    let rest = flat;
    let xIndex = 0;
    let stride = 1;
    for (let axis = yShape.length - 1; axis >= 0; axis--) {
      const coordinate = rest % (yShape[axis] as number);
      rest = Math.floor(rest / (yShape[axis] as number));
      xIndex += (coordinate % (shape[axis] as number)) * stride;
      stride *= shape[axis] as number;
    }
    out[xIndex] = (out[xIndex] as number) + v;
  });
  return out;
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tolerance: number): void => {
  expect(a.length).toBe(b.length);
  for (let j = 0; j < a.length; j++) expect(Math.abs((a[j] as number) - (b[j] as number))).toBeLessThan(tolerance * Math.max(1, Math.abs(b[j] as number)));
};

describe('the Tile gradient as sums per tiled axis', () => {
  afterAll(() => uninstallTileGradient());

  it.each(['wasm', 'cpu'])('on %s: equals the sums by hand, and the stock gradient where it exists (ranks ≤ 4), in a few kernels, leaking nothing', async (backend) => {
    await tf.setBackend(backend);
    await tf.ready();
    const all = CASES.map((_, k) => k);
    const stockRanks = all.filter((k) => (CASES[k] as (typeof CASES)[number]).shape.length <= 4);
    uninstallTileGradient();
    const stock = gradients(stockRanks);
    installTileGradient();
    installTileGradient(); // idempotent
    const tensors = tf.memory().numTensors;
    const ours = gradients(all);
    expect(tf.memory().numTensors).toBe(tensors);
    all.forEach((k) => close(ours[k] as Float32Array, byHand(k), 1e-5));
    stockRanks.forEach((k, i) => close(ours[k] as Float32Array, stock[i] as Float32Array, 1e-5));
    // Not trivially equal: the first case sums 3,136 weights onto each of 8 channels.
    expect(new Set(Array.from(ours[0] as Float32Array)).size).toBe(8);
    const { kernels } = await tf.profile(() => gradients([0])[0] as Float32Array);
    expect(kernels.length).toBeLessThan(40); // the stock gradient: 6,273 kernels for this case
  });

  it('sums exactly what a hand count gives: ones tiled 2×3 times collect 6 per element', async () => {
    await tf.setBackend('cpu');
    installTileGradient();
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.tile(t, [2, 3])))(tf.zeros([2, 2]));
    expect(Array.from(g.dataSync())).toEqual([6, 6, 6, 6]);
    g.dispose();
  });
});
