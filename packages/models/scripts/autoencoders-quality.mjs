#!/usr/bin/env node
/**
 * Autoencoder-family quality run (issue 4) against the built dist of @gm/models. Usage, from packages/models:
 *
 *   npx tsup && node scripts/autoencoders-quality.mjs [out-dir] [--epochs 5] [--classifier-epochs 30]
 *        [--labels 500] [--seed 42] [--backend wasm]
 *
 * Data: the bundled MNIST split of @gm/data (8,000 train / 2,000 test), pixels scaled to [0, 1]; the train split is
 * divided (seeded) into 7,000 for training and 1,000 for validation. All models train with Adam (lr 1e-3), batch 64.
 *
 * 1. Stacked AE 784-100-30 (SELU, sigmoid output, binary cross-entropy) vs the tied AE (DenseTranspose decoder) vs
 *    greedy layer-wise training (two shallow AEs, stacked, then fine-tuned): validation BCE and rounded accuracy
 *    (fraction of pixels with round(reconstruction) = round(input)), parameter counts, training time.
 * 2. Denoising AEs 784-100-30 with Gaussian noise (σ = 0.2) and with dropout (rate 0.5) on the inputs: validation
 *    loss and rounded accuracy on clean inputs, and PNG grids `denoising-gaussian.png` / `denoising-dropout.png`
 *    (rows: clean digits, corrupted inputs, reconstructions of the corrupted inputs).
 * 3. Sparse AE 784-100-300 (sigmoid codings, KL penalty toward a mean activation of 0.1, weight 0.05) vs the same
 *    network without the penalty: mean coding activation on the validation set vs the target.
 * 4. Classifier with 500 labelled training images (batch 32): the stacked AE's pretrained encoder frozen under a new
 *    softmax head (`--classifier-epochs` epochs, lr 1e-2), then unfrozen and fine-tuned (a third as many epochs, lr
 *    1e-3), vs the same network from random weights trained end to end for as many epochs in total (lr 1e-3):
 *    accuracy on the 2,000 test images.
 *
 * Everything is printed and written to `<out-dir>/results.json` (default out-dir: <repo>/artifacts/autoencoders).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { PNG } from 'pngjs';
import { gmAdam, initBackend } from '@gm/backend';
import { permutation } from '@gm/core';
import { scaleToUnit, subset, trainValidationSplit } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import {
  DenoisingAutoencoder,
  EncoderClassifier,
  SparseAutoencoder,
  StackedAutoencoder,
  TiedAutoencoder,
  trainGreedyLayerwise,
} from '@gm/models';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    epochs: { type: 'string', default: '5' },
    'classifier-epochs': { type: 'string', default: '30' },
    labels: { type: 'string', default: '500' },
    seed: { type: 'string', default: '42' },
    backend: { type: 'string', default: 'wasm' },
  },
});
const int = (name) => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer, got ${values[name]}`);
  return v;
};
const EPOCHS = int('epochs');
const CLF_EPOCHS = int('classifier-epochs');
const LABELS = int('labels');
const SEED = int('seed');
const BATCH = 64;
const outDir = positionals[0] ?? path.resolve(here, '../../../artifacts/autoencoders');
fs.mkdirSync(outDir, { recursive: true });

const backend = await initBackend({ backend: values.backend });
console.log(`backend: ${backend.backend} (${backend.reason}; fast MatMul ${backend.fastMatMul})`);

const { train: fullTrain, test } = loadBundledMnist();
const { train, validation } = trainValidationSplit(fullTrain, { seed: SEED, validationCount: 1000 });
const toTensor = (ds) => tf.tensor2d(scaleToUnit(ds.images), [ds.count, 784]);
const xTrain = toTensor(train);
const xValid = toTensor(validation);
const xTest = toTensor(test);
console.log(`data: ${train.count} train / ${validation.count} validation / ${test.count} test images`);

const results = { backend: backend.backend, seed: SEED, epochs: EPOCHS, batchSize: BATCH };
const round = (v, d = 4) => Number(v.toFixed(d));
const logEpochs = (name) => (l) =>
  console.log(`  ${name} epoch ${l.epoch}: loss ${l.loss.toFixed(4)}${l.valLoss === undefined ? '' : `, val ${l.valLoss.toFixed(4)}`} (${l.seconds.toFixed(1)} s)`);
const paramCount = (ae) => ae.model.countParams();

async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return [value, (performance.now() - t0) / 1000];
}

function report(name, ae, seconds) {
  // evaluate gives Metric[] ({ name, value, unit }): loss, reconstructionLoss, penalty, roundedAccuracy.
  const e = Object.fromEntries(ae.evaluate(xValid).map((m) => [m.name, m.value]));
  const r = { valLoss: round(e.loss), valReconstructionLoss: round(e.reconstructionLoss), roundedAccuracy: round(e.roundedAccuracy), params: paramCount(ae), trainSeconds: round(seconds, 1) };
  console.log(`${name}: val loss ${r.valLoss}, rounded accuracy ${r.roundedAccuracy}, ${r.params} parameters, ${r.trainSeconds} s`);
  return r;
}

// 1. Stacked vs tied vs greedy layer-wise.
const base = { inputDim: 784, hidden: [100, 30], activation: 'selu', outputActivation: 'sigmoid', loss: 'binaryCrossentropy' };
const fitOptions = (name) => ({ epochs: EPOCHS, batchSize: BATCH, learningRate: 1e-3, optimizer: gmAdam, validationData: xValid, onEpochEnd: logEpochs(name) });
console.log('\n1. stacked vs tied autoencoders 784-100-30');
const stacked = new StackedAutoencoder({ ...base, seed: SEED });
const [, tStacked] = await timed(() => stacked.fit(xTrain, fitOptions('stacked')));
results.stacked = report('stacked', stacked, tStacked);
const tied = new TiedAutoencoder({ ...base, seed: SEED });
const [, tTied] = await timed(() => tied.fit(xTrain, fitOptions('tied')));
results.tied = report('tied', tied, tTied);
const layerEpochs = Math.max(1, Math.ceil(EPOCHS / 2));
const [{ autoencoder: greedy }, tGreedy] = await timed(() =>
  trainGreedyLayerwise({ ...base, seed: SEED }, xTrain, {
    layerFit: { epochs: layerEpochs, batchSize: BATCH, learningRate: 1e-3, optimizer: gmAdam, onEpochEnd: logEpochs('greedy layer') },
    fineTune: { ...fitOptions('greedy fine-tune'), epochs: EPOCHS - layerEpochs },
  }),
);
results.greedy = { ...report(`greedy (${layerEpochs} epochs per layer + ${EPOCHS - layerEpochs} fine-tuning)`, greedy, tGreedy), layerEpochs, fineTuneEpochs: EPOCHS - layerEpochs };
greedy.dispose();

// 2. Denoising autoencoders and their PNG grids.
function writeGrid(file, rows) {
  const n = rows[0].length / 784;
  const png = new PNG({ width: n * 28, height: rows.length * 28 });
  rows.forEach((pixels, r) => {
    for (let i = 0; i < n; i++) {
      for (let y = 0; y < 28; y++) {
        for (let x = 0; x < 28; x++) {
          const v = Math.round(255 * Math.min(1, Math.max(0, pixels[i * 784 + y * 28 + x])));
          const at = ((r * 28 + y) * n * 28 + i * 28 + x) * 4;
          png.data[at] = png.data[at + 1] = png.data[at + 2] = v;
          png.data[at + 3] = 255;
        }
      }
    }
  });
  fs.writeFileSync(file, PNG.sync.write(png));
}
console.log('\n2. denoising autoencoders 784-100-30');
const sample = tf.slice(xValid, [0], [12]);
results.denoising = {};
for (const [name, noise] of [
  ['gaussian', { gaussianStddev: 0.2 }],
  ['dropout', { dropoutRate: 0.5 }],
]) {
  const ae = new DenoisingAutoencoder({ ...base, noise, seed: SEED });
  const [, t] = await timed(() => ae.fit(xTrain, fitOptions(`denoising-${name}`)));
  const noisy = ae.corrupt(sample, SEED);
  const recon = ae.reconstruct(noisy);
  const file = path.join(outDir, `denoising-${name}.png`);
  writeGrid(file, [sample.dataSync(), noisy.dataSync(), recon.dataSync()]);
  // Reconstruction of corrupted validation inputs vs the clean ones (what a denoiser is for).
  const corrupted = ae.corrupt(xValid, SEED + 1);
  const denoised = ae.reconstruct(corrupted);
  const noisyAcc = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.round(xValid), tf.round(denoised)), 'float32')).dataSync()[0]);
  tf.dispose([noisy, recon, corrupted, denoised]);
  results.denoising[name] = { noise, ...report(`denoising-${name}`, ae, t), roundedAccuracyFromCorrupted: round(noisyAcc), grid: file };
  console.log(`  from corrupted inputs: rounded accuracy ${round(noisyAcc)}; grid ${file}`);
  ae.dispose();
}
sample.dispose();

// 3. Sparse autoencoder.
console.log('\n3. sparse autoencoder 784-100-300 (sigmoid codings)');
const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
const sparseBase = { ...base, hidden: [100, 300], codingActivation: 'sigmoid' };
results.sparse = {};
for (const [name, sparsity] of [
  ['kl-penalty', { target: 0.1, weight: 0.05 }],
  ['no-penalty', null],
]) {
  const ae = sparsity === null ? new StackedAutoencoder({ ...sparseBase, seed: SEED }) : new SparseAutoencoder({ ...sparseBase, sparsity, seed: SEED });
  const [, t] = await timed(() => ae.fit(xTrain, fitOptions(`sparse ${name}`)));
  const acts = ae.meanCodingActivations(xValid);
  const r = report(`sparse ${name}`, ae, t);
  results.sparse[name] = {
    ...r,
    target: sparsity?.target ?? null,
    meanActivation: round(mean(acts)),
    unitsWithMeanBelow0_2: acts.filter((v) => v < 0.2).length,
    units: acts.length,
  };
  console.log(`  mean coding activation ${round(mean(acts))} (target ${sparsity?.target ?? 'none'}); ${acts.filter((v) => v < 0.2).length}/${acts.length} units with mean < 0.2`);
  ae.dispose();
}

// 4. Classifier on few labels, with vs without the pretrained encoder.
console.log(`\n4. classifier with ${LABELS} labels`);
const labelled = subset(train, permutation(train.count, SEED + 7).subarray(0, LABELS));
const xLab = toTensor(labelled);
const yLab = Int32Array.from(labelled.labels);
const yTest = Int32Array.from(test.labels);
const clfFit = (name, lr, epochs) => ({ epochs, batchSize: 32, learningRate: lr, optimizer: gmAdam, onEpochEnd: (l) => (l.epoch % 10 === 0 ? logEpochs(name)(l) : undefined) });
const tuneEpochs = Math.max(1, Math.round(CLF_EPOCHS / 3));
// Baseline: the same network from random weights, trained end to end for as many epochs as the pretrained one sees.
const scratch = new EncoderClassifier({ inputDim: 784, encoderHidden: [100, 30], activation: 'selu', numClasses: 10, seed: SEED });
await scratch.fit(xLab, yLab, clfFit('scratch', 1e-3, CLF_EPOCHS + tuneEpochs));
const accScratch = scratch.evaluate(xTest, yTest).accuracy;
// Pretrained: the stacked AE's encoder, frozen under a new head (lr 1e-2: the head is a softmax regression on the
// codings), then unfrozen and fine-tuned end to end at lr 1e-3.
const pre = EncoderClassifier.fromAutoencoder(stacked, { numClasses: 10, seed: SEED });
await pre.fit(xLab, yLab, clfFit('pretrained frozen', 1e-2, CLF_EPOCHS));
const accFrozen = pre.evaluate(xTest, yTest).accuracy;
pre.setEncoderTrainable(true);
await pre.fit(xLab, yLab, clfFit('pretrained fine-tuned', 1e-3, tuneEpochs));
const accTuned = pre.evaluate(xTest, yTest).accuracy;
results.classifier = {
  labels: LABELS,
  epochs: CLF_EPOCHS,
  fineTuneEpochs: tuneEpochs,
  scratchEpochs: CLF_EPOCHS + tuneEpochs,
  learningRates: { scratch: 1e-3, frozenHead: 1e-2, fineTune: 1e-3 },
  testAccuracyScratch: round(accScratch),
  testAccuracyPretrainedFrozen: round(accFrozen),
  testAccuracyPretrainedFineTuned: round(accTuned),
};
console.log(`  test accuracy: from scratch ${round(accScratch)}, pretrained frozen ${round(accFrozen)}, then fine-tuned ${round(accTuned)}`);
[scratch, pre, stacked, tied].forEach((m) => m.dispose());
tf.dispose([xTrain, xValid, xTest, xLab]);

fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(results, null, 2));
console.log(`\nresults: ${path.join(outDir, 'results.json')}`);
