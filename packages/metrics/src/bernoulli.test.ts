import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // gradient kernels
import { beforeAll, describe, expect, it } from 'vitest';
import { Bernoulli } from './bernoulli';
import { logSigmoid, read, rng, sigmoid, values } from './reference.testutil';

const LOGITS = [-1000, -200, -88, -50, -20, -1, 0, 0.5, 20, 50, 88, 200, 1000];

describe.each(['cpu', 'wasm'])('Bernoulli on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
    await tf.ready();
  });

  it('logProb equals x·log σ(ℓ) + (1−x)·log σ(−ℓ), finite even at extreme logits', async () => {
    const xs = [0, 1, 0.3];
    const logits = tf.tensor2d(xs.map(() => LOGITS));
    const x = tf.tensor2d(xs.map((v) => LOGITS.map(() => v)));
    const before = tf.memory().numTensors;
    const elem = new Bernoulli(logits, { eventRank: 0 }).logProb(x);
    const got = await values(elem);
    xs.forEach((v, r) =>
      LOGITS.forEach((l, c) => {
        const want = v * logSigmoid(l) + (1 - v) * logSigmoid(-l);
        const g = got[r * LOGITS.length + c]!;
        expect(Number.isFinite(g)).toBe(true);
        expect(Math.abs(g - want)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want)));
      }),
    );
    // Default eventRank: one sum per row.
    const rows = new Bernoulli(logits).logProb(x);
    expect(rows.shape).toEqual([3]);
    const sums = await values(rows);
    sums.forEach((s, r) => {
      const want = LOGITS.reduce((acc, _l, c) => acc + got[r * LOGITS.length + c]!, 0);
      expect(Math.abs(s - want)).toBeLessThanOrEqual(1e-6 * Math.abs(want));
    });
    tf.dispose([elem, rows]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, x]);
  });

  it('per-example sums over large events match float64 sums (grouped and ungrouped paths)', async () => {
    const r = rng(5);
    for (const dims of [[784], [97], [10, 13]]) {
      const size = dims.reduce((a, b) => a * b, 1);
      const lv = Array.from({ length: 3 * size }, () => (r() - 0.5) * (r() < 0.1 ? 400 : 12));
      const xv = lv.map(() => (r() < 0.3 ? 1 : 0));
      const logits = tf.tensor(lv, [3, ...dims]);
      const x = tf.tensor(xv, [3, ...dims]);
      const got = read(() => new Bernoulli(logits).logProb(x));
      for (let b = 0; b < 3; b++) {
        let want = 0;
        for (let i = b * size; i < (b + 1) * size; i++) want += xv[i]! * logSigmoid(lv[i]!) + (1 - xv[i]!) * logSigmoid(-lv[i]!);
        expect(Math.abs(got[b]! - want), `dims ${dims}`).toBeLessThan(1e-4 + 2e-6 * Math.abs(want));
      }
      tf.dispose([logits, x]);
    }
  });

  it('has the gradient x − σ(ℓ) (finite at extreme logits)', async () => {
    const logits = tf.tensor1d(LOGITS);
    const x = tf.tensor1d(LOGITS.map((_, i) => i % 2));
    const g = tf.grad((l: tf.Tensor) => tf.sum(new Bernoulli(l, { eventRank: 0 }).logProb(x)))(logits);
    const got = await values(g);
    LOGITS.forEach((l, i) => expect(got[i]).toBeCloseTo((i % 2) - sigmoid(l), 5));
    // Per-row sums weighted per row: the upstream gradient must broadcast back over the event axis.
    const l2 = tf.tensor2d([[0, 3, -2], [1, -1, 0.5]]);
    const x2 = tf.tensor2d([[1, 0, 1], [0, 0, 1]]);
    const wRow = tf.tensor1d([2, -3]);
    const g2 = tf.grad((l: tf.Tensor) => tf.sum(tf.mul(new Bernoulli(l).logProb(x2), wRow)))(l2);
    const got2 = await values(g2);
    [[0, 3, -2], [1, -1, 0.5]].forEach((row, r) =>
      row.forEach((l, c) => expect(got2[r * 3 + c]).toBeCloseTo([2, -3][r]! * ([[1, 0, 1], [0, 0, 1]][r]![c]! - sigmoid(l)), 5)),
    );
    tf.dispose([logits, x, g, l2, x2, wRow, g2]);
  });

  it('samples 0/1 with frequency σ(ℓ), reproducibly', async () => {
    const logits = tf.tensor1d([-2, 0, 1.5, 30]);
    const d = new Bernoulli(logits, { eventRank: 1 });
    const s = d.sample(20000, 3);
    expect(s.shape).toEqual([20000, 4]);
    const v = await values(s);
    expect(v.every((b) => b === 0 || b === 1)).toBe(true);
    const freq = read(() => tf.mean(s, 0));
    [-2, 0, 1.5, 30].forEach((l, i) => expect(Math.abs(freq[i]! - sigmoid(l))).toBeLessThan(0.015));
    const again = d.sample(20000, 3);
    expect(await values(again)).toEqual(v);
    tf.dispose([logits, s, again]);
  });

  it('rejects bad input with clear errors', () => {
    expect(() => new Bernoulli(tf.zeros([2, 3], 'int32'))).toThrow(/Bernoulli: "logits" must be float32/);
    expect(() => new Bernoulli(tf.zeros([2, 3])).logProb(tf.zeros([2, 4]))).toThrow(/does not broadcast/);
  });
});
