import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { readAdamState } from '../gm-adam';
import { prepareGmKernels } from '../gm-kernels';
import { FlatOptimizer, type FlatOptimizerConfig } from './flat-optimizer';

/** Variables of odd sizes: the SIMD body, a tail, and a single value. */
const SIZES = [7, 1, 33, 4];
const TOTAL = SIZES.reduce((a, b) => a + b, 0);
const STEPS = 6;

/** Deterministic values spanning magnitudes (Adam's division and square root see tiny and large gradients). */
function values(n: number, seed: number): Float32Array {
  let state = seed * 2654435761;
  return Float32Array.from({ length: n }, (_, i) => {
    state = (state * 1103515245 + 12345) >>> 0;
    const u = state / 2 ** 32 - 0.5;
    return u * 10 ** ((i % 7) - 3);
  });
}

/** Concatenates per-variable arrays into one flat array. */
function join(parts: Float32Array[]): Float32Array {
  const all = new Float32Array(TOTAL);
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

interface Snapshot {
  params: Float32Array;
  first?: Float32Array;
  second?: Float32Array;
  counters?: number[];
}

/** The same updates through tf.train.adam / tf.train.sgd on the cpu backend: parameters and Adam's state after each step. */
async function reference(config: FlatOptimizerConfig): Promise<Snapshot[]> {
  await tf.setBackend('cpu');
  const initial = values(TOTAL, 1);
  let offset = 0;
  const vars = SIZES.map((n) => {
    const v = tf.variable(tf.tensor(initial.slice(offset, offset + n)));
    offset += n;
    return v;
  });
  const optimizer = config.name === 'adam' ? tf.train.adam(config.learningRate, config.beta1, config.beta2, config.epsilon) : tf.train.sgd(config.learningRate);
  const out: Snapshot[] = [];
  for (let s = 0; s < STEPS; s++) {
    const g = values(TOTAL, 100 + s);
    let o = 0;
    tf.tidy(() =>
      optimizer.applyGradients(
        vars.map((v, k) => {
          const n = SIZES[k] as number;
          const tensor = tf.tensor(g.slice(o, o + n));
          o += n;
          return { name: v.name, tensor };
        }),
      ),
    );
    const params = join(vars.map((v) => v.dataSync() as Float32Array));
    if (config.name === 'adam') {
      const state = readAdamState(optimizer as tf.AdamOptimizer, SIZES);
      out.push({ params, first: join(state.firstMoments), second: join(state.secondMoments), counters: [state.iterations, state.accBeta1, state.accBeta2] });
    } else {
      out.push({ params });
    }
  }
  optimizer.dispose();
  tf.dispose(vars);
  return out;
}

/** The flat optimizer on the current backend, the same steps. */
function flat(config: FlatOptimizerConfig): Required<Snapshot>[] {
  const optimizer = new FlatOptimizer(config, TOTAL);
  try {
    optimizer.views().params.set(values(TOTAL, 1));
    const out: Required<Snapshot>[] = [];
    for (let s = 0; s < STEPS; s++) {
      optimizer.views().gradient.set(values(TOTAL, 100 + s));
      optimizer.apply();
      const { params, first, second } = optimizer.views();
      const { iterations, accBeta1, accBeta2 } = optimizer.adamCounters;
      out.push({ params: params.slice(), first: first.slice(), second: second.slice(), counters: [iterations, accBeta1, accBeta2] });
    }
    return out;
  } finally {
    optimizer.dispose();
  }
}

const CONFIGS: Array<[string, FlatOptimizerConfig]> = [
  ['Adam, defaults', { name: 'adam', learningRate: 1e-3 }],
  ['Adam, other β and ε', { name: 'adam', learningRate: 0.05, beta1: 0.8, beta2: 0.95, epsilon: 1e-4 }],
  ['SGD', { name: 'sgd', learningRate: 0.3 }],
];

describe('FlatOptimizer: one flat update, bit for bit what tf.train.adam / tf.train.sgd do variable by variable', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
  });

  it.each(CONFIGS)('%s: JavaScript (cpu backend) and gm_adam (wasm heap) equal the tf optimizer at every step', async (_, config) => {
    const want = await reference(config);
    for (const backend of ['cpu', 'wasm'] as const) {
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      const probe = new FlatOptimizer(config, 1);
      expect(probe.native).toBe(backend === 'wasm');
      probe.dispose();
      const got = flat(config);
      expect(tf.memory().numTensors).toBe(before);
      got.forEach((step, s) => {
        const w = want[s]!;
        expect(step.params, `${backend}, step ${s}: parameters`).toEqual(w.params);
        if (config.name === 'adam') {
          expect(step.first, `${backend}, step ${s}: first moments`).toEqual(w.first);
          expect(step.second, `${backend}, step ${s}: second moments`).toEqual(w.second);
          expect(step.counters, `${backend}, step ${s}: iterations, βᵗ₁, βᵗ₂`).toEqual(w.counters);
        }
      });
      // Not a vacuous comparison: the parameters moved.
      expect(got[STEPS - 1]!.params).not.toEqual(values(TOTAL, 1));
    }
  });

  it.each(['cpu', 'wasm'] as const)('%s: addScratch adds in float32, scaleGradient multiplies by the float32 factor, gradientSquares sums in float64', async (backend) => {
    await tf.setBackend(backend);
    const optimizer = new FlatOptimizer({ name: 'adam', learningRate: 1e-3 }, TOTAL);
    const [a, b] = [values(TOTAL, 7), values(TOTAL, 8)];
    optimizer.views().gradient.set(a);
    optimizer.views().scratch.set(b);
    optimizer.addScratch();
    const sum = Float32Array.from(a, (x, i) => Math.fround(x + (b[i] as number)));
    expect(optimizer.views().gradient).toEqual(sum);
    let squares = 0;
    for (const x of sum) squares += x * x;
    expect(optimizer.gradientSquares()).toBe(squares);
    optimizer.scaleGradient(1 / 3);
    expect(optimizer.views().gradient).toEqual(Float32Array.from(sum, (x) => Math.fround(x * Math.fround(1 / 3))));
    optimizer.dispose();
  });

  it('keeps its values when the wasm heap grows under it (views are taken afresh)', async () => {
    await tf.setBackend('wasm');
    const heapBytes = () => (tf.backend() as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm.asm.memory.buffer.byteLength;
    const optimizer = new FlatOptimizer({ name: 'adam', learningRate: 1e-3 }, TOTAL);
    optimizer.views().params.set(values(TOTAL, 3));
    const before = heapBytes();
    const big = tf.zeros([before / 2]); // twice the heap's bytes: forces a grow
    expect(heapBytes()).toBeGreaterThan(before);
    big.dispose();
    expect(optimizer.views().params).toEqual(values(TOTAL, 3));
    optimizer.views().gradient.set(values(TOTAL, 4));
    optimizer.apply();
    expect(optimizer.adamCounters.iterations).toBe(1);
    optimizer.dispose();
  });

  it('refuses a bad learning rate or iteration count, and use after dispose (dispose itself is idempotent)', async () => {
    await tf.setBackend('wasm');
    expect(() => new FlatOptimizer({ name: 'adam', learningRate: Number.NaN }, 3)).toThrow(/learningRate must be a finite number ≥ 0, got NaN/);
    const optimizer = new FlatOptimizer({ name: 'sgd', learningRate: 0 }, 3);
    expect(() => (optimizer.adamCounters = { iterations: -1, accBeta1: 0.9, accBeta2: 0.999 })).toThrow(/iterations must be a non-negative integer, got -1/);
    expect(optimizer.views().first.length).toBe(0); // SGD keeps no moments
    optimizer.dispose();
    optimizer.dispose();
    expect(() => optimizer.apply()).toThrow(/used after dispose/);
  });
});
