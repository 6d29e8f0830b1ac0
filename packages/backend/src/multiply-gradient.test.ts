import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the stock gradients (its copy of tfjs's, as an app loads them)
import { afterAll, describe, expect, it } from 'vitest';
import { installMultiplyGradient, uninstallMultiplyGradient } from './multiply-gradient';

const CASES: Array<{ a: number[]; b: number[]; bInt?: boolean }> = [
  { a: [7, 5], b: [7, 5] },
  { a: [7, 5], b: [5] }, // b broadcast over rows
  { a: [1, 4, 1], b: [3, 1, 6] }, // both broadcast
  { a: [6], b: [] }, // a scalar
  { a: [4, 3], b: [4, 3], bInt: true }, // an int32 operand is still cast
];

/** Gradients of Σ w ⊙ (a · b) w.r.t. a and b for every case, and the kernels they ran. */
async function gradients(): Promise<{ values: number[][]; kernels: string[] }> {
  const values: number[][] = [];
  const info = await tf.profile(() => {
    CASES.forEach(({ a: aShape, b: bShape, bInt }, k) => {
      tf.tidy(() => {
        const a = tf.randomNormal(aShape, 0, 1, 'float32', 1 + k);
        const bFloat = tf.randomNormal(bShape, 0, 1, 'float32', 20 + k);
        const b = bInt === true ? tf.cast(tf.mul(bFloat, 5), 'int32') : bFloat;
        const out = tf.backend_util.assertAndGetBroadcastShape(aShape, bShape);
        const w = tf.randomUniform(out, -2, 2, 'float32', 40 + k);
        if (bInt === true) {
          values.push(Array.from(tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.mul(x, b), w)))(a).dataSync()));
          return;
        }
        const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.mul(x, y), w)))([a, b]);
        values.push(Array.from((ga as tf.Tensor).dataSync()), Array.from((gb as tf.Tensor).dataSync()));
      });
    });
  });
  return { values, kernels: info.kernels.map((k) => k.name) };
}

describe('Multiply gradient without float32 → float32 casts', () => {
  afterAll(() => uninstallMultiplyGradient());

  it.each(['wasm', 'cpu'])("equals tfjs's gradient bit for bit on %s without its casts of float32 operands, leaking nothing", async (backend) => {
    await tf.setBackend(backend);
    await tf.ready();
    uninstallMultiplyGradient();
    const stock = await gradients();
    installMultiplyGradient();
    const before = tf.memory().numTensors;
    const gm = await gradients();
    expect(tf.memory().numTensors).toBe(before);
    expect(gm.values).toEqual(stock.values);
    // tfjs casts the other operand of every product in the backward pass: 3 per float case (x·y's two operands,
    // (x·y)·w's first), 2 in the int32 case (whose operand mul already cast to float32 on the way in); gm none of them
    const casts = (kernels: string[]) => kernels.filter((k) => k === 'Cast').length;
    expect(casts(stock.kernels) - casts(gm.kernels)).toBe(4 * 3 + 2);
  });
});
