import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { hiddenDegrees, inputDegrees, madeDegrees, maskFromDegrees, outputDegrees, type Ordering } from './made';
import { MaskedDense, resampleMadeMasks } from './masked-dense';
import { registerGmLayers } from './register';
import { jacobian, maxAbsDiff, randomizeWeights, saveAndLoad } from './test-helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerGmLayers();
});

const D = 6;
const PARAMS = 2; // e.g. a mean and a log-scale per input, as IAF needs

interface Made {
  model: tfl.LayersModel;
  stack: MaskedDense[];
  degrees: number[][];
}

/** A MADE D → 16 → 16 → 2D (tanh, so no allowed path is zeroed by a dead unit), optionally with a direct
 * connection and a context input. */
function buildMade(ordering: Ordering, seed: number, direct: boolean, contextSize?: number, strictOutput = true): Made {
  const degrees = madeDegrees({ inputSize: D, hiddenSizes: [16, 16], ordering, hiddenMode: 'random', seed });
  const x = tfl.input({ shape: [D] });
  const c = contextSize === undefined ? undefined : tfl.input({ shape: [contextSize] });
  const stack = [
    new MaskedDense({
      units: 16,
      inputDegrees: degrees[0]!,
      outputDegrees: degrees[1]!,
      contextSize: contextSize ?? null,
      activation: 'tanh',
      seed,
    }),
    new MaskedDense({ units: 16, inputDegrees: degrees[1]!, outputDegrees: degrees[2]!, activation: 'tanh', seed: seed + 7 }),
    new MaskedDense({
      units: PARAMS * D,
      inputDegrees: degrees[2]!,
      outputDegrees: outputDegrees(degrees[0]!, PARAMS),
      maskType: strictOutput ? 'output' : 'hidden',
      directDegrees: direct ? degrees[0]! : null,
      contextSize: contextSize ?? null, // also here: the first output in the order sees no hidden unit
      seed: seed + 13,
    }),
  ];
  let h = stack[0]!.apply(c === undefined ? x : [x, c]) as SymbolicTensor;
  h = stack[1]!.apply(h) as SymbolicTensor;
  const outInputs = [h, ...(direct ? [x] : []), ...(c === undefined ? [] : [c])];
  const out = stack[2]!.apply(outInputs.length === 1 ? h : outInputs) as SymbolicTensor;
  const model = tfl.model({ inputs: c === undefined ? x : [x, c], outputs: out });
  for (const l of stack) randomizeWeights(l, seed * 31 + 1, 0.8); // biases too, so nothing is trivially zero
  return { model, stack, degrees };
}

/** Checks ∂out_i/∂x_j = 0 exactly unless x_j comes strictly before input (i mod D); and ≠ 0 where allowed. */
function checkAutoregressive(made: Made, context?: tf.Tensor): { forbiddenNonZero: number; allowedZero: number } {
  const x = Array.from({ length: D }, (_, j) => Math.sin(3 * j + 1));
  const f = (v: tf.Tensor) => {
    if (context === undefined) return made.model.apply(v) as tf.Tensor;
    return made.model.apply([v, tf.tile(context, [v.shape[0]!, 1])]) as tf.Tensor;
  };
  const J = jacobian(f, x, PARAMS * D);
  const deg = made.stack[0]!.degrees.inputDegrees;
  let forbiddenNonZero = 0;
  let allowedZero = 0;
  for (let i = 0; i < PARAMS * D; i++) {
    for (let j = 0; j < D; j++) {
      const allowed = deg[j]! < deg[i % D]!;
      const v = J[i]![j]!;
      if (!allowed && v !== 0) forbiddenNonZero++;
      if (allowed && Math.abs(v) < 1e-7) allowedZero++;
    }
  }
  return { forbiddenNonZero, allowedZero };
}

describe('MADE degrees and masks', () => {
  it('orders inputs naturally, reversed, randomly (seeded) or explicitly', () => {
    expect(inputDegrees(4, 'natural')).toEqual([0, 1, 2, 3]);
    expect(inputDegrees(4, 'reversed')).toEqual([3, 2, 1, 0]);
    const r = inputDegrees(8, 'random', 5);
    expect([...r].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(inputDegrees(8, 'random', 5)).toEqual(r);
    expect(inputDegrees(8, 'random', 6)).not.toEqual(r);
    expect(inputDegrees(3, [2, 0, 1])).toEqual([2, 0, 1]);
    expect(() => inputDegrees(3, [0, 0, 1])).toThrow(/permutation of 0…2/);
    expect(() => inputDegrees(3, 'random')).toThrow(/needs a seed/);
  });

  it('assigns hidden degrees so every allowed degree is present', () => {
    for (const mode of ['sequential', 'random'] as const) {
      for (const [units, size, min] of [
        [5, 6, 0],
        [16, 6, 0],
        [7, 10, 2],
        [40, 10, 3],
      ] as const) {
        const d = hiddenDegrees(units, size, min, mode, 11);
        expect(d).toHaveLength(units);
        expect(Math.min(...d)).toBeGreaterThanOrEqual(min);
        expect(Math.max(...d)).toBeLessThanOrEqual(size - 2);
        for (let k = min; k <= size - 2; k++) expect(d).toContain(k);
      }
    }
    // Fewer units than degrees: spread out, no repeats.
    const few = hiddenDegrees(3, 10, 0, 'sequential');
    expect(new Set(few).size).toBe(3);
    expect(() => hiddenDegrees(4, 1)).toThrow(/at least 2 inputs/);
  });

  it('builds masks from degrees (≥ for hidden, > for output)', () => {
    expect(Array.from(maskFromDegrees([0, 1], [0, 1, 1], false))).toEqual([1, 1, 1, 0, 1, 1]);
    expect(Array.from(maskFromDegrees([0, 1], [0, 1, 1], true))).toEqual([0, 1, 1, 0, 0, 0]);
    expect(outputDegrees([2, 0, 1], 2)).toEqual([2, 0, 1, 2, 0, 1]);
  });
});

describe('MaskedDense MADE stack', () => {
  const orderings: Ordering[] = ['natural', 'reversed', 'random', [3, 5, 0, 2, 1, 4]];

  it('is autoregressive for every ordering and seed, with and without direct connection, and after resampling', () => {
    const before = tf.memory().numTensors;
    let checks = 0;
    for (const ordering of orderings) {
      for (const seed of [1, 2, 3]) {
        for (const direct of [false, true]) {
          const made = buildMade(ordering, seed, direct);
          expect(checkAutoregressive(made)).toEqual({ forbiddenNonZero: 0, allowedZero: 0 });
          // Connectivity-agnostic training: new hidden degrees, same weights, still autoregressive.
          const oldMask = made.stack[1]!.masks().mask;
          resampleMadeMasks(made.stack, { seed: 100 + seed });
          expect(maxAbsDiff(made.stack[1]!.masks().mask, oldMask)).toBe(1);
          expect(checkAutoregressive(made)).toEqual({ forbiddenNonZero: 0, allowedZero: 0 });
          // Order-agnostic: a new ordering as well.
          resampleMadeMasks(made.stack, { seed: 200 + seed, ordering: 'random' });
          expect(checkAutoregressive(made)).toEqual({ forbiddenNonZero: 0, allowedZero: 0 });
          made.model.dispose();
          checks += 3;
        }
      }
    }
    expect(checks).toBe(72);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the check catches a wrong mask (a non-strict output layer leaks x_d into out_d)', () => {
    const made = buildMade('random', 4, false, undefined, false);
    const r = checkAutoregressive(made);
    expect(r.forbiddenNonZero).toBeGreaterThan(0);
    made.model.dispose();
  });

  it('the uploaded mask weights match the degrees after resampling', () => {
    const made = buildMade('natural', 9, true);
    resampleMadeMasks(made.stack, { seed: 3 });
    for (const layer of made.stack) {
      const byName = new Map(layer.getWeights().map((w, i) => [layer.weights[i]!.originalName.split('/').pop(), w]));
      const { mask, directMask } = layer.masks();
      expect(Array.from(byName.get('mask')!.dataSync())).toEqual(Array.from(mask));
      if (directMask) expect(Array.from(byName.get('direct_mask')!.dataSync())).toEqual(Array.from(directMask));
    }
    made.model.dispose();
  });

  it('takes a context input that reaches every output but keeps x autoregressive (IAF conditioning)', () => {
    const made = buildMade('random', 5, true, 3);
    const ctx = tf.tensor2d([[0.3, -0.7, 1.1]]);
    expect(checkAutoregressive(made, ctx)).toEqual({ forbiddenNonZero: 0, allowedZero: 0 });
    const x = tf.tensor2d([Array.from({ length: D }, (_, j) => Math.cos(j))]);
    const jc = jacobian((c) => made.model.apply([tf.tile(x, [c.shape[0]!, 1]), c]) as tf.Tensor, [0.3, -0.7, 1.1], PARAMS * D);
    for (const row of jc) expect(row.some((v) => Math.abs(v) > 1e-7)).toBe(true);
    tf.dispose([ctx, x]);
    made.model.dispose();
  });

  it('masked weights get exactly zero gradient', () => {
    const made = buildMade('random', 6, false);
    const layer = made.stack[1]!;
    const kernel = layer.trainableWeights.find((w) => w.originalName.endsWith('/kernel'))!;
    const g = tf.tidy(() => {
      const xs = tf.randomNormal([8, D], 0, 1, 'float32', 1);
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(made.model.apply(xs) as tf.Tensor)) as tf.Scalar, [
        kernel.read() as tf.Variable,
      ]);
      return Object.values(grads)[0]!.dataSync();
    });
    const mask = layer.masks().mask;
    let masked = 0;
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] === 0) {
        masked++;
        expect(Math.abs(g[i]!)).toBe(0);
      }
    }
    expect(masked).toBeGreaterThan(0);
    made.model.dispose();
  });

  it('round-trips through getConfig and model save/load with identical outputs and masks', async () => {
    const made = buildMade('random', 8, true, 2);
    resampleMadeMasks(made.stack, { seed: 77 });
    const config = made.stack[2]!.getConfig();
    const clone = new MaskedDense(config as never);
    expect(clone.getConfig()).toEqual(config);

    const loaded = await saveAndLoad(made.model);
    const x = tf.randomNormal([5, D], 0, 1, 'float32', 3);
    const c = tf.randomNormal([5, 2], 0, 1, 'float32', 4);
    const a = made.model.predict([x, c]) as tf.Tensor;
    const b = loaded.predict([x, c]) as tf.Tensor;
    expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBe(0);
    const reloaded = loaded.layers.filter((l): l is MaskedDense => l instanceof MaskedDense);
    expect(reloaded.map((l) => l.degrees)).toEqual(made.stack.map((l) => l.degrees));
    tf.dispose([x, c, a, b]);
    made.model.dispose();
    loaded.dispose();
  });

  it('rejects bad configuration with clear errors', () => {
    expect(() => new MaskedDense({ units: 3, inputDegrees: [0, 1], outputDegrees: [0, 1] })).toThrow(
      /outputDegrees has 2 entries; expected units = 3/,
    );
    expect(
      () => new MaskedDense({ units: 2, inputDegrees: [0, 1], outputDegrees: [0, 1], maskType: 'diag' as never }),
    ).toThrow(/maskType must be 'hidden' or 'output'/);
    const layer = new MaskedDense({ units: 2, inputDegrees: [0, 1], outputDegrees: [0, 1] });
    expect(() => layer.apply(tfl.input({ shape: [3] }))).toThrow(/input 0 must have shape \[batch, 2\]/);
  });
});
