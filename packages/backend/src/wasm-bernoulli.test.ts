import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers the gradient kernels
import { bernoulliLogProb, composedBernoulliLogProb, BERNOULLI_LOG_PROB_KERNEL } from '@gm/core/ops';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { worst } from './test-helpers';
import { prepareGmKernels, releaseGmKernels } from './gm-kernels';
import { installSharedSavedTensors, uninstallSharedSavedTensors } from './shared-saved-tensors';
import { installWasmBernoulli, uninstallWasmBernoulli } from './wasm-bernoulli';

/** The log-likelihood and the gradients of Σ logp·q (q fixed) with respect to logits and x, logits up to ±60. */
function valueAndGrads(shape: number[], eventRank: number, op: typeof bernoulliLogProb): Float32Array[] {
  return tf.tidy(() => {
    const logits = tf.mul(tf.randomNormal(shape, 0, 1, 'float32', 1), tf.randomUniform(shape, 0, 20, 'float32', 2));
    const x = tf.randomUniform(shape, 0, 1, 'float32', 3); // targets in [0, 1], not only 0/1
    const q = tf.randomNormal(shape.slice(0, shape.length - eventRank), 0, 1, 'float32', 4);
    const f = (l: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(op(l, v, eventRank), q));
    const [dl, dx] = tf.grads(f)([logits, x]);
    return [op(logits, x, eventRank), dl as tf.Tensor, dx as tf.Tensor].map((t) => t.dataSync() as Float32Array);
  });
}

const CASES: Array<[string, number[], number]> = [
  ['a batch of flat images', [9, 37], 1],
  ['images with an event of rank 3', [3, 5, 7, 2], 3],
  ['samples × batch × pixels (IWAE)', [2, 3, 13], 1],
  ['one variable per element (eventRank 0)', [4, 6], 0],
  ['one row of one', [1, 1], 1],
];

describe('bernoulliLogProb on wasm (one kernel each way) against the composed op on the cpu backend', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
    installSharedSavedTensors();
    expect(installWasmBernoulli()).toBe(true);
  });
  afterAll(() => {
    uninstallWasmBernoulli();
    uninstallSharedSavedTensors();
  });

  it.each(CASES)('%s %j, eventRank %i: value and both gradients', async (_, shape, eventRank) => {
    await tf.setBackend('cpu');
    const reference = valueAndGrads(shape, eventRank, composedBernoulliLogProb);
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const fused = valueAndGrads(shape, eventRank, bernoulliLogProb);
    expect(tf.memory().numTensors).toBe(before);
    expect(worst(fused, reference)).toBeLessThan(3e-6);
    const { kernels } = await tf.profile(() => tf.tidy(() => bernoulliLogProb(tf.zeros(shape), tf.zeros(shape), eventRank)));
    expect(kernels.map((k) => k.name)).toEqual([BERNOULLI_LOG_PROB_KERNEL]);
  });

  it('the closed form: ℓ = 0 gives log ½ per variable whatever x is; ±100 stays finite', async () => {
    await tf.setBackend('wasm');
    const v = bernoulliLogProb(tf.tensor2d([[0, 0, 0], [100, -100, 100]]), tf.tensor2d([[1, 0, 0.5], [1, 0, 0]]), 1).dataSync();
    expect(v[0]).toBeCloseTo(3 * Math.log(0.5), 5);
    expect(v[1]).toBeCloseTo(-100, 3); // x = 0 at ℓ = 100 costs 100 nats; the others ~e^−100
  });

  it('x that only broadcasts against the logits takes the composed op (same values)', async () => {
    await tf.setBackend('wasm');
    tf.tidy(() => {
      const logits = tf.randomNormal([2, 3, 5], 0, 3, 'float32', 5);
      const x = tf.randomUniform([3, 5], 0, 1, 'float32', 6);
      const got = bernoulliLogProb(logits, x, 1).dataSync();
      const want = composedBernoulliLogProb(logits, tf.broadcastTo(x, [2, 3, 5]), 1).dataSync();
      Array.from(got).forEach((g, i) => expect(g).toBeCloseTo(want[i] as number, 4));
    });
  });

  it('runs in JavaScript when gm kernels are not bound to the backend (same values and gradients)', async () => {
    await tf.setBackend('cpu');
    const reference = valueAndGrads([9, 37], 1, composedBernoulliLogProb);
    await tf.setBackend('wasm');
    releaseGmKernels(tf.backend());
    try {
      const fused = valueAndGrads([9, 37], 1, bernoulliLogProb);
      expect(worst(fused, reference)).toBeLessThan(3e-6);
    } finally {
      expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
    }
  });

  it('refuses an eventRank beyond the logits, naming it', () => {
    expect(() => bernoulliLogProb(tf.zeros([2, 3]), tf.zeros([2, 3]), 3)).toThrow(/bernoulliLogProb: eventRank must be an integer in \[0, 2\]/);
  });
});
