import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers the gradient kernels
import {
  composedNormalSample,
  composedStandardNormalLogProb,
  normalSample,
  standardNormalLogProb,
  NORMAL_SAMPLE_KERNEL,
  STANDARD_NORMAL_LOG_PROB_KERNEL,
} from '@gm/core/ops';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { worst } from './test-helpers';
import { prepareGmKernels, releaseGmKernels } from './gm-kernels';
import { installSharedSavedTensors, uninstallSharedSavedTensors } from './shared-saved-tensors';
import { installWasmNormal, uninstallWasmNormal } from './wasm-normal';

/**
 * sample, log q and the gradients of Σ sample·r + Σ logProb·q (r, q fixed) with respect to mean, logStd and eps, for
 * `n` draws of shape S (log σ spans −6…4, so σ from 0.0025 to 55).
 */
function sampleAndGrads(n: number, S: number[], eventRank: number, op: typeof normalSample): Float32Array[] {
  return tf.tidy(() => {
    const mean = tf.randomNormal(S, 0, 2, 'float32', 1);
    const logStd = tf.randomUniform(S, -6, 4, 'float32', 2);
    const eps = tf.randomNormal([n, ...S], 0, 1, 'float32', 3);
    const r = tf.randomNormal([n, ...S], 0, 1, 'float32', 4);
    const q = tf.randomNormal([n, ...S.slice(0, S.length - eventRank)], 0, 1, 'float32', 5);
    const f = (m: tf.Tensor, ls: tf.Tensor, e: tf.Tensor) => {
      const { sample, logProb } = op(m, ls, e, eventRank);
      return tf.add(tf.sum(tf.mul(sample, r)), tf.sum(tf.mul(logProb, q)));
    };
    const { sample, logProb } = op(mean, logStd, eps, eventRank);
    const grads = tf.grads(f)([mean, logStd, eps]);
    return [sample, logProb, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

/** log p(z) and the gradient of Σ logProb·q with respect to z. */
function priorAndGrad(S: number[], eventRank: number, op: typeof standardNormalLogProb): Float32Array[] {
  return tf.tidy(() => {
    const z = tf.randomNormal(S, 0, 3, 'float32', 6);
    const q = tf.randomNormal(S.slice(0, S.length - eventRank), 0, 1, 'float32', 7);
    const dz = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(op(v, eventRank), q)))(z);
    return [op(z, eventRank), dz].map((t) => t.dataSync() as Float32Array);
  });
}

const CASES: Array<[string, number, number[], number]> = [
  ['one draw of a VAE batch', 1, [10, 40], 1],
  ['IWAE: 3 draws, odd latent width', 3, [5, 13], 1],
  ['an event of rank 2', 2, [4, 3, 5], 2],
  ['each value its own event (eventRank 0)', 2, [6, 7], 0],
  ['one value', 1, [1, 1], 1],
];

describe('normalSample and standardNormalLogProb on wasm (one kernel each way) against the composed ops on the cpu backend', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
    installSharedSavedTensors();
    expect(installWasmNormal()).toBe(true);
  });
  afterAll(() => {
    uninstallWasmNormal();
    uninstallSharedSavedTensors();
  });

  it.each(CASES)('%s (n %i, shape %j, eventRank %i): sample, log q and all three gradients', async (_, n, S, eventRank) => {
    await tf.setBackend('cpu');
    const reference = sampleAndGrads(n, S, eventRank, composedNormalSample);
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const fused = sampleAndGrads(n, S, eventRank, normalSample);
    expect(tf.memory().numTensors).toBe(before);
    expect(fused.map((a) => a.length)).toEqual(reference.map((a) => a.length));
    expect(worst(fused, reference)).toBeLessThan(3e-6);
    const { kernels } = await tf.profile(() => tf.tidy(() => normalSample(tf.zeros(S), tf.zeros(S), tf.zeros([n, ...S]), eventRank).sample));
    expect(kernels.map((k) => k.name)).toEqual([NORMAL_SAMPLE_KERNEL]);
  });

  it.each(CASES)('%s: the standard-normal log-density and its gradient', async (_, n, S, eventRank) => {
    const shape = [n, ...S];
    await tf.setBackend('cpu');
    const reference = priorAndGrad(shape, eventRank, composedStandardNormalLogProb);
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const fused = priorAndGrad(shape, eventRank, standardNormalLogProb);
    expect(tf.memory().numTensors).toBe(before);
    expect(worst(fused, reference)).toBeLessThan(3e-6);
    const { kernels } = await tf.profile(() => tf.tidy(() => standardNormalLogProb(tf.zeros(shape), eventRank)));
    expect(kernels.map((k) => k.name)).toEqual([STANDARD_NORMAL_LOG_PROB_KERNEL]);
  });

  it('the closed forms: z = μ + σε, log q = Σ −½ε² − log σ − ½ log 2π, log p = Σ −½z² − ½ log 2π', async () => {
    await tf.setBackend('wasm');
    const { sample, logProb } = normalSample(tf.tensor2d([[1, 2]]), tf.tensor2d([[0, Math.log(2)]]), tf.tensor3d([[[0.5, -1]]]), 1);
    expect(Array.from(sample.dataSync())).toEqual([1.5, 0]);
    expect(logProb.dataSync()[0]).toBeCloseTo(-0.5 * (0.25 + 1) - Math.log(2) - Math.log(2 * Math.PI), 5);
    const prior = standardNormalLogProb(tf.tensor2d([[0, 1]]), 1);
    expect(prior.dataSync()[0]).toBeCloseTo(-0.5 - Math.log(2 * Math.PI), 5);
    tf.dispose([sample, logProb, prior]);
  });

  it('broadcasting parameters take the composed op; eps of the wrong rank is refused, naming it', async () => {
    await tf.setBackend('wasm');
    const { kernels } = await tf.profile(() => tf.tidy(() => normalSample(tf.zeros([3]), tf.zeros([4, 3]), tf.zeros([2, 4, 3]), 1).logProb));
    expect(kernels.map((k) => k.name)).not.toContain(NORMAL_SAMPLE_KERNEL);
    expect(() => normalSample(tf.zeros([3]), tf.zeros([3]), tf.scalar(0), 1)).toThrow(/normalSample: eps must be \[n, \.\.\.shape\]/);
    expect(() => standardNormalLogProb(tf.zeros([3]), 2)).toThrow(/standardNormalLogProb: eventRank must be an integer in \[0, 1\]/);
  });

  it('runs in JavaScript when gm kernels are not bound to the backend (same values and gradients)', async () => {
    await tf.setBackend('cpu');
    const reference = [...sampleAndGrads(3, [5, 13], 1, composedNormalSample), ...priorAndGrad([2, 5, 13], 1, composedStandardNormalLogProb)];
    await tf.setBackend('wasm');
    releaseGmKernels(tf.backend());
    try {
      const before = tf.memory().numTensors;
      const fused = [...sampleAndGrads(3, [5, 13], 1, normalSample), ...priorAndGrad([2, 5, 13], 1, standardNormalLogProb)];
      expect(tf.memory().numTensors).toBe(before);
      expect(worst(fused, reference)).toBeLessThan(3e-6);
    } finally {
      expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
    }
  });
});
