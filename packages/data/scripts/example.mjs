// The README's example, runnable: `npx tsup && node scripts/example.mjs`.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  batchIterator,
  dequantizeUniform,
  trainValidationSplit,
  twoMoons,
} from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';

await tf.setBackend('cpu');

// 10,000 real digits, offline: a fixed 8,000 / 2,000 split.
const { train, test } = loadBundledMnist();
console.log('train', train.count, train.shape, 'test', test.count);

// A seeded validation split of the training part.
const { train: fit, validation } = trainValidationSplit(train, { seed: 1, validationFraction: 0.1 });
console.log('fit', fit.count, 'validation', validation.count);

// Batches as tensors, dynamically binarized with fresh draws per epoch; nothing leaks.
const before = tf.memory().numTensors;
let batches = 0;
for (const { xs, ys } of batchIterator(fit, { batchSize: 128, seed: 1, epoch: 0, transform: 'dynamic-binarize', flatten: true })) {
  if (batches++ === 0) console.log('batch', xs.shape, ys.shape);
}
console.log('batches', batches, 'leaked tensors', tf.memory().numTensors - before);

// Uniform dequantization: (pixel + U[0, 1)) / 256.
const x = dequantizeUniform(test.images.subarray(0, 784), 7);
console.log('dequantized range', Math.min(...x).toFixed(3), Math.max(...x).toFixed(3));

// A 2-D toy dataset.
const moons = twoMoons(1000, { seed: 0, noise: 0.05 });
console.log('moons', moons.count, 'first point', moons.points[0].toFixed(3), moons.points[1].toFixed(3));
