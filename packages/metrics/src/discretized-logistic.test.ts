import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // gradient kernels
import { beforeAll, describe, expect, it } from 'vitest';
import { DiscretizedLogistic, DiscretizedLogisticMixture, fromBinCenters, toBinCenters } from './discretized-logistic';
import { logSumExp, read, refDiscLogisticLogProb, values } from './reference.testutil';

// (μ, s) pairs: ordinary, very sharp (mass in one bin), very wide (every bin mass ≈ 1e-7: the tiny-difference case),
// and means far outside [−1, 1] (tail masses like e^−300 that float32 cannot hold as probabilities).
const CASES: Array<[number, number]> = [
  [0, 0.1],
  [0.3, 0.02],
  [-0.9, 0.5],
  [0.5, Math.exp(-7)],
  [0.5, 20],
  [0, Math.exp(10)],
  [2, 0.01],
  [-2, 0.01],
  [1, 0.003],
];
const LEVELS = Array.from({ length: 256 }, (_, v) => v);

function tol(want: number): number {
  return 2e-4 + 2e-5 * Math.abs(want);
}

describe.each(['cpu', 'wasm'])('DiscretizedLogistic on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
    await tf.ready();
  });

  it('bin probabilities match float64 CDF differences and sum to 1 over 0..255', async () => {
    // One row per case, 256 levels each: parameters [cases, 1] broadcast against x [1, 256].
    const loc = tf.tensor2d(CASES.map(([m]) => [m]));
    const logScale = tf.tensor2d(CASES.map(([, s]) => [Math.log(s)]));
    const x = toBinCenters(tf.tensor2d([LEVELS], [1, 256], 'int32'));
    const before = tf.memory().numTensors;
    const elem = new DiscretizedLogistic(loc, logScale, { eventRank: 0 }).logProb(x);
    expect(elem.shape).toEqual([CASES.length, 256]);
    const got = await values(elem);
    CASES.forEach(([m, s], r) => {
      let total = 0;
      for (const v of LEVELS) {
        const g = got[r * 256 + v]!;
        const want = refDiscLogisticLogProb(v, m, s);
        expect(Number.isFinite(g), `case ${r} level ${v}`).toBe(true);
        expect(Math.abs(g - want), `case μ=${m} s=${s} level ${v}: ${g} vs ${want}`).toBeLessThanOrEqual(tol(want));
        total += Math.exp(g);
      }
      expect(Math.abs(total - 1), `case ${r}`).toBeLessThan(2e-5);
    });
    elem.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([loc, logScale, x]);
  });

  it('sums over event axes (per example by default) and supports other bin counts', async () => {
    const loc = tf.tensor2d([[0.1, -0.5, 0.9], [0, 0, 0]]);
    const logScale = tf.fill([2, 3], Math.log(0.05));
    const levels = [[140, 60, 250], [0, 255, 128]];
    const x = toBinCenters(tf.tensor2d(levels));
    const lp = read(() => new DiscretizedLogistic(loc, logScale).logProb(x));
    expect(lp.length).toBe(2);
    const ls = [[0.1, -0.5, 0.9], [0, 0, 0]];
    levels.forEach((row, b) => {
      const want = row.reduce((acc, v, i) => acc + refDiscLogisticLogProb(v, ls[b]![i]!, 0.05), 0);
      expect(Math.abs(lp[b]! - want)).toBeLessThanOrEqual(tol(want));
    });
    // 16 levels (4-bit): bins of half-width 1/15, still normalised.
    const x16 = toBinCenters(tf.range(0, 16), 16);
    const p16 = read(() => tf.exp(new DiscretizedLogistic(tf.scalar(0.2), tf.scalar(Math.log(0.3)), { numBins: 16 }).logProb(x16)));
    expect(p16.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(p16[5]).toBeCloseTo(Math.exp(refDiscLogisticLogProb(5, 0.2, 0.3, 16)), 5);
    tf.dispose([loc, logScale, x, x16]);
  });

  it('has finite gradients that match finite differences of the float64 reference', async () => {
    const levels = [0, 3, 100, 128, 200, 255];
    const mus = [-0.95, 0.2, -0.3, 0.05, 1.5, 0];
    const ss = [0.05, 0.01, 0.2, 0.01, 0.02, 1e4];
    const x = toBinCenters(tf.tensor1d(levels));
    const loc = tf.tensor1d(mus);
    const logScale = tf.tensor1d(ss.map(Math.log));
    const f = (l: tf.Tensor, ls: tf.Tensor) => tf.sum(new DiscretizedLogistic(l, ls, { eventRank: 0 }).logProb(x));
    const [gLoc, gScale] = tf.grads(f)([loc, logScale]) as [tf.Tensor, tf.Tensor];
    const gl = await values(gLoc);
    const gs = await values(gScale);
    levels.forEach((v, i) => {
      const m = mus[i]!;
      const s = ss[i]!;
      const eps = 1e-5 * Math.max(s, 1e-3);
      const dMu = (refDiscLogisticLogProb(v, m + eps, s) - refDiscLogisticLogProb(v, m - eps, s)) / (2 * eps);
      const e2 = 1e-5;
      const dLogS = (refDiscLogisticLogProb(v, m, s * Math.exp(e2)) - refDiscLogisticLogProb(v, m, s * Math.exp(-e2))) / (2 * e2);
      expect(Number.isFinite(gl[i]) && Number.isFinite(gs[i])).toBe(true);
      expect(Math.abs(gl[i]! - dMu)).toBeLessThanOrEqual(2e-3 * Math.max(1, Math.abs(dMu)));
      expect(Math.abs(gs[i]! - dLogS)).toBeLessThanOrEqual(2e-3 * Math.max(1, Math.abs(dLogS)));
    });
    tf.dispose([x, loc, logScale, gLoc, gScale]);
  });

  it('samples bin centres with the frequencies of the bin probabilities, reproducibly', async () => {
    const d = new DiscretizedLogistic(tf.tensor1d([0.95, -0.2]), tf.tensor1d([Math.log(0.03), Math.log(0.01)]), { eventRank: 1 });
    const before = tf.memory().numTensors;
    const s = d.sample(20000, 9);
    expect(s.shape).toEqual([20000, 2]);
    const lv = await values(tf.tidy(() => fromBinCenters(s)));
    const centres = await values(s);
    const offCentre = centres.reduce((worst, c, i) => Math.max(worst, Math.abs(c - ((2 * lv[i]!) / 255 - 1))), 0);
    expect(offCentre).toBeLessThan(1e-6);
    for (const [col, m, sc] of [[0, 0.95, 0.03], [1, -0.2, 0.01]] as const) {
      const counts = new Array<number>(256).fill(0);
      for (let i = col; i < lv.length; i += 2) counts[lv[i]!]! += 1;
      let tv = 0;
      for (const v of LEVELS) tv += Math.abs(counts[v]! / 20000 - Math.exp(refDiscLogisticLogProb(v, m, sc)));
      expect(tv / 2).toBeLessThan(0.03);
    }
    const again = d.sample(20000, 9);
    expect(await values(again)).toEqual(centres);
    tf.dispose([s, again]);
    expect(tf.memory().numTensors).toBe(before + 1); // the fromBinCenters result read above
  });
});

describe.each(['cpu', 'wasm'])('DiscretizedLogisticMixture on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
    await tf.ready();
  });

  const logits = [2, -1, 0.5];
  const locs = [-0.5, 0.3, 3];
  const scales = [0.05, 0.4, 0.001];

  it('is the logsumexp of weighted component log-probabilities and sums to 1 over 0..255', async () => {
    const x = toBinCenters(tf.range(0, 256));
    const d = new DiscretizedLogisticMixture(tf.tensor2d([logits]), tf.tensor2d([locs]), tf.log(tf.tensor2d([scales])), {
      eventRank: 0,
    });
    const before = tf.memory().numTensors;
    const lp = d.logProb(x);
    expect(lp.shape).toEqual([256]);
    const got = await values(lp);
    const logW = logits.map((l) => l - logSumExp(logits));
    let total = 0;
    for (const v of LEVELS) {
      const want = logSumExp(logW.map((w, k) => w + refDiscLogisticLogProb(v, locs[k]!, scales[k]!)));
      expect(Math.abs(got[v]! - want), `level ${v}`).toBeLessThanOrEqual(tol(want));
      total += Math.exp(got[v]!);
    }
    expect(Math.abs(total - 1)).toBeLessThan(2e-5);
    lp.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('with one component equals the plain discretized logistic; sums pixels per example', async () => {
    const loc = tf.tensor3d([[[0.1], [0.7]], [[-0.4], [0]]]);
    const logScale = tf.fill([2, 2, 1], Math.log(0.07));
    const x = toBinCenters(tf.tensor2d([[130, 250], [3, 128]]));
    const mix = read(() => new DiscretizedLogisticMixture(tf.zerosLike(loc), loc, logScale).logProb(x));
    const single = read(() => new DiscretizedLogistic(tf.squeeze(loc, [2]), tf.squeeze(logScale, [2])).logProb(x));
    expect(mix.length).toBe(2);
    mix.forEach((v, i) => expect(v).toBeCloseTo(single[i]!, 4));
    tf.dispose([loc, logScale, x]);
  });

  it('samples follow the mixture probabilities', async () => {
    const d = new DiscretizedLogisticMixture(tf.tensor1d(logits), tf.tensor1d(locs), tf.log(tf.tensor1d(scales)), {
      eventRank: 0,
    });
    const s = d.sample(20000, 4);
    expect(s.shape).toEqual([20000]);
    const lv = await values(tf.tidy(() => fromBinCenters(s)));
    const counts = new Array<number>(256).fill(0);
    for (const v of lv) counts[v]! += 1;
    const logW = logits.map((l) => l - logSumExp(logits));
    let tv = 0;
    for (const v of LEVELS) {
      const p = Math.exp(logSumExp(logW.map((w, k) => w + refDiscLogisticLogProb(v, locs[k]!, scales[k]!))));
      tv += Math.abs(counts[v]! / 20000 - p);
    }
    expect(tv / 2).toBeLessThan(0.03);
    s.dispose();
  });

  it('rejects parameters without a shared component axis', () => {
    expect(() => new DiscretizedLogisticMixture(tf.zeros([4, 3]), tf.zeros([4, 3]), tf.zeros([4, 1]))).toThrow(
      /"logScales" of shape \[4, 1\] must end with the component axis \(size 3\)/,
    );
  });
});
