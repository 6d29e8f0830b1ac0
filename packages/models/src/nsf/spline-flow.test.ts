import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { twoMoons } from '@gm/data';
import { memoryStore } from '../io/stores';
import { loadModel } from '../registry';
import { autodiffJacobian, logAbsDet, maxAbsDiff, mmd2, randomizeWeights } from '../realnvp/test-helpers';
import { SplineFlow } from './spline-flow';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const moons = (n: number, seed: number) => tf.tensor2d(twoMoons(n, { seed, noise: 0.08 }).points, [n, 2]);

describe('SplineFlow (neural spline flows on vectors)', () => {
  it('its log-det is log|det J| of the autodiff Jacobian (4-D, with ActNorm and 1×1 mixing) and it inverts', () => {
    const flow = new SplineFlow({ dim: 4, couplings: 3, hidden: [8], bins: 5, bound: 3, seed: 2 });
    randomizeWeights(flow.model.layers.filter((l) => l.getClassName() !== 'InputLayer'), 3, 0.4);
    for (let trial = 0; trial < 3; trial++) {
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
  });

  it('a briefly trained two-moons density integrates to 1, its samples beat base noise in MMD, and it saves and loads exactly', async () => {
    const train = moons(512, 1);
    const heldOut = moons(400, 2);
    const flow = new SplineFlow({ dim: 2, couplings: 3, hidden: [24], bins: 6, seed: 4 });
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
    const store = memoryStore();
    await flow.save(store);
    const loaded = await loadModel(store);
    expect(loaded).toBeInstanceOf(SplineFlow);
    expect(maxAbsDiff((loaded as SplineFlow).logProb(heldOut).dataSync(), flow.logProb(heldOut).dataSync())).toBe(0);
    expect(loaded.describe()).toMatch(/neural spline flow, 2-D, 3 rational-quadratic couplings \(6 bins on \[−4, 4\], MLP 24\) with ActNorm and 1×1 mixing/);
    tf.dispose([train, heldOut, grid, samples, noise]);
    loaded.dispose();
    flow.dispose();
  });

  it("on pixels it mixes with seeded permutations by default: autodiff log-det, inversion, exact save/load", async () => {
    const flow = new SplineFlow({ dim: 6, couplings: 2, hidden: [8], bins: 4, levels: 256, seed: 3 });
    expect(flow.config.mixing).toBe('permutation');
    expect(new SplineFlow({ dim: 6, couplings: 1, hidden: [4], mixing: true }).config.mixing).toBe('lu');
    expect(flow.describe()).toMatch(/with random permutations/);
    randomizeWeights(flow.model.layers.filter((l) => l.getClassName() !== 'InputLayer'), 3, 0.4);
    const x = tf.randomUniform([1, 6], 1, 250, 'float32', 41); // pixel values: the chain starts with the logit
    const J = autodiffJacobian((v) => flow.forward(v).y, x);
    const { y, logDet } = flow.forward(x);
    expect(Math.abs(logDet.dataSync()[0]! - logAbsDet(J))).toBeLessThan(1e-3);
    const back = flow.inverse(y);
    expect(maxAbsDiff(back.x.dataSync(), x.dataSync())).toBeLessThan(1e-2); // pixel units (1e-4 relative)
    const pixels = tf.tensor2d([[0, 12, 255, 128, 3, 77]]);
    const store = memoryStore();
    await flow.save(store);
    const loaded = (await loadModel(store)) as SplineFlow;
    expect(maxAbsDiff(loaded.logProb(pixels).dataSync(), flow.logProb(pixels).dataSync())).toBe(0);
    tf.dispose([x, y, logDet, back.x, back.logDet, pixels]);
    loaded.dispose();
    flow.dispose();
  });

  it('refuses bad configs and inputs, naming the field', () => {
    expect(() => new SplineFlow({ dim: 1 })).toThrow(/SplineFlow config: "dim" must be at least 2/);
    expect(() => new SplineFlow({ dim: 2, bins: 1 })).toThrow(/"bins" must be at least 2/);
    expect(() => new SplineFlow({ dim: 2, mixing: 'yes' as never })).toThrow(/"mixing" must be one of 'lu', 'permutation', 'none'/);
    const flow = new SplineFlow({ dim: 2, couplings: 1, hidden: [4], seed: 1 });
    expect(() => flow.logProb(tf.zeros([3, 5]))).toThrow(/SplineFlow.logProb.*expected \[batch, 2\]/);
    flow.dispose();
  });
});
