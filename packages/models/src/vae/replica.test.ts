import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@gm/backend';
import { createDataParallelTrainer } from '@gm/backend/data-parallel';
import { VAE } from './vae';
import { createVaeReplica, vaeReplica, vaeReplicaConfig } from './replica';

describe('the VAE as a data-parallel replica', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('its loss is the −ELBO fit minimises, with noise seeded by step and rows', async () => {
    const vae = new VAE({ inputShape: [12], hidden: [8], latentDim: 2, seed: 3 });
    const replica = vaeReplica(vae);
    const x = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([5, 12], 0, 1, 'float32', 1), 0.5), 'float32'));
    const a = tf.tidy(() => replica.loss({ x }, { step: 4, rows: [0, 5] }).dataSync()[0] as number);
    const b = tf.tidy(() => replica.loss({ x }, { step: 4, rows: [0, 5] }).dataSync()[0] as number);
    const c = tf.tidy(() => replica.loss({ x }, { step: 5, rows: [0, 5] }).dataSync()[0] as number);
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    // Averaged over many noise draws it approaches the model's mean −ELBO.
    const many = vae.negativeElbo(x, { samples: 400, seed: 9 });
    let sum = 0;
    for (let s = 0; s < 400; s++) sum += tf.tidy(() => replica.loss({ x }, { step: s, rows: [0, 5] }).dataSync()[0] as number);
    expect(Math.abs(sum / 400 - many)).toBeLessThan(0.02 * many);
    x.dispose();
    vae.dispose();
    expect(() => createVaeReplica({} as never)).toThrow(/config.vae/);
  });

  it('trains in two threads: the replicas stay identical and the −ELBO falls', async () => {
    const vae = new VAE({ inputShape: [16], hidden: [12], latentDim: 3, seed: 5 });
    const data = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([64, 16], 0, 1, 'float32', 2), 0.7), 'float32'));
    const before = vae.negativeElbo(data, { samples: 20, seed: 1 });
    const trainer = await createDataParallelTrainer({
      replica: { module: import.meta.resolve('@gm/models'), exportName: 'createVaeReplica', config: vaeReplicaConfig(vae) },
      localReplica: vaeReplica(vae),
      batchSize: 32,
      optimizer: { name: 'adam', learningRate: 0.01 },
    });
    const rows = data.dataSync() as Float32Array;
    for (let step = 0; step < 40; step++) {
      const start = (step % 2) * 32;
      trainer.inputView(step, 'x').set(rows.subarray(start * 16, (start + 32) * 16));
      trainer.step(step);
    }
    const [w0, w1] = trainer.gatherWeights();
    expect(Array.from(w1 as Float32Array)).toEqual(Array.from(w0 as Float32Array));
    await trainer.dispose();
    // Rank 0's replica is the caller's VAE, trained in place.
    const after = vae.negativeElbo(data, { samples: 20, seed: 1 });
    expect(after).toBeLessThan(before - 1);
    data.dispose();
    vae.dispose();
  });
});
