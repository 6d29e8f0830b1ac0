import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StackedAutoencoder, TiedAutoencoder, type Autoencoder } from './autoencoder';
import { EncoderClassifier } from './classifier';
import type { AutoencoderConfig } from './config';
import { shallowAutoencoderConfig, trainGreedyLayerwise } from './greedy';
import { maxAbsDiff, syntheticData, tempDir, values } from './test-helpers';
import { fileStore } from '../io/file-store';

const DIM = 12;
let x: tf.Tensor2D;
let labels: Int32Array;
let dir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  x = syntheticData(120, DIM, 2, 11);
  // Labels that depend on the inputs: which of three feature groups has the largest mean.
  const rows = x.arraySync();
  labels = Int32Array.from(rows, (r) => {
    const m = [0, 1, 2].map((g) => r.slice(4 * g, 4 * g + 4).reduce((s, v) => s + v, 0));
    return m.indexOf(Math.max(...m));
  });
  dir = await tempDir('gm-ae-reuse-');
});

afterAll(async () => {
  x.dispose();
  const fs = await import('node:fs/promises');
  await fs.rm(dir, { recursive: true, force: true });
});

const weightsOf = (layers: { getWeights(): tf.Tensor[] }[]) => layers.flatMap((l) => l.getWeights().flatMap((w) => values(w, false)));

describe('EncoderClassifier over a pretrained encoder', () => {
  it('copies the encoder; frozen encoder weights do not change, unfrozen ones do; the autoencoder is untouched', async () => {
    const ae = new StackedAutoencoder({ inputDim: DIM, hidden: [8, 4], seed: 3 });
    await ae.fit(x, { epochs: 3, batchSize: 32, learningRate: 0.01 });
    const aeWeights = weightsOf(ae.encoderLayers);
    const clf = EncoderClassifier.fromAutoencoder(ae, { numClasses: 3, seed: 4 });
    expect(clf.encoderTrainable).toBe(false);
    expect(weightsOf(clf.encoderLayers)).toEqual(aeWeights);
    expect(values(clf.encode(x))).toEqual(values(ae.encode(x)));
    // Frozen: only the head's kernel and bias train.
    expect(clf.trainableVariables()).toHaveLength(2);
    const head0 = weightsOf(clf.headLayers);
    const before = clf.evaluate(x, labels);
    const counts: number[] = [];
    await clf.fit(x, labels, { epochs: 6, batchSize: 32, learningRate: 0.02, onBatchEnd: () => void counts.push(tf.memory().numTensors) });
    expect(new Set(counts).size).toBe(1);
    expect(weightsOf(clf.encoderLayers)).toEqual(aeWeights);
    expect(maxAbsDiff(weightsOf(clf.headLayers), head0)).toBeGreaterThan(1e-3);
    const frozen = clf.evaluate(x, labels);
    expect(frozen.loss).toBeLessThan(before.loss);
    // Unfrozen: the encoder fine-tunes too; the autoencoder's own encoder does not move (the classifier has a copy).
    clf.setEncoderTrainable(true);
    expect(clf.trainableVariables()).toHaveLength(6);
    await clf.fit(x, labels, { epochs: 3, batchSize: 32, learningRate: 0.005 });
    expect(maxAbsDiff(weightsOf(clf.encoderLayers), aeWeights)).toBeGreaterThan(1e-4);
    expect(weightsOf(ae.encoderLayers)).toEqual(aeWeights);

    // Save/load: identical outputs and the frozen state is kept.
    clf.setEncoderTrainable(false);
    await clf.save(fileStore(`${dir}/clf`));
    const again = await EncoderClassifier.load(fileStore(`${dir}/clf`));
    expect(again.encoderTrainable).toBe(false);
    expect(values(again.predict(x))).toEqual(values(clf.predict(x)));
    expect(again.evaluate(x, labels)).toEqual(clf.evaluate(x, labels));
    await expect(StackedAutoencoder.load(fileStore(`${dir}/clf`))).rejects.toThrow(/holds a "encoder-classifier", expected a "stacked-autoencoder"/);
    await ae.save(fileStore(`${dir}/ae`));
    await expect(EncoderClassifier.load(fileStore(`${dir}/ae`))).rejects.toThrow(/holds a "stacked-autoencoder", expected a "encoder-classifier"/);
    [ae, clf, again].forEach((m) => m.dispose());
  });

  it('checks labels and config', async () => {
    expect(() => new EncoderClassifier({ inputDim: DIM, encoderHidden: [4], numClasses: 1 })).toThrow(/config\.numClasses must be at least 2; got 1/);
    const clf = new EncoderClassifier({ inputDim: DIM, encoderHidden: [4], numClasses: 3, seed: 1 });
    await expect(clf.fit(x, [0, 1], { epochs: 1 })).rejects.toThrow(/EncoderClassifier\.fit: labels has 2 labels, expected 120/);
    const bad = Int32Array.from(labels);
    bad[5] = 3;
    await expect(clf.fit(x, bad, { epochs: 1 })).rejects.toThrow(/labels\[5\] must be an integer class index in \[0, 3\); got 3/);
    const r = await clf.fit(x, labels, { epochs: 2, validationData: [x, labels], seed: 9 });
    expect(r.history[1]?.valLoss).toBeLessThan(r.history[0]?.valLoss as number);
    const held = tf.memory().numTensors; // weights and the optimizer state the classifier keeps between fits
    await clf.fit(x, labels, { epochs: 1, validationData: [x, labels], seed: 9 });
    expect(tf.memory().numTensors).toBe(held);
    clf.dispose();
  });

  it('seeded classifier training is reproducible', async () => {
    const run = async () => {
      const clf = new EncoderClassifier({ inputDim: DIM, encoderHidden: [6], numClasses: 3, headHidden: [5], seed: 2 });
      const h = (await clf.fit(x, labels, { epochs: 2, batchSize: 16 })).history.map((e) => e.loss);
      const w = clf.model.getWeights().flatMap((t) => values(t, false));
      clf.dispose();
      return { h, w };
    };
    const a = await run();
    expect(await run()).toEqual(a);
  });
});

describe('greedy layer-wise training', () => {
  it.each([false, true])('tied=%s: stacks the shallow encoders in order and decoders in reverse, then fine-tunes', async (tied) => {
    const config: AutoencoderConfig = { inputDim: DIM, hidden: [8, 3], tied, seed: 5 };
    // Copies of each trained shallow autoencoder, to compose by hand.
    const copies: Autoencoder[] = [];
    const Cls = tied ? TiedAutoencoder : StackedAutoencoder;
    const { autoencoder, layerHistories } = await trainGreedyLayerwise(config, x, {
      layerFit: { epochs: 3, batchSize: 32, learningRate: 0.01 },
      onLayerEnd: (i, shallow) => {
        const copy = new Cls(shallowAutoencoderConfig(config, i));
        expect(shallow.config).toEqual(copy.config);
        copy.model.setWeights(shallow.model.getWeights());
        copies.push(copy);
      },
    });
    expect(autoencoder).toBeInstanceOf(Cls);
    expect(layerHistories).toHaveLength(2);
    layerHistories.forEach((h) => expect(h.history.at(-1)!.loss).toBeLessThan(h.history[0]!.loss));
    const [s0, s1] = copies as [Autoencoder, Autoencoder];
    expect(s0.config.inputDim).toBe(DIM);
    expect(s1.config.inputDim).toBe(8);
    expect(s1.config.loss).toBe('meanSquaredError');
    // Deep encode = s1.encode ∘ s0.encode; deep reconstruct = s0.decode ∘ s1.reconstruct ∘ s0.encode.
    const composedCodings = tf.tidy(() => s1.encode(s0.encode(x)));
    expect(maxAbsDiff(values(autoencoder.encode(x)), values(composedCodings, false))).toBeLessThan(1e-5);
    const composed = tf.tidy(() => s0.decode(s1.reconstruct(s0.encode(x))));
    expect(maxAbsDiff(values(autoencoder.reconstruct(x)), values(composed))).toBeLessThan(1e-5);
    composedCodings.dispose();
    // Fine-tuning the stack end to end lowers its loss.
    const before = autoencoder.meanLoss(x);
    await autoencoder.fit(x, { epochs: 3, batchSize: 32, learningRate: 0.005 });
    expect(autoencoder.meanLoss(x)).toBeLessThan(before);
    [autoencoder, ...copies].forEach((m) => m.dispose());
  });

  it('per-layer phases: each shallow autoencoder trains with its own optimizer, rate and epochs; deeper ones validate on encoded data', async () => {
    const before = tf.memory().numTensors;
    const rates: number[][] = [[], []];
    let layer = 0;
    const valid = tf.slice(x, [0], [40]);
    const { autoencoder, layerHistories } = await trainGreedyLayerwise({ inputDim: DIM, hidden: [8, 3], seed: 2 }, x, {
      layerFit: [
        { epochs: 2, optimizer: 'sgd', learningRate: 1.5, validationData: valid, onBatchEnd: (l) => void rates[layer]!.push(l.learningRate) },
        { epochs: 1, optimizer: 'momentum', learningRate: 0.05, onBatchEnd: (l) => void rates[layer]!.push(l.learningRate) },
      ],
      onLayerStart: (i, shallow) => {
        layer = i;
        expect(shallow.config.inputDim).toBe(i === 0 ? DIM : 8);
      },
    });
    expect(layerHistories.map((h) => h.history.length)).toEqual([2, 1]);
    expect(new Set(rates[0])).toEqual(new Set([1.5]));
    expect(new Set(rates[1])).toEqual(new Set([0.05]));
    // The second layer's validation loss is of the 8-wide codings of the validation digits (not of the raw inputs).
    expect(layerHistories[1]!.history[0]!.valLoss).toEqual(expect.any(Number));
    autoencoder.dispose();
    valid.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expect(trainGreedyLayerwise({ inputDim: DIM, hidden: [8, 3] }, x, { layerFit: [{ epochs: 1 }] })).rejects.toThrow(
      /options\.layerFit has 1 entries; the autoencoder has 2 layers/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const { autoencoder, fineTune } = await trainGreedyLayerwise({ inputDim: DIM, hidden: [6, 3, 2], seed: 1 }, x, {
      layerFit: { epochs: 1 },
      fineTune: { epochs: 1 },
    });
    expect(fineTune?.history).toHaveLength(1);
    autoencoder.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
