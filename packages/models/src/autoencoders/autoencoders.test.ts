import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { DenseTranspose } from '@gm/layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Autoencoder,
  ContractiveAutoencoder,
  DenoisingAutoencoder,
  LinearAutoencoder,
  SparseAutoencoder,
  StackedAutoencoder,
  TiedAutoencoder,
  loadAutoencoder,
  type AutoencoderClass,
} from './autoencoder';
import type { AutoencoderConfig } from './config';
import { activityL1Penalty, sparsityPenalty } from './losses';
import { maxAbsDiff, syntheticData, tempDir, values } from './test-helpers';
import { fileStore } from '../io/file-store';

const DIM = 12;
let x: tf.Tensor2D;
let dir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  x = syntheticData(96, DIM, 2, 7);
  dir = await tempDir('gm-ae-');
});

afterAll(async () => {
  x.dispose();
  const fs = await import('node:fs/promises');
  await fs.rm(dir, { recursive: true, force: true });
});

/** Every class of the family with a small config that exercises its feature. */
const CASES: Array<[string, AutoencoderClass<Autoencoder>, AutoencoderConfig]> = [
  ['StackedAutoencoder', StackedAutoencoder, { inputDim: DIM, hidden: [8, 3], seed: 1 }],
  ['TiedAutoencoder', TiedAutoencoder, { inputDim: DIM, hidden: [8, 3], seed: 2 }],
  ['DenoisingAutoencoder', DenoisingAutoencoder, { inputDim: DIM, hidden: [8, 3], noise: { gaussianStddev: 0.2, dropoutRate: 0.3 }, seed: 3 }],
  ['SparseAutoencoder', SparseAutoencoder, { inputDim: DIM, hidden: [10], sparsity: { target: 0.1, weight: 0.5 }, seed: 4 }],
  ['LinearAutoencoder', LinearAutoencoder, { inputDim: DIM, hidden: [3], seed: 5 }],
  ['ContractiveAutoencoder', ContractiveAutoencoder, { inputDim: DIM, hidden: [8, 3], contractive: 0.01, seed: 7 }],
  ['SparseAutoencoder (L1 activity)', SparseAutoencoder, { inputDim: DIM, hidden: [10], codingActivation: 'sigmoid', activityL1: 0.01, seed: 8 }],
  [
    'Autoencoder (tied + noise + sparsity)',
    Autoencoder,
    { inputDim: DIM, hidden: [8, 4], tied: true, codingActivation: 'sigmoid', noise: { dropoutRate: 0.2 }, sparsity: { target: 0.2, weight: 0.1 }, seed: 6 },
  ],
];

describe('config checks', () => {
  it('names the field and what was expected', async () => {
    expect(() => new StackedAutoencoder({ inputDim: 0, hidden: [2] })).toThrow(/StackedAutoencoder: config\.inputDim must be a positive integer; got 0/);
    expect(() => new StackedAutoencoder({ inputDim: 4, hidden: [] })).toThrow(/config\.hidden must be a non-empty array of positive integers/);
    expect(() => new StackedAutoencoder({ inputDim: 4, hidden: [2, 1.5] })).toThrow(/config\.hidden\[1\] must be a positive integer; got 1\.5/);
    expect(() => new StackedAutoencoder({ inputDim: 4, hidden: [2], activation: 'gelu' as never })).toThrow(/config\.activation must be one of linear, relu/);
    expect(() => new StackedAutoencoder({ inputDim: 4, hidden: [2], outputActivation: 'linear' })).toThrow(
      /config\.outputActivation must be 'sigmoid' with loss 'binaryCrossentropy'/,
    );
    expect(() => new StackedAutoencoder({ inputDim: 4, hidden: [2], tied: true })).toThrow(/config\.tied must be false \(use TiedAutoencoder/);
    expect(() => new TiedAutoencoder({ inputDim: 4, hidden: [2], tied: false })).toThrow(/TiedAutoencoder: config\.tied must be true or absent/);
    expect(() => new DenoisingAutoencoder({ inputDim: 4, hidden: [2] })).toThrow(/config\.noise must be an object/);
    expect(() => new DenoisingAutoencoder({ inputDim: 4, hidden: [2], noise: {} })).toThrow(/must set gaussianStddev > 0 or dropoutRate > 0/);
    expect(() => new DenoisingAutoencoder({ inputDim: 4, hidden: [2], noise: { dropoutRate: 1 } })).toThrow(/config\.noise\.dropoutRate must be a number in \[0, 1\)/);
    expect(() => new SparseAutoencoder({ inputDim: 4, hidden: [2] })).toThrow(/config\.sparsity must be an object \{ target, weight \} \(the KL penalty\), or activityL1 > 0/);
    expect(() => new Autoencoder({ inputDim: 4, hidden: [2], activityL1: -1 })).toThrow(/config\.activityL1 must be a number in \[0, Infinity\)/);
    expect(() => new StackedAutoencoder({ inputDim: 4, hidden: [2], contractive: 0.1 })).toThrow(/StackedAutoencoder: config\.contractive is not used by this model/);
    expect(() => new ContractiveAutoencoder({ inputDim: 4, hidden: [2], contractive: 0 })).toThrow(/ContractiveAutoencoder: config\.contractive must be a positive number/);
    expect(() => new ContractiveAutoencoder({ inputDim: 4, hidden: [2], noise: { dropoutRate: 0.1 } })).toThrow(/config\.noise is not used by this model/);
    expect(() => new Autoencoder({ inputDim: 4, hidden: [2], codingActivation: 'softmax', contractive: 0.1 })).toThrow(/config\.codingActivation must be element-wise with a contractive penalty/);
    expect(new ContractiveAutoencoder({ inputDim: 4, hidden: [2] }).config.contractive).toBe(1e-3);
    expect(() => new SparseAutoencoder({ inputDim: 4, hidden: [2], sparsity: { target: 0, weight: 1 } })).toThrow(/config\.sparsity\.target must be a number in \(0, 1\)/);
    expect(() => new SparseAutoencoder({ inputDim: 4, hidden: [2], codingActivation: 'selu', sparsity: { target: 0.1, weight: 1 } })).toThrow(
      /config\.codingActivation must be 'sigmoid' with a sparsity penalty/,
    );
    expect(() => new LinearAutoencoder({ inputDim: 4, hidden: [2], activation: 'selu' })).toThrow(/config\.activation must be 'linear' for a LinearAutoencoder/);
    expect(() => new StackedAutoencoder({ inputDim: 4, hidden: [2], seed: 0.5 })).toThrow(/config\.seed must be an integer/);
  });

  it('checks shapes and fit options', async () => {
    const ae = new StackedAutoencoder({ inputDim: DIM, hidden: [3], seed: 1 });
    const bad = tf.zeros([4, DIM + 1]);
    expect(() => ae.encode(bad)).toThrow(/StackedAutoencoder\.encode: x: expected shape \[batch, 12\], got \[4, 13\]/);
    expect(() => ae.decode(tf.zeros([2, 4]))).toThrow(/decode: codings: expected shape \[batch, 3\]/);
    await expect(ae.fit(x, { epochs: 1, batchSize: 0 })).rejects.toThrow(/StackedAutoencoder\.fit: batchSize must be a positive integer, got 0/);
    await expect(ae.fit(x, { epochs: -1 })).rejects.toThrow(/fit: epochs must be a non-negative integer/);
    await expect(ae.fit(x, { epochs: 1, optimizer: 'lbfgs' as never })).rejects.toThrow(/fit: optimizer must be one of adam, sgd, momentum, nesterov, rmsprop/);
    await expect(ae.fit(x, { epochs: 1, validationData: bad })).rejects.toThrow(/validationData/);
    bad.dispose();
    ae.dispose();
  });
});

describe('tied autoencoder', () => {
  /** decoder_j's output computed by hand from the encoder kernel it must share: act(z·Kᵀ + b). */
  function manualDecoderLayer(ae: Autoencoder, j: number, z: tf.Tensor, act: 'selu' | 'sigmoid'): number[] {
    const i = ae.config.hidden.length - 1 - j;
    const kernel = (ae.encoderLayers[i] as tf.serialization.Serializable & { getWeights(): tf.Tensor[] }).getWeights()[0] as tf.Tensor;
    const bias = ae.decoderLayers[j]!.getWeights()[0] as tf.Tensor;
    return values(tf.tidy(() => (act === 'selu' ? tf.selu : tf.sigmoid)(tf.add(tf.matMul(z, tf.transpose(kernel)), bias))));
  }

  function checkTie(ae: Autoencoder): void {
    // One kernel per encoder layer, none in the decoder: 2 kernels + 2 encoder biases + 2 decoder biases.
    const names = ae.model.trainableWeights.map((w) => w.originalName);
    expect(names.filter((n) => n.endsWith('kernel'))).toHaveLength(2);
    expect(ae.model.trainableWeights).toHaveLength(6);
    ae.decoderLayers.forEach((layer, j) => {
      expect(layer).toBeInstanceOf(DenseTranspose);
      expect((layer as DenseTranspose).tiedLayer).toBe(ae.encoderLayers[1 - j]);
    });
    // The decoder really reads the encoder's kernel: overwrite it and the output follows.
    const z = tf.tensor2d([[0.3, -0.2, 0.9], [1.0, 0.1, -0.5]]);
    const k1 = ae.encoderLayers[1]!;
    const old = k1.getWeights().map((w) => tf.clone(w));
    k1.setWeights([tf.randomNormal([8, 3], 0, 1, 'float32', 11), old[1] as tf.Tensor]);
    const h = ae.decoderLayers[0]!.apply(z) as tf.Tensor;
    expect(maxAbsDiff(values(h), manualDecoderLayer(ae, 0, z, 'selu'))).toBeLessThan(1e-5);
    k1.setWeights(old);
    tf.dispose([z, ...old]);
  }

  it('shares one kernel per layer pair, before and after save/load', async () => {
    const ae = new TiedAutoencoder({ inputDim: DIM, hidden: [8, 3], seed: 9 });
    checkTie(ae);
    const k0 = values(ae.encoderLayers[0]!.getWeights()[0] as tf.Tensor, false);
    await ae.fit(x, { epochs: 1, batchSize: 32, learningRate: 0.01 });
    expect(maxAbsDiff(values(ae.encoderLayers[0]!.getWeights()[0] as tf.Tensor, false), k0)).toBeGreaterThan(1e-4);
    // The output layer equals sigmoid(h·K₀ᵀ + b) with the (trained) encoder kernel.
    const h = tf.tidy(() => ae.decoderLayers[0]!.apply(ae.encode(x)) as tf.Tensor);
    expect(maxAbsDiff(values(tf.tidy(() => ae.decoderLayers[1]!.apply(h) as tf.Tensor)), manualDecoderLayer(ae, 1, h, 'sigmoid'))).toBeLessThan(1e-5);
    h.dispose();

    const path = `${dir}/tied`;
    await ae.save(fileStore(path));
    const again = await TiedAutoencoder.load(fileStore(path));
    checkTie(again);
    expect(values(again.reconstruct(x))).toEqual(values(ae.reconstruct(x)));
    // Training the loaded model moves the one shared kernel, and the decoder follows it.
    await again.fit(x, { epochs: 1, batchSize: 32, learningRate: 0.01 });
    const h2 = tf.tidy(() => again.decoderLayers[0]!.apply(again.encode(x)) as tf.Tensor);
    expect(maxAbsDiff(values(tf.tidy(() => again.decoderLayers[1]!.apply(h2) as tf.Tensor)), manualDecoderLayer(again, 1, h2, 'sigmoid'))).toBeLessThan(1e-5);
    h2.dispose();
    ae.dispose();
    again.dispose();
  });
});

describe('every model', () => {
  it.each(CASES)('%s: save/load gives identical outputs, and the right class', async (name, Cls, config) => {
    const ae = new Cls(config);
    await ae.fit(x, { epochs: 1, batchSize: 32 });
    const path = `${dir}/${name.replace(/\W+/g, '-')}`;
    await ae.save(fileStore(path));
    const again = await (Cls as typeof Autoencoder).load(fileStore(path));
    expect(again).toBeInstanceOf(Cls);
    expect(again.config).toEqual(ae.config);
    expect(values(again.encode(x))).toEqual(values(ae.encode(x)));
    expect(values(again.reconstruct(x))).toEqual(values(ae.reconstruct(x)));
    const z = ae.encode(x);
    expect(values(again.decode(z))).toEqual(values(ae.decode(z)));
    z.dispose();
    const any = await loadAutoencoder(fileStore(path));
    expect(any.constructor).toBe(Cls);
    expect(values(any.reconstruct(x))).toEqual(values(ae.reconstruct(x)));
    // Another class refuses the checkpoint, naming both kinds.
    const Other = Cls === StackedAutoencoder ? TiedAutoencoder : StackedAutoencoder;
    await expect(Other.load(fileStore(path))).rejects.toThrow(new RegExp(`holds a "${Cls.variant.kind}", expected a "${Other.variant.kind}"`));
    [ae, again, any].forEach((m) => m.dispose());
  });

  it.each(CASES)('%s: tf.memory().numTensors is flat across training steps and nothing leaks', async (_name, Cls, config) => {
    const before = tf.memory().numTensors;
    const ae = new Cls(config);
    const counts: number[] = [];
    const result = await ae.fit(x, {
      epochs: 3,
      batchSize: 24,
      validationData: x,
      onBatchEnd: () => void counts.push(tf.memory().numTensors),
    });
    expect(result.history).toHaveLength(3);
    expect(counts).toHaveLength(12);
    // From the first step on (it creates the optimiser's slots) the count never moves, across epochs and validation.
    expect(new Set(counts).size).toBe(1);
    // With early stopping the fit loop holds one extra copy of the variables (the best weights), nothing more.
    const withEarlyStopping: number[] = [];
    await ae.fit(x, {
      epochs: 3,
      batchSize: 24,
      validationData: x,
      earlyStopping: { patience: 5 },
      onBatchEnd: () => void withEarlyStopping.push(tf.memory().numTensors),
    });
    expect(new Set(withEarlyStopping.slice(4)).size).toBe(1);
    expect((withEarlyStopping[4] as number) - (withEarlyStopping[0] as number)).toBe(ae.trainableVariables().length);
    const held = tf.memory().numTensors; // the weights and the optimizer's state, which the model keeps between fits
    const r = ae.reconstruct(x);
    r.dispose();
    ae.evaluate(x);
    ae.meanCodingActivations(x);
    expect(tf.memory().numTensors).toBe(held);
    ae.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each(CASES)('%s: seeded training is reproducible and learns', async (_name, Cls, config) => {
    const run = async (seed: number) => {
      const ae = new Cls({ ...config, seed });
      const before = ae.meanLoss(x);
      const result = await ae.fit(x, { epochs: 4, batchSize: 16, learningRate: 0.01 });
      const out = { losses: result.history.map((h) => h.loss), weights: ae.model.getWeights().flatMap((w) => values(w, false)), before, after: ae.meanLoss(x) };
      ae.dispose();
      return out;
    };
    const a = await run(21);
    const b = await run(21);
    const c = await run(22);
    expect(b.losses).toEqual(a.losses);
    expect(b.weights).toEqual(a.weights);
    expect(c.losses).not.toEqual(a.losses);
    expect(a.after).toBeLessThan(a.before);
  });
});

describe('denoising autoencoder', () => {
  it('corrupts inputs in training only; inference is deterministic', async () => {
    const ae = new DenoisingAutoencoder({ inputDim: DIM, hidden: [6], noise: { gaussianStddev: 0.3, dropoutRate: 0.25 }, seed: 3 });
    const r1 = values(ae.reconstruct(x));
    expect(values(ae.reconstruct(x))).toEqual(r1);
    const inference = ae.forward(x);
    expect(values(inference.reconstruction)).toEqual(r1);
    inference.codings.dispose();
    const t1 = ae.forward(x, { training: true, seed: 1 });
    const t2 = ae.forward(x, { training: true, seed: 2 });
    const t1again = ae.forward(x, { training: true, seed: 1 });
    expect(maxAbsDiff(values(t1.reconstruction, false), r1)).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(values(t1.reconstruction, false), values(t2.reconstruction, false))).toBeGreaterThan(1e-2);
    expect(values(t1again.reconstruction, false)).toEqual(values(t1.reconstruction, false));
    tf.dispose([t1, t2, t1again] as unknown as tf.Tensor[]);
    // The training loss sees corrupted inputs, the evaluation loss does not.
    const clean = ae.lossTerms(x);
    const noisy = ae.lossTerms(x, { training: true, seed: 5 });
    expect(Math.abs((values(noisy.loss)[0] as number) - (values(clean.loss, false)[0] as number))).toBeGreaterThan(1e-3);
    const cleanAgain = ae.lossTerms(x);
    expect(values(cleanAgain.loss)).toEqual(values(clean.loss));
    tf.dispose([noisy.penalty, noisy.reconstruction, clean.penalty, clean.reconstruction, cleanAgain.penalty, cleanAgain.reconstruction]);
    ae.dispose();
  });

  it('Gaussian noise has the configured spread; dropout zeroes the configured share and rescales survivors', async () => {
    const ones = tf.ones([200, 100]);
    const g = new DenoisingAutoencoder({ inputDim: 100, hidden: [2], noise: { gaussianStddev: 0.3 }, seed: 1 });
    const diff = values(tf.tidy(() => tf.sub(g.corrupt(ones, 4), ones)));
    const mean = diff.reduce((s, v) => s + v, 0) / diff.length;
    const std = Math.sqrt(diff.reduce((s, v) => s + (v - mean) ** 2, 0) / diff.length);
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(std - 0.3)).toBeLessThan(0.01);
    const d = new DenoisingAutoencoder({ inputDim: 100, hidden: [2], noise: { dropoutRate: 0.4 }, seed: 1 });
    const dropped = values(d.corrupt(ones, 4));
    const zeros = dropped.filter((v) => v === 0).length / dropped.length;
    expect(Math.abs(zeros - 0.4)).toBeLessThan(0.015);
    expect(dropped.every((v) => v === 0 || Math.abs(v - 1 / 0.6) < 1e-6)).toBe(true);
    // The stacked autoencoder has no noise: training mode changes nothing.
    const s = new StackedAutoencoder({ inputDim: DIM, hidden: [3], seed: 1 });
    const t = s.forward(x, { training: true, seed: 1 });
    expect(values(t.reconstruction)).toEqual(values(s.reconstruct(x)));
    t.codings.dispose();
    tf.dispose(ones);
    [g, d, s].forEach((m) => m.dispose());
  });
});

describe('sparse autoencoder', () => {
  const kl = (p: number, q: number) => p * Math.log(p / q) + (1 - p) * Math.log((1 - p) / (1 - q));

  it('penalty = weight · Σ_j KL(target ‖ batch mean of unit j), in closed form', async () => {
    const acts = [
      [0.05, 0.9, 0.3],
      [0.15, 0.7, 0.5],
      [0.1, 0.2, 0.1],
      [0.3, 0.6, 0.9],
    ];
    const target = 0.1;
    const weight = 0.7;
    const means = [0, 1, 2].map((j) => acts.reduce((s, r) => s + (r[j] as number), 0) / acts.length);
    const expected = weight * means.reduce((s, q) => s + kl(target, q), 0);
    const got = values(sparsityPenalty(tf.tensor2d(acts), target, weight))[0] as number;
    expect(got).toBeCloseTo(expected, 5);
    // A unit whose mean is the target costs nothing.
    expect(values(sparsityPenalty(tf.tensor2d([[0.05], [0.15]]), 0.1, 3))[0]).toBeCloseTo(0, 6);
  });

  it("the model's loss adds exactly that penalty for known coding activations", () => {
    const ae = new SparseAutoencoder({ inputDim: DIM, hidden: [3], sparsity: { target: 0.2, weight: 2 }, seed: 1 });
    // Zero kernel, bias = logit(q): every input gets codings q exactly.
    const q = [0.05, 0.5, 0.8];
    ae.encoderLayers[0]!.setWeights([tf.zeros([DIM, 3]), tf.tensor1d(q.map((v) => Math.log(v / (1 - v))))]);
    const terms = ae.lossTerms(x);
    expect(values(terms.penalty)[0]).toBeCloseTo(2 * q.reduce((s, v) => s + kl(0.2, v), 0), 4);
    expect(values(terms.loss)[0]).toBeCloseTo((values(terms.reconstruction, false)[0] as number) + 2 * q.reduce((s, v) => s + kl(0.2, v), 0), 4);
    terms.reconstruction.dispose();
    const means = ae.meanCodingActivations(x);
    q.forEach((v, j) => expect(means[j]).toBeCloseTo(v, 5));
    ae.dispose();
  });

  it('L1 activity penalty = weight · mean over the batch of Σ_j |h_j|, and the model adds exactly that', () => {
    const acts = [
      [0.5, -0.25, 1],
      [0, 2, -0.75],
    ];
    expect(values(activityL1Penalty(tf.tensor2d(acts), 0.1))[0]).toBeCloseTo((0.1 * (1.75 + 2.75)) / 2, 6);
    const ae = new SparseAutoencoder({ inputDim: DIM, hidden: [3], codingActivation: 'sigmoid', activityL1: 0.5, seed: 1 });
    const q = [0.05, 0.5, 0.8];
    ae.encoderLayers[0]!.setWeights([tf.zeros([DIM, 3]), tf.tensor1d(q.map((v) => Math.log(v / (1 - v))))]);
    const terms = ae.lossTerms(x);
    expect(values(terms.penalty)[0]).toBeCloseTo(0.5 * (0.05 + 0.5 + 0.8), 5);
    tf.dispose([terms.loss, terms.reconstruction]);
    ae.dispose();
  });

  it('training with the L1 activity penalty drives the mean coding activation down', async () => {
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    const run = async (activityL1: number) => {
      const ae = new Autoencoder({ inputDim: DIM, hidden: [10], codingActivation: 'sigmoid', activityL1, seed: 3 });
      await ae.fit(x, { epochs: 10, batchSize: 32, learningRate: 0.02 });
      const m = mean(ae.meanCodingActivations(x));
      ae.dispose();
      return m;
    };
    expect(await run(0.05)).toBeLessThan((await run(0)) / 2);
  });

  it('training pulls the mean coding activation toward the target', async () => {
    const ae = new SparseAutoencoder({ inputDim: DIM, hidden: [10], sparsity: { target: 0.05, weight: 1 }, seed: 2 });
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    const before = mean(ae.meanCodingActivations(x));
    await ae.fit(x, { epochs: 10, batchSize: 32, learningRate: 0.02 });
    const after = mean(ae.meanCodingActivations(x));
    expect(Math.abs(after - 0.05)).toBeLessThan(Math.abs(before - 0.05) / 3);
    ae.dispose();
  });
});
