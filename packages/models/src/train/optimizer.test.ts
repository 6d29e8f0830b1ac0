import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { VAE } from '../vae';
import { OptimizerSlot, tfjsAdam } from './optimizer';

describe('OptimizerSlot', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('keeps one optimizer per (rate, factory) and frees the old one when either changes', () => {
    const slot = new OptimizerSlot();
    const made: tf.Optimizer[] = [];
    const factory = (lr: number) => {
      const o = tf.train.sgd(lr);
      made.push(o);
      return o;
    };
    const a = slot.get(0.1, factory);
    expect(slot.get(0.1, factory)).toBe(a);
    const b = slot.get(0.2, factory);
    expect(b).not.toBe(a);
    const c = slot.get(0.2, tfjsAdam);
    expect(c).toBeInstanceOf(tf.AdamOptimizer);
    expect(made).toHaveLength(2);
    slot.dispose();
  });

  it('VAE.fit trains with the given factory (SGD with rate 0 leaves the weights as they were)', () => {
    const x = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([16, 12], 0, 1, 'float32', 3), 0.5), 'float32'));
    const vae = new VAE({ inputShape: [12], latentDim: 2, hidden: [8], seed: 5 });
    const weights = () => vae.trainableVariables().map((v) => Array.from(v.dataSync()));
    const before = weights();
    const rates: number[] = [];
    vae.fit(x, { epochs: 1, batchSize: 8, learningRate: 0.5, optimizer: (lr) => (rates.push(lr), tf.train.sgd(0)) });
    expect(rates).toEqual([0.5]);
    expect(weights()).toEqual(before);
    vae.fit(x, { epochs: 1, batchSize: 8 }); // default Adam moves them
    expect(weights()).not.toEqual(before);
    vae.dispose();
    x.dispose();
  });
});
