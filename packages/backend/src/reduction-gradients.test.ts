import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the stock gradients (its copy of tfjs's, as an app loads them)
import { afterAll, describe, expect, it } from 'vitest';
import { installReductionGradients, uninstallReductionGradients } from './reduction-gradients';

/** Gradients of Σ w ⊙ reduce(x) (a non-constant upstream gradient) through Sum and Mean over many axes and shapes. */
function gradients(): Float32Array[] {
  const cases: Array<{ shape: number[]; axis: number | number[]; keepDims: boolean }> = [
    { shape: [100, 784], axis: 1, keepDims: false },
    { shape: [7, 5], axis: 0, keepDims: true },
    { shape: [3, 4, 5], axis: [0, 2], keepDims: false },
    { shape: [2, 3, 4, 5], axis: -1, keepDims: true },
    { shape: [6], axis: 0, keepDims: false },
    { shape: [4, 3, 2], axis: [0, 1, 2], keepDims: false },
  ];
  const out: Float32Array[] = [];
  cases.forEach(({ shape, axis, keepDims }, k) => {
    for (const reduce of [tf.sum, tf.mean]) {
      const g = tf.tidy(() => {
        const x = tf.randomNormal(shape, 0, 1, 'float32', 11 + k);
        const f = (t: tf.Tensor) => {
          const r = reduce(t, axis, keepDims);
          return tf.sum(tf.mul(r, tf.randomUniform(r.shape, 0.5, 2, 'float32', 3 + k)));
        };
        return tf.grad(f)(x);
      });
      out.push(g.dataSync() as Float32Array);
      g.dispose();
    }
  });
  return out;
}

describe("Sum and Mean gradients with the backend's ones", () => {
  afterAll(() => uninstallReductionGradients());

  it.each(['wasm', 'cpu'])('equal the stock gradients bit for bit on %s, and leak nothing', async (backend) => {
    await tf.setBackend(backend);
    await tf.ready();
    uninstallReductionGradients();
    const stock = gradients();
    installReductionGradients();
    installReductionGradients(); // idempotent
    const before = tf.memory().numTensors;
    const ours = gradients();
    expect(tf.memory().numTensors).toBe(before);
    expect(ours.length).toBe(stock.length);
    ours.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(stock[i] as Float32Array)));
    // Not trivially equal: the gradients are the upstream weights spread over the reduced axes (÷ n for Mean).
    expect(new Set(Array.from(ours[0] as Float32Array)).size).toBeGreaterThan(10);
  });
});
