import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { twoMoons } from '@gm/data';
import { memoryStore } from '../io/stores';
import { loadModel } from '../registry';
import { autodiffJacobian, logAbsDet, maxAbsDiff, mmd2, randomizeWeights } from '../realnvp/test-helpers';
import { MAF } from './maf';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const moons = (n: number, seed: number) => tf.tensor2d(twoMoons(n, { seed, noise: 0.08 }).points, [n, 2]);
const madeLayers = (m: MAF) => m.model.layers.filter((l) => l.getClassName() !== 'InputLayer');

describe('MAF (masked autoregressive flow; autoregressive neural spline flow)', () => {
  it('its log-det is log|det J| of the autodiff Jacobian and it inverts (affine and spline, 4-D)', () => {
    for (const transform of ['affine', 'spline'] as const) {
      const flow = new MAF({ dim: 4, steps: 3, hidden: [10], transform, bins: 5, bound: 3, seed: 2 });
      randomizeWeights(madeLayers(flow), 3, 0.3);
      for (let trial = 0; trial < 2; trial++) {
        const x = tf.randomNormal([1, 4], 0, 1.5, 'float32', 40 + trial);
        const J = autodiffJacobian((v) => flow.forward(v).y, x);
        const { y, logDet } = flow.forward(x);
        expect(Math.abs(logDet.dataSync()[0]!)).toBeGreaterThan(0.05);
        expect(Math.abs(logDet.dataSync()[0]! - logAbsDet(J))).toBeLessThan(1e-3);
        const back = flow.inverse(y);
        expect(maxAbsDiff(back.x.dataSync(), x.dataSync())).toBeLessThan(1e-4);
        tf.dispose([x, y, logDet, back.x, back.logDet]);
      }
      flow.dispose();
    }
  });

  it('a briefly trained two-moons density integrates to 1, its samples beat base noise in MMD, it saves and loads exactly, seeded runs repeat, no leaks', async () => {
    const train = moons(512, 1);
    const heldOut = moons(400, 2);
    const make = () => new MAF({ dim: 2, steps: 4, hidden: [24, 24], transform: 'spline', bins: 6, seed: 4 });
    const flow = make();
    const before = flow.nll(heldOut);
    await flow.fit(train, { epochs: 10, batchSize: 128, learningRate: 5e-3, clipNorm: 100, seed: 5 });
    const after = flow.nll(heldOut);
    expect(after).toBeLessThan(before - 0.5);
    const lo = -4;
    const h = 9 / 120;
    const coords: number[] = [];
    for (let i = 0; i < 120; i++) for (let j = 0; j < 120; j++) coords.push(lo + (i + 0.5) * h, lo + (j + 0.5) * h);
    const grid = tf.tensor2d(coords, [120 * 120, 2]);
    const mass = tf.tidy(() => tf.sum(tf.exp(flow.logProb(grid))).dataSync()[0] as number) * h * h;
    expect(Math.abs(mass - 1)).toBeLessThan(0.02);
    const samples = flow.sample(400, { seed: 9 });
    const noise = tf.randomNormal([400, 2], 0, 1, 'float32', 10);
    expect(mmd2(samples, heldOut, 0.3)).toBeLessThan(mmd2(noise, heldOut, 0.3) / 2);

    const count = tf.memory().numTensors;
    await flow.fit(train, { epochs: 1, batchSize: 256, seed: 6, validationData: heldOut });
    tf.dispose([flow.sample(3), flow.logProb(heldOut)]);
    flow.nll(heldOut);
    expect(tf.memory().numTensors).toBe(count);

    const twin = make();
    await twin.fit(train, { epochs: 10, batchSize: 128, learningRate: 5e-3, clipNorm: 100, seed: 5 });
    await twin.fit(train, { epochs: 1, batchSize: 256, seed: 6, validationData: heldOut });
    expect(maxAbsDiff(twin.logProb(heldOut).dataSync(), flow.logProb(heldOut).dataSync())).toBe(0);

    const store = memoryStore();
    await flow.save(store);
    const loaded = await loadModel(store);
    expect(loaded).toBeInstanceOf(MAF);
    expect(maxAbsDiff((loaded as MAF).logProb(heldOut).dataSync(), flow.logProb(heldOut).dataSync())).toBe(0);
    expect(maxAbsDiff((loaded as MAF).sample(5, { seed: 3 }).dataSync(), flow.sample(5, { seed: 3 }).dataSync())).toBe(0);
    expect(loaded.describe()).toMatch(/autoregressive neural spline flow, 2-D, 4 autoregressive rational-quadratic spline steps \(6 bins on \[−4, 4\]\) \(MADE 24-24, reversed orders\)/);
    tf.dispose([train, heldOut, grid, samples, noise]);
    [loaded, flow, twin].forEach((m) => m.dispose());
  }, 60_000);

  it('refuses bad configs and inputs, naming the field', () => {
    expect(() => new MAF({ dim: 1 })).toThrow(/MAF config: "dim" must be at least 2/);
    expect(() => new MAF({ dim: 2, hidden: [] })).toThrow(/"hidden"/);
    expect(() => new MAF({ dim: 2, transform: 'cubic' as never })).toThrow(/"transform"/);
    expect(() => new MAF({ dim: 2, ordering: 'natural' as never })).toThrow(/"ordering"/);
    const flow = new MAF({ dim: 2, steps: 1, hidden: [4], seed: 1 });
    expect(() => flow.logProb(tf.zeros([3, 5]))).toThrow(/MAF.logProb.*expected \[batch, 2\]/);
    flow.dispose();
  });

  it('on flattened 8-bit pixels: bits/dim are the closed form for a fresh flow (uniform dequantization + logit), fall in training, and samples are pixels', async () => {
    // A fresh spline MAF is the identity, so log p(x) = log N(logit(x); 0, I) + the logit's log-det (closed form).
    const flow = new MAF({ dim: 6, steps: 2, hidden: [8], transform: 'spline', levels: 256, seed: 3 });
    expect(flow.inputConvention).toBe('pixels');
    const x = tf.tensor2d([[0, 10, 128, 200, 255, 37], [5, 5, 5, 250, 251, 252]]);
    const u = tf.add(x, 0.5);
    const lp = flow.logProb(u).dataSync();
    const ref = [0, 1].map((b) => {
      let acc = 0;
      for (let d = 0; d < 6; d++) {
        const p = 0.05 + 0.9 * ((u.dataSync()[b * 6 + d] as number) / 256);
        const y = Math.log(p) - Math.log1p(-p);
        acc += -0.5 * y * y - 0.5 * Math.log(2 * Math.PI) + Math.log(0.9 / 256) - Math.log(p) - Math.log1p(-p);
      }
      return acc;
    });
    expect(maxAbsDiff(lp, ref)).toBeLessThan(1e-3);
    flow.dispose();

    const digits = tf.tidy(() => tf.floor(tf.mul(tf.sigmoid(tf.randomNormal([64, 6], 0, 3, 'float32', 5)), 255.99)));
    const maf = new MAF({ dim: 6, steps: 2, hidden: [16], levels: 256, seed: 4 });
    const before = maf.bitsPerDim(digits);
    await maf.fit(digits, { epochs: 15, batchSize: 32, learningRate: 1e-2, clipNorm: 100, seed: 6 });
    expect(maf.bitsPerDim(digits)).toBeLessThan(before - 0.2);
    const metrics = maf.evaluate(digits);
    expect(metrics.map((m) => m.name)).toEqual(['nll', 'nllBitsPerDim']);
    const s = maf.sample(5, { temperature: 0.7 }).dataSync();
    expect(Array.from(s).every((v) => Number.isInteger(v) && v >= 0 && v <= 255)).toBe(true);
    await expect(maf.fit(tf.fill([4, 6], 300), { epochs: 1 })).rejects.toThrow(/integers in \[0, 255\].*300/);
    expect(() => new MAF({ dim: 4, steps: 1, hidden: [4] }).bitsPerDim(tf.zeros([1, 4]))).toThrow(/a flow on pixels/);
    tf.dispose([x, u, digits]);
    maf.dispose();
  });
});
