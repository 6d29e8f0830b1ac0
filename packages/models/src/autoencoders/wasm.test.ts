import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DenoisingAutoencoder, TiedAutoencoder, loadAutoencoder } from './autoencoder';
import { EncoderClassifier } from './classifier';
import { maxAbsDiff, syntheticData, tempDir, values } from './test-helpers';
import { fileStore } from '../io/file-store';

let dir: string;

beforeAll(async () => {
  dir = await tempDir('gm-ae-wasm-');
});

afterAll(async () => {
  const fs = await import('node:fs/promises');
  await fs.rm(dir, { recursive: true, force: true });
});

describe('checkpoints across backends', () => {
  it('a model saved on cpu loads on wasm with the same outputs, trains there, and saves again', async () => {
    await tf.setBackend('cpu');
    const x = syntheticData(40, 10, 2, 1);
    const xs = x.arraySync();
    const tied = new TiedAutoencoder({ inputDim: 10, hidden: [6, 3], seed: 1 });
    await tied.fit(x, { epochs: 1, batchSize: 20 });
    const noisy = new DenoisingAutoencoder({ inputDim: 10, hidden: [4], noise: { dropoutRate: 0.3 }, seed: 2 });
    const clf = EncoderClassifier.fromAutoencoder(tied, { numClasses: 2, seed: 3 });
    const expected = [values(tied.reconstruct(x)), values(noisy.reconstruct(x)), values(clf.predict(x))];
    await tied.save(fileStore(`${dir}/tied`));
    await noisy.save(fileStore(`${dir}/noisy`));
    await clf.save(fileStore(`${dir}/clf`));
    [tied, noisy, clf].forEach((m) => m.dispose());
    x.dispose();

    await tf.setBackend('wasm');
    const xw = tf.tensor2d(xs);
    const tiedW = await TiedAutoencoder.load(fileStore(`${dir}/tied`));
    const noisyW = await loadAutoencoder(fileStore(`${dir}/noisy`));
    const clfW = await EncoderClassifier.load(fileStore(`${dir}/clf`));
    expect(maxAbsDiff(values(tiedW.reconstruct(xw)), expected[0]!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(values(noisyW.reconstruct(xw)), expected[1]!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(values(clfW.predict(xw)), expected[2]!)).toBeLessThan(1e-5);
    const before = tiedW.meanLoss(xw);
    const counts: number[] = [];
    await tiedW.fit(xw, { epochs: 3, batchSize: 20, learningRate: 0.01, onBatchEnd: () => void counts.push(tf.memory().numTensors) });
    expect(new Set(counts).size).toBe(1);
    expect(tiedW.meanLoss(xw)).toBeLessThan(before);
    await tiedW.save(fileStore(`${dir}/tied-wasm`));
    const again = await TiedAutoencoder.load(fileStore(`${dir}/tied-wasm`));
    expect(values(again.reconstruct(xw))).toEqual(values(tiedW.reconstruct(xw)));
    [tiedW, noisyW, clfW, again].forEach((m) => m.dispose());
    xw.dispose();
  });
});
