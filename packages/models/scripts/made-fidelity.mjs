#!/usr/bin/env node
/**
 * MADE fidelity run (issue 8) against the built dist of @gm/models and @gm/bitsback. Usage, from packages/models:
 *
 *   npx tsup && (cd ../bitsback && npx tsup) && node scripts/made-fidelity.mjs [out-dir]
 *        [--epochs 30] [--patience 3] [--hidden 500,500] [--masks 16] [--lr 1e-3] [--batch 100] [--seed 1]
 *        [--verify 200] [--backend wasm]
 *
 * Data: the bundled digits of @gm/data (8,000 train / 2,000 test), binarized at pixel > 127; the train split is
 * divided (seeded) into 7,000 for training and 1,000 for validation (early stopping on the validation NLL, best
 * weights restored).
 *
 * 1. MADE with one mask (natural order, evenly spread hidden degrees): test NLL (nats).
 * 2. MADE trained connectivity-agnostically with a pool of `--masks` masks (resampled every step): test NLL with one
 *    mask (mask 0) and with the ensemble of all masks (log of the mean probability).
 * 3. Compression with model 1: @gm/bitsback's `compress` of all 2,000 test digits with `made.codingModel()` (the
 *    autoregressive Bernoulli coder), bits/dim of the .gmz file next to the model's test NLL in bits/dim, encoding
 *    images/s; the first `--verify` digits (0: none) are compressed, decompressed with `decompress` and compared bit
 *    for bit, with decoding images/s.
 * Training images/s on the backend are reported per model. Everything goes to `<out-dir>/results.json`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { gmAdam, initBackend } from '@gm/backend';
import { binarizeStatic, trainValidationSplit } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import { bitsPerDim } from '@gm/metrics';
import { MADE } from '@gm/models';
import { compress, decompress, splitGmz } from '@gm/bitsback';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    epochs: { type: 'string', default: '30' },
    patience: { type: 'string', default: '3' },
    hidden: { type: 'string', default: '500,500' },
    masks: { type: 'string', default: '16' },
    lr: { type: 'string', default: '1e-3' },
    batch: { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    verify: { type: 'string', default: '200' },
    backend: { type: 'string', default: 'wasm' },
  },
});
const num = (name, integer = true) => {
  const v = Number(values[name]);
  if (!Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) throw new Error(`--${name} must be a non-negative ${integer ? 'integer' : 'number'}, got ${values[name]}`);
  return v;
};
const EPOCHS = num('epochs');
const PATIENCE = num('patience');
const MASKS = num('masks');
const LR = num('lr', false);
const BATCH = num('batch');
const SEED = num('seed');
const VERIFY = num('verify');
const HIDDEN = values.hidden.split(',').map(Number);
const outDir = path.resolve(positionals[0] ?? path.join(here, '..', '..', '..', 'artifacts', 'made'));
fs.mkdirSync(outDir, { recursive: true });

const backend = await initBackend({ backend: values.backend });
console.log(`backend: ${JSON.stringify(backend)}`);

const { train: fullTrain, test } = loadBundledMnist();
const { train, validation } = trainValidationSplit(fullTrain, { seed: SEED, validationCount: 1000 });
const D = 784;
const toTensor = (ds) => tf.tensor2d(binarizeStatic(ds.images), [ds.count, D], 'float32');
const xTrain = toTensor(train);
const xVal = toTensor(validation);
const xTest = toTensor(test);
const testBits = binarizeStatic(test.images);
console.log(`data: ${train.count} train, ${validation.count} validation, ${test.count} test (binarized at > 127)`);

const results = { backend, epochsMax: EPOCHS, patience: PATIENCE, hidden: HIDDEN, lr: LR, batch: BATCH, seed: SEED, models: {} };
const save = () => fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(results, null, 2));

async function train1(name, config) {
  const made = new MADE(config);
  const t0 = performance.now();
  const fit = await made.fit(xTrain, {
    epochs: EPOCHS,
    batchSize: BATCH,
    learningRate: LR,
    optimizer: gmAdam,
    validationData: xVal,
    earlyStopping: { patience: PATIENCE, restoreBest: true },
    onEpochEnd: (l) => console.log(`[${name}] epoch ${l.epoch}: train ${l.loss.toFixed(2)} val ${l.valLoss?.toFixed(2)} nats, ${l.examplesPerSecond.toFixed(0)} img/s`),
  });
  const seconds = (performance.now() - t0) / 1000;
  const ips = fit.history.reduce((a, h) => a + h.examplesPerSecond, 0) / fit.history.length;
  return { made, fit, seconds, imagesPerSecond: ips };
}

// 1. One mask.
const one = await train1('made-1', { inputSize: D, hidden: HIDDEN, masks: 1, seed: SEED });
const nll1 = one.made.negativeLogLikelihood(xTest);
results.models['made-1-mask'] = {
  epochs: one.fit.history.length,
  bestEpoch: one.fit.bestEpoch,
  trainSeconds: one.seconds,
  trainImagesPerSecond: one.imagesPerSecond,
  testNll: nll1,
};
console.log(`MADE 1 mask: test NLL ${nll1.toFixed(2)} nats (best epoch ${one.fit.bestEpoch}, ${one.imagesPerSecond.toFixed(0)} img/s)`);
save();

// 3. The codec with model 1 (before the long ensemble run, so its figure lands early).
{
  const codingModel = one.made.codingModel(); // mask 0, the model whose NLL is reported above
  const options = { shape: [28, 28] };
  const t0 = performance.now();
  const file = await compress(testBits, codingModel, options);
  const encodeSeconds = (performance.now() - t0) / 1000;
  const modelNllBitsPerDim = bitsPerDim(nll1, D);
  const fileBitsPerDim = (file.length * 8) / testBits.length;
  results.codec = {
    images: test.count,
    bytes: file.length,
    bitsPerDim: fileBitsPerDim,
    modelNllBitsPerDim,
    rateOverNll: fileBitsPerDim / modelNllBitsPerDim,
    encodeSeconds,
    encodeImagesPerSecond: test.count / encodeSeconds,
    // How each chunk was stored: 'model' (MADE's code) or 'deflate' (the container's fallback when smaller).
    chunkMethods: splitGmz(file).chunks.map((ch) => ch.method),
  };
  const fellBack = results.codec.chunkMethods.filter((m) => m !== 'model').length;
  // Round trip of the first `--verify` digits: compressed on their own, decompressed, compared bit for bit.
  const verifyCount = Math.min(VERIFY, test.count);
  if (verifyCount > 0) {
    const part = testBits.subarray(0, verifyCount * D);
    const t1 = performance.now();
    const partFile = await compress(part, codingModel, options);
    const t2 = performance.now();
    const back = await decompress(partFile, codingModel);
    const t3 = performance.now();
    const exact = back.count === verifyCount && back.images.length === part.length && back.images.every((v, i) => v === part[i]);
    Object.assign(results.codec, {
      verifiedImages: verifyCount,
      verifiedExact: exact,
      verifySeconds: (t3 - t1) / 1000,
      decodeSeconds: (t3 - t2) / 1000,
      decodeImagesPerSecond: verifyCount / ((t3 - t2) / 1000),
    });
  }
  const c = results.codec;
  console.log(
    `MADE codec: ${c.bitsPerDim.toFixed(4)} bits/dim (${c.bytes} bytes) on ${test.count} test digits ` +
      `(model NLL ${c.modelNllBitsPerDim.toFixed(4)} bits/dim, ratio ${c.rateOverNll.toFixed(5)}), encoding ${c.encodeImagesPerSecond.toFixed(0)} images/s` +
      (verifyCount > 0 ? `; round trip of ${verifyCount}: ${c.verifiedExact ? 'exact' : 'MISMATCH'}, decoding ${c.decodeImagesPerSecond.toFixed(0)} images/s` : '') +
      (fellBack > 0 ? ` (${fellBack} of ${c.chunkMethods.length} chunks stored deflated: smaller than the model's code)` : ''),
  );
  save();
}
one.made.dispose();

// 2. Connectivity-agnostic training with a pool of masks; single mask vs ensemble.
if (MASKS > 1) {
  const pool = await train1(`made-${MASKS}`, { inputSize: D, hidden: HIDDEN, masks: MASKS, seed: SEED });
  const single = pool.made.negativeLogLikelihood(xTest, { mask: 0 });
  const t0 = performance.now();
  const ensemble = pool.made.negativeLogLikelihood(xTest, { ensemble: true });
  results.models[`made-${MASKS}-masks`] = {
    epochs: pool.fit.history.length,
    bestEpoch: pool.fit.bestEpoch,
    trainSeconds: pool.seconds,
    trainImagesPerSecond: pool.imagesPerSecond,
    testNllMask0: single,
    testNllEnsemble: ensemble,
    ensembleSeconds: (performance.now() - t0) / 1000,
  };
  console.log(`MADE ${MASKS} masks: test NLL ${single.toFixed(2)} nats with mask 0, ${ensemble.toFixed(2)} with the ${MASKS}-mask ensemble`);
  pool.made.dispose();
  save();
}
console.log(`results: ${path.join(outDir, 'results.json')}`);
