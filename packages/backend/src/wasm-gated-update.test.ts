import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers the gradient kernels
import { composedGatedUpdate, gatedUpdate, GATED_UPDATE_KERNEL } from '@gm/core/ops';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { worst } from './test-helpers';
import { prepareGmKernels, releaseGmKernels } from './gm-kernels';
import { installSharedSavedTensors, uninstallSharedSavedTensors } from './shared-saved-tensors';
import { installWasmGatedUpdate, uninstallWasmGatedUpdate } from './wasm-gated-update';

/**
 * z, logGate and the gradients of Σ z·r + Σ logGate·q (r, q fixed) with respect to z0 and ms, for inputs whose s
 * spans saturation both ways (±30) as well as the usual range.
 */
function valueAndGrads(rows: number, L: number, op: typeof gatedUpdate): Float32Array[] {
  return tf.tidy(() => {
    const z0 = tf.randomNormal([rows, L], 0, 2, 'float32', 1);
    const m = tf.randomNormal([rows, L], 0, 1, 'float32', 2);
    const sValues = tf.randomNormal([rows, L], 0, 3, 'float32', 3).dataSync();
    sValues.forEach((_, i) => {
      if (i % 7 === 3) sValues[i] = 30;
      if (i % 7 === 5) sValues[i] = -30;
    });
    const ms = tf.concat([m, tf.tensor2d(sValues, [rows, L])], 1);
    const r = tf.randomNormal([rows, L], 0, 1, 'float32', 4);
    const q = tf.randomNormal([rows], 0, 1, 'float32', 5);
    const f = (a: tf.Tensor, b: tf.Tensor) => {
      const { z, logGate } = op(a, b);
      return tf.add(tf.sum(tf.mul(z, r)), tf.sum(tf.mul(logGate, q)));
    };
    const { z, logGate } = op(z0, ms);
    const [dz0, dms] = tf.grads(f)([z0, ms]);
    return [z, logGate, dz0 as tf.Tensor, dms as tf.Tensor].map((t) => t.dataSync() as Float32Array);
  });
}

const SHAPES: Array<[number, number]> = [
  [1, 1],
  [3, 5],
  [10, 40],
  [7, 13],
];

describe('gatedUpdate on wasm (one kernel each way) against the composed op on the cpu backend', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
    installSharedSavedTensors();
    expect(installWasmGatedUpdate()).toBe(true);
  });
  afterAll(() => {
    uninstallWasmGatedUpdate();
    uninstallSharedSavedTensors();
  });

  it.each(SHAPES)('%i rows × %i latents: z, logGate and both input gradients, with saturated gates', async (rows, L) => {
    await tf.setBackend('cpu');
    const reference = valueAndGrads(rows, L, composedGatedUpdate);
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const fused = valueAndGrads(rows, L, gatedUpdate);
    expect(tf.memory().numTensors).toBe(before);
    expect(fused.every((a) => a.every(Number.isFinite))).toBe(true);
    expect(worst(fused, reference)).toBeLessThan(2e-6);
    const { kernels } = await tf.profile(() => tf.tidy(() => gatedUpdate(tf.ones([rows, L]), tf.ones([rows, 2 * L])).z));
    expect(kernels.map((k) => k.name)).toEqual([GATED_UPDATE_KERNEL]);
  });

  it('the closed form: z = m + σ(s)(z0 − m), logGate = Σ log σ(s)', async () => {
    await tf.setBackend('wasm');
    const { z, logGate } = gatedUpdate(tf.tensor2d([[2, -1]]), tf.tensor2d([[0, 1, 0, Math.log(3)]]));
    expect(Array.from(z.dataSync())).toEqual([1, expect.closeTo(1 + 0.75 * (-1 - 1), 6)]);
    expect(logGate.dataSync()[0]).toBeCloseTo(Math.log(0.5) + Math.log(0.75), 6);
    tf.dispose([z, logGate]);
  });

  it('runs in JavaScript when gm kernels are not bound to the backend (same values and gradients)', async () => {
    await tf.setBackend('cpu');
    const reference = valueAndGrads(7, 13, composedGatedUpdate);
    await tf.setBackend('wasm');
    releaseGmKernels(tf.backend());
    try {
      const before = tf.memory().numTensors;
      const fused = valueAndGrads(7, 13, gatedUpdate);
      expect(tf.memory().numTensors).toBe(before);
      expect(worst(fused, reference)).toBeLessThan(2e-6);
    } finally {
      expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
    }
  });

  it('refuses shapes that do not fit, naming the input', () => {
    expect(() => gatedUpdate(tf.zeros([2, 3]), tf.zeros([2, 5]))).toThrow(/gatedUpdate: ms must be \[2, 6\]/);
    expect(() => gatedUpdate(tf.zeros([3]), tf.zeros([3, 6]))).toThrow(/gatedUpdate: z0 must be a \[rows, L\] tensor/);
  });
});
