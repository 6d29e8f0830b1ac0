import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareGmKernels } from './gm-kernels';
import { installWasmSoftplus } from './wasm-softplus';

describe('wasm Softplus (gm kernel)', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
    expect(installWasmSoftplus()).toBe(true);
  });

  it('matches log1p(exp(x)) in double precision within 3 float32 ulps over −100 … 100 (and ±∞, NaN)', () => {
    const values: number[] = [];
    for (let v = -100; v <= 100; v += 0.0137) values.push(v);
    values.push(0, -0, 1e-8, -1e-8, 20, -20, 88, -88, 87.33, -87.33, 1e30, -1e30, Infinity, -Infinity, NaN);
    const x = Float32Array.from(values); // 14,612 values: SIMD body and a scalar tail
    const y = tf.tidy(() => tf.softplus(tf.tensor1d(x)).dataSync() as Float32Array);
    let worstUlps = 0;
    for (let i = 0; i < x.length; i++) {
      const xi = x[i] as number;
      const exact = xi > 0 ? xi + Math.log1p(Math.exp(-xi)) : Math.log1p(Math.exp(xi));
      if (Number.isNaN(xi)) {
        expect(Number.isNaN(y[i] as number)).toBe(true);
        continue;
      }
      if (!Number.isFinite(exact)) {
        expect(y[i]).toBe(exact);
        continue;
      }
      if (exact < 1.1754944e-38) {
        expect(y[i] as number).toBeLessThan(1.1754944e-38); // e^x below FLT_MIN flushes to 0
        continue;
      }
      const ulp = Math.max(2 ** (Math.floor(Math.log2(Math.abs(exact))) - 23), 2 ** -149);
      worstUlps = Math.max(worstUlps, Math.abs((y[i] as number) - exact) / ulp);
    }
    expect(worstUlps).toBeLessThanOrEqual(3);
  });

  it('keeps the shape and leaks no buffers', () => {
    const x = tf.randomNormal([3, 5, 7]);
    const buffers = tf.backend().numDataIds();
    const y = tf.softplus(x);
    expect(y.shape).toEqual([3, 5, 7]);
    y.dispose();
    expect(tf.backend().numDataIds()).toBe(buffers);
    x.dispose();
  });
});
