import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { Invertible1x1 } from './invertible-1x1';
import { registerGmLayers } from './register';
import { checkBijector, logAbsDet, maxAbsDiff, randomizeWeights, saveAndLoad } from './test-helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const wave = (n: number) => Array.from({ length: n }, (_, i) => Math.sin(1.7 * i + 0.3));

describe('Invertible1x1 (Glow, LU parameterisation)', () => {
  it('starts as a seeded rotation: orthogonal W, log-det 0, the same W for the same seed', () => {
    const layer = new Invertible1x1({ inputShape: [2, 2, 5], seed: 3 });
    const w = layer.weightMatrix().arraySync() as number[][];
    const wwt = tf.tidy(() => tf.matMul(layer.weightMatrix(), layer.weightMatrix(), false, true).arraySync() as number[][]);
    expect(maxAbsDiff(wwt.flat(), tf.tidy(() => tf.eye(5).dataSync()))).toBeLessThan(1e-5);
    expect(Math.abs(logAbsDet(w))).toBeLessThan(1e-5);
    expect(new Invertible1x1({ inputShape: [2, 2, 5], seed: 3 }).weightMatrix().arraySync()).toEqual(w);
  });

  it('after training-like changes: log|det W| = Σ log s, log-det = H·W·log|det W| per example, = autodiff Jacobian; inverts', () => {
    const layer = new Invertible1x1({ inputShape: [2, 2, 3], seed: 4 });
    randomizeWeights(layer, 5, 0.4);
    const w = layer.weightMatrix().arraySync() as number[][];
    const logS = layer.trainableVariables()[2]!.dataSync();
    const sumLogS = Array.from(logS).reduce((a, b) => a + b, 0);
    expect(Math.abs(logAbsDet(w) - sumLogS)).toBeLessThan(1e-5);
    const r = checkBijector(layer, [2, 2, 3], wave(12));
    expect(r.roundTrip).toBeLessThan(1e-4);
    expect(r.inverseLogDet).toBeLessThan(1e-5);
    expect(r.logDetError).toBeLessThan(1e-4);
    const { logDet } = layer.forward(tf.zeros([1, 2, 2, 3]));
    expect(Math.abs(logDet.dataSync()[0]! - 4 * sumLogS)).toBeLessThan(1e-4);
  });

  it('saves and loads (permutation and signs included) with identical outputs; leaks no tensor', async () => {
    registerGmLayers();
    const input = tfl.input({ shape: [6] });
    const layer = new Invertible1x1({ seed: 6 });
    const model = tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor });
    randomizeWeights(layer, 7, 0.3);
    const loaded = await saveAndLoad(model);
    const x = tf.tensor2d([wave(6)]);
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBe(0);
    const before = tf.memory().numTensors;
    const f = layer.forward(x);
    const i = layer.inverse(f.y);
    tf.dispose([f.y, f.logDet, i.x, i.logDet]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, a, b]);
    expect(() => new Invertible1x1({ seed: 1 }).forward(tf.zeros([3]))).toThrow(/last \(channel\) dimension is known/);
  });
});
