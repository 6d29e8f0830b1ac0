import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { permutation } from '@gm/core';
import { RandomPermutation } from './random-permutation';
import { registerGmLayers } from './register';
import { checkBijector, maxAbsDiff, saveAndLoad } from './test-helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const wave = (n: number) => Array.from({ length: n }, (_, i) => Math.sin(1.7 * i + 0.3));

describe('RandomPermutation', () => {
  it("shuffles the last axis by core's seeded permutation: y[i] = x[perm[i]], log-det 0 (= autodiff), inverts exactly", () => {
    const layer = new RandomPermutation({ seed: 5 });
    const x = tf.tensor2d([[0, 1, 2, 3, 4, 5, 6]]);
    const { y, logDet } = layer.forward(x);
    const perm = Array.from(permutation(7, 5));
    expect(Array.from(y.dataSync())).toEqual(perm);
    expect(Array.from(layer.permutation)).toEqual(perm);
    expect(perm).not.toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(Array.from(logDet.dataSync())).toEqual([0]);
    const r = checkBijector(layer, [2, 7], wave(14));
    expect(r.roundTrip).toBe(0);
    expect(r.logDetError).toBeLessThan(1e-6);
    tf.dispose([x, y, logDet]);
  });

  it('saves and loads as the same permutation; another seed is another permutation; leaks no tensor; bad input is refused', async () => {
    registerGmLayers();
    const input = tfl.input({ shape: [9] });
    const layer = new RandomPermutation({ seed: 11 });
    const model = tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor });
    const loaded = await saveAndLoad(model);
    const x = tf.tensor2d([wave(9)]);
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBe(0);
    const other = new RandomPermutation({ seed: 12 });
    const c = other.forward(x).y;
    expect(maxAbsDiff(a.dataSync(), c.dataSync())).toBeGreaterThan(0);
    const before = tf.memory().numTensors;
    const f = layer.forward(x);
    const i = layer.inverse(f.y);
    tf.dispose([f.y, f.logDet, i.x, i.logDet]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, a, b, c]);
    other.dispose();
    expect(() => new RandomPermutation({ seed: -1 })).toThrow(/seed.*non-negative integer/);
    expect(() => new RandomPermutation({ seed: 1 }).forward(tf.zeros([3]))).toThrow(/last dimension is known/);
  });
});
