/** Helpers for the Real NVP tests (not exported from the package). */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** log|det A| of a square row-major matrix (float64 LU with partial pivoting). */
export function logAbsDet(a: number[][]): number {
  const n = a.length;
  const m = a.map((r) => [...r]);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i]![k]!) > Math.abs(m[p]![k]!)) p = i;
    [m[k], m[p]] = [m[p]!, m[k]!];
    const pivot = m[k]![k]!;
    if (pivot === 0) return -Infinity;
    sum += Math.log(Math.abs(pivot));
    for (let i = k + 1; i < n; i++) {
      const f = m[i]![k]! / pivot;
      for (let j = k; j < n; j++) m[i]![j]! -= f * m[k]![j]!;
    }
  }
  return sum;
}

/** The Jacobian ∂f(x)/∂x of a map on one example (x has batch size 1), as rows over flattened outputs. */
export function autodiffJacobian(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): number[][] {
  const size = x.size;
  const rows: number[][] = [];
  for (let j = 0; j < size; j++) {
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.reshape(f(v), [size]), tf.oneHot(j, size))))(x);
    rows.push(Array.from(g.dataSync()));
    g.dispose();
  }
  return rows;
}

/** Overwrites the weights of `layers` with seeded random values, so a "fresh identity" flow becomes a generic one:
 * kernels and biases N(0, scale²), learned scales around 1, running statistics too (variances positive). Other
 * non-trained weights are structure (a 1×1 convolution's permutation and signs, ActNorm's flag) and are kept. */
export function randomizeWeights(layers: readonly tfl.layers.Layer[], seed: number, scale = 0.3): void {
  let k = 0;
  for (const layer of layers) {
    const values = layer.getWeights().map((w, i) => {
      const name = layer.weights[i]?.originalName ?? '';
      if (layer.weights[i]?.trainable === false && !/moving_/.test(name)) return tf.clone(w);
      return tf.tidy(() => {
        const n = tf.randomNormal(w.shape, 0, 1, 'float32', seed * 1000 + k++);
        if (/scale|variance/.test(name)) return tf.add(1, tf.mul(tf.abs(n), 0.5));
        return tf.mul(n, scale);
      });
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/** Squared MMD between point sets `a` `[n, d]` and `b` `[m, d]` with a Gaussian kernel of bandwidth `sigma`
 * (biased V-statistic). */
export function mmd2(a: tf.Tensor, b: tf.Tensor, sigma: number): number {
  return tf.tidy(() => {
    const k = (u: tf.Tensor, v: tf.Tensor) => {
      const d = tf.sub(tf.expandDims(u, 1), tf.expandDims(v, 0));
      return tf.mean(tf.exp(tf.div(tf.sum(tf.square(d), -1), -2 * sigma * sigma)));
    };
    return tf.sub(tf.add(k(a, a), k(b, b)), tf.mul(2, k(a, b))).dataSync()[0] as number;
  });
}

export { maxAbsDiff, tempDir } from '../test-helpers';
