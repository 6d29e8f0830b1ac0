import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // gradient kernels
import { beforeAll, describe, expect, it } from 'vitest';
import { withExampleOffset } from '@gm/core';
import { Normal, StandardNormal, klDivergence } from './normal';
import { read, values } from './reference.testutil';

const LOG_2PI = Math.log(2 * Math.PI);
const refLogN = (x: number, mu: number, sigma: number) => -0.5 * ((x - mu) / sigma) ** 2 - Math.log(sigma) - 0.5 * LOG_2PI;

function refKl(muQ: number[], sQ: number[], muP: number[], sP: number[]): number {
  let kl = 0;
  for (let i = 0; i < muQ.length; i++) {
    kl += Math.log(sP[i]! / sQ[i]!) + (sQ[i]! ** 2 + (muQ[i]! - muP[i]!) ** 2) / (2 * sP[i]! ** 2) - 0.5;
  }
  return kl;
}

describe.each(['cpu', 'wasm'])('Normal on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
    await tf.ready();
  });

  const mu = [[0.5, -1.2, 3.0], [0, 0, 0]];
  const sigma = [[0.3, 2.0, 1e-3], [1, 5, 0.1]];
  const x = [[0.1, 4.0, 3.002], [-2, 10, 0.05]];

  it('logProb sums the closed-form log density over the event axis, per example', async () => {
    const mean = tf.tensor2d(mu);
    const std = tf.tensor2d(sigma);
    const logStd = tf.log(std);
    const xt = tf.tensor2d(x);
    const before = tf.memory().numTensors;
    const d = new Normal(mean, logStd);
    const lp = d.logProb(xt);
    expect(lp.shape).toEqual([2]);
    const got = await values(lp);
    for (let b = 0; b < 2; b++) {
      const want = [0, 1, 2].reduce((acc, i) => acc + refLogN(x[b]![i]!, mu[b]![i]!, sigma[b]![i]!), 0);
      expect(got[b]).toBeCloseTo(want, 3);
    }
    // fromStd is the same distribution; eventRank 0 gives the elementwise terms.
    const viaStd = tf.tidy(() => Normal.fromStd(mean, std).logProb(xt));
    (await values(viaStd)).forEach((v, i) => expect(v).toBeCloseTo(got[i]!, 4));
    const elem = new Normal(mean, logStd, { eventRank: 0 }).logProb(xt);
    expect(elem.shape).toEqual([2, 3]);
    expect((await values(elem))[4]).toBeCloseTo(refLogN(10, 0, 5), 5);
    tf.dispose([lp, viaStd, elem]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([mean, std, logStd, xt]);
  });

  it('logProb broadcasts leading sample axes and leaks nothing', async () => {
    const mean = tf.tensor2d(mu);
    const logStd = tf.log(tf.tensor2d(sigma));
    const xs = tf.stack([tf.tensor2d(x), tf.tensor2d(mu)]);
    const d = new Normal(mean, logStd);
    const before = tf.memory().numTensors;
    const lp = d.logProb(xs);
    expect(lp.shape).toEqual([2, 2]);
    expect(tf.memory().numTensors).toBe(before + 1);
    const got = await values(lp);
    // Row 1 evaluates at the means: −Σ log σ − (3/2) log 2π.
    expect(got[2]).toBeCloseTo(-Math.log(0.3 * 2 * 1e-3) - 1.5 * LOG_2PI, 3);
    tf.dispose([mean, logStd, xs, lp]);
  });

  it('samples have the right moments, are reproducible by seed and differ across seeds', async () => {
    const mean = tf.tensor1d([2, -3]);
    const logStd = tf.log(tf.tensor1d([0.5, 3]));
    const d = new Normal(mean, logStd, { eventRank: 1 });
    const before = tf.memory().numTensors;
    const s = d.sample(20000, 7);
    expect(s.shape).toEqual([20000, 2]);
    const m = read(() => tf.mean(s, 0));
    const sd = read(() => tf.sqrt(tf.moments(s, 0).variance));
    expect(m[0]).toBeCloseTo(2, 1);
    expect(m[1]).toBeCloseTo(-3, 1);
    expect(Math.abs(sd[0]! - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(sd[1]! - 3)).toBeLessThan(0.1);
    const again = d.sample(20000, 7);
    expect(await values(again)).toEqual(await values(s));
    const other = d.sample(20000, 8);
    expect(await values(other)).not.toEqual(await values(s));
    // A seeded distribution gives a reproducible *stream*: successive calls differ, a twin repeats them.
    const a = new Normal(mean, logStd, { seed: 3 });
    const b = new Normal(mean, logStd, { seed: 3 });
    const a1 = a.sample(5);
    const a2 = a.sample(5);
    const b1 = b.sample(5);
    expect(await values(a1)).toEqual(await values(b1));
    expect(await values(a1)).not.toEqual(await values(a2));
    tf.dispose([s, again, other, a1, a2, b1]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([mean, logStd]);
  });

  it('sampleWithLogProb returns log q equal to logProb of the samples', async () => {
    const mean = tf.tensor2d(mu);
    const logStd = tf.log(tf.tensor2d(sigma));
    const d = new Normal(mean, logStd);
    const before = tf.memory().numTensors;
    const { sample, logProb } = d.sampleWithLogProb(4, 11);
    expect(sample.shape).toEqual([4, 2, 3]);
    expect(logProb.shape).toEqual([4, 2]);
    const direct = d.logProb(sample);
    const got = await values(logProb);
    const want = await values(direct);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 2));
    tf.dispose([sample, logProb, direct]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([mean, logStd]);
  });

  it('each example draws its own stream: a shard at its rows samples what the whole batch samples there', async () => {
    const mean = tf.tensor2d([[0, 1], [2, 3], [4, 5], [6, 7]]);
    const logStd = tf.fill([4, 2], -1);
    const whole = new Normal(mean, logStd);
    const shard = new Normal(tf.slice(mean, 1, 3), tf.slice(logStd, 1, 3));
    const rows = (t: tf.Tensor, axis: number, from: number, size: number) => tf.tidy(() => Array.from(tf.slice(t, axis === 0 ? [from] : [0, from], axis === 0 ? [size] : [-1, size]).dataSync()));
    const [w1, w3] = [whole.sample(undefined, 5), whole.sample(3, 5)];
    const [s1, s3] = withExampleOffset(1, () => [shard.sample(undefined, 5), shard.sample(3, 5)]);
    expect(Array.from(s1.dataSync())).toEqual(rows(w1, 0, 1, 3));
    expect(Array.from(s3.dataSync())).toEqual(rows(w3, 1, 1, 3)); // [samples, batch, event]: the batch axis is 1
    const misplaced = shard.sample(undefined, 5); // examples 0..2, not 1..3
    expect(Array.from(misplaced.dataSync())).not.toEqual(rows(w1, 0, 1, 3));
    tf.dispose([mean, logStd, shard.mean, shard.logStd, w1, w3, s1, s3, misplaced]);
  });

  it('entropy matches the closed form and a Monte Carlo estimate', async () => {
    const mean = tf.tensor1d([0.3, -1]);
    const logStd = tf.tensor1d([Math.log(0.2), Math.log(4)]);
    const d = new Normal(mean, logStd, { eventRank: 1 });
    const h = read(() => d.entropy())[0]!;
    expect(h).toBeCloseTo(LOG_2PI + 1 + Math.log(0.2) + Math.log(4), 4);
    const mc = read(() => tf.neg(tf.mean(d.sampleWithLogProb(40000, 5).logProb)))[0]!;
    expect(Math.abs(mc - h)).toBeLessThan(0.03);
    tf.dispose([mean, logStd]);
  });

  it('StandardNormal equals Normal(0, 1) and checks the event shape', async () => {
    const p = new StandardNormal([3]);
    const z = tf.tensor3d([[[0.5, -1, 2]], [[0, 0, 0]]]);
    const before = tf.memory().numTensors;
    const lp = p.logProb(z);
    expect(lp.shape).toEqual([2, 1]);
    const got = await values(lp);
    expect(got[0]).toBeCloseTo(refLogN(0.5, 0, 1) + refLogN(-1, 0, 1) + refLogN(2, 0, 1), 4);
    expect(got[1]).toBeCloseTo(-1.5 * LOG_2PI, 4);
    lp.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => p.logProb(tf.zeros([2, 4]))).toThrow(/must end with the event shape \[3\]/);
    z.dispose();
  });

  it('rejects bad parameters and values with clear errors', () => {
    const m = tf.zeros([2, 3]);
    expect(() => new Normal(m, tf.zeros([2, 4]))).toThrow(/"logStd" of shape \[2, 4\] does not broadcast/);
    expect(() => new Normal(m, tf.zeros([2, 3], 'int32'))).toThrow(/"logStd" must be float32/);
    expect(() => new Normal(m, m, { eventRank: 3 })).toThrow(/eventRank must be an integer in \[0, 2\]/);
    expect(() => new Normal(m, m).logProb(tf.zeros([5]))).toThrow(/x of shape \[5\] does not broadcast/);
    expect(() => new Normal(m, m).sample(0)).toThrow(/positive integer/);
  });
});

describe.each(['cpu', 'wasm'])('klDivergence on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
    await tf.ready();
  });

  const muQ = [[0.5, -1, 2], [0, 0.1, -0.3]];
  const sQ = [[0.4, 1.5, 0.05], [1, 1, 1]];
  const muP = [[0, 0.5, 1], [0, 0, 0]];
  const sP = [[1, 0.7, 2], [1, 1, 1]];

  it('matches the closed form and a Monte Carlo estimate', async () => {
    const q = new Normal(tf.tensor2d(muQ), tf.log(tf.tensor2d(sQ)));
    const p = new Normal(tf.tensor2d(muP), tf.log(tf.tensor2d(sP)));
    const before = tf.memory().numTensors;
    const kl = klDivergence(q, p);
    expect(kl.shape).toEqual([2]);
    const got = await values(kl);
    for (let b = 0; b < 2; b++) expect(got[b]).toBeCloseTo(refKl(muQ[b]!, sQ[b]!, muP[b]!, sP[b]!), 3);
    // Monte Carlo: E_q[log q − log p] over 100k samples, within 4 standard errors.
    const n = 100_000;
    const [mean, se] = tf.tidy(() => {
      const { sample, logProb } = q.sampleWithLogProb(n, 21);
      const diff = tf.sub(logProb, p.logProb(sample));
      const { mean: m, variance } = tf.moments(diff, 0);
      return [m, tf.sqrt(tf.div(variance, n))];
    });
    const m = await values(mean);
    const s = await values(se);
    for (let b = 0; b < 2; b++) expect(Math.abs(m[b]! - got[b]!)).toBeLessThan(4 * s[b]! + 1e-3);
    tf.dispose([kl, mean, se]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is zero for identical distributions and agrees with StandardNormal as prior', async () => {
    const q = new Normal(tf.tensor2d(muQ), tf.log(tf.tensor2d(sQ)));
    const self = read(() => klDivergence(q, q));
    self.forEach((v) => expect(Math.abs(v)).toBeLessThan(1e-5));
    const std = read(() => klDivergence(q, new StandardNormal([3])));
    const zeros = new StandardNormal([3]).toNormal();
    const explicit = read(() => klDivergence(q, zeros));
    std.forEach((v, i) => expect(v).toBeCloseTo(explicit[i]!, 5));
    expect(std[1]).toBeCloseTo(refKl(muQ[1]!, sQ[1]!, [0, 0, 0], [1, 1, 1]), 4);
    tf.dispose([zeros.mean, zeros.logStd]);
  });

  it('stays finite for extreme scales and rejects mismatched event ranks', async () => {
    const q = new Normal(tf.tensor1d([0, 0]), tf.tensor1d([-30, 20]), { eventRank: 1 });
    const got = read(() => klDivergence(q, new StandardNormal([2])));
    const want = refKl([0, 0], [Math.exp(-30), Math.exp(20)], [0, 0], [1, 1]);
    expect(Number.isFinite(got[0])).toBe(true);
    expect(Math.abs(got[0]! - want) / want).toBeLessThan(1e-5);
    expect(() => klDivergence(q, new StandardNormal([1, 2]))).toThrow(/eventRank/);
  });
});
