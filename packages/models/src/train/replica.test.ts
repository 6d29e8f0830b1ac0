import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gmAdam, initBackend } from '@gm/backend';
import { createDataParallelTrainer } from '@gm/backend/data-parallel';
import { Glow } from '../glow/glow';
import { IafVae } from '../iaf/iaf-vae';
import { MADE } from '../made/made';
import { RealNVPImage } from '../realnvp/realnvp-image';
import { createModelReplica, modelReplica, modelReplicaConfig, prepareDataParallel } from './replica';

const binary = (shape: number[], seed: number) => tf.tidy(() => tf.cast(tf.greater(tf.randomUniform(shape, 0, 1, 'float32', seed), 0.7), 'float32'));

/** Trains `model` data-parallel on `replicas` threads over consecutive batches of `data`; returns the losses. */
async function trainParallel(model: MADE | IafVae | Glow, data: tf.Tensor, o: { batch: number; steps: number; replicas: number; lr: number }) {
  const trainer = await createDataParallelTrainer({
    replica: { module: import.meta.resolve('@gm/models'), exportName: 'createModelReplica', config: await modelReplicaConfig(model, 7) },
    localReplica: modelReplica(model, 7),
    replicas: o.replicas,
    batchSize: o.batch,
    optimizer: { name: 'adam', learningRate: o.lr },
  });
  const rows = data.dataSync() as Float32Array;
  const width = rows.length / (data.shape[0] as number);
  const losses: number[] = [];
  try {
    for (let step = 0; step < o.steps; step++) {
      trainer.inputView(step, 'x').set(rows.subarray(step * o.batch * width, (step + 1) * o.batch * width));
      losses.push(trainer.step(step));
    }
    const weights = trainer.gatherWeights();
    for (const w of weights.slice(1)) expect(Array.from(w)).toEqual(Array.from(weights[0]!)); // replicas bit-identical
  } finally {
    await trainer.dispose();
  }
  return losses;
}

describe('any model as a data-parallel replica', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('MADE on two threads takes the steps one thread takes (full-batch gradient = mean of the shards), within 1e-4', async () => {
    const config = { inputSize: 20, hidden: [24, 24], directConnection: true, seed: 3 };
    const data = binary([6 * 32, 20], 1);
    const single = new MADE(config);
    const oneThread = await single.fit(data, { epochs: 1, batchSize: 32, shuffle: false, optimizer: gmAdam, learningRate: 0.01 });
    const parallel = new MADE(config);
    const fresh = new MADE(config);
    const firstLoss = tf.tidy(() => fresh.loss({ x: tf.slice(data, 0, 32) }, { epoch: 1, batch: 0, batches: 1, seed: 0 }).dataSync()[0] as number);
    fresh.dispose();
    const tensors = tf.memory().numTensors;
    const losses = await trainParallel(parallel, data, { batch: 32, steps: 6, replicas: 2, lr: 0.01 });
    expect(tf.memory().numTensors).toBe(tensors); // the trainer frees its optimizer; the steps leak nothing
    expect(losses[0]).toBeCloseTo(firstLoss, 4);
    const a = single.trainableVariables().map((v) => Array.from(v.dataSync()));
    const b = parallel.trainableVariables().map((v) => Array.from(v.dataSync()));
    let worst = 0;
    a.forEach((w, i) => w.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - b[i]![j]!)))));
    expect(worst).toBeLessThan(1e-4);
    expect(worst).toBeGreaterThan(0); // the steps really moved both (the comparison is not of two untouched models)
    expect(oneThread.history).toHaveLength(1);
    tf.dispose([data]);
    single.dispose();
    parallel.dispose();
  });

  it('an IAF-VAE trains on two threads: replicas stay identical and the −ELBO falls', async () => {
    const model = new IafVae({ inputShape: [16], latentDim: 3, hidden: [12], flowSteps: 2, flowHidden: [12], seed: 2 });
    const data = binary([40 * 32, 16], 4);
    const losses = await trainParallel(model, data, { batch: 32, steps: 40, replicas: 2, lr: 0.01 });
    const first = losses.slice(0, 5).reduce((a, b) => a + b, 0) / 5;
    const last = losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
    expect(last).toBeLessThan(first - 0.5);
    data.dispose();
    model.dispose();
  });

  it('a worker rebuilds the model from its checkpoint; state not readied by prepareDataParallel is refused', async () => {
    const made = new MADE({ inputSize: 8, hidden: [10], seed: 1 });
    const rebuilt = await createModelReplica(await modelReplicaConfig(made, 0));
    expect(rebuilt.variables.map((v) => Array.from(v.dataSync()))).toEqual(made.trainableVariables().map((v) => Array.from(v.dataSync())));
    rebuilt.dispose();
    made.dispose();
    const glow = new Glow({ inputShape: [4, 4, 1], scales: 1, stepsPerScale: 1, filters: 4, seed: 0 });
    expect(() => modelReplica(glow, 0)).toThrow(/data-parallel training: the model keeps \d+ variable\(s\) of state that is not trained .*call prepareDataParallel/);
    await expect(modelReplicaConfig(glow, 0)).rejects.toThrow(/prepareDataParallel/);
    glow.dispose();
    await expect(createModelReplica({} as never)).rejects.toThrow(/config.checkpoint/);
  });

  it("Glow trains on two threads once readied: ActNorm initialised from the whole first batch as one thread's first step does", async () => {
    const config = { inputShape: [8, 8, 1] as [number, number, number], scales: 1, stepsPerScale: 2, filters: 8, seed: 5 };
    const pixels = (n: number, seed: number) => tf.tidy(() => tf.floor(tf.randomUniform([n, 8, 8, 1], 0, 255.99, 'float32', seed)));
    const data = pixels(12 * 16, 6);
    const first = tf.slice(data, 0, 16);
    const context = { epoch: 1, batch: 1, batches: 12, seed: 9 };
    // One thread's first step initialises ActNorm inside its loss.
    const oneThread = new Glow(config);
    tf.tidy(() => void oneThread.loss({ x: first }, context));
    const model = new Glow(config);
    const fresh = model.trainableVariables().map((v) => Array.from(v.dataSync()));
    prepareDataParallel(model, { x: first }, context);
    const initialised = model.trainableVariables().map((v) => Array.from(v.dataSync()));
    expect(initialised).toEqual(oneThread.trainableVariables().map((v) => Array.from(v.dataSync())));
    expect(initialised).not.toEqual(fresh); // ActNorm's bias and log-scale moved from their zeros
    const losses = await trainParallel(model, data, { batch: 16, steps: 12, replicas: 2, lr: 0.003 });
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.slice(-3).reduce((a, b) => a + b, 0) / 3).toBeLessThan(losses.slice(0, 3).reduce((a, b) => a + b, 0) / 3);
    tf.dispose([data, first]);
    oneThread.dispose();
    model.dispose();
  });

  it('refuses state that moves every step (batch norm), leaving the model as it was', () => {
    const model = new RealNVPImage({ inputShape: [4, 4, 1], scales: 1, couplingsPerStage: 1, filters: 4, batchNorm: true, seed: 0 });
    const x = tf.tidy(() => tf.floor(tf.randomUniform([8, 4, 4, 1], 0, 255.99, 'float32', 3)));
    const everything = () => [...model.trainableVariables(), ...(model.stateVariables?.() ?? [])].map((v) => Array.from(v.dataSync()));
    tf.tidy(() => void model.loss({ x }, { epoch: 1, batch: 1, batches: 1, seed: 1 })); // weights built
    const before = everything();
    const tensors = tf.memory().numTensors;
    expect(() => prepareDataParallel(model, { x }, { epoch: 1, batch: 2, batches: 1, seed: 1 })).toThrow(/refused: \d+ variable\(s\) of state .* change at every training step/);
    expect(everything()).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(() => modelReplica(model, 0)).toThrow(/prepareDataParallel/);
    x.dispose();
    model.dispose();
  });
});
