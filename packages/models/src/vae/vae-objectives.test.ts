/**
 * The Gaussian likelihood, the β-VAE and the IWAE objective (issue 19): each checked against the formula it
 * implements, computed here independently of the model's code path.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { deriveSeed, type StepContext } from '@gm/core';
import { binarizeStatic, scaleToUnit } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import { elbo, importanceSampledLogLikelihood, klDivergence, randomStandardNormal } from '@gm/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint, writeCheckpoint } from '../io/checkpoint';
import { fileStore } from '../io/file-store';
import { klWeightAt, VAE } from './vae';
import { vaeReplica } from './replica';
import type { VaeConfig } from './config';

let dir: string;
let binTrain: tf.Tensor;
let binTest: tf.Tensor;
let unitTrain: tf.Tensor;
let unitTest: tf.Tensor;

beforeAll(async () => {
  await tf.setBackend('wasm');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gm-vae-objectives-'));
  const { train, test } = loadBundledMnist();
  const trainPixels = train.images.subarray(0, 600 * 784);
  const testPixels = test.images.subarray(0, 100 * 784);
  binTrain = tf.tensor(binarizeStatic(trainPixels), [600, 784], 'float32');
  binTest = tf.tensor(binarizeStatic(testPixels), [100, 784], 'float32');
  unitTrain = tf.tensor(scaleToUnit(trainPixels), [600, 784], 'float32');
  unitTest = tf.tensor(scaleToUnit(testPixels), [100, 784], 'float32');
});

afterAll(async () => {
  tf.dispose([binTrain, binTest, unitTrain, unitTest]);
  await fs.rm(dir, { recursive: true, force: true });
});

const TINY: VaeConfig = { inputShape: [784], hidden: [32], latentDim: 4, seed: 7 };
const LOG_2PI = Math.log(2 * Math.PI);

const scalar = (t: tf.Tensor): number => {
  const v = t.dataSync()[0] as number;
  t.dispose();
  return v;
};
const ctxAt = (seed: number): StepContext => ({ epoch: 1, batch: 0, batches: 1, seed });

/** A model's loss terms on `x` at a step seeded `seed`, as numbers. */
function lossOf(vae: VAE, x: tf.Tensor, seed: number): { objective: number; reported: number } {
  const t = vae.loss({ x }, ctxAt(seed));
  if (t instanceof tf.Tensor) throw new Error('expected LossTerms');
  const out = { objective: t.objective.dataSync()[0] as number, reported: t.reported.dataSync()[0] as number };
  tf.dispose([t.objective, t.reported]);
  return out;
}

/** Mean analytic KL(q(z|x) ‖ N(0, I)) over the batch. */
const meanKl = (vae: VAE, x: tf.Tensor): number => tf.tidy(() => tf.mean(klDivergence(vae.posterior(x), vae.prior)).dataSync()[0] as number);

/** Copies a's weights into b (same architecture). */
function copyWeights(a: VAE, b: VAE): void {
  const from = a.trainableVariables();
  b.trainableVariables().forEach((v, i) => v.assign(from[i] as tf.Variable));
}

type Mat = { data: Float32Array; rows: number; cols: number };
const mat = (t: tf.Tensor): Mat => ({ data: t.dataSync() as Float32Array, rows: t.shape[0] as number, cols: (t.shape[1] ?? 1) as number });
function dense(x: number[], W: Mat, b: Float32Array, relu: boolean): number[] {
  const out: number[] = [];
  for (let j = 0; j < W.cols; j++) {
    let s = b[j] as number;
    for (let i = 0; i < W.rows; i++) s += (x[i] as number) * (W.data[i * W.cols + j] as number);
    out.push(relu ? Math.max(0, s) : s);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

describe('Gaussian likelihood', () => {
  it('log p(x|z) is the closed-form Gaussian density of x around the sigmoid of the decoder output, with the fixed σ', () => {
    const D = 6;
    const L = 2;
    const sigma = 0.2;
    const vae = new VAE({ inputShape: [D], hidden: [5], latentDim: L, likelihood: 'gaussian', observationStd: sigma, seed: 3 });
    for (const v of vae.trainableVariables()) v.assign(tf.tidy(() => tf.add(v, tf.randomUniform(v.shape, -0.5, 0.5, 'float32', 11))));
    const B = 3;
    const xVals = [0, 0.1, 0.5, 1, 0.93, 0.02, 0.3, 0.7, 0.7, 0.0, 1.0, 0.45, 0.8, 0.2, 0.05, 0.66, 0.99, 0.31];
    const zVals = [0.4, -1.3, 2.1, 0.2, -0.7, -0.9];
    const x = tf.tensor(xVals, [B, D]);
    const z = tf.tensor(zVals, [B, L]);
    const before = tf.memory().numTensors;
    const got = tf.tidy(() => vae.likelihood(z).logProb(x).dataSync());
    const decoded = tf.tidy(() => vae.decode(z).dataSync());
    expect(tf.memory().numTensors).toBe(before);
    const [V1, c1, V2, c2] = vae.decoder.getWeights().map(mat) as [Mat, Mat, Mat, Mat];
    for (let n = 0; n < B; n++) {
      const out = dense(dense(zVals.slice(n * L, (n + 1) * L), V1, c1.data, true), V2, c2.data, false);
      let logp = 0;
      let sse = 0;
      for (let d = 0; d < D; d++) {
        const mean = 1 / (1 + Math.exp(-(out[d] as number)));
        expect(decoded[n * D + d]).toBeCloseTo(mean, 5); // decode is the Gaussian's mean, in [0, 1]
        const r = (xVals[n * D + d] as number) - mean;
        logp += -(r * r) / (2 * sigma * sigma) - Math.log(sigma) - 0.5 * LOG_2PI;
        sse += r * r;
      }
      expect(got[n]).toBeCloseTo(logp, 4);
      // The same number as "squared error / (2σ²) + constant": −log p(x|z) = SSE/(2σ²) + D(log σ + ½ log 2π).
      expect(-(got[n] as number)).toBeCloseTo(sse / (2 * sigma * sigma) + D * (Math.log(sigma) + 0.5 * LOG_2PI), 4);
    }
    const p = vae.likelihoodParams(z);
    if (p.kind !== 'gaussian') throw new Error('expected gaussian parameters');
    expect(p.logStd).toBeCloseTo(Math.log(sigma), 12);
    p.mean.dispose();
    tf.dispose([x, z]);
    vae.dispose();
  });

  it('the β-weighted objective is (squared error + λ·KL) / (2σ²) + const with λ = 2βσ²', () => {
    const sigma = 0.15;
    const beta = 3;
    const vae = new VAE({ ...TINY, likelihood: 'gaussian', observationStd: sigma, beta });
    const x = tf.slice(unitTest, 0, 20);
    const seed = 1234;
    const { objective, reported } = lossOf(vae, x, seed);
    // The posterior draw the loss makes: z = μ + σ_q·ε, each example's ε its own stream of the step's seed.
    const { sse, kl } = tf.tidy(() => {
      const { mean, logStd } = vae.posteriorParams(x);
      const eps = randomStandardNormal(mean.shape, seed, 0);
      const recon = vae.decode(tf.add(mean, tf.mul(tf.exp(logStd), eps)));
      return { sse: tf.mean(tf.sum(tf.square(tf.sub(x, recon)), 1)).dataSync()[0] as number, kl: meanKl(vae, x) };
    });
    const D = 784;
    const constant = D * (Math.log(sigma) + 0.5 * LOG_2PI);
    const lambda = 2 * beta * sigma * sigma;
    expect(kl).toBeGreaterThan(0.1);
    const scaled = 2 * sigma * sigma * (objective - constant);
    expect(Math.abs(scaled - (sse + lambda * kl))).toBeLessThan(1e-4 * (sse + lambda * kl));
    // The reported loss is the −ELBO: the same with β = 1.
    expect(Math.abs(2 * sigma * sigma * (reported - constant) - (sse + 2 * sigma * sigma * kl))).toBeLessThan(1e-4 * sse);
    x.dispose();
    vae.dispose();
  });

  describe('trained briefly on [0, 1] digits', () => {
    let vae: VAE;
    const counts: number[] = [];
    let history: number[] = [];
    beforeAll(async () => {
      vae = new VAE({ ...TINY, likelihood: 'gaussian' });
      const r = await vae.fit(unitTrain, { epochs: 3, batchSize: 50, learningRate: 3e-3, onEpochEnd: () => void counts.push(tf.memory().numTensors) });
      history = r.history.map((h) => h.loss);
    });
    afterAll(() => vae.dispose());

    it('reads intensities in [0, 1], lowers the −ELBO, and leaks no tensors across epochs', () => {
      expect(vae.inputConvention).toBe('unit');
      expect(vae.config.observationStd).toBe(0.1);
      expect(vae.describe()).toMatch(/gaussian likelihood \(σ 0\.1\)/);
      expect(history[2]).toBeLessThan((history[0] as number) - 100);
      expect(new Set(counts).size).toBe(1);
    });

    it("@gm/metrics' ELBO and importance-sampled log-likelihood work on it: IS ≥ ELBO, rising with k", () => {
      const before = tf.memory().numTensors;
      const meanOf = (t: tf.Tensor): number => {
        const m = scalar(tf.tidy(() => tf.mean(t)));
        t.dispose();
        return m;
      };
      const elboMean = -vae.negativeElbo(unitTest, { samples: 20, seed: 5 });
      const is1 = meanOf(importanceSampledLogLikelihood(vae, unitTest, 1, { seed: 6 }));
      const is50 = meanOf(vae.logLikelihood(unitTest, 50, { seed: 7 }));
      expect(Math.abs(is1 - elboMean)).toBeLessThan(0.02 * Math.abs(elboMean) + 5);
      expect(is50).toBeGreaterThan(elboMean + 0.5);
      expect(tf.memory().numTensors).toBe(before);
    });

    it('evaluate reports nats of the density on [0, 1] and bits/dim of the density in pixel units 0..255', () => {
      const before = tf.memory().numTensors;
      const m = Object.fromEntries(vae.evaluate(unitTest, { k: 10, seed: 2 }).map((v) => [v.name, v.value]));
      const D = 784;
      expect(m.negElboBitsPerDim).toBeCloseTo(((m.negElbo as number) + D * Math.log(255)) / (D * Math.LN2), 6);
      expect(m.isNllBitsPerDim).toBeCloseTo(((m.isNll as number) + D * Math.log(255)) / (D * Math.LN2), 6);
      expect(m.isNll).toBeLessThan(m.negElbo as number);
      expect(tf.memory().numTensors).toBe(before);
    });

    it('decodes and samples intensities, and refuses the lossless coder with a reason', () => {
      const before = tf.memory().numTensors;
      const means = vae.sample(8, { seed: 1 });
      const draws = vae.sample(8, { seed: 1, fromLikelihood: true });
      const [lo, hi] = [scalar(tf.min(means)), scalar(tf.max(means))];
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThanOrEqual(1);
      // A draw is the mean plus N(0, σ²) noise per pixel.
      const noiseStd = tf.tidy(() => Math.sqrt(tf.mean(tf.square(tf.sub(draws, means))).dataSync()[0] as number));
      expect(noiseStd).toBeGreaterThan(0.09);
      expect(noiseStd).toBeLessThan(0.11);
      tf.dispose([means, draws]);
      expect(tf.memory().numTensors).toBe(before);
      expect(() => vae.codingModel()).toThrow(/Gaussian VAE models continuous intensities.*likelihood 'bernoulli' or 'discretized-logistic' to compress/);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('constant β (β-VAE)', () => {
  it('β changes the objective by exactly (β − 1)·KL on a fixed batch and seed; the reported loss stays the −ELBO', () => {
    const x = tf.slice(binTest, 0, 30);
    const plain = new VAE(TINY);
    const kl = meanKl(plain, x);
    expect(kl).toBeGreaterThan(0.05);
    const one = lossOf(plain, x, 99);
    expect(one.objective).toBe(one.reported);
    for (const beta of [0, 0.5, 4]) {
      const weighted = new VAE({ ...TINY, beta });
      copyWeights(plain, weighted);
      const b = lossOf(weighted, x, 99);
      expect(b.reported).toBe(one.reported);
      expect(Math.abs(b.objective - one.objective - (beta - 1) * kl)).toBeLessThan(1e-4 * Math.abs(one.objective));
      weighted.dispose();
    }
    plain.dispose();
    x.dispose();
  });

  it('a KL warm-up ramps the weight from 0 towards β per step, then holds β (during fit)', async () => {
    expect(klWeightAt(4, 0, { epoch: 3, batch: 1, batches: 5 })).toBe(4);
    expect(klWeightAt(4, 2, { epoch: 1, batch: 0, batches: 5 })).toBeCloseTo(0.4, 12);
    expect(klWeightAt(4, 2, { epoch: 2, batch: 4, batches: 5 })).toBe(4);
    expect(klWeightAt(4, 2, { epoch: 3, batch: 0, batches: 5 })).toBe(4);
    // In fit: (objective − reported) / KL = w − 1 at every step, with w = β · step / (warm-up steps), capped at β.
    const beta = 4;
    const vae = new VAE({ ...TINY, beta });
    const data = tf.slice(binTrain, 0, 90);
    const ratios: number[] = [];
    const loss = vae.loss.bind(vae);
    vae.loss = (batch, ctx) => {
      const terms = loss(batch, ctx);
      if (terms instanceof tf.Tensor) throw new Error('expected LossTerms');
      const diff = terms.objective.dataSync()[0]! - terms.reported.dataSync()[0]!;
      ratios.push(diff / meanKl(vae, batch.x));
      return terms;
    };
    await vae.fit(data, { epochs: 2, batchSize: 30, learningRate: 1e-3, klWarmupEpochs: 1 });
    const want = [1 / 3, 2 / 3, 1, 1, 1, 1].map((f) => beta * f - 1);
    expect(ratios).toHaveLength(6);
    ratios.forEach((r, i) => expect(r).toBeCloseTo(want[i] as number, 2));
    vae.dispose();
    data.dispose();
  });

  it('trains: a larger β leaves a smaller KL (a posterior closer to the prior)', async () => {
    const data = tf.slice(binTrain, 0, 300);
    const kls: number[] = [];
    for (const beta of [0.25, 1, 4]) {
      const vae = new VAE({ ...TINY, beta });
      await vae.fit(data, { epochs: 3, batchSize: 50, learningRate: 3e-3 });
      kls.push(meanKl(vae, binTest));
      vae.dispose();
    }
    expect(kls[0]).toBeGreaterThan((kls[1] as number) * 1.1);
    expect(kls[1]).toBeGreaterThan((kls[2] as number) * 1.1);
    data.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('IWAE objective', () => {
  it('with k = 1 it is the ELBO estimate at the same posterior draw (Monte Carlo KL), and unbiased for the analytic-KL ELBO', () => {
    const x = tf.slice(binTest, 0, 25);
    const elboModel = new VAE(TINY);
    const iwae = new VAE({ ...TINY, objective: 'iwae', k: 1 });
    copyWeights(elboModel, iwae);
    const before = tf.memory().numTensors;
    const seed = 321;
    const got = lossOf(iwae, x, seed);
    expect(got.reported).toBe(got.objective);
    // The bound's one sample is drawn with the seed the metrics derive for batch 0, chunk 0.
    const mcElbo = tf.tidy(() => tf.mean(elbo(iwae, x, { seed: deriveSeed(seed, 0, 0), kl: 'mc' }).elbo).dataSync()[0] as number);
    expect(Math.abs(got.objective + mcElbo)).toBeLessThan(1e-5 * Math.abs(mcElbo));
    // Averaged over draws, it agrees with the ELBO objective's analytic-KL estimate.
    let sumIwae = 0;
    let sumElbo = 0;
    const n = 60;
    for (let s = 0; s < n; s++) {
      sumIwae += lossOf(iwae, x, 1000 + s).objective;
      sumElbo += lossOf(elboModel, x, 1000 + s).objective;
    }
    expect(Math.abs(sumIwae / n - sumElbo / n)).toBeLessThan(0.01 * Math.abs(sumElbo / n));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x]);
    [elboModel, iwae].forEach((v) => v.dispose());
  });

  describe('on a briefly trained model', () => {
    let trained: VAE;
    beforeAll(async () => {
      trained = new VAE(TINY);
      await trained.fit(binTrain, { epochs: 4, batchSize: 50, learningRate: 3e-3 });
    });
    afterAll(() => trained.dispose());

    it('the bound rises with k (1 → 5 → 50), stays below the importance-sampled log p(x) with k = 1000, and is what @gm/metrics computes', () => {
      const before = tf.memory().numTensors;
      const bounds: number[] = [];
      for (const k of [1, 5, 50]) {
        const m = new VAE({ ...TINY, objective: 'iwae', k });
        copyWeights(trained, m);
        let sum = 0;
        for (let s = 0; s < 4; s++) sum -= lossOf(m, binTest, 50 + s).objective;
        bounds.push(sum / 4);
        // The objective is @gm/metrics' importance-sampled estimate with k samples, one batch, the step's seed.
        const reference = scalar(tf.tidy(() => tf.mean(importanceSampledLogLikelihood(m, binTest, k, { seed: 50, batchSize: 100 }))));
        expect(Math.abs(-lossOf(m, binTest, 50).objective - reference)).toBeLessThan(1e-5 * Math.abs(reference));
        m.dispose();
      }
      const [b1, b5, b50] = bounds as [number, number, number];
      expect(b5).toBeGreaterThan(b1 + 0.5);
      expect(b50).toBeGreaterThan(b5 + 0.5);
      const ll = scalar(tf.tidy(() => tf.mean(trained.logLikelihood(binTest, 1000, { seed: 9, chunkSize: 250 }))));
      expect(b50).toBeLessThan(ll + 0.2);
      expect(tf.memory().numTensors).toBe(before);
    });

    it('fit trains on it: the reported loss is the negative k-sample bound (below the −ELBO), falls, and leaks nothing', async () => {
      const m = new VAE({ ...TINY, objective: 'iwae', k: 5 });
      copyWeights(trained, m);
      // A vanishing learning rate leaves the weights as they are: the epoch's loss is this model's −IWAE₅ bound.
      const reference = -scalar(tf.tidy(() => tf.mean(m.logLikelihood(binTest, 5, { seed: 3 }))));
      const negElbo = trained.negativeElbo(binTest, { samples: 50, seed: 4 });
      const still = await m.fit(binTest, { epochs: 1, batchSize: 100, learningRate: 1e-20, shuffle: false, validationData: binTest });
      expect(Math.abs((still.history[0]?.loss as number) - reference)).toBeLessThan(1.5);
      expect(still.history[0]?.loss).toBeLessThan(negElbo - 0.5);
      expect(Math.abs((still.history[0]?.valLoss as number) - reference)).toBeLessThan(1.5);
      const counts: number[] = [];
      const fresh = new VAE({ ...TINY, objective: 'iwae', k: 5 });
      const r = await fresh.fit(binTrain, { epochs: 3, batchSize: 50, learningRate: 3e-3, onEpochEnd: () => void counts.push(tf.memory().numTensors) });
      expect(r.history[2]?.loss).toBeLessThan((r.history[0]?.loss as number) - 20);
      expect(new Set(counts).size).toBe(1);
      expect(fresh.describe()).toMatch(/trained on the IWAE bound \(k = 5\)/);
      [m, fresh].forEach((v) => v.dispose());
    });
  });

  it('refuses a KL warm-up, and β ≠ 1, with the reason', async () => {
    const vae = new VAE({ ...TINY, objective: 'iwae' });
    expect(vae.config.k).toBe(5);
    await expect(vae.fit(binTest, { epochs: 1, klWarmupEpochs: 2 })).rejects.toThrow(/klWarmupEpochs must be 0 with objective 'iwae'/);
    vae.dispose();
    expect(() => new VAE({ ...TINY, objective: 'iwae', beta: 2 })).toThrow(/"beta" must be 1 with objective 'iwae'/);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('the data-parallel replica minimises the same objective', () => {
  it('β-weighted ELBO and the IWAE bound, seeded by the step (or the seed the trainer gives)', () => {
    const x = tf.slice(binTest, 0, 12);
    const beta = new VAE({ ...TINY, beta: 3 });
    const iwae = new VAE({ ...TINY, objective: 'iwae', k: 4 });
    const seed = deriveSeed(TINY.seed as number, 5);
    const rb = scalar(tf.tidy(() => vaeReplica(beta).loss({ x }, { step: 5, rows: [0, 12] })));
    const want = scalar(tf.tidy(() => {
      const t = beta.elbo(x, { seed });
      return tf.neg(tf.mean(tf.sub(t.reconstruction, tf.mul(t.kl, 3))));
    }));
    expect(rb).toBeCloseTo(want, 4);
    const given = scalar(tf.tidy(() => vaeReplica(beta).loss({ x }, { step: 5, rows: [0, 12], seed: 77 })));
    expect(given).toBeCloseTo(scalar(tf.tidy(() => beta.loss({ x }, { epoch: 1, batch: 0, batches: 1, seed: 77 }).objective)), 4);
    expect(given).not.toBeCloseTo(rb, 2);
    const ri = scalar(tf.tidy(() => vaeReplica(iwae).loss({ x }, { step: 5, rows: [0, 12] })));
    expect(ri).toBeCloseTo(-scalar(tf.tidy(() => tf.mean(importanceSampledLogLikelihood(iwae, x, 4, { seed, batchSize: 12 })))), 4);
    [beta, iwae].forEach((v) => v.dispose());
    x.dispose();
  });

  it.each(['elbo', 'iwae'] as const)('%s: shards of a batch, each at its rows, average to the whole batch’s loss (their noise is its noise); no leaks', (objective) => {
    const x = tf.slice(binTest, 0, 12);
    const vae = new VAE({ ...TINY, ...(objective === 'iwae' ? { objective, k: 3 } : { beta: 2 }) });
    const replica = vaeReplica(vae);
    const lossOn = (from: number, to: number) => scalar(tf.tidy(() => replica.loss({ x: tf.slice(x, from, to - from) }, { step: 2, rows: [from, to], seed: 5 })));
    const whole = lossOn(0, 12);
    expect((5 * lossOn(0, 5) + 7 * lossOn(5, 12)) / 12).toBeCloseTo(whole, 4);
    // The same shard placed elsewhere in the batch draws other examples' noise.
    const misplaced = scalar(tf.tidy(() => replica.loss({ x: tf.slice(x, 5, 7) }, { step: 2, rows: [0, 7], seed: 5 })));
    expect(misplaced).not.toBeCloseTo(lossOn(5, 12), 3);
    // Outside any tidy the loss leaves only itself behind.
    const before = tf.memory().numTensors;
    const loss = replica.loss({ x }, { step: 2, rows: [0, 12], seed: 5 });
    expect(tf.memory().numTensors).toBe(before + 1);
    loss.dispose();
    vae.dispose();
    x.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('config and checkpoints', () => {
  it('names the bad field and what was expected', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ ...TINY, observationStd: 0.2 }, /"observationStd" must be used only with likelihood 'gaussian'/],
      [{ ...TINY, likelihood: 'gaussian', observationStd: 0 }, /"observationStd" must be a positive number, got 0/],
      [{ ...TINY, beta: -1 }, /"beta" must be a finite number ≥ 0, got -1/],
      [{ ...TINY, beta: Number.NaN }, /"beta" must be a finite number ≥ 0/],
      [{ ...TINY, objective: 'vimco' }, /"objective" must be one of 'elbo', 'iwae', got "vimco"/],
      [{ ...TINY, k: 5 }, /"k" must be used only with objective 'iwae'/],
      [{ ...TINY, objective: 'iwae', k: 0 }, /"k" must be a positive integer, got 0/],
      [{ ...TINY, likelihood: 'poisson' }, /"likelihood" must be one of 'bernoulli', 'discretized-logistic', 'discretized-logistic-mixture', 'gaussian'/],
    ];
    for (const [config, message] of bad) expect(() => new VAE(config as VaeConfig)).toThrow(message);
  });

  it('the new fields round-trip through checkpoints; a checkpoint without them loads with the defaults', async () => {
    const configs: VaeConfig[] = [
      { ...TINY, likelihood: 'gaussian', observationStd: 0.25, beta: 4 },
      { ...TINY, objective: 'iwae', k: 3 },
    ];
    for (const [i, config] of configs.entries()) {
      const vae = new VAE(config);
      const where = path.join(dir, `round-trip-${i}`);
      await vae.save(fileStore(where));
      const stored = (await readCheckpoint<VaeConfig>(fileStore(where), 'vae')).manifest.config;
      expect(stored).toMatchObject(config);
      const again = await VAE.load(fileStore(where));
      expect(again.config).toEqual(vae.config);
      const x = config.likelihood === 'gaussian' ? unitTest : binTest;
      expect(lossOf(again, x, 3)).toEqual(lossOf(vae, x, 3));
      [vae, again].forEach((v) => v.dispose());
    }
    // A checkpoint written before these fields existed: its config has none of them.
    const old = new VAE(TINY);
    const where = path.join(dir, 'old');
    await writeCheckpoint(fileStore(where), { kind: 'vae', config: { inputShape: [784], latentDim: 4, architecture: 'mlp', activation: 'relu', likelihood: 'bernoulli', numBins: 256, seed: 7, hidden: [32] } }, { encoder: old.encoder, decoder: old.decoder });
    const loaded = await VAE.load(fileStore(where));
    expect([loaded.config.beta, loaded.config.objective, loaded.config.k, loaded.config.observationStd]).toEqual([1, 'elbo', 1, 0.1]);
    expect(lossOf(loaded, binTest, 3)).toEqual(lossOf(old, binTest, 3));
    [old, loaded].forEach((v) => v.dispose());
  });
});
