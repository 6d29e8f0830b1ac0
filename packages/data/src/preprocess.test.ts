import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  binarizeDynamic,
  binarizeStatic,
  bitsPerDimFromLogit,
  dequantizeUniform,
  logitInverse,
  logitTransform,
  logitTransformTensor,
  scaleToUnit,
} from './preprocess.js';
import { mulberry32 } from './random.js';
import { testBytes } from './test-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** log|det A| by LU decomposition with partial pivoting (float64). */
function logAbsDet(a: number[][]): number {
  const m = a.map((r) => [...r]);
  const n = m.length;
  let acc = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i]![k]!) > Math.abs(m[p]![k]!)) p = i;
    [m[k], m[p]] = [m[p]!, m[k]!];
    const pivot = m[k]![k]!;
    acc += Math.log(Math.abs(pivot));
    for (let i = k + 1; i < n; i++) {
      const f = m[i]![k]! / pivot;
      for (let j = k; j < n; j++) m[i]![j]! -= f * m[k]![j]!;
    }
  }
  return acc;
}

describe('scaling and binarization', () => {
  it('scales bytes to [0, 1]', () => {
    expect([...scaleToUnit(Uint8Array.from([0, 51, 255]))]).toEqual([0, Math.fround(0.2), 1]);
  });

  it('binarizes statically at the threshold', () => {
    expect([...binarizeStatic(Uint8Array.from([0, 127, 128, 255]))]).toEqual([0, 0, 1, 1]);
    expect([...binarizeStatic(Uint8Array.from([0, 26, 25, 255]), 0.1)]).toEqual([0, 1, 0, 1]);
    expect(() => binarizeStatic(new Uint8Array(1), 1)).toThrow(/threshold/);
  });

  it('binarizes dynamically as seeded Bernoulli(v / 255) draws', () => {
    const n = 40_000;
    for (const v of [0, 51, 128, 255]) {
      const bits = binarizeDynamic(new Uint8Array(n).fill(v), 1);
      let ones = 0;
      for (const b of bits) ones += b;
      const p = v / 255;
      // 4.5 standard errors.
      expect(Math.abs(ones / n - p)).toBeLessThanOrEqual(4.5 * Math.sqrt((p * (1 - p)) / n));
    }
    const img = testBytes(784, 1);
    expect(binarizeDynamic(img, 7)).toEqual(binarizeDynamic(img, 7));
    expect(binarizeDynamic(img, 7)).not.toEqual(binarizeDynamic(img, 8));
    // A running generator gives fresh draws each call.
    const rng = mulberry32(3);
    expect(binarizeDynamic(img, rng)).not.toEqual(binarizeDynamic(img, rng));
  });

  it('dequantizes uniformly inside each pixel bin', () => {
    const img = testBytes(10_000, 2);
    const x = dequantizeUniform(img, 4);
    let mean = 0;
    let outside = 0;
    for (let i = 0; i < img.length; i++) {
      const u = x[i]! * 256 - img[i]!;
      if (!(u >= 0 && u < 1)) outside++;
      mean += u;
    }
    expect(outside).toBe(0);
    expect(Math.abs(mean / img.length - 0.5)).toBeLessThan(0.015);
    expect(dequantizeUniform(img, 4)).toEqual(x);
  });
});

describe('logit transform', () => {
  it('inverts exactly (up to float32)', () => {
    const x = Float32Array.from([0, 0.001, 0.25, 0.5, 0.999, 1]);
    const { y } = logitTransform(x, 3, 0.05);
    expect(y.every(Number.isFinite)).toBe(true);
    const back = logitInverse(y, 0.05);
    for (let i = 0; i < x.length; i++) expect(back[i]).toBeCloseTo(x[i]!, 5);
  });

  it('has the log-determinant autodiff finds for the full Jacobian', () => {
    const alpha = 0.05;
    const x = Float32Array.from([0.02, 0.3, 0.5, 0.77, 0.99, 0.6]);
    const n = x.length;
    const f = (t: tf.Tensor): tf.Tensor => {
      const p = tf.add(alpha, tf.mul(1 - 2 * alpha, t));
      return tf.sub(tf.log(p), tf.log(tf.sub(1, p)));
    };
    const jac: number[][] = [];
    const xt = tf.tensor1d(x);
    for (let i = 0; i < n; i++) {
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(f(t), [i])))(xt);
      jac.push(Array.from(g.dataSync()));
      g.dispose();
    }
    xt.dispose();
    // Elementwise, so the Jacobian is diagonal: autodiff must agree.
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) expect(jac[i]![j]).toBe(0);
    const autodiff = logAbsDet(jac);
    const { logDet } = logitTransform(x, n, alpha);
    expect(logDet[0]).toBeCloseTo(autodiff, 4);
    // Per sample: two samples of three values each.
    const two = logitTransform(x, 3, alpha).logDet;
    expect(two[0]! + two[1]!).toBeCloseTo(logDet[0]!, 10);
  });

  it('has a tensor version matching the array version, without leaking', () => {
    const x = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]);
    const before = tf.memory().numTensors;
    const input = tf.tensor4d(x, [2, 2, 2, 1]);
    const { y, logDet } = logitTransformTensor(input, 0.05);
    expect(y.shape).toEqual([2, 2, 2, 1]);
    expect(logDet.shape).toEqual([2]);
    const ref = logitTransform(x, 4, 0.05);
    const yv = y.dataSync();
    for (let i = 0; i < x.length; i++) expect(yv[i]).toBeCloseTo(ref.y[i]!, 5);
    const ld = logDet.dataSync();
    expect(ld[0]).toBeCloseTo(ref.logDet[0]!, 4);
    expect(ld[1]).toBeCloseTo(ref.logDet[1]!, 4);
    tf.dispose([input, y, logDet]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => logitTransformTensor(tf.zeros([3]))).toThrow(/rank ≥ 2/);
    expect(() => logitTransform(x, 3)).toThrow(/dims/);
  });

  it('gives 8 bits/dim for the uniform density over pixels', () => {
    // If x = (pixel + u)/256 is uniform on [0,1)^D, log p(y) = −logDet, and every one of 256 levels is equally
    // likely: exactly 8 bits per dimension.
    const dims = 5;
    const x = Float32Array.from([0.1, 0.3, 0.5, 0.7, 0.9]);
    const { logDet } = logitTransform(x, dims);
    expect(bitsPerDimFromLogit(-logDet[0]!, logDet[0]!, dims)).toBeCloseTo(8, 10);
    // A density twice as high on y gives one bit per image less: 8 − 1/D bits/dim.
    expect(bitsPerDimFromLogit(-logDet[0]! + Math.LN2, logDet[0]!, dims)).toBeCloseTo(8 - 1 / dims, 10);
  });
});
