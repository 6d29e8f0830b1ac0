import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchIterator, numBatches } from './batches.js';
import { shuffleDataset, trainValidationSplit } from './split.js';
import { makeDataset, type ImageDataset } from './dataset.js';
import { testBytes } from './test-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Image i has every pixel equal to i, so batches reveal which images they hold. */
function numbered(count: number): ImageDataset {
  const images = new Uint8Array(count * 4);
  for (let i = 0; i < count; i++) images.fill(i, i * 4, (i + 1) * 4);
  return makeDataset({ images, labels: Uint8Array.from({ length: count }, (_, i) => i % 10), shape: [2, 2, 1], layout: 'HWC', count });
}

describe('shuffle and split', () => {
  it('shuffles reproducibly, keeping images with their labels', () => {
    const ds = numbered(50);
    const a = shuffleDataset(ds, 1);
    expect(shuffleDataset(ds, 1)).toEqual(a);
    expect(a.images).not.toEqual(ds.images);
    for (let i = 0; i < 50; i++) expect(a.labels[i]).toBe(a.images[i * 4]! % 10);
    expect([...a.labels].sort()).toEqual([...ds.labels].sort());
  });

  it('splits into disjoint train and validation parts that cover the dataset', () => {
    const ds = numbered(100);
    const { train, validation } = trainValidationSplit(ds, { seed: 2, validationFraction: 0.2 });
    expect(validation.count).toBe(20);
    expect(train.count).toBe(80);
    const ids = [...Array.from({ length: 80 }, (_, i) => train.images[i * 4]!), ...Array.from({ length: 20 }, (_, i) => validation.images[i * 4]!)];
    expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(trainValidationSplit(ds, { seed: 2, validationCount: 20 })).toEqual({ train, validation });
    expect(() => trainValidationSplit(ds, { seed: 2, validationCount: 101 })).toThrow(/validation size in 0\.\.100/);
  });
});

describe('batchIterator', () => {
  it('visits every image once per epoch, in a seeded order that changes with the epoch', () => {
    const ds = numbered(23);
    const order = (epoch: number, seed = 5): number[] => {
      const seen: number[] = [];
      for (const b of batchIterator(ds, { batchSize: 5, seed, epoch, transform: 'raw' })) {
        const v = b.xs.dataSync();
        for (let i = 0; i < b.size; i++) seen.push(v[i * 4]!);
        expect([...b.indices]).toEqual(seen.slice(-b.size));
        expect([...b.ys.dataSync()]).toEqual([...b.indices].map((j) => j % 10));
      }
      return seen;
    };
    const e0 = order(0);
    expect([...e0].sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(order(0)).toEqual(e0);
    expect(order(1)).not.toEqual(e0);
    expect(order(0, 6)).not.toEqual(e0);
    const inOrder: number[] = [];
    for (const b of batchIterator(ds, { batchSize: 10, shuffle: false })) inOrder.push(...b.indices);
    expect(inOrder).toEqual(Array.from({ length: 23 }, (_, i) => i));
  });

  it('shapes batches, flattens, one-hots, and drops the remainder on request', () => {
    const ds = numbered(23);
    const sizes: number[] = [];
    for (const b of batchIterator(ds, { batchSize: 10, flatten: true, oneHot: true })) {
      sizes.push(b.size);
      expect(b.xs.shape).toEqual([b.size, 4]);
      expect(b.ys.shape).toEqual([b.size, 10]);
      expect(b.ys.dtype).toBe('float32');
      const oh = b.ys.arraySync() as number[][];
      oh.forEach((row, i) => expect(row.indexOf(1)).toBe(b.indices[i]! % 10));
      const xs = b.xs.dataSync();
      for (let i = 0; i < b.size; i++) expect(xs[i * 4]).toBeCloseTo(b.indices[i]! / 255, 6);
    }
    expect(sizes).toEqual([10, 10, 3]);
    const dropped = [...batchIterator(ds, { batchSize: 10, dropRemainder: true })].map((b) => b.size);
    expect(dropped).toEqual([10, 10]);
    expect(numBatches(23, 10)).toBe(3);
    expect(numBatches(23, 10, true)).toBe(2);
    for (const b of batchIterator(ds, { batchSize: 4 })) expect(b.xs.shape).toEqual([b.size, 2, 2, 1]);
    expect(() => [...batchIterator(ds, { batchSize: 0 })]).toThrow(/positive integer batchSize/);
  });

  it('applies seeded random transforms, fresh per epoch', () => {
    const images = testBytes(64 * 4, 1);
    const ds = makeDataset({ images, labels: new Uint8Array(64), shape: [2, 2, 1], layout: 'HWC', count: 64 });
    const run = (epoch: number, transform: 'dynamic-binarize' | 'dequantize'): number[] => {
      const out: number[] = [];
      for (const b of batchIterator(ds, { batchSize: 64, seed: 1, epoch, shuffle: false, transform })) out.push(...b.xs.dataSync());
      return out;
    };
    const bin = run(0, 'dynamic-binarize');
    expect(bin.every((v) => v === 0 || v === 1)).toBe(true);
    expect(run(0, 'dynamic-binarize')).toEqual(bin);
    expect(run(1, 'dynamic-binarize')).not.toEqual(bin);
    const deq = run(0, 'dequantize');
    deq.forEach((v, i) => expect(Math.floor(v * 256)).toBe(images[i]));
    const custom = [...batchIterator(ds, { batchSize: 64, shuffle: false, transform: (p) => Float32Array.from(p, (v) => v * 2) })];
    expect(custom.length).toBe(1);
  });

  it('leaks no tensors: after a full epoch, a break, or an exception', () => {
    const ds = numbered(30);
    const before = tf.memory().numTensors;
    let live = 0;
    for (const b of batchIterator(ds, { batchSize: 7, oneHot: true })) {
      live = Math.max(live, tf.memory().numTensors - before);
      expect(b.xs.isDisposed).toBe(false);
    }
    expect(live).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
    let kept: tf.Tensor | undefined;
    for (const b of batchIterator(ds, { batchSize: 7 })) {
      kept = b.xs;
      break;
    }
    expect(kept?.isDisposed).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => {
      for (const _b of batchIterator(ds, { batchSize: 7 })) throw new Error('boom');
    }).toThrow('boom');
    expect(tf.memory().numTensors).toBe(before);
    // A clone survives the iterator.
    let clone: tf.Tensor | undefined;
    for (const b of batchIterator(ds, { batchSize: 30, shuffle: false, transform: 'raw' })) clone = tf.clone(b.xs);
    expect(clone!.dataSync()[4]).toBe(1);
    clone!.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
