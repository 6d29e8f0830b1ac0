import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { twoMoons } from '@gm/data';
import { TrainingDivergedError } from '../train/trainer';
import { RealNVP, type RealNvpConfig } from './realnvp';
import { autodiffJacobian, logAbsDet, maxAbsDiff, mmd2, randomizeWeights, tempDir } from './test-helpers';
import { fileStore } from '../io/file-store';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function moons(n: number, seed: number): tf.Tensor2D {
  return tf.tensor2d(twoMoons(n, { seed, noise: 0.08 }).points, [n, 2]);
}

describe('RealNVP (vectors)', () => {
  it('a fresh flow is the identity with log-det 0; a generic one inverts', async () => {
    const flow = new RealNVP({ dim: 5, couplings: 4, hidden: [16], seed: 3 });
    const x = tf.randomNormal([7, 5], 0, 2, 'float32', 1);
    const { y, logDet } = flow.forward(x);
    expect(maxAbsDiff(y.dataSync(), x.dataSync())).toBe(0);
    expect(maxAbsDiff(logDet.dataSync(), new Float32Array(7))).toBe(0);
    randomizeWeights(flow.flows, 5);
    const f = flow.forward(x);
    expect(maxAbsDiff(f.y.dataSync(), x.dataSync())).toBeGreaterThan(0.1);
    const back = flow.inverse(f.y);
    expect(maxAbsDiff(back.x.dataSync(), x.dataSync())).toBeLessThan(1e-4);
    expect(maxAbsDiff(back.logDet.dataSync(), tf.neg(f.logDet).dataSync())).toBeLessThan(1e-4);
    tf.dispose([x, y, logDet, f.y, f.logDet, back.x, back.logDet]);
    flow.dispose();
  });

  it('total log-det equals log|det J| of the autodiff Jacobian (2-D, with batch norm; 6-D, half masks)', async () => {
    const cases: [RealNvpConfig, number][] = [
      [{ dim: 2, couplings: 5, hidden: [8, 8], batchNorm: true, seed: 1 }, 11],
      [{ dim: 6, couplings: 3, hidden: [8], mask: 'half', activation: 'tanh', seed: 2 }, 12],
    ];
    for (const [config, seed] of cases) {
      const flow = new RealNVP(config);
      randomizeWeights(flow.flows, seed, 0.5);
      for (let trial = 0; trial < 3; trial++) {
        const x = tf.randomNormal([1, config.dim], 0, 1.5, 'float32', 100 + trial);
        const J = autodiffJacobian((v) => flow.forward(v).y, x);
        const { y, logDet } = flow.forward(x);
        const ld = logDet.dataSync()[0] as number;
        expect(Math.abs(ld)).toBeGreaterThan(0.05); // a generic flow, not the identity
        expect(ld).toBeCloseTo(logAbsDet(J), 4);
        tf.dispose([x, y, logDet]);
      }
      flow.dispose();
    }
  });

  it('a briefly trained two-moons density integrates to 1 and its samples beat base noise in MMD', async () => {
    const train = moons(512, 1);
    const heldOut = moons(400, 2);
    const flow = new RealNVP({ dim: 2, couplings: 4, hidden: [24, 24], seed: 4 });
    const before = flow.nll(heldOut);
    await flow.fit(train, { epochs: 16, batchSize: 128, learningRate: 5e-3, seed: 5 });
    const after = flow.nll(heldOut);
    expect(after).toBeLessThan(before - 0.5);
    // Riemann sum of p over a grid that holds the data and the flow's tails.
    const lo = -4;
    const hi = 5;
    const n = 120;
    const h = (hi - lo) / n;
    const coords: number[] = [];
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) coords.push(lo + (i + 0.5) * h, lo + (j + 0.5) * h);
    const grid = tf.tensor2d(coords, [n * n, 2]);
    const mass = tf.tidy(() => tf.sum(tf.exp(flow.logProb(grid))).dataSync()[0] as number) * h * h;
    expect(Math.abs(mass - 1)).toBeLessThan(0.02);
    // Samples are closer (MMD, fixed Gaussian kernel) to held-out data than base noise is.
    const samples = flow.sample(400, { seed: 9 });
    const noise = tf.randomNormal([400, 2], 0, 1, 'float32', 10);
    const mSamples = mmd2(samples, heldOut, 0.3);
    const mNoise = mmd2(noise, heldOut, 0.3);
    expect(mSamples).toBeLessThan(mNoise / 2);
    tf.dispose([train, heldOut, grid, samples, noise]);
    flow.dispose();
  });

  it('seeded training is reproducible, leaks no tensors, and save/load keeps logProb identical', async () => {
    const data = moons(256, 3);
    const run = async () => {
      const flow = new RealNVP({ dim: 2, couplings: 4, hidden: [16], batchNorm: true, seed: 6 });
      await flow.fit(data, { epochs: 2, batchSize: 64, clipNorm: 5, seed: 8 });
      return flow;
    };
    const a = await run();
    const before = tf.memory().numTensors;
    await a.fit(data, { epochs: 1, batchSize: 64, validationData: data, seed: 9 });
    const f = a.forward(data);
    tf.dispose([a.logProb(data), a.sample(10), f.y, f.logDet]);
    expect(tf.memory().numTensors).toBe(before);
    expect(a.epochsTrained).toBe(3);

    const b = await run();
    await b.fit(data, { epochs: 1, batchSize: 64, validationData: data, seed: 9 });
    const wa = a.model.getWeights();
    const wb = b.model.getWeights();
    wa.forEach((w, i) => expect(maxAbsDiff(w.dataSync(), (wb[i] as tf.Tensor).dataSync())).toBe(0));

    const dir = await tempDir('realnvp-');
    await a.save(fileStore(dir));
    const c = await RealNVP.load(fileStore(dir));
    expect(c.epochsTrained).toBe(3);
    expect(c.config).toEqual(a.config);
    const la = a.logProb(data);
    const lc = c.logProb(data);
    expect(maxAbsDiff(la.dataSync(), lc.dataSync())).toBe(0);
    const sa = a.sample(5, { seed: 2, temperature: 0.7 });
    const sc = c.sample(5, { seed: 2, temperature: 0.7 });
    expect(maxAbsDiff(sa.dataSync(), sc.dataSync())).toBe(0);
    tf.dispose([la, lc, sa, sc, data]);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('temperature scales the base draws; NaN losses stop with a clear error; clipping bounds the step', async () => {
    const flow = new RealNVP({ dim: 2, couplings: 2, hidden: [8], seed: 1 });
    // A fresh flow is the identity, so samples are the base draws: temperature 0.5 halves them.
    const s1 = flow.sample(50, { seed: 3 });
    const s2 = flow.sample(50, { seed: 3, temperature: 0.5 });
    expect(maxAbsDiff(tf.mul(s1, 0.5).dataSync(), s2.dataSync())).toBeLessThan(1e-6);
    expect(() => flow.sample(5, { temperature: 0 })).toThrow(/temperature/);

    const bad = tf.tensor2d([0, 1, NaN, 2, 3, 4], [3, 2]);
    await expect(flow.fit(bad, { epochs: 1, batchSize: 3 })).rejects.toThrow(TrainingDivergedError);
    await expect(flow.fit(bad, { epochs: 1, batchSize: 3 })).rejects.toThrow(/diverged.*epoch 1, batch 0/);
    expect(() => flow.forward(tf.zeros([2, 3]))).toThrow(/\[batch, 2\]/);
    expect(() => new RealNVP({ dim: 1 })).toThrow(/"dim" must be at least 2/);

    tf.dispose([s1, s2, bad]);
    flow.dispose();
  });
});
