import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers the gradient kernels
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '@gm/core';
import { installWasmMaxPoolGrad, uninstallWasmMaxPoolGrad } from './wasm-maxpool-grad';
import { initBackend } from './init';

interface Case {
  shape: [number, number, number, number];
  filter: [number, number];
  strides: [number, number];
  pad: 'valid' | 'same';
  values: number[];
}

/** dx of Σ w·maxPool(x) (w a fixed ramp, so every window's gradient is distinct) on the current backend. */
function poolGrad(c: Case): number[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(c.values, c.shape);
    const dx = tf.grad((a: tf.Tensor) => {
      const y = tf.maxPool(a as tf.Tensor4D, c.filter, c.strides, c.pad);
      return tf.sum(tf.mul(y, tf.reshape(tf.add(tf.range(0, y.size), 1), y.shape)));
    })(x);
    return Array.from(dx.dataSync());
  });
}

async function on(backend: string, f: () => number[]): Promise<number[]> {
  await tf.setBackend(backend);
  return f();
}

const twoWindows: Case = { shape: [1, 2, 4, 1], filter: [2, 2], strides: [2, 2], pad: 'valid', values: [1, 2, -1, -2, 3, 4, -3, -4] };

describe("gm's MaxPoolGrad on wasm", () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
  });
  afterAll(async () => {
    installWasmMaxPoolGrad();
    await tf.setBackend('cpu');
  });

  it("tfjs-wasm 4.22's own kernel misroutes a window whose values are all negative (why gm replaces it)", async () => {
    uninstallWasmMaxPoolGrad();
    const stock = await on('wasm', () => poolGrad(twoWindows));
    const cpu = await on('cpu', () => poolGrad(twoWindows));
    // Windows: {1, 2, 3, 4} → max 4 at index 5; {−1, −2, −3, −4} → max −1 at index 2.
    expect(cpu).toEqual([0, 0, 2, 0, 0, 1, 0, 0]);
    expect(stock).not.toEqual(cpu);
    expect(stock[2]).toBe(0); // the negative window's gradient went elsewhere
    await tf.setBackend('wasm');
    expect(installWasmMaxPoolGrad()).toBe(true);
    expect(await on('wasm', () => poolGrad(twoWindows))).toEqual(cpu);
  });

  it('equals the cpu backend bit for bit on 200 random poolings: negative windows, ties, NaN, same/valid, overlapping windows', async () => {
    const rnd = mulberry32(19);
    const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
    const cases: Case[] = [];
    for (let t = 0; t < 200; t++) {
      const shape: Case['shape'] = [int(1, 3), int(1, 9), int(1, 9), int(1, 4)];
      const filter: Case['filter'] = [int(1, 3), int(1, 3)];
      const strides: Case['strides'] = [int(1, 3), int(1, 3)];
      const pad = rnd() < 0.5 ? 'valid' : 'same';
      if (pad === 'valid' && (filter[0] > shape[1] || filter[1] > shape[2])) continue;
      const n = shape.reduce((a, b) => a * b, 1);
      // Few distinct values (ties), mostly negative windows, the odd NaN and −∞.
      const values = Array.from({ length: n }, () => {
        const u = rnd();
        return u < 0.01 ? Number.NaN : u < 0.02 ? Number.NEGATIVE_INFINITY : t % 2 === 0 ? int(-4, 1) : rnd() * 4 - 3;
      });
      cases.push({ shape, filter, strides, pad, values });
    }
    expect(cases.length).toBeGreaterThan(150);
    const cpu = await on('cpu', () => cases.flatMap(poolGrad));
    const wasm = await on('wasm', () => cases.flatMap(poolGrad));
    expect(wasm).toEqual(cpu);
  });

  it('leaks no tensor, and a large batch is quick', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([32, 28, 28, 16], 0, 1, 'float32', 3);
    const step = () => tf.tidy(() => tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid')))(x)).dispose();
    step();
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) step();
    const ms = (performance.now() - t0) / 5;
    expect(tf.memory().numTensors).toBe(before);
    expect(ms).toBeLessThan(100); // ~11 ms here, pooling and its gradient, for 401,408 inputs
    x.dispose();
  });
});

describe('initBackend', () => {
  it('installs it on wasm, with or without the fast kernels', async () => {
    uninstallWasmMaxPoolGrad();
    await initBackend({ backend: 'wasm', fastMatMul: false });
    const cpu = await on('cpu', () => poolGrad(twoWindows));
    expect(await on('wasm', () => poolGrad(twoWindows))).toEqual(cpu);
  });
});
