import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers the gradient kernels
import {
  bernoulliLogProb,
  BERNOULLI_LOG_PROB_KERNEL,
  fusedDense,
  FUSED_DENSE_KERNEL,
  gatedUpdate,
  GATED_UPDATE_KERNEL,
  normalSample,
  NORMAL_SAMPLE_KERNEL,
  standardNormalLogProb,
  STANDARD_NORMAL_LOG_PROB_KERNEL,
} from '@gm/core/ops';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareGmKernels } from './gm-kernels';
import { installWasmBernoulli, uninstallWasmBernoulli } from './wasm-bernoulli';
import { installWasmDense, uninstallWasmDense } from './wasm-dense';
import { installWasmGatedUpdate, uninstallWasmGatedUpdate } from './wasm-gated-update';
import { installWasmNormal, uninstallWasmNormal } from './wasm-normal';

/** How many times `kernelName`'s wasm kernel runs during `fn` (its registered function wrapped for the count). */
function dispatches(kernelName: string, fn: () => void): number {
  const config = tf.getKernel(kernelName, 'wasm') as tf.KernelConfig;
  const original = config.kernelFunc;
  let count = 0;
  config.kernelFunc = (args) => {
    count++;
    return original(args);
  };
  try {
    fn();
  } finally {
    config.kernelFunc = original;
  }
  return count;
}

const OPS: Array<[string, string, (x: tf.Tensor) => tf.Tensor]> = [
  ['fusedDense', FUSED_DENSE_KERNEL, (x) => fusedDense([{ x, kernel: tf.ones([3, 4]) }], { activation: 'tanh' })],
  ['gatedUpdate', GATED_UPDATE_KERNEL, (x) => gatedUpdate(x, tf.ones([2, 6])).z],
  ['bernoulliLogProb', BERNOULLI_LOG_PROB_KERNEL, (x) => bernoulliLogProb(x, tf.ones([2, 3]), 1)],
  ['normalSample', NORMAL_SAMPLE_KERNEL, (x) => normalSample(x, x, tf.ones([1, 2, 3]), 1).logProb],
  ['standardNormalLogProb', STANDARD_NORMAL_LOG_PROB_KERNEL, (x) => standardNormalLogProb(x, 1)],
];

describe('the fused ops under one tape and under a gradient of a gradient', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
    installWasmDense();
    installWasmGatedUpdate();
    installWasmBernoulli();
    installWasmNormal();
  });
  afterAll(() => {
    uninstallWasmDense();
    uninstallWasmGatedUpdate();
    uninstallWasmBernoulli();
    uninstallWasmNormal();
  });

  it.each(OPS)('%s: its kernel under one tape; tfjs ops while a second records (its backward kernels have no gradients)', (_, kernel, op) => {
    const x = tf.randomNormal([2, 3], 0, 1, 'float32', 1);
    const f = (v: tf.Tensor) => tf.sum(op(v));
    expect(dispatches(kernel, () => tf.tidy(() => tf.grad(f)(x)))).toBe(1);
    // The inner forward runs at gradient depth 2. (Whether the outer gradient then exists is tfjs's business: under
    // gm's wasm setup a gradient of a gradient through a matMul fails even without the fused ops, so its error is
    // not what this checks.)
    expect(
      dispatches(kernel, () => {
        try {
          tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(tf.grad(f)(v)))(x));
        } catch {
          // see above
        }
      }),
    ).toBe(0);
    x.dispose();
  });
});
