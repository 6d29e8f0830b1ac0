import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers the gradient kernels
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installSharingWasmIdentity, uninstallSharingWasmIdentity } from './wasm-identity';

describe('sharing wasm Identity and same-dtype Cast', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    expect(installSharingWasmIdentity()).toBe(true);
  });
  afterAll(() => uninstallSharingWasmIdentity());

  it('returns the same values without a new buffer, and the buffer lives until both tensors are gone', () => {
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const buffers = tf.backend().numDataIds();
    const y = tf.engine().runKernel('Identity', { x }) as tf.Tensor;
    expect(tf.backend().numDataIds()).toBe(buffers);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
    y.dispose();
    expect(tf.backend().numDataIds()).toBe(buffers - 1);
  });

  it('casts to the same dtype by sharing the buffer, and every other cast as stock tfjs-wasm does', () => {
    const x = tf.tensor2d([1.5, -2.25, 0, 4e9], [2, 2]);
    const buffers = tf.backend().numDataIds();
    const same = tf.cast(x, 'float32');
    expect(tf.backend().numDataIds()).toBe(buffers);
    x.dispose();
    expect(Array.from(same.dataSync())).toEqual([1.5, -2.25, 0, 4e9]);
    const inputs = [same, tf.tensor1d([3, -7, 0], 'int32'), tf.tensor1d([true, false, true], 'bool')];
    const casts = (): number[][] => inputs.flatMap((t) => (['float32', 'int32', 'bool'] as const).map((d) => Array.from(tf.tidy(() => tf.cast(t, d).dataSync()))));
    const mine = casts();
    uninstallSharingWasmIdentity();
    try {
      expect(mine).toEqual(casts());
    } finally {
      installSharingWasmIdentity();
    }
    tf.dispose(inputs);
    expect(tf.backend().numDataIds()).toBe(buffers - 1);
  });

  it('keeps variables independent: assigning a variable does not change a tensor read from it', () => {
    const v = tf.variable(tf.tensor1d([1, 2, 3]));
    const snapshot = tf.clone(v); // clone runs Identity
    v.assign(tf.tensor1d([7, 8, 9]));
    expect(Array.from(snapshot.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(v.dataSync())).toEqual([7, 8, 9]);
    tf.dispose([v, snapshot]);
  });

  it('gives the same gradients (through a ReLU, whose gradient casts) and leaks nothing across training steps', () => {
    const w = tf.variable(tf.randomNormal([6, 3], 0, 1, 'float32', 1));
    const x = tf.randomNormal([5, 6], 0, 1, 'float32', 2);
    const optimizer = tf.train.sgd(0.1);
    const step = () => optimizer.minimize(() => tf.sum(tf.square(tf.relu(tf.matMul(x, w)))) as tf.Scalar, true, [w]) as tf.Scalar;
    step().dispose();
    const tensors = tf.memory().numTensors;
    const buffers = tf.backend().numDataIds();
    const losses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const loss = step();
      losses.push(loss.dataSync()[0] as number);
      loss.dispose();
    }
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.backend().numDataIds()).toBe(buffers);
    // Reference: the same steps with the copying Identity.
    uninstallSharingWasmIdentity();
    const w2 = tf.variable(tf.randomNormal([6, 3], 0, 1, 'float32', 1));
    const reference: number[] = [];
    const step2 = () => optimizer.minimize(() => tf.sum(tf.square(tf.relu(tf.matMul(x, w2)))) as tf.Scalar, true, [w2]) as tf.Scalar;
    for (let i = 0; i < 6; i++) {
      const loss = step2();
      reference.push(loss.dataSync()[0] as number);
      loss.dispose();
    }
    installSharingWasmIdentity();
    expect(losses).toEqual(reference.slice(1));
    tf.dispose([w, w2, x]);
  });
});
