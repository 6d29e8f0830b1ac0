import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers the gradient kernels
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareGmKernels } from './gm-kernels';
import { registerWasmConv2DBackpropFilter } from './wasm-conv';

interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | number;
}

const cases: ConvCase[] = [
  { x: [2, 7, 6, 3], filter: [3, 3, 3, 5], strides: 1, pad: 'same' },
  { x: [1, 9, 8, 4], filter: [3, 3, 4, 9], strides: 2, pad: 'same' },
  { x: [2, 8, 8, 2], filter: [5, 3, 2, 4], strides: [2, 1], pad: 'valid' },
  { x: [3, 5, 5, 6], filter: [1, 1, 6, 7], strides: 1, pad: 'valid' },
  { x: [1, 6, 6, 3], filter: [3, 3, 3, 2], strides: 1, pad: 2 }, // explicit padding
  { x: [2, 24, 20, 8], filter: [3, 3, 8, 16], strides: 1, pad: 'same' }, // 960 positions: several chunks of 512
];

/** The filter gradient of sum(conv2d(x, w) · r) for fixed random x, w, r (so dy = r is not all ones). */
function filterGradient(c: ConvCase): Float32Array {
  return tf.tidy(() => {
    const x = tf.randomNormal(c.x, 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal(c.filter, 0, 1, 'float32', 2) as tf.Tensor4D;
    const y = tf.conv2d(x, w, c.strides, c.pad);
    const r = tf.randomNormal(y.shape, 0, 1, 'float32', 3);
    const g = tf.grad((filter: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, filter as tf.Tensor4D, c.strides, c.pad), r)))(w);
    return g.dataSync() as Float32Array;
  });
}

describe('wasm Conv2DBackpropFilter (gm kernel)', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
    expect(registerWasmConv2DBackpropFilter()).toBe(true);
  });

  it.each(cases.map((c) => [`x ${c.x} filter ${c.filter} strides ${c.strides} pad ${c.pad}`, c] as const))(
    'equals the cpu backend: %s',
    async (_, c) => {
      await tf.setBackend('cpu');
      const expected = filterGradient(c);
      await tf.setBackend('wasm');
      const actual = filterGradient(c);
      expect(actual.length).toBe(expected.length);
      let worst = 0;
      for (let i = 0; i < expected.length; i++) {
        worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)) / Math.max(1, Math.abs(expected[i] as number)));
      }
      expect(worst).toBeLessThan(1e-4);
    },
  );

  it('trains a conv layer on wasm without leaking tensors or buffers', () => {
    const w = tf.variable(tf.randomNormal([3, 3, 2, 4], 0, 0.3, 'float32', 4));
    const x = tf.randomNormal([2, 6, 6, 2], 0, 1, 'float32', 5) as tf.Tensor4D;
    const optimizer = tf.train.adam(0.05);
    const step = () => optimizer.minimize(() => tf.mean(tf.square(tf.sub(tf.conv2d(x, w as tf.Tensor4D, 1, 'same'), 1))) as tf.Scalar, true, [w]) as tf.Scalar;
    step().dispose();
    const tensors = tf.memory().numTensors;
    const buffers = tf.backend().numDataIds();
    const losses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const loss = step();
      losses.push(loss.dataSync()[0] as number);
      loss.dispose();
    }
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.backend().numDataIds()).toBe(buffers);
    expect(losses.at(-1) as number).toBeLessThan((losses[0] as number) * 0.7);
    optimizer.dispose();
    tf.dispose([w, x]);
  });
});
