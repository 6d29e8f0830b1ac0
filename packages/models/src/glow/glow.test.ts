import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { ActNorm, Logit, type Chain } from '@gm/layers';
import type { Bijector } from '@gm/core';
import { Glow } from './glow';
import { autodiffJacobian, logAbsDet, maxAbsDiff, randomizeWeights, tempDir } from '../realnvp/test-helpers';
import { fileStore } from '../io/file-store';
import { loadModel } from '../registry';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const allLayers = (m: Glow) => m.parts.flatMap((p) => p.layers.filter((l) => l.getClassName() !== 'InputLayer'));
const oneHot = (labels: number[], classes: number) => tf.oneHot(tf.tensor1d(labels, 'int32'), classes);

/** ActNorm log-scales of a generic but well-conditioned flow (randomizeWeights makes every scale > 1). */
function calmActNorms(glow: Glow, seed: number): void {
  allLayers(glow).forEach((l, i) => {
    if (!(l instanceof ActNorm)) return;
    const [bias, logScale] = l.getWeights();
    const values = [bias as tf.Tensor, tf.randomNormal((logScale as tf.Tensor).shape, 0, 0.2, 'float32', seed + i), ...l.getWeights().slice(2)];
    l.setWeights(values);
    tf.dispose(values[1]);
  });
}

/** 8×8 images: a bright bar whose orientation is the class (0: horizontal, 1: vertical, 2: diagonal), plus noise. */
function bars(n: number, seed: number): { x: tf.Tensor; labels: tf.Tensor } {
  const labels = Array.from({ length: n }, (_, i) => i % 3);
  const rand = tf.randomUniform([n, 8, 8, 1], 0, 40, 'float32', seed).dataSync();
  const px = new Float32Array(n * 64);
  labels.forEach((c, i) => {
    for (let r = 0; r < 8; r++) {
      for (let q = 0; q < 8; q++) {
        const on = c === 0 ? r === 3 || r === 4 : c === 1 ? q === 3 || q === 4 : Math.abs(r - q) <= 1;
        px[i * 64 + r * 8 + q] = Math.floor((rand[i * 64 + r * 8 + q] as number) + (on ? 200 : 0));
      }
    }
  });
  return { x: tf.tensor4d(px, [n, 8, 8, 1]), labels: tf.tensor1d(labels, 'int32') };
}

describe('Glow', () => {
  it('a fresh coupling and split prior are the identity; ActNorm standardises its first training batch per channel', () => {
    const glow = new Glow({ inputShape: [4, 4, 1], scales: 2, stepsPerScale: 2, filters: 4, seed: 1 });
    const x = tf.randomUniform([32, 4, 4, 1], 0, 256, 'float32', 2);
    const first = glow.parts[0]!.layers.find((l) => l instanceof ActNorm) as ActNorm;
    expect(first.initialized).toBe(false);
    const lp = glow.logProb(x, true);
    expect(first.initialized).toBe(true);
    // What the first ActNorm saw: the squeezed logit of x; what it gave: zero mean and unit variance per channel.
    const squeezed = tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(new Logit({ alpha: 0.05, levels: 256 }).forward(x).y, [32, 2, 2, 2, 2, 1]), [0, 1, 3, 2, 4, 5]), [32, 2, 2, 4]));
    const out = first.forward(squeezed);
    const { mean, variance } = tf.moments(out.y, [0, 1, 2]);
    expect(maxAbsDiff(mean.dataSync(), [0, 0, 0, 0])).toBeLessThan(1e-4);
    expect(maxAbsDiff(variance.dataSync(), [1, 1, 1, 1])).toBeLessThan(1e-3);
    tf.dispose([x, lp, squeezed, out.y, out.logDet, mean, variance]);
    glow.dispose();
  });

  it('total log-det equals log|det J| of the autodiff Jacobian, and it inverts to 1e-4 (unconditional and conditional)', () => {
    for (const classes of [0, 3]) {
      const glow = new Glow({ inputShape: [4, 4, 1], scales: 2, stepsPerScale: 2, filters: 4, classes, seed: 2 });
      randomizeWeights(allLayers(glow), 4, 0.3);
      calmActNorms(glow, 5);
      const context = classes === 0 ? undefined : oneHot([2], 3);
      const options = context === undefined ? {} : { context };
      const x = tf.randomUniform([1, 4, 4, 1], 10, 246, 'float32', 10 + classes);
      const J = autodiffJacobian((v) => glow.forward(v, options).y, x);
      const { y, logDet } = glow.forward(x, options);
      const pre = new Logit({ alpha: 0.05, levels: 256 }).forward(x);
      expect(Math.abs((logDet.dataSync()[0] as number) - (pre.logDet.dataSync()[0] as number))).toBeGreaterThan(0.01);
      expect(Math.abs((logDet.dataSync()[0] as number) - logAbsDet(J)) / Math.abs(logAbsDet(J))).toBeLessThan(1e-5);
      // The flow inverts to 1e-4 in logit space (where it acts); in pixel units the logit's slope (up to ~20 at the
      // ends) scales float32 round-off, so 1e-2 of a level there.
      const back = glow.inverse(y, options);
      const flow = (glow.distribution.bijector as Chain).steps[1] as Bijector;
      const u = flow.inverse(y, options).x;
      expect(maxAbsDiff(u.dataSync(), pre.y.dataSync())).toBeLessThan(1e-4);
      expect(maxAbsDiff(back.x.dataSync(), x.dataSync())).toBeLessThan(1e-2);
      u.dispose();
      expect(Math.abs((back.logDet.dataSync()[0] as number) + (logDet.dataSync()[0] as number))).toBeLessThan(1e-3);
      if (context !== undefined) {
        // The class changes the density: the same image under another class has another log-det.
        const other = oneHot([0], 3);
        const o = glow.forward(x, { context: other });
        expect(Math.abs((o.logDet.dataSync()[0] as number) - (logDet.dataSync()[0] as number))).toBeGreaterThan(1e-3);
        tf.dispose([other, o.y, o.logDet]);
      }
      tf.dispose([x, y, logDet, pre.y, pre.logDet, back.x, back.logDet, ...(context === undefined ? [] : [context])]);
      glow.dispose();
    }
  });

  it('a class-conditional Glow learns p(x | label): its own class fits best, samples follow the label, it saves, reloads and leaks nothing', async () => {
    const train = bars(60, 1);
    const test = bars(30, 2);
    const make = () => new Glow({ inputShape: [8, 8, 1], scales: 2, stepsPerScale: 2, filters: 8, classes: 3, seed: 3 });
    const glow = make();
    const before = glow.bitsPerDim(test.x, { labels: test.labels, seed: 1 });
    await glow.fit(train, { epochs: 12, batchSize: 20, learningRate: 5e-3, clipNorm: 50, seed: 4 });
    const after = glow.bitsPerDim(test.x, { labels: test.labels, seed: 1 });
    expect(after).toBeLessThan(before - 1);
    // The right label explains a test image better than a wrong one.
    const shifted = tf.tidy(() => tf.mod(tf.add(test.labels, 1), 3));
    expect(glow.bitsPerDim(test.x, { labels: shifted, seed: 1 })).toBeGreaterThan(after + 0.05);

    // Samples of each class (T = 0.7) are classified as that class by a nearest-class-mean classifier of the
    // training images about twice as often as chance (1/3).
    const means = [0, 1, 2].map((c) => tf.tidy(() => tf.mean(tf.gather(train.x, tf.tensor1d(Array.from({ length: 20 }, (_, i) => 3 * i + c), 'int32')), 0)));
    const samples = [0, 1, 2].map((c) => glow.sample(30, { label: c, temperature: 0.7, seed: 9 }));
    let right = 0;
    samples.forEach((s, c) => {
      const d = tf.tidy(() => tf.stack(means.map((m) => tf.sum(tf.square(tf.sub(s, m)), [1, 2, 3])), 1));
      right += (tf.tidy(() => tf.argMin(d, 1)).dataSync() as Int32Array).filter((k) => k === c).length;
      d.dispose();
    });
    expect(right / 90).toBeGreaterThan(0.65); // measured 0.76

    const count = tf.memory().numTensors;
    await glow.fit(train, { epochs: 1, batchSize: 30, learningRate: 1e-3, seed: 5, validationData: test });
    tf.dispose([glow.sample(2, { label: [0, 2], temperature: 0.7 }), glow.logProb(test.x, false, test.labels)]);
    glow.bitsPerDim(test.x, { labels: test.labels });
    expect(tf.memory().numTensors).toBe(count);

    const twin = make(); // seeded: the same run gives the same weights
    await twin.fit(train, { epochs: 12, batchSize: 20, learningRate: 5e-3, clipNorm: 50, seed: 4 });
    await twin.fit(train, { epochs: 1, batchSize: 30, learningRate: 1e-3, seed: 5, validationData: test });
    const wa = glow.parts.flatMap((p) => p.getWeights());
    const wb = twin.parts.flatMap((p) => p.getWeights());
    wa.forEach((w, i) => expect(maxAbsDiff(w.dataSync(), (wb[i] as tf.Tensor).dataSync())).toBe(0));

    const dir = await tempDir('glow-');
    await glow.save(fileStore(dir));
    const loaded = (await loadModel(fileStore(dir))) as Glow;
    expect(loaded).toBeInstanceOf(Glow);
    expect(loaded.config).toEqual(glow.config);
    const x = tf.add(test.x, 0.5);
    expect(maxAbsDiff(loaded.logProb(x, false, test.labels).dataSync(), glow.logProb(x, false, test.labels).dataSync())).toBe(0);
    expect(maxAbsDiff(loaded.sample(3, { label: 1, seed: 8 }).dataSync(), glow.sample(3, { label: 1, seed: 8 }).dataSync())).toBe(0);

    expect(() => glow.sample(2)).toThrow(/Glow.sample: labels.*conditional on 3 classes/);
    expect(() => glow.sample(2, { label: 3 })).toThrow(/"label".*\[0, 2\]/);
    expect(() => glow.logProb(x)).toThrow(/labels/);
    await expect(glow.fit(train.x, { epochs: 1 })).rejects.toThrow(/Glow.fit: data.*labels/);
    expect(() => new Glow({ inputShape: [6, 6, 1], scales: 2 })).toThrow(/divisible by 4/);
    expect(() => new Glow({ inputShape: [8, 8, 1], classes: 1 })).toThrow(/"classes"/);
    tf.dispose([train.x, train.labels, test.x, test.labels, shifted, x, ...samples, ...means]);
    [glow, twin, loaded].forEach((m) => m.dispose());
  }, 180_000);
});
