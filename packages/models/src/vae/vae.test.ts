import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { binarizeStatic } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import { elbo, importanceSampledLogLikelihood } from '@gm/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCheckpoint } from '../io/checkpoint';
import { TrainingDivergedError } from '../train/trainer';
import { compress, createDenseEngine, decompress, NetworkEvaluator } from '@gm/bitsback';
import { VAE, VAE_MIN_LOG_SCALE } from './vae';
import type { VaeConfig } from './config';
import { fileStore } from '../io/file-store';

/** The posterior's mean and σ (what VAE.encode returned before it returned the codings alone). */
function meanStd(v: VAE, x: tf.Tensor): { mean: tf.Tensor; std: tf.Tensor } {
  const { mean, logStd } = v.posteriorParams(x);
  const std = tf.exp(logStd);
  logStd.dispose();
  return { mean, std };
}

let dir: string;
let xTrain: tf.Tensor;
let xTest: tf.Tensor;

beforeAll(async () => {
  await tf.setBackend('wasm');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gm-vae-'));
  const { train, test } = loadBundledMnist();
  xTrain = tf.tensor(binarizeStatic(train.images.subarray(0, 600 * 784)), [600, 784], 'float32');
  xTest = tf.tensor(binarizeStatic(test.images.subarray(0, 100 * 784)), [100, 784], 'float32');
});

afterAll(async () => {
  tf.dispose([xTrain, xTest]);
  await fs.rm(dir, { recursive: true, force: true });
});

const TINY: VaeConfig = { inputShape: [784], hidden: [32], latentDim: 4, likelihood: 'bernoulli', seed: 7 };

const weightsOf = (vae: VAE): Float32Array[] => vae.trainableVariables().map((v) => v.dataSync() as Float32Array);
const sameBits = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
};

// ---------------------------------------------------------------------------------------------------------------
// Hand computation of the ELBO terms in float64 from the weights.

type Mat = { data: Float32Array; rows: number; cols: number };
const mat = (t: tf.Tensor): Mat => ({ data: t.dataSync() as Float32Array, rows: t.shape[0] as number, cols: (t.shape[1] ?? 1) as number });

/** y = act(x·W + b) for one row x. */
function dense(x: number[], W: Mat, b: Float32Array, relu: boolean): number[] {
  const out: number[] = [];
  for (let j = 0; j < W.cols; j++) {
    let s = b[j] as number;
    for (let i = 0; i < W.rows; i++) s += (x[i] as number) * (W.data[i * W.cols + j] as number);
    out.push(relu ? Math.max(0, s) : s);
  }
  return out;
}
const sigmoid = (a: number): number => 1 / (1 + Math.exp(-a));
const softplus = (a: number): number => Math.max(a, 0) + Math.log1p(Math.exp(-Math.abs(a)));

/** log P(bin of x) under a discretized logistic with 256 bins (edge bins take the tails). */
function logisticBin(x: number, mu: number, logS: number): number {
  const h = 1 / 255;
  const s = Math.exp(logS);
  const up = x > 1 - h / 2 ? 1 : sigmoid((x - mu + h) / s);
  const lo = x < -1 + h / 2 ? 0 : sigmoid((x - mu - h) / s);
  return Math.log(up - lo);
}

describe('VAE ELBO terms equal a hand computation', () => {
  const cases: Array<{ likelihood: VaeConfig['likelihood']; mixtureComponents?: number }> = [
    { likelihood: 'bernoulli' },
    { likelihood: 'discretized-logistic' },
    { likelihood: 'discretized-logistic-mixture', mixtureComponents: 3 },
  ];
  for (const { likelihood, mixtureComponents } of cases) {
    it(likelihood ?? 'bernoulli', () => {
      const D = 6;
      const L = 2;
      const vae = new VAE({ inputShape: [D], hidden: [5], latentDim: L, likelihood, mixtureComponents, seed: 3 });
      // Non-zero biases, so a mix-up of bias and kernel or of the mean/log-σ halves would show.
      for (const v of vae.trainableVariables()) v.assign(tf.add(v, tf.mul(tf.randomUniform(v.shape, -0.3, 0.3, 'float32', 11), 1)));
      const B = 3;
      const xVals =
        likelihood === 'bernoulli'
          ? [1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0]
          : [0, 17, 128, 255, 40, 200, 3, 90, 254, 1, 77, 160, 255, 0, 66, 130, 10, 250].map((v) => (2 * v) / 255 - 1);
      const x = tf.tensor(xVals, [B, D]);
      const seed = 99;
      const result = elbo(vae, x, { seed, kl: 'analytic' });
      const z = tf.tidy(() => tf.squeeze(vae.posterior(x).sample(1, seed), [0]));
      const zv = z.dataSync();
      const [W1, b1, W2, b2] = vae.encoder.getWeights().map(mat) as [Mat, Mat, Mat, Mat];
      const [V1, c1, V2, c2] = vae.decoder.getWeights().map(mat) as [Mat, Mat, Mat, Mat];
      const got = { elbo: result.elbo.dataSync(), rec: result.reconstruction.dataSync(), kl: result.kl.dataSync() };
      for (let n = 0; n < B; n++) {
        const xn = xVals.slice(n * D, (n + 1) * D);
        const p = dense(dense(xn, W1, b1.data, true), W2, b2.data, false);
        let kl = 0;
        for (let l = 0; l < L; l++) {
          const mu = p[l] as number;
          const logS = p[L + l] as number;
          kl += 0.5 * (Math.exp(2 * logS) + mu * mu - 1) - logS;
          // The sample the ELBO used is mean + σ·ε for this example's posterior.
          expect(Math.abs(((zv[n * L + l] as number) - mu) / Math.exp(logS))).toBeLessThan(6);
        }
        const zn = Array.from(zv.subarray(n * L, (n + 1) * L));
        const out = dense(dense(zn, V1, c1.data, true), V2, c2.data, false);
        let rec = 0;
        for (let d = 0; d < D; d++) {
          const xd = xn[d] as number;
          if (likelihood === 'bernoulli') {
            const l = out[d] as number;
            rec += xd * l - softplus(l);
          } else if (likelihood === 'discretized-logistic') {
            rec += logisticBin(xd, out[2 * d] as number, Math.max(out[2 * d + 1] as number, -7));
          } else {
            const K = mixtureComponents as number;
            const o = out.slice(d * 3 * K, (d + 1) * 3 * K);
            const logits = o.slice(0, K);
            const m = Math.max(...logits);
            const lse = m + Math.log(logits.reduce((a, v) => a + Math.exp(v - m), 0));
            let mix = 0;
            for (let k = 0; k < K; k++) mix += Math.exp((logits[k] as number) - lse + logisticBin(xd, o[K + k] as number, Math.max(o[2 * K + k] as number, -7)));
            rec += Math.log(mix);
          }
        }
        expect(got.kl[n]).toBeCloseTo(kl, 4);
        expect(got.rec[n]).toBeCloseTo(rec, 3);
        expect(got.elbo[n]).toBeCloseTo(rec - kl, 3);
      }
      tf.dispose([x, z, result.elbo, result.reconstruction, result.kl]);
      vae.dispose();
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------

describe('VAE training (tiny, binarized digits, wasm)', () => {
  let vae: VAE;
  let counts: number[] = [];
  let history: number[] = [];

  beforeAll(async () => {
    vae = new VAE(TINY);
    const result = await vae.fit(xTrain, { epochs: 4, batchSize: 50, learningRate: 3e-3, onEpochEnd: () => void counts.push(tf.memory().numTensors) });
    history = result.history.map((h) => h.loss);
  });
  afterAll(() => vae.dispose());

  it('lowers the −ELBO and leaks no tensors across epochs', async () => {
    expect(history).toHaveLength(4);
    expect(history[3]).toBeLessThan((history[0] as number) - 20);
    expect(new Set(counts).size).toBe(1);
    expect(vae.epochsTrained).toBe(4);
    counts = [];
  });

  it('IS log-likelihood ≥ ELBO and rises on average from k = 1 to k = 10 to k = 200', async () => {
    const before = tf.memory().numTensors;
    const meanOf = (t: tf.Tensor): number => {
      const m = tf.mean(t);
      const v = m.dataSync()[0] as number;
      tf.dispose([m, t]);
      return v;
    };
    const elboMean = -vae.negativeElbo(xTest, { samples: 50, seed: 5 });
    const is1 = meanOf(importanceSampledLogLikelihood(vae, xTest, 1, { seed: 6 }));
    const is10 = meanOf(importanceSampledLogLikelihood(vae, xTest, 10, { seed: 7 }));
    const is200 = importanceSampledLogLikelihood(vae, xTest, 200, { seed: 8, chunkSize: 64 });
    const perExampleElbo = vae.elbo(xTest, { samples: 50, seed: 9 });
    const ge = tf.tidy(() => tf.mean(tf.cast(tf.greaterEqual(is200, perExampleElbo.elbo), 'float32')).dataSync()[0] as number);
    const is200Mean = meanOf(is200);
    tf.dispose([perExampleElbo.elbo, perExampleElbo.reconstruction, perExampleElbo.kl]);
    // k = 1 is an unbiased estimate of the ELBO (100 examples: within a few nats); larger k tightens the bound.
    expect(Math.abs(is1 - elboMean)).toBeLessThan(3);
    expect(is10).toBeGreaterThan(is1);
    expect(is200Mean).toBeGreaterThan(is10);
    expect(is200Mean).toBeGreaterThan(elboMean + 0.5);
    expect(ge).toBeGreaterThan(0.95);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('decode, reconstruct and sample return one tensor each and leak nothing', async () => {
    const before = tf.memory().numTensors;
    const z = tf.zeros([3, vae.config.latentDim]);
    tf.dispose([vae.decode(z), vae.reconstruct(xTest), vae.sample(4, { seed: 1 })]);
    z.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('save/load gives bit-identical outputs, config and epoch count', async () => {
    const where = path.join(dir, 'tiny');
    await vae.save(fileStore(where));
    const again = await VAE.load(fileStore(where));
    expect(again.config).toEqual(vae.config);
    expect(again.epochsTrained).toBe(4);
    const a = meanStd(vae, xTest);
    const b = meanStd(again, xTest);
    expect(sameBits(a.mean.dataSync(), b.mean.dataSync())).toBe(true);
    expect(sameBits(a.std.dataSync(), b.std.dataSync())).toBe(true);
    const ra = vae.reconstruct(xTest);
    const rb = again.reconstruct(xTest);
    expect(sameBits(ra.dataSync(), rb.dataSync())).toBe(true);
    const sa = vae.sample(5, { seed: 1 });
    const sb = again.sample(5, { seed: 1 });
    expect(sameBits(sa.dataSync(), sb.dataSync())).toBe(true);
    expect(-vae.negativeElbo(xTest)).toBe(-again.negativeElbo(xTest));
    tf.dispose([a.mean, a.std, b.mean, b.std, ra, rb, sa, sb]);
    again.dispose();
  });

  it('inference is bit-identical whatever the batch composition (wasm)', async () => {
    const B = 16;
    const xb = tf.slice(xTest, 0, B);
    const all = vae.posteriorParams(xb);
    const zAll = tf.randomNormal([B, TINY.latentDim], 0, 1, 'float32', 3);
    const pAll = vae.likelihoodParams(zAll);
    if (pAll.kind !== 'bernoulli') throw new Error('expected bernoulli');
    const mean = all.mean.dataSync();
    const logStd = all.logStd.dataSync();
    const logits = pAll.logits.dataSync();
    for (let i = 0; i < B; i++) {
      const xi = tf.slice(xTest, i, 1);
      // The same example alone, and amid other examples at another position.
      const mixed = tf.concat([tf.slice(xTest, 50, 3), xi, tf.slice(xTest, 60, 5)], 0);
      const one = vae.posteriorParams(xi);
      const inMix = vae.posteriorParams(mixed);
      const L = TINY.latentDim;
      expect(sameBits(one.mean.dataSync(), mean.subarray(i * L, (i + 1) * L))).toBe(true);
      expect(sameBits(one.logStd.dataSync(), logStd.subarray(i * L, (i + 1) * L))).toBe(true);
      expect(sameBits(inMix.mean.dataSync().subarray(3 * L, 4 * L), mean.subarray(i * L, (i + 1) * L))).toBe(true);
      const zi = tf.slice(zAll, i, 1);
      const pi = vae.likelihoodParams(zi);
      if (pi.kind !== 'bernoulli') throw new Error('expected bernoulli');
      expect(sameBits(pi.logits.dataSync(), logits.subarray(i * 784, (i + 1) * 784))).toBe(true);
      tf.dispose([xi, mixed, one.mean, one.logStd, inMix.mean, inMix.logStd, zi, pi.logits]);
    }
    tf.dispose([xb, all.mean, all.logStd, zAll, pAll.logits]);
  });

  it('hands the coder a portable description that computes what its tfjs networks compute, and compresses losslessly', async () => {
    const coding = vae.codingModel();
    expect([coding.kind, coding.pixels, coding.pixelsPerImage, coding.latentDim, coding.observation.kind]).toEqual(['gaussian-latent', 'binary', 784, 4, 'bernoulli']);
    const before = tf.memory().numTensors;
    const B = 6;
    const pixels = tf.slice(xTest, 10, B);
    const engine = createDenseEngine();
    const q = new NetworkEvaluator(coding.encoder, engine).run(Float32Array.from(pixels.dataSync()), B);
    const ref = vae.posteriorParams(pixels);
    const want = tf.concat([ref.mean, ref.logStd], 1);
    closeTo(q, want.dataSync(), 1e-5);
    const z = Float32Array.from({ length: B * 4 }, (_, i) => Math.sin(i));
    const logits = new NetworkEvaluator(coding.decoder, engine).run(z, B);
    const zt = tf.tensor(z, [B, 4]);
    const p = vae.likelihoodParams(zt);
    if (p.kind !== 'bernoulli') throw new Error('expected bernoulli');
    closeTo(logits, p.logits.dataSync(), 1e-5);
    tf.dispose([pixels, ref.mean, ref.logStd, want, zt, p.logits]);
    expect(tf.memory().numTensors).toBe(before);
    // The description is the coder's whole view of the model: images compress and come back exactly.
    const images = Uint8Array.from(tf.tidy(() => tf.slice(xTest, 0, 40).dataSync()));
    const bytes = await compress(images, coding, { shape: [28, 28], fallback: false });
    expect((await decompress(bytes, vae.codingModel())).images).toEqual(images);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('interpolates between codings (ends decode the posterior means) and samples reproducibly', async () => {
    const x1 = tf.slice(xTest, 0, 1);
    const x2 = tf.reshape(tf.slice(xTest, 1, 1), [784]);
    const path3 = vae.interpolate(x1, x2, 3);
    expect(path3.shape).toEqual([3, 784]);
    const { mean } = meanStd(vae, tf.concat([x1, tf.expandDims(x2, 0)], 0));
    const ends = vae.decode(mean);
    const mid = vae.decode(tf.mean(mean, 0, true));
    const p = path3.dataSync();
    const e = ends.dataSync();
    const m = mid.dataSync();
    for (let i = 0; i < 784; i++) {
      expect(p[i]).toBeCloseTo(e[i] as number, 5);
      expect(p[2 * 784 + i]).toBeCloseTo(e[784 + i] as number, 5);
      expect(p[784 + i]).toBeCloseTo(m[i] as number, 5);
    }
    const s1 = vae.sample(4, { seed: 12 });
    const s2 = vae.sample(4, { seed: 12 });
    const s3 = vae.sample(4, { seed: 13, fromLikelihood: true });
    expect(sameBits(s1.dataSync(), s2.dataSync())).toBe(true);
    expect(new Set(s3.dataSync()).size).toBe(2); // binary draws
    expect(() => vae.interpolate(x1, x2, 1)).toThrow(/"steps" must be at least 2/);
    tf.dispose([x1, x2, path3, mean, ends, mid, s1, s2, s3]);
  });

  it('trains on the ELBO itself: the reported loss is an unbiased one-sample −ELBO estimate (metrics elbo, many samples)', async () => {
    // A vanishing learning rate leaves the weights as they are, so the epoch's loss is the −ELBO of this model.
    const kl = tf.tidy(() => tf.mean(vae.elbo(xTest, { seed: 4 }).kl).dataSync()[0] as number);
    const reference = vae.negativeElbo(xTest, { samples: 100, seed: 3 });
    const { history } = await vae.fit(xTest, { epochs: 1, batchSize: 100, learningRate: 1e-20, shuffle: false });
    expect(kl).toBeGreaterThan(4); // so a dropped or sign-flipped KL term (off by ≥ kl) could not pass
    expect(Math.abs((history[0]?.loss as number) - reference)).toBeLessThan(2);
  });
});

describe('coding model of 8-bit VAEs', () => {
  it('turns 0..255 pixels into bin centres first and leaves the decoder outputs pixel-major, as the coder reads them', async () => {
    const D = 5;
    const K = 3;
    const vae = new VAE({ inputShape: [D], hidden: [4], latentDim: 2, likelihood: 'discretized-logistic-mixture', mixtureComponents: K, seed: 1 });
    const coding = vae.codingModel();
    expect(coding.observation).toEqual({ kind: 'discretized-logistic-mixture', components: K, minLogScale: VAE_MIN_LOG_SCALE });
    expect(coding.encoder.ops[0]).toEqual({ op: 'scale-shift', scale: 2 / 255, shift: -1 });
    const engine = createDenseEngine();
    const bytes = Float32Array.from([0, 255, 128, 7, 200, 31, 64, 250, 1, 99]);
    const q = new NetworkEvaluator(coding.encoder, engine).run(bytes, 2);
    const ref = tf.tidy(() => {
      const p = vae.posteriorParams(tf.sub(tf.mul(tf.tensor(bytes, [2, D]), 2 / 255), 1));
      return tf.concat([p.mean, p.logStd], 1).dataSync();
    });
    closeTo(q, ref, 1e-5);
    const z = Float32Array.from([0.3, -1.2, 2, 0.1]);
    const out = new NetworkEvaluator(coding.decoder, engine).run(z, 2);
    const params = vae.likelihoodParams(tf.tensor(z, [2, 2]));
    if (params.kind !== 'discretized-logistic-mixture') throw new Error('expected mixture parameters');
    // Pixel-major: pixel i's [K logits, K locations, K raw log-scales] at i·3K.
    const pick = (offset: number, clamp: boolean) => Array.from({ length: 2 * D * K }, (_, j) => {
      const v = out[Math.floor(j / K) * 3 * K + offset + (j % K)]!;
      return clamp ? Math.max(v, VAE_MIN_LOG_SCALE) : v;
    });
    closeTo(pick(0, false), params.logits.dataSync(), 1e-5);
    closeTo(pick(K, false), params.locs.dataSync(), 1e-5);
    closeTo(pick(2 * K, true), params.logScales.dataSync(), 1e-5);
    tf.dispose([params.locs, params.logScales, params.logits]);
    const images = Uint8Array.from({ length: 30 * D }, (_, i) => (i * 37) % 256);
    const file = await compress(images, coding, { shape: [D], fallback: false });
    expect((await decompress(file, coding)).images).toEqual(images);
    const fourBit = new VAE({ inputShape: [D], latentDim: 2, likelihood: 'discretized-logistic', numBins: 16 });
    expect(() => fourBit.codingModel()).toThrow(/8-bit pixels/);
    const conv = new VAE({ inputShape: [8, 8, 1], latentDim: 2, architecture: 'conv', conv: { filters: [4] } });
    expect(() => conv.codingModel()).toThrow(/convolutional VAE has no portable coding path/);
    [vae, fourBit, conv].forEach((v) => v.dispose());
  });
});

describe('VAE fit options', () => {
  it('seeded training is reproducible bit for bit, and resuming equals one long run', async () => {
    const a = new VAE(TINY);
    const b = new VAE(TINY);
    const c = new VAE(TINY);
    const data = tf.slice(xTrain, 0, 200);
    const ha = (await a.fit(data, { epochs: 2, batchSize: 50, seed: 4 })).history;
    const hb = (await b.fit(data, { epochs: 2, batchSize: 50, seed: 4 })).history;
    await c.fit(data, { epochs: 1, batchSize: 50, seed: 4 });
    await c.fit(data, { epochs: 1, batchSize: 50, seed: 4 });
    expect(ha.map((h) => h.loss)).toEqual(hb.map((h) => h.loss));
    const [wa, wb, wc] = [weightsOf(a), weightsOf(b), weightsOf(c)];
    wa.forEach((w, i) => {
      expect(sameBits(w, wb[i] as Float32Array)).toBe(true);
      expect(sameBits(w, wc[i] as Float32Array)).toBe(true);
    });
    // A different seed gives different weights (so the comparison above can fail).
    const d = new VAE(TINY);
    await d.fit(data, { epochs: 2, batchSize: 50, seed: 5 });
    expect(sameBits(weightsOf(d)[0] as Float32Array, wa[0] as Float32Array)).toBe(false);
    [a, b, c, d].forEach((v) => v.dispose());
    data.dispose();
  });

  it('KL warm-up weights the KL by β rising from 0, so the posterior drifts further from the prior', async () => {
    const data = tf.slice(xTrain, 0, 300);
    const plain = new VAE(TINY);
    const warm = new VAE(TINY);
    await plain.fit(data, { epochs: 3, batchSize: 50, learningRate: 3e-3 });
    await warm.fit(data, { epochs: 3, batchSize: 50, learningRate: 3e-3, klWarmupEpochs: 300 });
    const klOf = (v: VAE): number => tf.tidy(() => tf.mean(v.elbo(data, { seed: 1 }).kl).dataSync()[0] as number);
    expect(klOf(warm)).toBeGreaterThan(klOf(plain) * 1.2);
    plain.dispose();
    warm.dispose();
    data.dispose();
  });

  it('validates, stops early, and reports the validation −ELBO', async () => {
    const vae = new VAE(TINY);
    const data = tf.slice(xTrain, 0, 100);
    const result = await vae.fit(data, { epochs: 5, batchSize: 50, validationData: xTest, earlyStopping: { patience: 1, minDelta: 1e9 } });
    expect(result.stopReason).toBe('early-stopping');
    expect(result.history).toHaveLength(2);
    const val = result.history[0]?.valLoss as number;
    expect(val).toBeGreaterThan(100);
    expect(result.bestEpoch).toBe(1);
    vae.dispose();
    data.dispose();
  });

  it('stops with a clear error on NaN and keeps the last good weights', async () => {
    const vae = new VAE(TINY);
    const data = tf.slice(xTrain, 0, 100);
    await vae.fit(data, { epochs: 1, batchSize: 50 });
    const good = weightsOf(vae).map((w) => w.slice());
    const bad = tf.tidy(() => tf.concat([tf.slice(data, 0, 99), tf.fill([1, 784], NaN)], 0));
    let error: unknown;
    try {
      await vae.fit(bad, { epochs: 2, batchSize: 50, shuffle: false });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TrainingDivergedError);
    expect((error as Error).message).toMatch(/training diverged: loss NaN at epoch 2, batch 1; weights restored to the end of epoch 1/);
    weightsOf(vae).forEach((w, i) => expect(sameBits(w, good[i] as Float32Array)).toBe(true));
    vae.dispose();
    tf.dispose([data, bad]);
  });

  it('rejects bad data and options with errors naming the field', async () => {
    const vae = new VAE(TINY);
    await expect(vae.fit(tf.zeros([4, 28, 28]), { epochs: 1 })).rejects.toThrow(/VAE.fit: x has shape \[4, 28, 28\], expected \[batch, 784\]/);
    await expect(vae.fit(xTest, { epochs: 1, batchSize: 0 })).rejects.toThrow(/fit: batchSize must be a positive integer, got 0/);
    await expect(vae.fit(xTest, { epochs: 1, learningRate: -1 })).rejects.toThrow(/fit: learningRate must be a positive number, got -1/);
    await expect(vae.fit(xTest, { epochs: 1, earlyStopping: { patience: 1 } })).rejects.toThrow(/earlyStopping: needs validationData to watch/);
    expect(() => vae.decode(tf.zeros([2, 3]))).toThrow(/z has shape \[2, 3\], expected \[batch, 4\]/);
    vae.dispose();
    expect(() => vae.sample(1)).toThrow(/disposed/);
  });
});

describe('VAE config and checkpoint errors', () => {
  it('names the bad config field and what was expected', async () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ ...TINY, latentDim: 0 }, /"latentDim" must be a positive integer, got 0/],
      [{ ...TINY, inputShape: [] }, /"inputShape" must be a non-empty array of positive integers/],
      [{ ...TINY, likelihood: 'poisson' }, /"likelihood" must be one of 'bernoulli', 'discretized-logistic', 'discretized-logistic-mixture', 'gaussian', got "poisson"/],
      [{ ...TINY, hidden: [10, -1] }, /"hidden" must be an array of positive integers/],
      [{ ...TINY, mixtureComponents: 3 }, /"mixtureComponents" must be used only with likelihood 'discretized-logistic-mixture'/],
      [{ inputShape: [28, 28, 1], latentDim: 2, architecture: 'conv' }, /"conv" must be an object \{ filters, kernelSize\?, dense\? \}/],
      [{ inputShape: [784], latentDim: 2, architecture: 'conv', conv: { filters: [8] } }, /"inputShape" must be \[height, width, channels\]/],
      [{ inputShape: [28, 28, 1], latentDim: 2, architecture: 'conv', conv: { filters: [8, 8, 8] } }, /divisible by 2\^3 = 8/],
      [{ ...TINY, architecture: 'rnn' }, /"architecture" must be 'mlp' or 'conv'/],
    ];
    for (const [config, message] of bad) expect(() => new VAE(config as VaeConfig)).toThrow(message);
  });

  it('refuses a checkpoint of another kind, a missing one, and one whose weights disagree with its config', async () => {
    const other = path.join(dir, 'other-kind');
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3] })] });
    await writeCheckpoint(fileStore(other), { kind: 'stacked-autoencoder', config: {} }, { encoder: model, decoder: model });
    await expect(VAE.load(fileStore(other))).rejects.toThrow(/holds a "stacked-autoencoder", expected a "vae"/);
    await expect(VAE.load(fileStore(path.join(dir, 'nowhere')))).rejects.toThrow(/is not a gm checkpoint/);
    const mismatched = path.join(dir, 'mismatched');
    await writeCheckpoint(fileStore(mismatched), { kind: 'vae', config: TINY }, { encoder: model, decoder: model });
    await expect(VAE.load(fileStore(mismatched))).rejects.toThrow(/the encoder input has shape \[null, 3\] but the config implies \[null, 784\]/);
    const badConfig = path.join(dir, 'bad-config');
    await writeCheckpoint(fileStore(badConfig), { kind: 'vae', config: { ...TINY, latentDim: -2 } }, { encoder: model, decoder: model });
    await expect(VAE.load(fileStore(badConfig))).rejects.toThrow(/config is invalid: VAE config: "latentDim" must be a positive integer/);
    model.dispose();
  });
});

/** Every value of `got` within `tol` (relative, floor 1) of `want`: the coder's float32 arithmetic next to tfjs's. */
function closeTo(got: ArrayLike<number>, want: ArrayLike<number>, tol: number): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(tol * Math.max(1, Math.abs(want[i]!)));
}
