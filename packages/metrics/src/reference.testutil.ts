// Float64 reference math for the tests (independent of tfjs), plus a seeded PRNG.
import * as tf from '@tensorflow/tfjs-core';

/** mulberry32: a small seeded PRNG for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(rand: () => number): number {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** log σ(x) in float64, stable on both sides. */
export const logSigmoid = (x: number): number => (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x)));
export const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/**
 * log P(level v) of a discretized logistic in float64 by the plain CDF difference F(upper) − F(lower), taking the
 * complement form 1 − F when both arguments are positive (so tail masses are not lost to cancellation).
 */
export function refDiscLogisticLogProb(v: number, mu: number, s: number, numBins = 256): number {
  const h = 1 / (numBins - 1);
  const x = (2 * v) / (numBins - 1) - 1;
  const a = v === numBins - 1 ? Infinity : (x + h - mu) / s;
  const b = v === 0 ? -Infinity : (x - h - mu) / s;
  if (b > 0) return Math.log(sigmoid(-b) - (a === Infinity ? 0 : sigmoid(-a)));
  return Math.log((a === Infinity ? 1 : sigmoid(a)) - (b === -Infinity ? 0 : sigmoid(b)));
}

export function logSumExp(values: number[]): number {
  const m = Math.max(...values);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(values.reduce((acc, v) => acc + Math.exp(v - m), 0));
}

/** log N(x; mean, C) for a dense covariance, by Cholesky, in float64. */
export function logNormalDense(x: number[], mean: number[], cov: number[][]): number {
  const n = x.length;
  const L: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = (cov[i] as number[])[j] as number;
      for (let k = 0; k < j; k++) sum -= (L[i] as number[])[k]! * (L[j] as number[])[k]!;
      if (i === j) (L[i] as number[])[i] = Math.sqrt(sum);
      else (L[i] as number[])[j] = sum / (L[j] as number[])[j]!;
    }
  }
  // Solve L y = x − mean.
  const y = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let sum = x[i]! - mean[i]!;
    for (let k = 0; k < i; k++) sum -= (L[i] as number[])[k]! * y[k]!;
    y[i] = sum / (L[i] as number[])[i]!;
  }
  let logDet = 0;
  for (let i = 0; i < n; i++) logDet += 2 * Math.log((L[i] as number[])[i]!);
  const quad = y.reduce((acc, v) => acc + v * v, 0);
  return -0.5 * (quad + logDet + n * Math.log(2 * Math.PI));
}

export async function values(t: tf.Tensor): Promise<number[]> {
  const out = Array.from(await t.data());
  return out;
}

/** Runs fn in a tidy, reads the result and disposes it: no tensor survives. */
export function read(fn: () => tf.Tensor): number[] {
  const t = tf.tidy(fn);
  const out = Array.from(t.dataSync());
  t.dispose();
  return out;
}
