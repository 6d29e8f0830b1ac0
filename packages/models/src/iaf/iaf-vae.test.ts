import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { binarizeStatic } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import { elbo, importanceSampledLogLikelihood } from '@gm/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VAE } from '../vae/vae';
import { IafVae, type IafVaeConfig } from './iaf-vae';
import { fileStore } from '../io/file-store';

let dir: string;
let xTrain: tf.Tensor;
let xTest: tf.Tensor;

beforeAll(async () => {
  await tf.setBackend('wasm');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gm-iaf-'));
  const { train, test } = loadBundledMnist();
  xTrain = tf.tensor(binarizeStatic(train.images.subarray(0, 300 * 784)), [300, 784], 'float32');
  xTest = tf.tensor(binarizeStatic(test.images.subarray(0, 20 * 784)), [20, 784], 'float32');
});

afterAll(async () => {
  tf.dispose([xTrain, xTest]);
  await fs.rm(dir, { recursive: true, force: true });
});

const TINY: IafVaeConfig = { inputShape: [784], hidden: [32], latentDim: 6, flowSteps: 2, flowHidden: [24], contextSize: 8, seed: 7 };

/** Randomises every flow weight (kernels and biases), so steps are far from the identity. */
function scrambleFlow(model: IafVae, seed: number, std = 0.3): void {
  model.flow.trainableWeights.forEach((w, i) => {
    const v = w.read();
    w.write(tf.tidy(() => tf.randomNormal(v.shape, 0, std, 'float32', seed + i)));
  });
}

/** log|det| of a square matrix (row-major, n × n) by LU with partial pivoting, float64. */
function logAbsDet(a: Float64Array, n: number): number {
  const m = Float64Array.from(a);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i * n + k]!) > Math.abs(m[p * n + k]!)) p = i;
    if (p !== k) for (let j = 0; j < n; j++) [m[k * n + j], m[p * n + j]] = [m[p * n + j]!, m[k * n + j]!];
    const piv = m[k * n + k]!;
    sum += Math.log(Math.abs(piv));
    for (let i = k + 1; i < n; i++) {
      const f = m[i * n + k]! / piv;
      for (let j = k; j < n; j++) m[i * n + j]! -= f * m[k * n + j]!;
    }
  }
  return sum;
}

/** Steps `steps` of the posterior flow in sampling order (each step's fast direction is its `inverse`). */
function runSteps(model: IafVae, z: tf.Tensor, context: tf.Tensor, steps: number[]): { z: tf.Tensor; logDet: tf.Tensor } {
  return tf.tidy(() => {
    let cur = z;
    let logDet: tf.Tensor = tf.zeros([z.shape[0] as number]);
    for (const t of steps) {
      const r = (model.flowSteps[t] as IafVae['flowSteps'][number]).inverse(cur, { context });
      cur = r.x;
      logDet = tf.add(logDet, r.logDet);
    }
    if (steps.length === model.flowSteps.length) {
      // The whole chain through the model's own posterior flow agrees with stepping by hand.
      const whole = (model.posteriorFlow as NonNullable<IafVae['posteriorFlow']>).inverse(z, { context });
      expect(Array.from(whole.x.dataSync())).toEqual(Array.from(cur.dataSync()));
    }
    return { z: cur, logDet };
  });
}

describe('IAF-VAE', () => {
  it('each IAF step (and the whole flow) has log-det equal to the autodiff log|det J|, and J is triangular in the step order', async () => {
    const model = new IafVae({ ...TINY, flowSteps: 3 });
    scrambleFlow(model, 3);
    const L = model.latentDim;
    const ctx = tf.randomNormal([1, 8], 0, 1, 'float32', 4);
    const z = tf.randomNormal([1, L], 0, 1, 'float32', 5);
    for (const steps of [[0], [1], [2], [0, 1, 2]]) {
      const J = new Float64Array(L * L);
      for (let i = 0; i < L; i++) {
        const g = tf.grad((zz: tf.Tensor) => {
          const { z: out, logDet } = runSteps(model, zz, ctx, steps);
          logDet.dispose();
          return tf.sum(tf.slice(out, [0, i], [1, 1]));
        })(z);
        g.dataSync().forEach((v, j) => (J[i * L + j] = v));
        g.dispose();
      }
      const { z: out, logDet } = runSteps(model, z, ctx, steps);
      const got = logDet.dataSync()[0]!;
      expect(Math.abs(got - logAbsDet(J, L))).toBeLessThan(1e-3 * Math.max(1, Math.abs(got)));
      // The log-det is not trivially 0: the scrambled gates are far from 1.
      expect(Math.abs(got)).toBeGreaterThan(0.5);
      if (steps.length === 1) {
        // Step t's ordering: natural for even t (J lower-triangular: ∂z'_i/∂z_j = 0 for j > i), reversed for odd t.
        const even = (steps[0] as number) % 2 === 0;
        for (let i = 0; i < L; i++) for (let j = 0; j < L; j++) if (even ? j > i : j < i) expect(J[i * L + j]).toBe(0);
      }
      tf.dispose([out, logDet]);
    }
    tf.dispose([ctx, z]);
    model.dispose();
  });

  it('with T = 0 computes exactly the VAE ELBO (same weights, same noise)', async () => {
    const config = { ...TINY, flowSteps: 0 };
    const iaf = new IafVae(config);
    const { flowSteps: _s, flowHidden: _h, contextSize: _c, ...vaeConfig } = config;
    const vae = new VAE(vaeConfig);
    // Same weights: copy every VAE weight into the IAF-VAE's VAE (they are also equal by seed; copy to be explicit).
    const src = vae.trainableVariables();
    iaf.vae.trainableVariables().forEach((v, i) => v.assign(src[i] as tf.Variable));
    const a = elbo(vae, xTest, { samples: 3, seed: 11, kl: 'mc' });
    const b = iaf.elbo(xTest, { samples: 3, seed: 11 });
    expect(Array.from(b.elbo.dataSync())).toEqual(Array.from(a.elbo.dataSync()));
    // And it estimates the VAE's analytic-KL ELBO (many samples).
    const ana = tf.mean(elbo(vae, xTest, { kl: 'analytic', samples: 1, seed: 1 }).kl).dataSync()[0]!;
    const mc = tf.mean(iaf.elbo(xTest, { samples: 50, seed: 2 }).kl).dataSync()[0]!;
    expect(Math.abs(mc - ana)).toBeLessThan(0.05 * Math.abs(ana) + 0.1);
    tf.dispose([a.elbo, a.kl, a.reconstruction, b.elbo, b.kl, b.reconstruction]);
    iaf.dispose();
    vae.dispose();
  });

  it('trains (the −ELBO falls), IS log-likelihood ≥ ELBO, seeded runs reproduce, no tensor leaks', async () => {
    const run = async (): Promise<{ model: IafVae; losses: number[] }> => {
      const model = new IafVae(TINY);
      const losses: number[] = [];
      await model.fit(xTrain, { epochs: 2, batchSize: 50, learningRate: 3e-3, onEpochEnd: (l) => void losses.push(l.loss) });
      return { model, losses };
    };
    const a = await run();
    const b = await run();
    expect(b.losses).toEqual(a.losses);
    const wa = a.model.trainableVariables().map((v) => Array.from(v.dataSync()));
    b.model.trainableVariables().forEach((v, i) => expect(Array.from(v.dataSync())).toEqual(wa[i]));
    expect(a.losses[1]).toBeLessThan(a.losses[0] as number);

    const model = a.model;
    const start = tf.memory().numTensors;
    await model.fit(xTrain, { epochs: 1, batchSize: 100, learningRate: 3e-3 });
    const negElbo = model.negativeElbo(xTest, { samples: 20, seed: 5 });
    const ll = importanceSampledLogLikelihood(model, xTest, 200, { seed: 6 });
    const meanT = tf.mean(ll);
    const isMean = meanT.dataSync()[0]!;
    tf.dispose([ll, meanT]);
    expect(tf.memory().numTensors).toBe(start);
    expect(isMean).toBeGreaterThan(-negElbo);
    // Per example too (a tight bound on few samples could tie; the gap is several nats on average here).
    const perElbo = model.elbo(xTest, { samples: 50, seed: 7 });
    const perIs = model.logLikelihood(xTest, 200, { seed: 8 });
    const e = perElbo.elbo.dataSync();
    perIs.dataSync().forEach((v, i) => expect(v).toBeGreaterThan((e[i] as number) - 0.5));
    tf.dispose([perElbo.elbo, perElbo.kl, perElbo.reconstruction, perIs]);
    a.model.dispose();
    b.model.dispose();
  });

  it('save/load restores identical ELBOs (flow, encoder, decoder, config)', async () => {
    const model = new IafVae({ ...TINY, flowSteps: 2, gateBias: 1.5 });
    scrambleFlow(model, 9);
    model.epochsTrained = 4;
    const file = path.join(dir, 'iaf');
    await model.save(fileStore(file));
    const back = await IafVae.load(fileStore(file));
    expect(back.config).toEqual(model.config);
    expect(back.epochsTrained).toBe(4);
    const [a, b] = [model.elbo(xTest, { samples: 2, seed: 3 }), back.elbo(xTest, { samples: 2, seed: 3 })];
    expect(Array.from(b.elbo.dataSync())).toEqual(Array.from(a.elbo.dataSync()));
    tf.dispose([a.elbo, a.kl, a.reconstruction, b.elbo, b.kl, b.reconstruction]);
    model.dispose();
    back.dispose();
  });

  it('conv encoder: flow posterior, IS ≥ ELBO, and save/load', async () => {
    // 8×8 digits (28×28 average-pooled to 7×7, padded to 8×8, thresholded) keep the cpu-free test quick.
    const x = tf.tidy(() => {
      const small = tf.avgPool(tf.reshape(tf.slice(xTrain, [0, 0], [8, 784]), [8, 28, 28, 1]) as tf.Tensor4D, 4, 4, 'valid');
      return tf.cast(tf.greater(tf.pad(small, [[0, 0], [0, 1], [0, 1], [0, 0]]), 0.3), 'float32');
    });
    const model = new IafVae({ inputShape: [8, 8, 1], architecture: 'conv', conv: { filters: [4, 8], dense: 16 }, latentDim: 4, flowSteps: 2, contextSize: 6, seed: 3 });
    scrambleFlow(model, 2);
    const negElbo = model.negativeElbo(x, { samples: 10, seed: 1 });
    const ll = model.logLikelihood(x, 100, { seed: 2 });
    expect(tf.mean(ll).dataSync()[0]).toBeGreaterThan(-negElbo);
    const file = path.join(dir, 'iaf-conv');
    await model.save(fileStore(file));
    const back = await IafVae.load(fileStore(file));
    expect(back.negativeElbo(x, { samples: 3, seed: 4 })).toBe(model.negativeElbo(x, { samples: 3, seed: 4 }));
    tf.dispose([x, ll]);
    model.dispose();
    back.dispose();
  });

  it('rejects bad configs with errors naming the field', async () => {
    expect(() => new IafVae({ ...TINY, flowSteps: -1 })).toThrow(/"flowSteps" must be a non-negative integer/);
    expect(() => new IafVae({ ...TINY, flowHidden: [] })).toThrow(/"flowHidden"/);
    expect(() => new IafVae({ ...TINY, contextSize: 0 })).toThrow(/"contextSize"/);
    expect(() => new IafVae({ ...TINY, latentDim: 0 })).toThrow(/"latentDim"/);
    expect(() => new IafVae({ ...TINY, beta: 4 })).toThrow(/"beta" must be 1 \(the IAF-VAE trains on the ELBO/);
    expect(() => new IafVae({ ...TINY, objective: 'iwae' })).toThrow(/"objective" must be 'elbo' \(the IAF-VAE trains on the ELBO/);
  });

  it("takes the VAE's Gaussian likelihood: p(x|z) is the VAE's, inputs in [0, 1], bits/dim in pixel units", async () => {
    const model = new IafVae({ ...TINY, likelihood: 'gaussian', observationStd: 0.2 });
    expect(model.inputConvention).toBe('unit');
    const x = tf.tidy(() => tf.div(tf.slice(xTest, 0, 20), 2)); // any intensities in [0, 1]
    const z = tf.randomNormal([20, 6], 0, 1, 'float32', 1);
    const [a, b] = tf.tidy(() => [model.likelihood(z).logProb(x).dataSync(), model.vae.likelihood(z).logProb(x).dataSync()]);
    expect(Array.from(a as Float32Array)).toEqual(Array.from(b as Float32Array));
    const m = Object.fromEntries(model.evaluate(x, { k: 1, seed: 1 }).map((v) => [v.name, v.value]));
    expect(m.negElboBitsPerDim).toBeCloseTo(((m.negElbo as number) + 784 * Math.log(255)) / (784 * Math.LN2), 6);
    tf.dispose([x, z]);
    model.dispose();
  });
});
