#!/usr/bin/env node
/**
 * IAF-VAE fidelity run (issue 8) against the built dist of @gm/models and @gm/bitsback. Usage, from packages/models:
 *
 *   npx tsup && (cd ../bitsback && npx tsup) && node scripts/iaf-fidelity.mjs [out-dir]
 *        [--epochs 20] [--patience 3] [--steps 0,2,4] [--context 50] [--flow-hidden 80] [--k 1000]
 *        [--is-images 2000] [--lr 1e-3] [--batch 100] [--seed 1] [--bbans] [--backend wasm]
 *
 * Data: the bundled digits of @gm/data (8,000 train / 2,000 test), binarized at pixel > 127; the train split is
 * divided (seeded) into 7,000 for training and 1,000 for validation (early stopping on the validation −ELBO, best
 * weights restored).
 *
 * Models: the reference VAE 784-100-40 (Bernoulli decoder, `VAE`, analytic KL in training) and IAF-VAEs on the same
 * base plus a context of `--context` units and T = each of `--steps` (> 0) IAF steps, each a MADE with hidden layer
 * `--flow-hidden`. For each: test −ELBO (nats, 10 posterior samples per digit, Monte Carlo KL for all models so the
 * estimators match), importance-sampled log-likelihood with k = `--k` on the first `--is-images` test digits,
 * training images/s. With `--bbans`, the plain VAE's BB-ANS rate (bits/dim of the .gmz file written by @gm/bitsback's
 * `compress` with `vae.codingModel()`) on the 2,000 test digits, decoded again with `decompress` and compared bit for
 * bit, beside the MADE codec's figure from made-fidelity.mjs (the IAF-VAE has no coding model: only plain VAEs and
 * MADE code). Results go to `<out-dir>/results.json`.
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
import { elbo, importanceSampledLogLikelihood } from '@gm/metrics';
import { IafVae, VAE } from '@gm/models';
import { compress, decompress } from '@gm/bitsback';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    epochs: { type: 'string', default: '20' },
    patience: { type: 'string', default: '3' },
    steps: { type: 'string', default: '0,2,4' },
    context: { type: 'string', default: '50' },
    'flow-hidden': { type: 'string', default: '80' },
    k: { type: 'string', default: '1000' },
    'is-images': { type: 'string', default: '2000' },
    lr: { type: 'string', default: '1e-3' },
    batch: { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    bbans: { type: 'boolean', default: false },
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
const STEPS = values.steps.split(',').map(Number);
const CONTEXT = num('context');
const FLOW_HIDDEN = values['flow-hidden'].split(',').map(Number);
const K = num('k');
const IS_IMAGES = num('is-images');
const LR = num('lr', false);
const BATCH = num('batch');
const SEED = num('seed');
const outDir = path.resolve(positionals[0] ?? path.join(here, '..', '..', '..', 'artifacts', 'iaf'));
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
const xIs = tf.slice(xTest, 0, Math.min(IS_IMAGES, test.count));
console.log(`data: ${train.count} train, ${validation.count} validation, ${test.count} test (binarized at > 127); IS on ${xIs.shape[0]} with k = ${K}`);

const results = { backend, epochsMax: EPOCHS, patience: PATIENCE, lr: LR, batch: BATCH, seed: SEED, k: K, isImages: xIs.shape[0], models: {} };
const save = () => fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(results, null, 2));
const base = { inputShape: [D], hidden: [100], latentDim: 40, likelihood: 'bernoulli', seed: SEED };

/** Mean −ELBO with Monte Carlo KL (10 samples per example) for any LatentVariableModel, batched. */
function negElboMc(model, x, samples = 10) {
  let total = 0;
  const N = x.shape[0];
  for (let s = 0, b = 0; s < N; s += 200, b++) {
    const t = tf.tidy(() => tf.sum(elbo(model, tf.slice(x, s, Math.min(200, N - s)), { samples, seed: 1000 + b, kl: 'mc' }).elbo));
    total -= t.dataSync()[0];
    t.dispose();
  }
  return total / N;
}

function meanIs(model) {
  const t0 = performance.now();
  const ll = importanceSampledLogLikelihood(model, xIs, K, { seed: 77, maxElements: 2 ** 23 });
  const m = tf.mean(ll);
  const v = m.dataSync()[0];
  tf.dispose([ll, m]);
  return { value: v, seconds: (performance.now() - t0) / 1000 };
}

let plainVae;
for (const T of STEPS) {
  const name = T === 0 ? 'vae' : `iaf-vae-T${T}`;
  const model = T === 0 ? new VAE(base) : new IafVae({ ...base, flowSteps: T, contextSize: CONTEXT, flowHidden: FLOW_HIDDEN });
  const t0 = performance.now();
  const fit = await model.fit(xTrain, {
    epochs: EPOCHS,
    batchSize: BATCH,
    learningRate: LR,
    optimizer: gmAdam,
    validationData: xVal,
    earlyStopping: { patience: PATIENCE, restoreBest: true },
    onEpochEnd: (l) => console.log(`[${name}] epoch ${l.epoch}: train ${l.loss.toFixed(2)} val ${l.valLoss?.toFixed(2)} nats, ${l.examplesPerSecond.toFixed(0)} img/s`),
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  const ips = fit.history.reduce((a, h) => a + h.examplesPerSecond, 0) / fit.history.length;
  const testNegElbo = negElboMc(model, xTest);
  console.log(`[${name}] test −ELBO ${testNegElbo.toFixed(2)} nats (MC KL, 10 samples); IS k=${K} …`);
  const is = meanIs(model);
  results.models[name] = {
    flowSteps: T,
    contextSize: T === 0 ? null : CONTEXT,
    flowHidden: T === 0 ? null : FLOW_HIDDEN,
    parameters: model.trainableVariables().reduce((a, v) => a + v.size, 0),
    epochs: fit.history.length,
    bestEpoch: fit.bestEpoch,
    trainSeconds,
    trainImagesPerSecond: ips,
    testNegElbo,
    testIsLogLikelihood: is.value,
    isSeconds: is.seconds,
  };
  console.log(`[${name}] test −ELBO ${testNegElbo.toFixed(2)} nats, IS log-likelihood ${is.value.toFixed(2)} nats (${is.seconds.toFixed(0)} s), ${ips.toFixed(0)} img/s`);
  save();
  if (T === 0) plainVae = model;
  else model.dispose();
}

if (values.bbans && plainVae !== undefined) {
  const images = binarizeStatic(test.images); // 0/1 pixels, as the Bernoulli VAE's coding model reads them
  const codingModel = plainVae.codingModel();
  const t0 = performance.now();
  const file = await compress(images, codingModel, { shape: [28, 28] });
  const seconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const back = await decompress(file, codingModel);
  const decodeSeconds = (performance.now() - t1) / 1000;
  const exact = back.count === test.count && back.images.length === images.length && back.images.every((v, i) => v === images[i]);
  results.bbans = {
    images: test.count,
    bytes: file.length,
    bitsPerDim: (file.length * 8) / images.length,
    encodeSeconds: seconds,
    decodeSeconds,
    roundTripExact: exact,
    // How each chunk was stored: 'model' (the VAE's BB-ANS code) or 'deflate' (the container's fallback when smaller).
    chunkMethods: back.chunks.map((c) => c.method),
  };
  const fellBack = results.bbans.chunkMethods.filter((m) => m !== 'model').length;
  console.log(
    `BB-ANS (plain VAE): ${results.bbans.bitsPerDim.toFixed(4)} bits/dim (${file.length} bytes) on ${test.count} test digits, ` +
      `encode ${seconds.toFixed(1)} s, decode ${decodeSeconds.toFixed(1)} s, round trip ${exact ? 'exact' : 'MISMATCH'}` +
      (fellBack > 0 ? ` (${fellBack} of ${back.chunks.length} chunks stored deflated: smaller than the model's code)` : ''),
  );
  save();
}
plainVae?.dispose();
console.log(`results: ${path.join(outDir, 'results.json')}`);
