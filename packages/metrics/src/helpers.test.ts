import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomStandardNormal } from './seed';
import { log1mexp, logMeanExp } from './util';
import { read } from './reference.testutil';

describe('helpers', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    await tf.ready();
  });

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
    // Kolmogorov–Smirnov-style check of the whole CDF on a grid (Φ by Abramowitz–Stegun 7.1.26, error < 2e-7).
    const phi = (t: number) => {
      const z = Math.abs(t) / Math.SQRT2;
      const k = 1 / (1 + 0.3275911 * z);
      const erf = 1 - k * (0.254829592 + k * (-0.284496736 + k * (1.421413741 + k * (-1.453152027 + k * 1.061405429)))) * Math.exp(-z * z);
      return t >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
    };
    const sorted = Float64Array.from(v).sort();
    let worst = 0;
    for (let t = -4; t <= 4; t += 0.25) {
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((sorted[mid] as number) <= t) lo = mid + 1;
        else hi = mid;
      }
      worst = Math.max(worst, Math.abs(lo / n - phi(t)));
    }
    expect(worst).toBeLessThan(0.004);
    const again = randomStandardNormal([200_001], 5);
    const other = randomStandardNormal([200_001], 6);
    expect(again.dataSync()).toEqual(v);
    expect(other.dataSync()).not.toEqual(v);
    tf.dispose([t, again, other]);
  });
});
