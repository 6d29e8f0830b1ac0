import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the gradients autodiff needs
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '@gm/core';
import { RQ_IDENTITY_DERIVATIVE, rationalQuadraticForward, rationalQuadraticInverse, rqParamsPerElement } from './rational-quadratic';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const K = 6;
const B = 3;
const options = { bins: K, bound: B };

/** Random spline parameters for `count` elements (rows of 3K − 1), wide enough to make sharply uneven bins. */
function randomParams(count: number, seed: number, spread = 2): tf.Tensor2D {
  const rand = mulberry32(seed);
  return tf.tensor2d(Array.from({ length: count * rqParamsPerElement(K) }, () => spread * (2 * rand() - 1)), [count, rqParamsPerElement(K)]);
}

/** The knots (x and y positions) of element `i` of a parameter row, in float64 — the spec the tensors must meet. */
function knotsOf(row: number[]): { xs: number[]; ys: number[] } {
  const positions = (raw: number[]) => {
    const m = Math.max(...raw);
    const e = raw.map((v) => Math.exp(v - m));
    const total = e.reduce((a, b) => a + b, 0);
    const f = e.map((v) => 1e-3 + (1 - 1e-3 * K) * (v / total));
    const out = [-B];
    let c = 0;
    for (let k = 0; k < K - 1; k++) out.push(2 * B * (c += f[k]!) - B);
    out.push(B);
    return out;
  };
  return { xs: positions(row.slice(0, K)), ys: positions(row.slice(K, 2 * K)) };
}

describe('rational-quadratic spline (Durkan et al., 2019)', () => {
  it('inverse(forward(x)) = x within 1e-4, also at and beside every knot and in both tails; log-dets are opposite', () => {
    const rows = 40;
    const params = randomParams(rows, 1);
    const rowValues = params.arraySync();
    // Per row: points at each knot, 1e-6 either side of it, random points inside and points in the tails.
    const rand = mulberry32(2);
    const xs: number[] = [];
    for (let r = 0; r < rows; r++) {
      const { xs: knots } = knotsOf(rowValues[r]!);
      const k = 1 + (r % (K - 1));
      const pts = [knots[k]!, knots[k]! - 1e-6, knots[k]! + 1e-6, -B, B, -B - 2, B + 5, 2 * B * rand() - B];
      xs.push(...pts);
    }
    const perRow = 8;
    const x = tf.tensor2d(xs, [rows, perRow]);
    const p = tf.tile(tf.expandDims(params, 1), [1, perRow, 1]);
    const f = rationalQuadraticForward(x, p, options);
    const back = rationalQuadraticInverse(f.y, p, options);
    const err = tf.max(tf.abs(tf.sub(back.x, x))).dataSync()[0]!;
    expect(err).toBeLessThan(1e-4);
    // Log-dets: opposite within 1e-4 away from knots; at and beside a knot within 5e-3, since there a float32 θ in a
    // narrow bin (θ error ≈ 1e-6 / width) meets the log-derivative's steepest change.
    const logDetGap = tf.max(tf.abs(tf.add(f.logDerivative, back.logDerivative)), 0).arraySync() as number[];
    logDetGap.forEach((gap, column) => expect(gap).toBeLessThan(column < 5 ? 5e-3 : 1e-4)); // columns 0–4: at or beside knots (±B included)
    // Tails are the identity with log-derivative 0; the spline maps [−B, B] onto itself, knots onto knots.
    const y = f.y.arraySync() as number[][];
    const ld = f.logDerivative.arraySync() as number[][];
    for (let r = 0; r < rows; r++) {
      expect(y[r]![5]).toBe(-B - 2);
      expect(y[r]![6]).toBe(B + 5);
      expect(ld[r]![5]).toBe(0);
      expect(Math.abs(y[r]![3]! + B)).toBeLessThan(1e-5);
      expect(Math.abs(y[r]![4]! - B)).toBeLessThan(1e-5);
      const { ys } = knotsOf(rowValues[r]!);
      expect(Math.abs(y[r]![0]! - ys[1 + (r % (K - 1))]!)).toBeLessThan(1e-4);
    }
    tf.dispose([params, x, p, f.y, f.logDerivative, back.x, back.logDerivative]);
  });

  it('the log-derivative is the autodiff derivative, and the spline is strictly increasing', () => {
    const n = 200;
    const params = randomParams(1, 3);
    const p = tf.tile(tf.expandDims(params, 1), [1, n, 1]);
    const x = tf.reshape(tf.linspace(-B - 0.5, B + 0.5, n), [1, n]);
    const autodiff = tf.grad((v: tf.Tensor) => tf.sum(rationalQuadraticForward(v, p, options).y))(x);
    const f = rationalQuadraticForward(x, p, options);
    const ld = f.logDerivative.dataSync();
    const g = autodiff.dataSync();
    for (let i = 0; i < n; i++) expect(Math.abs(ld[i]! - Math.log(g[i]!))).toBeLessThan(2e-4);
    const y = f.y.dataSync();
    for (let i = 1; i < n; i++) expect(y[i]!).toBeGreaterThan(y[i - 1]!);
    // The inverse's log-derivative is the autodiff derivative of the inverse.
    const inv = rationalQuadraticInverse(x, p, options);
    const invGrad = tf.grad((v: tf.Tensor) => tf.sum(rationalQuadraticInverse(v, p, options).x))(x).dataSync();
    const invLd = inv.logDerivative.dataSync();
    for (let i = 0; i < n; i++) expect(Math.abs(invLd[i]! - Math.log(invGrad[i]!))).toBeLessThan(2e-4);
    tf.dispose([params, p, x, autodiff, f.y, f.logDerivative, inv.x, inv.logDerivative]);
  });

  it('gradients reach every parameter (widths, heights, derivatives) and stay finite', () => {
    const params = randomParams(16, 4);
    const x = tf.tensor2d(Array.from({ length: 16 }, (_, i) => -B + (2 * B * (i + 0.5)) / 16), [16, 1]);
    const g = tf.grad((q: tf.Tensor) => tf.sum(rationalQuadraticForward(x, tf.expandDims(q, 1), options).logDerivative))(params);
    const values = g.arraySync() as number[][];
    expect(values.flat().every(Number.isFinite)).toBe(true);
    for (const [from, to] of [[0, K], [K, 2 * K], [2 * K, 3 * K - 1]] as const) {
      expect(values.some((row) => row.slice(from, to).some((v) => Math.abs(v) > 1e-6))).toBe(true);
    }
    tf.dispose([params, x, g]);
  });

  it('is the identity with equal bins and unit derivatives (a fresh flow is the identity)', () => {
    const identity = tf.concat([tf.zeros([5, 2 * K]), tf.fill([5, K - 1], RQ_IDENTITY_DERIVATIVE)], 1);
    const x = tf.tensor2d([-4, -3, -1.234, 0, 0.5, 2.999, 3, 7, -0.01, 1.5], [5, 2]);
    const p = tf.tile(tf.expandDims(identity, 1), [1, 2, 1]);
    const f = rationalQuadraticForward(x, p, options);
    expect(tf.max(tf.abs(tf.sub(f.y, x))).dataSync()[0]!).toBeLessThan(1e-5);
    expect(tf.max(tf.abs(f.logDerivative)).dataSync()[0]!).toBeLessThan(1e-5);
    tf.dispose([identity, x, p, f.y, f.logDerivative]);
  });

  it('refuses parameters of the wrong shape and bad options, naming them; leaks no tensor', () => {
    const x = tf.zeros([2, 3]);
    const before = tf.memory().numTensors;
    const p = tf.zeros([2, 3, rqParamsPerElement(K)]);
    const f = rationalQuadraticForward(x, p, options);
    const i = rationalQuadraticInverse(f.y, p, options);
    tf.dispose([p, f.y, f.logDerivative, i.x, i.logDerivative]);
    expect(tf.memory().numTensors).toBe(before);
    const wrong = tf.zeros([2, 3, 10]);
    expect(() => rationalQuadraticForward(x, wrong, options)).toThrow(/rationalQuadraticForward: params must be shape \[2, 3, 17\] .* got "\[2, 3, 10\]"/);
    expect(() => rationalQuadraticInverse(x, wrong, { bins: 1 })).toThrow(/bins must be at least 2/);
    expect(() => rationalQuadraticForward(x, wrong, { bins: K, bound: -1 })).toThrow(/bound must be a positive number/);
    tf.dispose([x, wrong]);
  });
});
