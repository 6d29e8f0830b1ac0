#!/usr/bin/env node
/**
 * The unconditional density of a class-conditional image flow, p(x) = Σ_y π_y·p(x | y) with π the training labels'
 * frequencies, in bits/dim on the bundled test digits — so a class-conditional Glow can be compared with unconditional
 * flows on the same footing (−log p(x) ≤ −log p(x | y) − log π_y, so the two differ by at most log2(10)/784 ≈ 0.004
 * bits/dim). From packages/models, after `npx tsup`:
 *
 *   node scripts/conditional-marginal.mjs <checkpoint-dir> [--limit 2000] [--seed 7]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { initBackend } from '@gm/backend';
import { deriveSeed } from '@gm/core';
import { loadBundledMnist } from '@gm/data/node';
import { loadModel } from '@gm/models';
import { fileStore } from '@gm/models/node';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { limit: { type: 'string', default: '2000' }, seed: { type: 'string', default: '7' } } });
if (positionals.length !== 1) throw new Error('usage: conditional-marginal.mjs <checkpoint-dir> [--limit 2000] [--seed 7]');
await initBackend();
const flow = await loadModel(fileStore(positionals[0]));
const K = flow.classes ?? 0;
if (K === 0) throw new Error(`${positionals[0]}: a "${flow.kind}" that is not class-conditional`);
const { train, test } = loadBundledMnist();
const prior = new Float64Array(K);
train.labels.forEach((y) => (prior[y] += 1 / train.count));
const N = Math.min(Number(values.limit), test.count);
const D = 784;
let conditional = 0;
let marginal = 0;
const batch = 100;
for (let start = 0, b = 0; start < N; start += batch, b++) {
  const n = Math.min(batch, N - start);
  const x = tf.tidy(() => tf.add(tf.tensor4d(Float32Array.from(test.images.subarray(start * D, (start + n) * D)), [n, 28, 28, 1]), tf.randomUniform([n, 28, 28, 1], 0, 1, 'float32', deriveSeed(Number(values.seed), b))));
  const own = tf.tensor1d(Int32Array.from(test.labels.subarray(start, start + n)), 'int32');
  const perClass = [];
  for (let c = 0; c < K; c++) {
    const labels = tf.fill([n], c, 'int32');
    perClass.push(tf.tidy(() => tf.add(flow.logProb(x, false, labels), Math.log(prior[c]))));
    labels.dispose();
  }
  const [lpOwn, lpMarginal] = tf.tidy(() => [tf.sum(flow.logProb(x, false, own)).dataSync()[0], tf.sum(tf.logSumExp(tf.stack(perClass, 1), 1)).dataSync()[0]]);
  conditional += lpOwn;
  marginal += lpMarginal;
  tf.dispose([x, own, ...perClass]);
}
const bits = (lp) => -lp / N / (D * Math.LN2);
console.log(JSON.stringify({ checkpoint: positionals[0], images: N, classes: K, conditionalBitsPerDim: bits(conditional), marginalBitsPerDim: bits(marginal) }, null, 2));
flow.dispose();
