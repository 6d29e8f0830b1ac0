import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareGmKernels } from './gm-kernels';
import { installWasmSum, uninstallWasmSum } from './wasm-sum';

describe('wasm Sum over leading axes (gm kernel)', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
  });

  const cases: Array<[number[], number | number[], boolean]> = [
    [[128, 784], 0, false], // a bias gradient
    [[7, 13], [0], true],
    [[4, 5, 6, 3], [0, 1, 2], false], // conv bias gradient
    [[3, 4, 5], [1, 0], true], // leading, but listed out of order: stock kernel (it adds in that order)
    [[5, 9], 1, false], // not leading: stock kernel
    [[2, 3, 4], [0, 2], false], // not leading: stock kernel
    [[6, 3], -2, false],
  ];

  it.each(cases.map((c) => [JSON.stringify(c), c] as const))('equals the stock kernel bit for bit: %s', (_, [shape, axis, keepDims]) => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.randomNormal(shape, 0, 1, 'float32', 3);
        const s = tf.sum(x, axis, keepDims);
        return { shape: s.shape, values: Array.from(s.dataSync()) };
      });
    uninstallWasmSum();
    const stock = run();
    expect(installWasmSum()).toBe(true);
    const gm = run();
    expect(gm.shape).toEqual(stock.shape);
    expect(gm.values).toEqual(stock.values);
  });

  it('leaks no buffers', () => {
    installWasmSum();
    const x = tf.ones([10, 8]);
    const buffers = tf.backend().numDataIds();
    for (let i = 0; i < 3; i++) tf.sum(x, 0).dispose();
    expect(tf.backend().numDataIds()).toBe(buffers);
    x.dispose();
  });
});
