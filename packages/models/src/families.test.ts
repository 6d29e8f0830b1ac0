/**
 * Every model family on gm's trainer: training resumed from a checkpoint (weights and optimizer state) equals
 * training without interruption, bit for bit; an abort keeps the last finished epoch, in memory and on disk; and a
 * model's whole life (build, save, load, dispose) leaks no tensor.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CheckpointStore } from '@gm/core';
import { memoryStore } from './io/stores';
import type { ModelBase } from './model-base';
import { loadModel } from './registry';
import { VAE } from './vae/vae';
import { IafVae } from './iaf/iaf-vae';
import { MADE } from './made/made';
import { RealNVP } from './realnvp/realnvp';
import { RealNVPImage } from './realnvp/realnvp-image';
import { SplineFlow } from './nsf/spline-flow';
import { Glow } from './glow/glow';
import { MAF } from './maf/maf';
import { DenoisingAutoencoder, SparseAutoencoder, StackedAutoencoder, TiedAutoencoder } from './autoencoders/autoencoder';
import { ConvAutoencoder } from './autoencoders/conv-autoencoder';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

interface Family {
  name: string;
  make(): ModelBase;
  data(): tf.Tensor;
}

const binary = (n: number, d: number) => () => tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([n, d], 0, 1, 'float32', 11), 0.5), 'float32'));
const unit = (n: number, d: number) => () => tf.randomUniform([n, d], 0, 1, 'float32', 12);

const FAMILIES: Family[] = [
  { name: 'VAE (MLP, Bernoulli)', make: () => new VAE({ inputShape: [12], hidden: [8], latentDim: 2, seed: 1 }), data: binary(24, 12) },
  {
    name: 'VAE (conv, discretized logistic)',
    make: () => new VAE({ inputShape: [4, 4, 1], latentDim: 2, architecture: 'conv', conv: { filters: [3] }, likelihood: 'discretized-logistic', seed: 2 }),
    data: () => tf.tidy(() => tf.sub(tf.mul(tf.floor(tf.randomUniform([24, 4, 4, 1], 0, 256, 'float32', 13)), 2 / 255), 1)),
  },
  { name: 'IAF-VAE (planar posterior)', make: () => new IafVae({ inputShape: [12], hidden: [8], latentDim: 3, flow: 'planar', flowSteps: 2, contextSize: 4, seed: 23 }), data: binary(24, 12) },
  { name: 'IAF-VAE (radial posterior)', make: () => new IafVae({ inputShape: [12], hidden: [8], latentDim: 3, flow: 'radial', flowSteps: 2, contextSize: 4, seed: 24 }), data: binary(24, 12) },
  { name: 'IAF-VAE', make: () => new IafVae({ inputShape: [12], hidden: [8], latentDim: 3, flowSteps: 1, contextSize: 4, seed: 3 }), data: binary(24, 12) },
  { name: 'MADE (3 masks)', make: () => new MADE({ inputSize: 8, hidden: [10], masks: 3, seed: 4 }), data: binary(24, 8) },
  { name: 'RealNVP (batch norm)', make: () => new RealNVP({ dim: 2, couplings: 2, hidden: [6], batchNorm: true, seed: 5 }), data: () => tf.randomNormal([24, 2], 0, 1, 'float32', 14) },
  { name: 'SplineFlow (ActNorm + 1×1 + spline couplings)', make: () => new SplineFlow({ dim: 3, couplings: 2, hidden: [6], bins: 4, seed: 11 }), data: () => tf.randomNormal([24, 3], 0, 1, 'float32', 16) },
  {
    name: 'RealNVPImage',
    make: () => new RealNVPImage({ inputShape: [4, 4, 1], scales: 2, couplingsPerStage: 1, filters: 3, blocks: 0, seed: 6 }),
    data: () => tf.tidy(() => tf.floor(tf.randomUniform([16, 4, 4, 1], 0, 256, 'float32', 15))),
  },
  { name: 'MAF (random orders)', make: () => new MAF({ dim: 3, steps: 2, hidden: [6], ordering: 'random', seed: 19 }), data: () => tf.randomNormal([24, 3], 0, 1, 'float32', 20) },
  { name: 'MAF (autoregressive splines)', make: () => new MAF({ dim: 3, steps: 2, hidden: [6], transform: 'spline', bins: 4, seed: 21 }), data: () => tf.randomNormal([24, 3], 0, 1, 'float32', 22) },
  {
    name: 'Glow',
    make: () => new Glow({ inputShape: [4, 4, 1], scales: 2, stepsPerScale: 1, filters: 3, seed: 17 }),
    data: () => tf.tidy(() => tf.floor(tf.randomUniform([16, 4, 4, 1], 0, 256, 'float32', 18))),
  },
  { name: 'StackedAutoencoder', make: () => new StackedAutoencoder({ inputDim: 10, hidden: [6, 3], seed: 7 }), data: unit(24, 10) },
  { name: 'TiedAutoencoder', make: () => new TiedAutoencoder({ inputDim: 10, hidden: [6, 3], seed: 8 }), data: unit(24, 10) },
  { name: 'DenoisingAutoencoder', make: () => new DenoisingAutoencoder({ inputDim: 10, hidden: [6], noise: { gaussianStddev: 0.2, dropoutRate: 0.1 }, seed: 9 }), data: unit(24, 10) },
  { name: 'SparseAutoencoder', make: () => new SparseAutoencoder({ inputDim: 10, hidden: [12], sparsity: { target: 0.1, weight: 0.1 }, seed: 10 }), data: unit(24, 10) },
  { name: 'ConvAutoencoder', make: () => new ConvAutoencoder({ inputShape: [4, 4, 1], filters: [3, 4], seed: 25 }), data: () => tf.randomUniform([24, 4, 4, 1], 0, 1, 'float32', 26) },
];

const bits = (m: ModelBase): number[][] => [...m.trainableVariables(), ...(m.stateVariables?.() ?? [])].map((v) => Array.from(new Uint32Array(new Float32Array(v.dataSync()).buffer)));

describe.each(FAMILIES)('$name on gm trainer', (family) => {
  const opts = { batchSize: 8, learningRate: 3e-3, seed: 21 };

  it('building, saving, loading and disposing leak no tensor', async () => {
    family.make().dispose(); // first use compiles kernels and caches constants
    const before = tf.memory().numTensors;
    const model = family.make();
    const store = memoryStore();
    await model.save(store);
    model.dispose();
    (await loadModel(store)).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a checkpoint refused while loading (each part corrupted in turn) leaks no tensor', async () => {
    const model = family.make();
    const store = memoryStore();
    await model.save(store);
    model.dispose();
    const weights = [...store.files.keys()].filter((f) => f.endsWith('/weights.bin'));
    expect(weights.length).toBeGreaterThan(0);
    for (const file of weights) {
      const damaged = memoryStore(store.files);
      damaged.files.set(file, store.files.get(file)!.map((b, i) => (i === 0 ? b ^ 1 : b)));
      await expect(loadModel(damaged)).rejects.toThrow(file); // warm-up: kernels and caches
      const before = tf.memory().numTensors;
      await expect(loadModel(damaged)).rejects.toThrow(new RegExp(`${file}: sha256`));
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('resuming from a checkpoint (weights + optimizer state) equals training without interruption, bit for bit', async () => {
    const x = family.data();
    const straight = family.make();
    await straight.fit(x, { ...opts, epochs: 3 });
    const store = memoryStore();
    const first = family.make();
    await first.fit(x, { ...opts, epochs: 1, checkpoint: { store } });
    first.dispose();
    const resumed = (await loadModel(store)) as ModelBase;
    expect(resumed.epochsTrained).toBe(1);
    expect(resumed.constructor).toBe(straight.constructor);
    await resumed.fit(x, { ...opts, epochs: 2 });
    expect(resumed.epochsTrained).toBe(3);
    expect(bits(resumed)).toEqual(bits(straight));
    // A control: without the optimizer state the run differs (so the comparison above can fail).
    const noState = memoryStore();
    const weightsOnly = await loadModel(store);
    await weightsOnly.save(noState); // a plain save has no optimizer state
    weightsOnly.dispose();
    expect([...noState.files.keys()].filter((p) => p.startsWith('optimizer'))).toEqual([]);
    const cold = (await loadModel(noState)) as ModelBase;
    await cold.fit(x, { ...opts, epochs: 2 });
    expect(bits(cold)).not.toEqual(bits(straight));
    [straight, resumed, cold].forEach((m) => m.dispose());
    x.dispose();
  });

  it('an abort keeps the last finished epoch, in memory and in the checkpoint', async () => {
    const x = family.data();
    const reference = family.make();
    await reference.fit(x, { ...opts, epochs: 1 });
    const store: CheckpointStore & { files: Map<string, Uint8Array> } = memoryStore();
    const model = family.make();
    const controller = new AbortController();
    const result = await model.fit(x, {
      ...opts,
      epochs: 3,
      signal: controller.signal,
      checkpoint: { store, everyEpochs: 2 },
      onBatchEnd: (l) => {
        if (l.epoch === 2 && l.batch === 1) controller.abort();
      },
    });
    expect(result.stopReason).toBe('aborted');
    expect(model.epochsTrained).toBe(1);
    expect(bits(model)).toEqual(bits(reference));
    const saved = (await loadModel(store)) as ModelBase;
    expect(saved.epochsTrained).toBe(1);
    expect(bits(saved)).toEqual(bits(reference));
    [reference, model, saved].forEach((m) => m.dispose());
    x.dispose();
  });
});
