import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@gm/backend';
import { MADE } from '@gm/models';
import { dataParallelStep } from './data-parallel-fit';

const binary = (seed: number) => tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([8, 12], 0, 1, 'float32', seed), 0.6), 'float32'));
const context = (batch: number) => ({ epoch: 1, batch, batches: 4, seed: 3 });
const options = { batchSize: 8, learningRate: 0.01, seed: 3, examples: 32 };
const values = (model: MADE) => model.trainableVariables().map((v) => Array.from(v.dataSync()));

describe('the data-parallel step of gm train', () => {
  let batches: tf.Tensor[] = [];
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
    batches = [1, 2, 3].map(binary);
  });
  afterAll(() => tf.dispose(batches));

  it('a restored snapshot (a roll-back) stops the threads, and the next step starts them from the restored weights and Adam state', async () => {
    const config = { inputSize: 12, hidden: [16], seed: 2 };
    // Uninterrupted: steps 1, 2, 3.
    const straight = new MADE(config);
    const a = await dataParallelStep(straight, options, 2);
    for (const [i, x] of batches.entries()) await a.step({ x }, context(i + 1));
    await a.dispose();
    // Steps 1, 2, a snapshot, step 3, the snapshot restored, step 3 again: the threads must not keep step 3's weights.
    const rolled = new MADE(config);
    const b = await dataParallelStep(rolled, options, 2);
    await b.step({ x: batches[0] as tf.Tensor }, context(1));
    await b.step({ x: batches[1] as tf.Tensor }, context(2));
    const weights = rolled.trainableVariables().map((v) => tf.clone(v));
    const adam = await b.optimizer.stateFiles(rolled.trainableVariables());
    await b.step({ x: batches[2] as tf.Tensor }, context(3));
    rolled.trainableVariables().forEach((v, i) => v.assign(weights[i] as tf.Tensor));
    await b.optimizer.restore(adam, rolled.trainableVariables(), 'snapshot');
    await b.step({ x: batches[2] as tf.Tensor }, context(3));
    await b.dispose();
    // Threads that kept step 3's weights would take step 3 again from there and end elsewhere.
    expect(values(rolled)).toEqual(values(straight));
    tf.dispose(weights);
    straight.dispose();
    rolled.dispose();
  });

  it('keeps a fresh Adam state before its first step, as one thread writes it', async () => {
    const model = new MADE({ inputSize: 12, hidden: [16], seed: 2 });
    const step = await dataParallelStep(model, options, 2);
    const files = await step.optimizer.stateFiles(model.trainableVariables());
    const json = JSON.parse(new TextDecoder().decode(files.get('optimizer.json')));
    expect(json).toMatchObject({ className: 'Adam', iterations: 0 });
    await step.dispose();
    model.dispose();
  });
});
