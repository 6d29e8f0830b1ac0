#!/usr/bin/env node
/**
 * Image flows — Real NVP (issue 9) and Glow (issue 17) — on wasm, against the built dist of @gm/models. From
 * packages/models, after `npx tsup`:
 *
 *   node scripts/realnvp-images.mjs mnist <out-dir> [--model realnvp|glow] [--minutes 25] [--filters 32] [--blocks 1]
 *        [--cps 3] [--scales 2] [--steps 4] [--classes 10] [--batch 64] [--lr 1e-3] [--chunk 1000] [--seed 1] [--workers 2]
 *
 * --workers 2 trains data-parallel on two threads (@gm/backend/data-parallel with @gm/models' generic replica, as
 * `gm train --workers 2` does): full batches only, the batch's gradient clipped at norm 100 as on one thread.
 *
 * --model glow trains Glow (--steps per scale, --scales); --classes 10 makes it class-conditional on the digit label:
 * bits/dim are then of p(x | label), and the script also writes a 10 × 10 grid (`samples-by-class-t0.7.png`, one
 * row per digit) and reports how often a small classifier trained on the 8,000 training digits (784-256-10) calls a
 * class-c sample c.
 *   node scripts/realnvp-images.mjs cifar-synthetic <out-dir> [--minutes 8] [--filters 16] [--cps 2] [--train 1000] [--test 200]
 *
 * mnist: the bundled digits' fixed 8,000 / 2,000 split, dequantized inside the model (uniform noise + logit, log-dets
 * included). Trains in chunks of `--chunk` images (one fit call each, shuffled, seeded) until the CPU budget
 * `--minutes` of training wall time is used, reporting after each chunk the train bits/dim, training images/s and
 * the bits/dim of 200 test images; then the bits/dim of all 2,000 test images (one dequantization sample each).
 * Writes sample grids at temperatures 1.0 and 0.7 (`samples-t1.0.png`, `samples-t0.7.png`), the checkpoint, and
 * `results.json`.
 *
 * cifar-synthetic: writes synthetic CIFAR-10 batch files (smooth random colour fields, 32×32×3) with
 * writeCifar10Batch, loads them back with loadCifar10({ dir }) and runs the same loop: the CIFAR path end to end.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { gmAdam, initBackend } from '@gm/backend';
import { createDataParallelTrainer } from '@gm/backend/data-parallel';
import { mulberry32 } from '@gm/core';
import { CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, writeCifar10Batch } from '@gm/data';
import { loadBundledMnist, loadCifar10 } from '@gm/data/node';
import { EncoderClassifier, Glow, modelReplica, modelReplicaConfig, RealNVPImage } from '@gm/models';
import { fileStore } from '@gm/models/node';
import { writeImageGrid } from './realnvp-lib.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', default: 'realnvp' },
    steps: { type: 'string', default: '4' },
    classes: { type: 'string', default: '0' },
    minutes: { type: 'string' },
    filters: { type: 'string' },
    blocks: { type: 'string', default: '1' },
    cps: { type: 'string' },
    scales: { type: 'string', default: '2' },
    batch: { type: 'string', default: '64' },
    lr: { type: 'string', default: '1e-3' },
    chunk: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    workers: { type: 'string', default: '1' },
    train: { type: 'string', default: '1000' },
    test: { type: 'string', default: '200' },
  },
});
const [mode, outArg] = positionals;
if (mode !== 'mnist' && mode !== 'cifar-synthetic') throw new Error('usage: realnvp-images.mjs mnist|cifar-synthetic <out-dir> [options]');
const out = outArg ?? `realnvp-${mode}-out`;
fs.mkdirSync(out, { recursive: true });
const backend = await initBackend();
console.log(`backend: ${tf.getBackend()} ${JSON.stringify(backend)}`);
const seed = Number(values.seed);

function toTensor(ds) {
  const [h, w, c] = ds.shape;
  return tf.tensor4d(Float32Array.from(ds.images), [ds.count, h, w, c]);
}
const labelsOf = (ds) => tf.tensor1d(Int32Array.from(ds.labels), 'int32');

let train;
let test;
let trainLabels;
let testLabels;
let shape;
if (mode === 'mnist') {
  const { train: tr, test: te } = loadBundledMnist();
  train = toTensor(tr);
  test = toTensor(te);
  trainLabels = labelsOf(tr);
  testLabels = labelsOf(te);
  shape = [28, 28, 1];
} else {
  // Synthetic CIFAR-10 files: low-frequency colour fields (4×4 random colours, bilinearly upsampled) plus noise.
  const dir = path.join(out, 'cifar-10-batches-bin');
  fs.mkdirSync(dir, { recursive: true });
  const rng = mulberry32(seed);
  const make = (count) => {
    const images = new Uint8Array(count * 32 * 32 * 3);
    for (let n = 0; n < count; n++) {
      const g = Array.from({ length: 5 * 5 * 3 }, () => rng() * 255);
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const gy = (y / 32) * 4;
          const gx = (x / 32) * 4;
          const y0 = Math.floor(gy);
          const x0 = Math.floor(gx);
          const fy = gy - y0;
          const fx = gx - x0;
          for (let c = 0; c < 3; c++) {
            const at = (yy, xx) => g[(yy * 5 + xx) * 3 + c];
            const v = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
            images[((n * 32 + y) * 32 + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v + (rng() - 0.5) * 16)));
          }
        }
      }
    }
    return { images, labels: Uint8Array.from({ length: count }, (_, i) => i % 10), shape: [32, 32, 3], layout: 'HWC', count };
  };
  const per = Math.ceil(Number(values.train) / CIFAR10_TRAIN_FILES.length);
  for (const f of CIFAR10_TRAIN_FILES) fs.writeFileSync(path.join(dir, f), writeCifar10Batch(make(per)));
  fs.writeFileSync(path.join(dir, CIFAR10_TEST_FILE), writeCifar10Batch(make(Number(values.test))));
  const splits = await loadCifar10({ dir: out });
  train = toTensor(splits.train);
  test = toTensor(splits.test);
  trainLabels = labelsOf(splits.train);
  testLabels = labelsOf(splits.test);
  shape = [32, 32, 3];
  console.log(`synthetic CIFAR-10 files in ${dir}: loaded ${splits.train.count} train / ${splits.test.count} test images ${splits.train.shape.join('×')} ${splits.train.layout}`);
}

const defaults = mode === 'mnist' ? { minutes: 25, filters: 32, cps: 3 } : { minutes: 8, filters: 16, cps: 2 };
const minutes = Number(values.minutes ?? defaults.minutes);
const modelName = values.model;
if (modelName !== 'realnvp' && modelName !== 'glow') throw new Error(`--model must be realnvp or glow, got ${modelName}`);
const classes = Number(values.classes);
if (classes > 0 && modelName !== 'glow') throw new Error('--classes needs --model glow');
const common = { inputShape: shape, scales: Number(values.scales), filters: Number(values.filters ?? defaults.filters), seed };
const flow =
  modelName === 'glow'
    ? new Glow({ ...common, stepsPerScale: Number(values.steps), classes })
    : new RealNVPImage({ ...common, couplingsPerStage: Number(values.cps ?? defaults.cps), blocks: Number(values.blocks) });
const conditional = classes > 0;
/** Labels of rows `start…` for a conditional flow's calls. */
const labelOpts = (labels) => (conditional ? { labels } : {});
const params = flow.trainableVariables().reduce((a, v) => a + v.size, 0);
console.log(`config ${JSON.stringify(flow.config)}; ${params} parameters`);
const N = train.shape[0];
const chunk = Math.min(Number(values.chunk), N);
const testSmall = tf.slice(test, 0, Math.min(200, test.shape[0]));
const testSmallLabels = tf.slice(testLabels, 0, testSmall.shape[0]);
const history = [];
const t0 = performance.now();
let trainSeconds = 0;
let seen = 0;
let round = 0;
const initialSmall = flow.bitsPerDim(testSmall, { seed: 99, ...labelOpts(testSmallLabels) });
console.log(`before training: test bits/dim (${testSmall.shape[0]} images) ${initialSmall.toFixed(3)}`);
history.push({ images: 0, trainSeconds: 0, testBitsPerDimSubset: initialSmall });
const workers = Number(values.workers);
if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a positive integer, got ${values.workers}`);
if (workers > 1 && conditional) throw new Error('--workers: a class-conditional flow trains on one thread');
let trainer;
let step = 0;
if (workers > 1) {
  trainer = await createDataParallelTrainer({
    replica: { module: import.meta.resolve('@gm/models'), exportName: 'createModelReplica', config: await modelReplicaConfig(flow, seed) },
    localReplica: modelReplica(flow, seed),
    replicas: workers,
    batchSize: Number(values.batch),
    optimizer: { name: 'adam', learningRate: Number(values.lr), clipNorm: 100 },
  });
  console.log(`training data-parallel on ${workers} threads (batch ${values.batch} split across them; gradient norm clipped at 100)`);
}
/** One data-parallel step on a batch: the trainer's own steps, counted across chunks. */
const parallelStep = (batch) => {
  trainer.inputView(step, 'x').set(batch.x.dataSync());
  return trainer.step(step++);
};
while (trainSeconds < minutes * 60) {
  const start = (round * chunk) % N;
  const index = tf.tensor1d(Int32Array.from({ length: chunk }, (_, i) => (start + i) % N), 'int32');
  const rows = tf.gather(train, index);
  const rowLabels = tf.gather(trainLabels, index);
  index.dispose();
  const fitOptions = { epochs: 1, batchSize: Number(values.batch), learningRate: Number(values.lr), seed: seed + round };
  const result = await flow.fit(
    conditional ? { x: rows, labels: rowLabels } : rows,
    trainer === undefined ? { ...fitOptions, optimizer: gmAdam, clipNorm: 100 } : { ...fitOptions, customStep: parallelStep, dropRemainder: true },
  );
  tf.dispose([rows, rowLabels]);
  const logs = result.history.at(-1);
  trainSeconds += logs.seconds;
  seen += trainer === undefined ? chunk : Math.floor(chunk / Number(values.batch)) * Number(values.batch); // full batches only
  round++;
  const small = flow.bitsPerDim(testSmall, { seed: 99, ...labelOpts(testSmallLabels) });
  history.push({ images: seen, trainSeconds, trainBitsPerDim: logs.loss, imagesPerSecond: logs.examplesPerSecond, testBitsPerDimSubset: small });
  console.log(
    `round ${round}: ${seen} images (${(seen / N).toFixed(2)} epochs), train ${logs.loss.toFixed(3)} bits/dim, ${logs.examplesPerSecond.toFixed(1)} images/s, ` +
      `test (${testSmall.shape[0]}) ${small.toFixed(3)} bits/dim, ${(trainSeconds / 60).toFixed(1)} min of training`,
  );
}
await trainer?.dispose();
// Each round's fit counted one "epoch" of a chunk; the checkpoint records whole passes over the training images.
flow.epochsTrained = Math.floor(seen / N);
const te0 = performance.now();
const testBits = flow.bitsPerDim(test, { seed: 7, batchSize: 100, ...labelOpts(testLabels) });
const evalSeconds = (performance.now() - te0) / 1000;
console.log(`test bits/dim (all ${test.shape[0]} images, one dequantization sample): ${testBits.toFixed(4)}; eval ${(test.shape[0] / evalSeconds).toFixed(1)} images/s`);
const [h, w, c] = shape;
const gridLabels = Array.from({ length: 36 }, (_, i) => i % 10);
for (const temperature of [1.0, 0.7]) {
  const s = flow.sample(36, { temperature, seed: 5, ...(conditional ? { label: gridLabels } : {}) });
  writeImageGrid(path.join(out, `samples-t${temperature.toFixed(1)}.png`), s.dataSync(), 36, h, w, c, 6);
  s.dispose();
}
let classAccuracy;
if (conditional) {
  // One row per class at T = 0.7, and how often a classifier trained on the training digits agrees with the label.
  const byClass = Array.from({ length: 10 * classes }, (_, i) => Math.floor(i / 10));
  const grid = flow.sample(byClass.length, { temperature: 0.7, seed: 6, label: byClass });
  writeImageGrid(path.join(out, 'samples-by-class-t0.7.png'), grid.dataSync(), byClass.length, h, w, c, 10);
  const flat = (t) => tf.tidy(() => tf.div(tf.reshape(t, [t.shape[0], -1]), 255));
  const classifier = new EncoderClassifier({ inputDim: h * w * c, encoderHidden: [256], activation: 'relu', numClasses: classes, seed });
  const [xTrain, xTest] = [flat(train), flat(test)];
  await classifier.fit(xTrain, trainLabels, { epochs: 10, batchSize: 64, learningRate: 1e-3 });
  const testAccuracy = classifier.evaluate(xTest, testLabels).accuracy;
  const many = Array.from({ length: 100 * classes }, (_, i) => i % classes);
  const s = flow.sample(many.length, { temperature: 0.7, seed: 8, label: many });
  const xs = flat(s);
  const sampleAccuracy = classifier.evaluate(xs, tf.tensor1d(many, 'int32')).accuracy;
  classAccuracy = { classifierTestAccuracy: testAccuracy, samplesClassifiedAsTheirLabel: sampleAccuracy, samples: many.length, temperature: 0.7 };
  console.log(`class-conditional samples: the classifier (test accuracy ${testAccuracy.toFixed(3)}) calls ${(100 * sampleAccuracy).toFixed(1)}% of ${many.length} samples (T = 0.7) their label (chance ${(100 / classes).toFixed(0)}%)`);
  tf.dispose([grid, xTrain, xTest, s, xs]);
  classifier.dispose();
}
const real = tf.slice(test, 0, 36);
writeImageGrid(path.join(out, 'test-images.png'), real.dataSync(), 36, h, w, c, 6);
await flow.save(fileStore(path.join(out, 'checkpoint')));
const results = {
  mode,
  model: modelName,
  backend: tf.getBackend(),
  config: flow.config,
  parameters: params,
  trainImages: N,
  testImages: test.shape[0],
  budgetMinutes: minutes,
  workers,
  trainSeconds,
  imagesSeen: seen,
  epochs: seen / N,
  trainImagesPerSecond: seen / trainSeconds,
  testBitsPerDim: testBits,
  evalImagesPerSecond: test.shape[0] / evalSeconds,
  classAccuracy,
  wallSeconds: (performance.now() - t0) / 1000,
  processCpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
  history,
};
fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify(results, null, 2));
console.log(JSON.stringify({ ...results, history: undefined }, null, 2));
