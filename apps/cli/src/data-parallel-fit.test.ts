import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gmAdam, initBackend } from '@gm/backend';
import { DenoisingAutoencoder, Glow, IafVae, MADE, MAF, RealNVPImage, SplineFlow, VAE, type ModelBase } from '@gm/models';
import { dataParallelStep } from './data-parallel-fit';

const binary = (seed: number) => tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([8, 12], 0, 1, 'float32', seed), 0.6), 'float32'));
const binaryRows = (n: number) => tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([n, 12], 0, 1, 'float32', 9), 0.5), 'float32'));
const pixels = (shape: number[], seed = 5) => tf.tidy(() => tf.floor(tf.randomUniform(shape, 0, 255.99, 'float32', seed)));
const pixelImages = (n: number) => pixels([n, 4, 4, 1]);
const pixelRows = (n: number) => pixels([n, 12]);
const binaryImages = (n: number) => tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([n, 8, 8, 1], 0, 1, 'float32', 9), 0.5), 'float32'));
/**
 * A Glow whose ActNorm initialised from other pixels than the training data. At the batch ActNorm initialises from,
 * its bias gradient is zero up to rounding (~1e-9: the batch comes out centred), and Adam's first step divides it by
 * ε = 1e-7 — so one thread's and two threads' rounding (the shards summed in another order) would decide a step of up
 * to lr on those weights, which says nothing about the noise.
 */
function glowInitialisedElsewhere(): Glow {
  const glow = new Glow({ inputShape: [4, 4, 1], scales: 1, stepsPerScale: 2, filters: 4, seed: 1 });
  tf.tidy(() => void glow.loss({ x: pixels([8, 4, 4, 1], 6) }, { epoch: 1, batch: 0, batches: 1, seed: 2 }));
  return glow;
}
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

  // Every family whose loss draws noise: posterior samples (VAEs, IWAE, IAF-VAE), dequantization (the flows on pixels),
  // a mask per step (MADE), input corruption (a denoising autoencoder). Data: 3 batches of 8 examples.
  const noisy: Array<[string, () => ModelBase, () => tf.Tensor]> = [
    ['VAE', () => new VAE({ inputShape: [12], hidden: [10], latentDim: 3, seed: 1 }), () => binaryRows(24)],
    ['IWAE', () => new VAE({ inputShape: [12], hidden: [10], latentDim: 3, objective: 'iwae', k: 4, seed: 1 }), () => binaryRows(24)],
    ['IAF-VAE', () => new IafVae({ inputShape: [12], latentDim: 3, hidden: [10], flowSteps: 2, flowHidden: [8], seed: 1 }), () => binaryRows(24)],
    ['Real NVP on pixels', () => new RealNVPImage({ inputShape: [4, 4, 1], scales: 1, couplingsPerStage: 2, filters: 4, seed: 1 }), () => pixelImages(24)],
    ['conv VAE', () => new VAE({ inputShape: [8, 8, 1], latentDim: 3, architecture: 'conv', conv: { filters: [4, 4], kernelSize: 3, dense: 8 }, seed: 1 }), () => binaryImages(24)],
    ['Glow', () => glowInitialisedElsewhere(), () => pixelImages(24)],
    ['MAF on pixels', () => new MAF({ dim: 12, levels: 256, hidden: [16], steps: 2, seed: 1 }), () => pixelRows(24)],
    ['spline flow on pixels', () => new SplineFlow({ dim: 12, levels: 256, hidden: [16], couplings: 2, seed: 1 }), () => pixelRows(24)],
    ['MADE, order-agnostic (a mask drawn per step)', () => new MADE({ inputSize: 12, hidden: [16], masks: 4, seed: 1 }), () => binaryRows(24)],
    ['denoising autoencoder', () => new DenoisingAutoencoder({ inputDim: 12, hidden: [6], noise: { gaussianStddev: 0.3, dropoutRate: 0.2 }, seed: 1 }), () => binaryRows(24)],
  ];

  it.each(noisy)('%s: two threads take the steps one thread takes, noise and all, within 1e-4', async (_, build, data) => {
    const x = data();
    const fitOptions = { epochs: 1, batchSize: 8, learningRate: 0.01, seed: 11, shuffle: true, optimizer: gmAdam };
    const single = build();
    await single.fit(x, fitOptions);
    const parallel = build();
    const { clipNorm } = parallel.trainingDefaults(); // the flows on pixels clip, on one thread and on two
    const step = await dataParallelStep(parallel, { batchSize: 8, learningRate: 0.01, seed: 11, examples: 24, ...(clipNorm === undefined ? {} : { clipNorm }) }, 2);
    try {
      await parallel.fit(x, { ...fitOptions, customStep: step.step, customOptimizer: step.optimizer, dropRemainder: true });
    } finally {
      await step.dispose();
    }
    const a = single.trainableVariables().map((v) => v.dataSync());
    const b = parallel.trainableVariables().map((v) => v.dataSync());
    let worst = 0;
    let moved = 0;
    const fresh = build();
    const start = fresh.trainableVariables().map((v) => v.dataSync());
    a.forEach((w, i) => w.forEach((value, j) => {
      worst = Math.max(worst, Math.abs(value - (b[i] as Float32Array)[j]!));
      moved = Math.max(moved, Math.abs(value - (start[i] as Float32Array)[j]!));
    }));
    expect(worst).toBeLessThan(1e-4);
    expect(moved).toBeGreaterThan(1e-2); // three steps at 0.01 moved the weights: the comparison is of trained models
    tf.dispose(x);
    for (const m of [single, parallel, fresh]) m.dispose();
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
