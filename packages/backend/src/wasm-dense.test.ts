import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers the gradient kernels
import { composedDense, fusedDense, FUSED_DENSE_ACTIVATIONS, FUSED_DENSE_KERNEL, type DenseTerm, type FusedDenseActivation } from '@gm/core/ops';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { worst } from './test-helpers';
import { prepareGmKernels, releaseGmKernels } from './gm-kernels';
import { installFastWasmMatMul } from './wasm-matmul';
import { installSharedSavedTensors, uninstallSharedSavedTensors } from './shared-saved-tensors';
import { installWasmDense, uninstallWasmDense } from './wasm-dense';

/** A layer to test: rows, units, the terms' widths (masked or not), bias, activation. */
interface Case {
  rows: number;
  units: number;
  terms: Array<{ width: number; masked: boolean }>;
  bias: boolean;
  activation: FusedDenseActivation;
}

/** Deterministic inputs of a case: x, kernels, 0/1 masks (about half ones), bias; one flat list in a fixed order. */
function inputsOf(c: Case, seed: number): { terms: DenseTerm[]; bias: tf.Tensor | undefined; all: tf.Tensor[] } {
  let s = seed;
  const terms = c.terms.map(({ width, masked }) => ({
    x: tf.randomNormal([c.rows, width], 0, 1, 'float32', s++),
    kernel: tf.randomNormal([width, c.units], 0, 0.5, 'float32', s++),
    ...(masked ? { mask: tf.cast(tf.greater(tf.randomUniform([width, c.units], 0, 1, 'float32', s++), 0.5), 'float32') } : {}),
  }));
  const bias = c.bias ? tf.randomNormal([c.units], 0, 1, 'float32', s++) : undefined;
  const all = [...terms.flatMap((t) => (t.mask === undefined ? [t.x, t.kernel] : [t.x, t.kernel, t.mask])), ...(bias === undefined ? [] : [bias])];
  return { terms, bias, all };
}

/** y and the gradient of Σ y·r (r fixed, so every output weighs differently) with respect to every input. */
function valueAndGrads(c: Case, layer: typeof fusedDense): Float32Array[] {
  return tf.tidy(() => {
    const { terms, bias, all } = inputsOf(c, 7);
    const weights = tf.randomNormal([c.rows, c.units], 0, 1, 'float32', 99);
    const rebuild = (values: tf.Tensor[]) => {
      let i = 0;
      const ts = terms.map((t) => ({ x: values[i++] as tf.Tensor, kernel: values[i++] as tf.Tensor, ...(t.mask === undefined ? {} : { mask: values[i++] as tf.Tensor }) }));
      return { ts, b: bias === undefined ? undefined : values[i] };
    };
    const f = (...values: tf.Tensor[]) => {
      const { ts, b } = rebuild(values);
      return tf.sum(tf.mul(layer(ts, { ...(b === undefined ? {} : { bias: b }), activation: c.activation }), weights));
    };
    const { ts, b } = rebuild(all);
    const y = layer(ts, { ...(b === undefined ? {} : { bias: b }), activation: c.activation });
    const grads = tf.grads(f)(all);
    return [y, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

async function on(backend: string, fn: () => Float32Array[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return fn();
}

const SHAPES: Array<Omit<Case, 'activation'>> = [
  // MADE's hidden layer: one masked term, odd sizes (tile edges in every direction)
  { rows: 7, units: 13, terms: [{ width: 5, masked: true }], bias: true },
  // an IAF step's layer: masked main input + unmasked context
  { rows: 10, units: 9, terms: [{ width: 11, masked: true }, { width: 3, masked: false }], bias: true },
  // MADE with a direct connection and a context: three terms
  { rows: 3, units: 17, terms: [{ width: 8, masked: true }, { width: 6, masked: true }, { width: 4, masked: false }], bias: true },
  // plain dense, no bias; one row, one unit
  { rows: 1, units: 1, terms: [{ width: 4, masked: false }], bias: false },
  { rows: 33, units: 8, terms: [{ width: 1, masked: true }], bias: false },
];

const CASES: Case[] = SHAPES.flatMap((s) => FUSED_DENSE_ACTIVATIONS.map((activation) => ({ ...s, activation })));

const label = (c: Case) =>
  `${c.rows} rows → ${c.units} units, terms ${c.terms.map((t) => `${t.width}${t.masked ? 'm' : ''}`).join('+')}, ${c.bias ? 'bias' : 'no bias'}, ${c.activation}`;

describe('fusedDense on wasm (one kernel forward, one per gradient) against the composed layer on the cpu backend', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
    installFastWasmMatMul();
    installSharedSavedTensors();
    expect(installWasmDense()).toBe(true);
  });
  afterAll(() => {
    uninstallWasmDense();
    uninstallSharedSavedTensors();
  });

  it.each(CASES.map((c) => [label(c), c] as const))('%s: y and every input gradient', async (_, c) => {
    const reference = await on('cpu', () => valueAndGrads(c, composedDense));
    await tf.setBackend('wasm');
    expect(tf.getKernel(FUSED_DENSE_KERNEL, 'wasm')).toBeDefined();
    const before = tf.memory().numTensors;
    const fused = valueAndGrads(c, fusedDense);
    expect(tf.memory().numTensors).toBe(before);
    expect(worst(fused, reference)).toBeLessThan(1e-5);
  });

  it('dispatches one kernel forward (not the composed ops)', async () => {
    await tf.setBackend('wasm');
    const c = CASES[7] as Case;
    const { kernels } = await tf.profile(() => tf.tidy(() => fusedDense(inputsOf(c, 1).terms, { activation: 'elu' })));
    const names = kernels.map((k) => k.name);
    expect(names).toContain(FUSED_DENSE_KERNEL);
    expect(names).not.toContain('BatchMatMul');
  });

  it('masked weights get exactly zero gradient, and a mask of ones equals no mask', async () => {
    await tf.setBackend('wasm');
    tf.tidy(() => {
      const x = tf.randomNormal([6, 5], 0, 1, 'float32', 3);
      const kernel = tf.randomNormal([5, 4], 0, 1, 'float32', 4);
      const mask = tf.cast(tf.greater(tf.randomUniform([5, 4], 0, 1, 'float32', 5), 0.5), 'float32');
      const dW = tf.grad((k: tf.Tensor) => tf.sum(fusedDense([{ x, kernel: k, mask }], { activation: 'tanh' })))(kernel);
      const zeroed = tf.mul(dW, tf.sub(1, mask)).dataSync();
      expect(Array.from(zeroed).every((v) => v === 0)).toBe(true);
      const ones = fusedDense([{ x, kernel, mask: tf.onesLike(kernel) }], { activation: 'sigmoid' }).dataSync();
      const none = fusedDense([{ x, kernel }], { activation: 'sigmoid' }).dataSync();
      expect(Array.from(ones)).toEqual(Array.from(none));
    });
  });

  it('runs on tfjs-wasm kernels alone when gm kernels are not bound to the backend (same values and gradients)', async () => {
    const c = CASES.find((k) => k.terms.length === 3 && k.activation === 'softplus') as Case;
    const reference = await on('cpu', () => valueAndGrads(c, composedDense));
    await tf.setBackend('wasm');
    releaseGmKernels(tf.backend());
    try {
      for (const activation of FUSED_DENSE_ACTIVATIONS) {
        const ref = activation === c.activation ? reference : await on('cpu', () => valueAndGrads({ ...c, activation }, composedDense));
        await tf.setBackend('wasm');
        const before = tf.memory().numTensors;
        const fused = valueAndGrads({ ...c, activation }, fusedDense);
        expect(tf.memory().numTensors).toBe(before);
        expect(worst(fused, ref), activation).toBeLessThan(1e-5);
      }
    } finally {
      expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
    }
  });

  it('refuses mismatched shapes, naming the input', () => {
    const x = tf.zeros([2, 3]);
    expect(() => fusedDense([{ x, kernel: tf.zeros([4, 5]) }])).toThrow(/terms\[0\]\.kernel must be \[3, 5\]/);
    expect(() => fusedDense([{ x, kernel: tf.zeros([3, 5]), mask: tf.zeros([3, 4]) }])).toThrow(/terms\[0\]\.mask/);
    expect(() => fusedDense([{ x, kernel: tf.zeros([3, 5]) }, { x: tf.zeros([1, 2]), kernel: tf.zeros([2, 5]) }])).toThrow(/terms\[1\]\.x must be 2 rows/);
    expect(() => fusedDense([{ x, kernel: tf.zeros([3, 5]) }], { bias: tf.zeros([4]) })).toThrow(/bias must be \[5\]/);
    expect(() => fusedDense([{ x, kernel: tf.zeros([3, 5]) }], { activation: 'selu' as FusedDenseActivation })).toThrow(/activation must be one of/);
    expect(() => fusedDense([])).toThrow(/at least one/);
    tf.dispose(x);
  });
});
