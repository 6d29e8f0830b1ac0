import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerGmLayers } from './register';
import { Sampling } from './sampling';
import { maxAbsDiff, saveAndLoad } from './test-helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerGmLayers();
});

const MEAN = [-1, 0.5, 2];
const LOG_VAR = [0, -1, 1.5];

describe('Sampling', () => {
  it('draws samples whose mean and variance match the inputs', () => {
    const n = 20000;
    const layer = new Sampling({ seed: 123 });
    const z = tf.tidy(() => {
      const mean = tf.tile(tf.tensor2d([MEAN]), [n, 1]);
      const logVar = tf.tile(tf.tensor2d([LOG_VAR]), [n, 1]);
      return layer.apply([mean, logVar]) as tf.Tensor;
    });
    const { mean, variance } = tf.moments(z, 0);
    const m = mean.dataSync();
    const v = variance.dataSync();
    for (let j = 0; j < 3; j++) {
      const sigma2 = Math.exp(LOG_VAR[j]!);
      // 5 standard errors: mean's is σ/√n, variance's is σ²·√(2/n).
      expect(Math.abs(m[j]! - MEAN[j]!)).toBeLessThan(5 * Math.sqrt(sigma2 / n));
      expect(Math.abs(v[j]! - sigma2)).toBeLessThan(5 * sigma2 * Math.sqrt(2 / n));
    }
    tf.dispose([z, mean, variance]);
  });

  it('is reparameterised: gradients w.r.t. mean and logVar are the analytic ones', () => {
    const mean = tf.tensor2d([MEAN, [0.3, -0.2, 0.1]]);
    const logVar = tf.tensor2d([LOG_VAR, [0.7, 0.2, -2]]);
    const w = tf.tensor2d([
      [1, -2, 0.5],
      [3, 0.25, -1],
    ]);
    const layer = new Sampling({ seed: 9 });
    const [gMean, gLogVar] = tf.grads((m: tf.Tensor, lv: tf.Tensor) => tf.sum(tf.mul(w, layer.apply([m, lv]) as tf.Tensor)))([
      mean,
      logVar,
    ]);
    // The same seed replays the same ε: a fresh layer on mean 0, logVar 0 returns ε itself.
    const eps = new Sampling({ seed: 9 }).apply([tf.zerosLike(mean), tf.zerosLike(logVar)]) as tf.Tensor;
    const expectedLogVar = tf.mul(tf.mul(w, tf.mul(0.5, tf.exp(tf.mul(logVar, 0.5)))), eps);
    expect(maxAbsDiff(gMean!.dataSync(), w.dataSync())).toBeLessThan(1e-6);
    expect(maxAbsDiff(gLogVar!.dataSync(), expectedLogVar.dataSync())).toBeLessThan(1e-5);
    expect(Math.max(...Array.from(eps.dataSync(), Math.abs))).toBeGreaterThan(0.1);
    tf.dispose([mean, logVar, w, gMean!, gLogVar!, eps, expectedLogVar]);
  });

  it('is seedable: the same seed gives the same sequence, and each call draws new noise', () => {
    const zeros = tf.zeros([2, 4]);
    const draw = (layer: Sampling) => (layer.apply([zeros, zeros]) as tf.Tensor).dataSync();
    const a = new Sampling({ seed: 5 });
    const b = new Sampling({ seed: 5 });
    const a1 = draw(a);
    const a2 = draw(a);
    expect(Array.from(draw(b))).toEqual(Array.from(a1));
    expect(Array.from(draw(b))).toEqual(Array.from(a2));
    expect(maxAbsDiff(a1, a2)).toBeGreaterThan(0.1);
    expect(maxAbsDiff(draw(new Sampling({ seed: 6 })), a1)).toBeGreaterThan(0.1);
    zeros.dispose();
  });

  it('takes one input [mean ‖ log-scale] (an encoder\'s single dense output) and draws what the two-input form draws', () => {
    const before = tf.memory().numTensors;
    const stats = tf.tensor2d([[...MEAN, ...LOG_VAR], [0.3, -0.2, 0.1, -2, 0, 1]]);
    const [m, s] = tf.split(stats, 2, 1);
    for (const scale of ['log-variance', 'log-std'] as const) {
      const one = new Sampling({ seed: 9, scale }).apply(stats) as tf.Tensor;
      const two = new Sampling({ seed: 9, scale }).apply([m!, s!]) as tf.Tensor;
      expect(one.shape).toEqual([2, 3]);
      expect(Array.from(one.dataSync())).toEqual(Array.from(two.dataSync()));
      tf.dispose([one, two]);
    }
    const input = tfl.input({ shape: [8] });
    expect((new Sampling().apply(input) as SymbolicTensor).shape).toEqual([null, 4]);
    tf.dispose([stats, m!, s!]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('honours kwargs.training when sampleAtInference is false', () => {
    const layer = new Sampling({ seed: 1, sampleAtInference: false });
    const mean = tf.tensor2d([MEAN]);
    const logVar = tf.tensor2d([LOG_VAR]);
    const inference = layer.apply([mean, logVar]) as tf.Tensor;
    const training = layer.apply([mean, logVar], { training: true }) as tf.Tensor;
    expect(Array.from(inference.dataSync())).toEqual(MEAN);
    expect(maxAbsDiff(training.dataSync(), MEAN)).toBeGreaterThan(1e-3);
    tf.dispose([mean, logVar, inference, training]);
  });

  it('round-trips through getConfig and model save/load with identical outputs', async () => {
    const m = tfl.input({ shape: [3] });
    const lv = tfl.input({ shape: [3] });
    const model = tfl.model({ inputs: [m, lv], outputs: new Sampling({ seed: 77 }).apply([m, lv]) as SymbolicTensor });
    const config = model.layers[2]!.getConfig();
    expect(new Sampling(config as never).getConfig()).toEqual({ ...config, name: expect.any(String) as string });
    const loaded = await saveAndLoad(model);
    const mean = tf.tensor2d([MEAN]);
    const logVar = tf.tensor2d([LOG_VAR]);
    const a = model.predict([mean, logVar]) as tf.Tensor;
    const b = loaded.predict([mean, logVar]) as tf.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([mean, logVar, a, b]);
  });

  it('rejects bad inputs clearly and does not leak', () => {
    const layer = new Sampling();
    const a = tf.zeros([2, 3]);
    const b = tf.zeros([2, 4]);
    expect(() => layer.apply([a, b])).toThrow(/mean \[2,3\] and logVar \[2,4\] differ in shape/);
    expect(() => layer.apply(a)).toThrow(/a single input must be \[mean ‖ log-variance\] of even width, got 3/);
    expect(() => layer.apply([a, a, a])).toThrow(/expected inputs \[mean, logVar\] or one input/);
    expect(() => new Sampling({ seed: 1.5 })).toThrow(/seed must be an integer/);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) (layer.apply([a, a], { training: true }) as tf.Tensor).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
  });
});
