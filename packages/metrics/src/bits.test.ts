import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { bitsPerDim } from './bits';
import { deriveSeed, randomStandardNormal, SeedStream } from './seed';
import { log1mexp, logMeanExp } from './util';
import { read } from './reference.testutil';

describe('bitsPerDim', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    await tf.ready();
  });

  it('converts nats per example to bits per dimension', () => {
    expect(bitsPerDim(784 * Math.LN2, 784)).toBeCloseTo(1, 12);
    expect(bitsPerDim(86, 784)).toBeCloseTo(86 / 784 / Math.LN2, 12);
    const t = read(() => bitsPerDim(tf.tensor1d([3 * Math.LN2 * 10, 0]), 10));
    expect(t[0]).toBeCloseTo(3, 5);
    expect(t[1]).toBe(0);
  });

  it('applies the log-det of the data → model map with the right sign', () => {
    // The uniform density on [0,1]^D has nll 0 there; in 8-bit units ([0,256)^D, log-det of x ↦ x/256 is −D ln 256)
    // it is the uniform distribution over 256 levels: exactly 8 bits per dimension.
    const D = 784;
    expect(bitsPerDim(0, D, { logDet: -D * Math.log(256) })).toBeCloseTo(8, 10);
    const perExample = read(() => bitsPerDim(tf.tensor1d([0, D * Math.LN2]), D, { logDet: tf.tensor1d([-D * Math.log(256), 0]) }));
    expect(perExample[0]).toBeCloseTo(8, 4);
    expect(perExample[1]).toBeCloseTo(1, 4);
  });

  it('levels adds the dequantisation scaling (as in a logit-space flow report)', () => {
    // A logit-space log-likelihood with its [0,1] → logit log-det: bits/dim = −(log p(y) + logDet − D ln 256)/(D ln 2).
    const D = 3072;
    const logpY = -5000;
    const logDet = -1234.5;
    const want = -(logpY + logDet - D * Math.log(256)) / (D * Math.LN2);
    expect(bitsPerDim(-logpY, D, { logDet, levels: 256 })).toBeCloseTo(want, 10);
    const t = read(() => bitsPerDim(tf.tensor1d([-logpY]), D, { logDet: tf.tensor1d([logDet]), levels: 256 }));
    expect(t[0]).toBeCloseTo(want, 4);
    expect(bitsPerDim(0, D, { levels: 256 })).toBeCloseTo(8, 10);
  });

  it('rejects bad input', () => {
    expect(() => bitsPerDim(1, 4, { levels: 0 })).toThrow(/levels must be a positive number/);
    expect(() => bitsPerDim(1, 0)).toThrow(/numDims must be a positive integer/);
    expect(() => bitsPerDim(Number.NaN, 4)).toThrow(/nll must be finite/);
  });
});

describe('helpers', () => {
  it('logMeanExp and log1mexp are stable', () => {
    const lme = read(() => logMeanExp(tf.tensor2d([[-1000, 5], [-1000, 5]]), 0));
    expect(lme[0]).toBeCloseTo(-1000, 3);
    expect(lme[1]).toBeCloseTo(5, 5);
    const l = read(() => log1mexp(tf.tensor1d([1e-6, 0.5, 30])));
    expect(l[0]).toBeCloseTo(Math.log(-Math.expm1(-1e-6)), 4);
    expect(l[1]).toBeCloseTo(Math.log(1 - Math.exp(-0.5)), 6);
    expect(l[2]).toBeCloseTo(0, 6);
  });

  it('randomStandardNormal draws standard normals, reproducibly by seed', () => {
    const t = randomStandardNormal([200_001], 5); // odd size: the last Box–Muller pair is cut
    const v = t.dataSync();
    const n = v.length;
    let s1 = 0;
    let s2 = 0;
    let in1 = 0;
    let out3 = 0;
    for (const x of v) {
      s1 += x;
      s2 += x * x;
      if (Math.abs(x) < 1) in1++;
      if (Math.abs(x) > 3) out3++;
    }
    expect(Math.abs(s1 / n)).toBeLessThan(0.01);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.01);
    expect(Math.abs(in1 / n - 0.682689)).toBeLessThan(0.005);
    expect(Math.abs(out3 / n - 0.0026998)).toBeLessThan(0.0006);
    const again = randomStandardNormal([200_001], 5);
    const other = randomStandardNormal([200_001], 6);
    expect(again.dataSync()).toEqual(v);
    expect(other.dataSync()).not.toEqual(v);
    tf.dispose([t, again, other]);
  });

  it('seeds are deterministic and distinct', () => {
    expect(deriveSeed(1, 2, 3)).toBe(deriveSeed(1, 2, 3));
    expect(new Set([deriveSeed(1, 0, 1), deriveSeed(1, 1, 0), deriveSeed(2, 0, 1), deriveSeed(1.5, 0, 1)]).size).toBe(4);
    const a = new SeedStream(7);
    const b = new SeedStream(7);
    const xs = [a.next(), a.next(), a.next()];
    expect([b.next(), b.next(), b.next()]).toEqual(xs);
    expect(new Set(xs).size).toBe(3);
    expect(() => new SeedStream(Number.NaN)).toThrow(/finite/);
  });
});
