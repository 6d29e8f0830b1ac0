import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareGmKernels } from './gm-kernels';
import { installWasmUnaryKernels, uninstallWasmUnaryKernels } from './wasm-unary';

/** Values from `from` to `to` in steps of `step`, then the special ones every function must get right. */
function grid(from: number, to: number, step: number, extra: number[]): Float32Array {
  const values: number[] = [];
  for (let v = from; v <= to; v += step) values.push(v);
  values.push(0, -0, 1e-8, -1e-8, 1e-30, -1e-30, 1e-40, Infinity, -Infinity, NaN, ...extra);
  return Float32Array.from(values);
}

/** The worst error in float32 ulps of the exact value (subnormal results: in units of the smallest subnormal). */
function worstUlps(x: Float32Array, y: Float32Array, exact: (v: number) => number): number {
  let worst = 0;
  x.forEach((xi, i) => {
    const want = exact(xi);
    const got = y[i] as number;
    if (Number.isNaN(want)) {
      expect(Number.isNaN(got), `f(${xi}) = ${got}, want NaN`).toBe(true);
      return;
    }
    const rounded = Math.fround(want);
    if (!Number.isFinite(rounded) || rounded === 0) {
      expect(Object.is(got + 0, rounded + 0) || Math.abs(got) < 2 ** -148, `f(${xi}) = ${got}, want ${rounded}`).toBe(true);
      return;
    }
    if (want === 0) expect(Object.is(got, want), `f(${xi}) = ${got}, want ${want} (its sign too)`).toBe(true);
    const ulp = Math.max(2 ** (Math.floor(Math.log2(Math.abs(want))) - 23), 2 ** -149);
    worst = Math.max(worst, Math.abs(got - want) / ulp);
  });
  return worst;
}

const CASES: Array<{ name: string; op: (t: tf.Tensor) => tf.Tensor; exact: (v: number) => number; x: Float32Array }> = [
  { name: 'Exp', op: tf.exp, exact: Math.exp, x: grid(-110, 90, 0.0071, [88.72, 88.7228, 88.73, -87.34, -103.9, -104.5, 1e-3]) },
  { name: 'Tanh', op: tf.tanh, exact: Math.tanh, x: grid(-12, 12, 0.00093, [0.6249, 0.625, 0.6251, -0.625, 1e-4, 50, -50]) },
  {
    name: 'Softplus',
    op: tf.softplus,
    exact: (v) => (v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v))),
    x: grid(-100, 100, 0.0137, [20, -20, 88, -88, 87.33, -87.33, 1e30, -1e30]),
  },
];

describe("gm's wasm Exp, Tanh and Softplus", () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
  });

  it.each(CASES)('$name matches the double-precision value within 3 float32 ulps (and ±∞, NaN, ±0, subnormals)', ({ op, exact, x }) => {
    installWasmUnaryKernels();
    const y = tf.tidy(() => op(tf.tensor1d(x)).dataSync() as Float32Array); // SIMD body, 4-float steps and a tail
    expect(worstUlps(x, y, exact)).toBeLessThanOrEqual(3);
  });

  it.each(CASES)("$name runs gm's kernel, keeps the shape and leaks no buffers", ({ name, op }) => {
    uninstallWasmUnaryKernels();
    const stock = tf.getKernel(name, 'wasm');
    installWasmUnaryKernels();
    expect(tf.getKernel(name, 'wasm')).not.toBe(stock);
    const x = tf.randomNormal([3, 5, 7]);
    const buffers = tf.backend().numDataIds();
    const y = op(x);
    expect(y.shape).toEqual([3, 5, 7]);
    y.dispose();
    expect(tf.backend().numDataIds()).toBe(buffers);
    x.dispose();
  });

  it('leaves other dtypes to the stock kernels', () => {
    installWasmUnaryKernels();
    const y = tf.tidy(() => tf.exp(tf.tensor1d([0, 1], 'int32')).dataSync());
    expect(Array.from(y)).toEqual([1, Math.fround(Math.E)]);
  });
});
