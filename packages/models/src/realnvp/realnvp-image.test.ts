import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { RealNVPImage } from './realnvp-image';
import { Logit } from '@gm/layers';
import { autodiffJacobian, logAbsDet, maxAbsDiff, randomizeWeights, tempDir } from './test-helpers';
import { fileStore } from '../io/file-store';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const allLayers = (m: RealNVPImage) => m.parts.flatMap((p) => p.layers.filter((l) => l.getClassName() !== 'InputLayer'));

describe('RealNVPImage (multi-scale)', () => {
  it('the preprocessing is the closed-form logit (and its log-det, in 8-bit pixel space) and inverts', async () => {
    const x = tf.randomUniform([3, 4, 4, 2], 0, 256, 'float32', 1);
    const logit = new Logit({ alpha: 0.05, levels: 256 });
    const mine = logit.forward(x);
    // Closed form in double precision: y = logit(p), p = α + (1 − 2α)·x/256; log-det Σ log((1 − 2α)/256) − log p − log(1 − p).
    const xs = x.dataSync();
    const refY = Array.from(xs, (v) => {
      const p = 0.05 + 0.9 * (v / 256);
      return Math.log(p) - Math.log1p(-p);
    });
    expect(maxAbsDiff(mine.y.dataSync(), refY)).toBeLessThan(1e-5);
    const D = 32;
    const refLogDet = [0, 1, 2].map((b) => {
      let acc = 0;
      for (let i = b * D; i < (b + 1) * D; i++) {
        const p = 0.05 + 0.9 * ((xs[i] as number) / 256);
        acc += Math.log(0.9 / 256) - Math.log(p) - Math.log1p(-p);
      }
      return acc;
    });
    expect(maxAbsDiff(mine.logDet.dataSync(), refLogDet)).toBeLessThan(1e-3);
    const back = logit.inverse(mine.y);
    expect(maxAbsDiff(back.x.dataSync(), x.dataSync())).toBeLessThan(1e-3);
    expect(maxAbsDiff(back.logDet.dataSync(), tf.neg(mine.logDet).dataSync())).toBeLessThan(1e-3);
    tf.dispose([x, mine.y, mine.logDet, back.x, back.logDet]);
  });

  it('a fresh model is the identity after its preprocessing; a generic one inverts to 1e-4', async () => {
    for (const [shape, scales] of [
      [[8, 8, 1], 2],
      [[8, 8, 3], 3],
    ] as [[number, number, number], number][]) {
      const flow = new RealNVPImage({ inputShape: shape, scales, filters: 8, couplingsPerStage: 2, seed: 1 });
      const x = tf.randomUniform([2, ...shape], 0, 256, 'float32', 2);
      const { y, logDet } = flow.forward(x);
      const pre = new Logit({ alpha: 0.05, levels: 256 }).forward(x);
      expect(maxAbsDiff(y.dataSync(), pre.y.dataSync())).toBe(0);
      expect(maxAbsDiff(logDet.dataSync(), pre.logDet.dataSync())).toBeLessThan(1e-3);
      randomizeWeights(allLayers(flow), 3, 0.05);
      const f = flow.forward(x);
      expect(maxAbsDiff(f.y.dataSync(), pre.y.dataSync())).toBeGreaterThan(0.05);
      const back = flow.inverse(f.y);
      expect(maxAbsDiff(back.x.dataSync(), x.dataSync())).toBeLessThan(1e-4);
      tf.dispose([x, y, logDet, pre.y, pre.logDet, f.y, f.logDet, back.x, back.logDet]);
      flow.dispose();
    }
  });

  it('total log-det equals log|det J| of the autodiff Jacobian on 1×4×4×1 images (with batch norm)', async () => {
    const flow = new RealNVPImage({ inputShape: [4, 4, 1], scales: 2, filters: 4, couplingsPerStage: 2, batchNorm: true, seed: 2 });
    randomizeWeights(allLayers(flow), 4, 0.3);
    for (let trial = 0; trial < 2; trial++) {
      const x = tf.randomUniform([1, 4, 4, 1], 10, 246, 'float32', 10 + trial);
      const J = autodiffJacobian((v) => flow.forward(v).y, x);
      const { y, logDet } = flow.forward(x);
      const pre = new Logit({ alpha: 0.05, levels: 256 }).forward(x);
      const flowPart = (logDet.dataSync()[0] as number) - (pre.logDet.dataSync()[0] as number);
      expect(Math.abs(flowPart)).toBeGreaterThan(0.1); // the flow itself contributes
      expect(logDet.dataSync()[0] as number).toBeCloseTo(logAbsDet(J), 2);
      expect(Math.abs((logDet.dataSync()[0] as number) - logAbsDet(J)) / Math.abs(logAbsDet(J))).toBeLessThan(1e-5);
      tf.dispose([x, y, logDet, pre.y, pre.logDet]);
    }
    flow.dispose();
  });

  it('trains (bits/dim fall), seeded training reproduces, no leaks, save/load keeps logProb', async () => {
    // Structured 8×8 images: a bright square at a random place on a dark background, plus noise.
    const n = 32;
    const data = tf.tidy(() => {
      const base = tf.randomUniform([n, 8, 8, 1], 0, 40, 'float32', 5);
      const mask = tf.cast(tf.greater(tf.randomUniform([n, 1, 1, 1], 0, 1, 'float32', 6), tf.zeros([1, 8, 8, 1])), 'float32');
      const square = tf.pad(tf.ones([1, 4, 4, 1]), [[0, 0], [2, 2], [2, 2], [0, 0]]);
      return tf.floor(tf.clipByValue(tf.add(base, tf.mul(tf.mul(mask, square), 200)), 0, 255));
    });
    const make = () => new RealNVPImage({ inputShape: [8, 8, 1], scales: 2, filters: 4, couplingsPerStage: 1, blocks: 0, seed: 3 });
    const a = make();
    const before = a.bitsPerDim(data, { seed: 1 });
    await a.fit(data, { epochs: 3, batchSize: 16, learningRate: 1e-2, clipNorm: 50, seed: 4 });
    const after = a.bitsPerDim(data, { seed: 1 });
    expect(after).toBeLessThan(before - 0.5);

    const count = tf.memory().numTensors;
    await a.fit(data, { epochs: 1, batchSize: 32, learningRate: 1e-2, seed: 5, validationData: data });
    const s = a.sample(2, { temperature: 0.7 });
    const f = a.forward(s);
    tf.dispose([s, f.y, f.logDet, a.logProb(data)]);
    a.bitsPerDim(data);
    expect(tf.memory().numTensors).toBe(count);

    const b = make();
    await b.fit(data, { epochs: 3, batchSize: 16, learningRate: 1e-2, clipNorm: 50, seed: 4 });
    await b.fit(data, { epochs: 1, batchSize: 32, learningRate: 1e-2, seed: 5, validationData: data });
    const wa = a.parts.flatMap((p) => p.getWeights());
    const wb = b.parts.flatMap((p) => p.getWeights());
    wa.forEach((w, i) => expect(maxAbsDiff(w.dataSync(), (wb[i] as tf.Tensor).dataSync())).toBe(0));

    const dir = await tempDir('realnvp-image-');
    await a.save(fileStore(dir));
    const c = await RealNVPImage.load(fileStore(dir));
    expect(c.config).toEqual(a.config);
    expect(c.epochsTrained).toBe(4);
    const x = tf.add(data, 0.5);
    const la = a.logProb(x);
    const lc = c.logProb(x);
    expect(maxAbsDiff(la.dataSync(), lc.dataSync())).toBe(0);
    const sa = a.sample(3, { seed: 8 });
    const sc = c.sample(3, { seed: 8 });
    expect(maxAbsDiff(sa.dataSync(), sc.dataSync())).toBe(0);
    const vals = sa.dataSync();
    expect(vals.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)).toBe(true);
    await expect(import('./realnvp').then((m) => m.RealNVP.load(fileStore(dir)))).rejects.toThrow(/holds a "realnvp-image", expected a "realnvp"/);

    await expect(a.fit(tf.fill([2, 8, 8, 1], 300), { epochs: 1 })).rejects.toThrow(/integers in \[0, 255\].*300/);
    expect(() => new RealNVPImage({ inputShape: [6, 6, 1], scales: 3 })).toThrow(/divisible by 4/);
    tf.dispose([data, x, la, lc, sa, sc]);
    [a, b, c].forEach((m) => m.dispose());
  }, 120_000);
});
