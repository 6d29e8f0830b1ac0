import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { codingModelFingerprint, compress, createDenseEngine, decompress, GmzError, NetworkEvaluator } from '@gm/bitsback';
import { binarizeStatic } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IafVae, type IafVaeConfig } from './iaf-vae';

let xTrain: tf.Tensor;
let xTest: tf.Tensor;

beforeAll(async () => {
  await tf.setBackend('wasm');
  const { train, test } = loadBundledMnist();
  xTrain = tf.tensor(binarizeStatic(train.images.subarray(0, 300 * 784)), [300, 784], 'float32');
  xTest = tf.tensor(binarizeStatic(test.images.subarray(0, 40 * 784)), [40, 784], 'float32');
});

afterAll(() => {
  tf.dispose([xTrain, xTest]);
});

const TINY: IafVaeConfig = { inputShape: [784], hidden: [32], latentDim: 6, flowSteps: 2, flowHidden: [24], contextSize: 8, seed: 7 };

/** Randomises every flow weight, so the steps are far from the identity. */
function scrambleFlow(model: IafVae, seed: number, std = 0.3): void {
  model.flow.trainableWeights.forEach((w, i) => {
    const v = w.read();
    w.write(tf.tidy(() => tf.randomNormal(v.shape, 0, std, 'float32', seed + i)));
  });
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tolerance: number): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(tolerance * (1 + Math.abs(want[i]!)));
}

/** Columns [from, from + L) of each row of a rows × 2L array. */
function half(values: Float32Array, rows: number, L: number, from: number): Float32Array {
  return Float32Array.from({ length: rows * L }, (_, i) => values[Math.floor(i / L) * 2 * L + from + (i % L)]!);
}

/**
 * The proposal by tfjs: the flow at ε = 0 (z₀ = μ₀), and log σ₀ plus, per step, the log of ∂z_t,d/∂z_{t−1},d found by
 * tf.grad one dimension at a time (examples are independent, so one gradient of the batch's sum serves every example).
 */
function tfjsProposal(model: IafVae, x: tf.Tensor): { mean: Float32Array; logStd: Float32Array } {
  const B = x.shape[0] as number;
  const L = model.latentDim;
  const { mean, logStd, context } = model.posteriorParams(x);
  let z = mean;
  const logScale = Float32Array.from(logStd.dataSync());
  for (const step of model.flowSteps) {
    for (let d = 0; d < L; d++) {
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.slice(step.inverse(v, { context }).x, [0, d], [B, 1])))(z);
      const gv = g.dataSync();
      for (let b = 0; b < B; b++) logScale[b * L + d]! += Math.log(gv[b * L + d]!);
      g.dispose();
    }
    const next = tf.tidy(() => step.inverse(z, { context }).x);
    z.dispose();
    z = next;
  }
  const out = { mean: Float32Array.from(z.dataSync()), logStd: logScale };
  tf.dispose([z, logStd, context]);
  return out;
}

describe('IafVae.codingModel', () => {
  it('the proposal: its mean is the flow at ε = 0, its log σ is log σ₀ plus every step\'s Jacobian log-diagonal (autodiff), on both engines', () => {
    for (const flowSteps of [1, 3]) {
      const model = new IafVae({ ...TINY, flowSteps });
      scrambleFlow(model, 20 + flowSteps);
      const before = tf.memory().numTensors;
      const coding = model.codingModel();
      expect(tf.memory().numTensors).toBe(before);
      const L = model.latentDim;
      const base = model.vae.codingModel();
      expect(coding).toMatchObject({ kind: 'gaussian-latent', pixels: 'binary', pixelsPerImage: 784, latentDim: L, observation: { kind: 'bernoulli' } });
      expect(coding.decoder).toEqual(base.decoder); // the generative model is the VAE's
      expect(coding.encoder).toMatchObject({ inputSize: 784, outputSize: 2 * L });
      const B = 7;
      const x = tf.slice(xTest, 3, B);
      const pixels = Float32Array.from(x.dataSync());
      const [js, wasm] = (['js', 'wasm-simd128'] as const).map((backend) => new NetworkEvaluator(coding.encoder, createDenseEngine({ backend })).run(pixels, B));
      expect(Array.from(wasm!)).toEqual(Array.from(js!));
      const want = tfjsProposal(model, x);
      const encoded = model.encode(x);
      expectClose(want.mean, encoded.dataSync(), 1e-6); // IafVae.encode is the flow at ε = 0
      expectClose(half(js!, B, L, 0), want.mean, 1e-4);
      expectClose(half(js!, B, L, L), want.logStd, 1e-4);
      // The flow moved both away from the base posterior, so the comparison above can tell them apart.
      const { mean: mu, logStd, context } = model.posteriorParams(x);
      const far = (a: Float32Array, b: ArrayLike<number>) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
      expect(far(half(js!, B, L, 0), mu.dataSync())).toBeGreaterThan(0.1);
      expect(far(half(js!, B, L, L), logStd.dataSync())).toBeGreaterThan(0.3);
      if (flowSteps === 1) {
        // One step: the proposal's σ is exactly the diagonal of ∂z₁/∂ε at ε = 0, z₀ = μ + σ₀ ε.
        const sigma = tf.exp(logStd);
        const zero = tf.zeros([B, L]);
        const step = model.flowSteps[0]!;
        for (let d = 0; d < L; d++) {
          const g = tf.grad((e: tf.Tensor) => tf.sum(tf.slice(step.inverse(tf.add(mu, tf.mul(sigma, e)), { context }).x, [0, d], [B, 1])))(zero);
          const gv = g.dataSync();
          for (let b = 0; b < B; b++) expect(Math.abs(Math.log(gv[b * L + d]!) - js![b * 2 * L + L + d]!)).toBeLessThan(1e-4);
          g.dispose();
        }
        tf.dispose([sigma, zero]);
      }
      tf.dispose([x, encoded, mu, logStd, context]);
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    }
  });

  it('round-trips digits exactly with BB-ANS and BB-CIS (5 particles), refuses a corrupt file and another model, leaks no tensors', async () => {
    const model = new IafVae(TINY);
    await model.fit(xTrain, { epochs: 3, batchSize: 50, learningRate: 3e-3 });
    const negElbo = model.negativeElbo(xTest, { samples: 10, seed: 1 }) / (784 * Math.LN2);
    const before = tf.memory().numTensors;
    const coding = model.codingModel();
    const images = Uint8Array.from(xTest.dataSync());
    const bbans = await compress(images, coding, { shape: [28, 28], fallback: false });
    const bbis = await compress(images, coding, { shape: [28, 28], fallback: false, particles: 5 });
    expect(bbis[4]).toBe(4); // container version 4: k is in the header
    for (const file of [bbans, bbis]) {
      const back = await decompress(file, model.codingModel());
      expect(back.images).toEqual(images);
      expect(back.chunks.every((c) => c.method !== 'deflate')).toBe(true);
    }
    // BB-ANS codes at about the proposal's −ELBO, a little above the flow's own (40 images: the header and initial
    // bits weigh a few %); importance sampling with 5 particles gains on it.
    const rate = (file: Uint8Array) => (8 * file.length) / images.length;
    expect(rate(bbans)).toBeLessThan(1.1 * negElbo);
    expect(rate(bbis)).toBeLessThan(rate(bbans));
    const corrupt = bbis.slice();
    corrupt[Math.floor(corrupt.length / 2)]! ^= 0x10;
    await expect(decompress(corrupt, coding)).rejects.toBeInstanceOf(GmzError);
    // The inner VAE's description (its own Gaussian posterior) is another model: refused before decoding.
    await expect(decompress(bbans, model.vae.codingModel())).rejects.toThrow(/different model/);
    expect(codingModelFingerprint(model.codingModel())).toBe(codingModelFingerprint(coding));
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('codes 8-bit pixels (bin centres first), and with no flow step is exactly the VAE', async () => {
    const D = 12;
    const model = new IafVae({ inputShape: [D], hidden: [10], latentDim: 3, flowSteps: 2, flowHidden: [9], contextSize: 5, likelihood: 'discretized-logistic', seed: 3 });
    scrambleFlow(model, 40);
    const coding = model.codingModel();
    expect(coding.pixels).toBe('u8');
    expect(coding.encoder.ops[0]).toEqual({ op: 'scale-shift', scale: 2 / 255, shift: -1 });
    const bytes = Float32Array.from({ length: 4 * D }, (_, i) => (i * 53) % 256);
    const q = new NetworkEvaluator(coding.encoder, createDenseEngine()).run(bytes, 4);
    const want = tfjsProposal(model, tf.tidy(() => tf.sub(tf.mul(tf.tensor(bytes, [4, D]), 2 / 255), 1)));
    expectClose(half(q, 4, 3, 0), want.mean, 1e-4);
    expectClose(half(q, 4, 3, 3), want.logStd, 1e-4);
    const images = Uint8Array.from({ length: 30 * D }, (_, i) => (i * 37) % 256);
    for (const particles of [1, 5]) {
      const file = await compress(images, coding, { shape: [D], fallback: false, particles });
      expect((await decompress(file, coding)).images).toEqual(images);
    }
    const flat = new IafVae({ ...TINY, flowSteps: 0 });
    expect(codingModelFingerprint(flat.codingModel())).toBe(codingModelFingerprint(flat.vae.codingModel()));
    [model, flat].forEach((m) => m.dispose());
  });

  it('refuses what it cannot describe, saying what to train instead', () => {
    for (const flow of ['planar', 'radial'] as const) {
      const { flowHidden: _h, ...rest } = TINY;
      const model = new IafVae({ ...rest, flow });
      expect(() => model.codingModel()).toThrow(new RegExp(`a ${flow} posterior has no portable proposal .*train an IAF posterior`));
      model.dispose();
    }
    const gaussian = new IafVae({ ...TINY, likelihood: 'gaussian' });
    expect(() => gaussian.codingModel()).toThrow(/a Gaussian VAE models continuous intensities/);
    gaussian.dispose();
  });
});
