#!/usr/bin/env node
/**
 * Posterior flows of the IAF-VAE family at one budget (issue 17): the plain VAE posterior against IAF, planar and
 * radial flows, against the built dist of @gm/models. Usage, from packages/models:
 *
 *   npx tsup && node scripts/posterior-flows.mjs [out-dir]
 *        [--runs vae,vae-analytic,iaf:2,planar:2,planar:8,radial:2,radial:8] [--epochs 10] [--lr 1e-3] [--batch 100]
 *        [--latent 40] [--hidden 100] [--context 50] [--k 200] [--is-images 500] [--seed 1] [--backend wasm]
 *
 * Data: the bundled digits of @gm/data binarized at pixel > 127: 7,000 train / 1,000 validation (seeded split of
 * the 8,000 training digits; the validation −ELBO is reported, no early stopping) and the 2,000 test digits.
 *
 * Models: every run is an `IafVae` on the same 784-<hidden>-<latent> Bernoulli VAE and the same seed, so the
 * encoder and decoder start identical; `vae` is `flowSteps: 0` (exactly the VAE's posterior, trained with the same
 * Monte Carlo KL; its unused context layer counts in its parameters), `vae-analytic` the plain `VAE` class (analytic
 * KL in training, no context layer), `<flow>:<K>` is K steps of that posterior flow (`flow: 'iaf' | 'planar' | 'radial'`). For each:
 * test −ELBO (10 posterior samples per digit, Monte Carlo KL), importance-sampled log-likelihood with k = `--k` on
 * the first `--is-images` test digits, the gap between the two, parameters and training images/s. Results go to
 * `<out-dir>/results.json`.
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

const here = path.dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: 'vae,vae-analytic,iaf:2,planar:2,planar:8,radial:2,radial:8' },
    epochs: { type: 'string', default: '10' },
    lr: { type: 'string', default: '1e-3' },
    batch: { type: 'string', default: '100' },
    latent: { type: 'string', default: '40' },
    hidden: { type: 'string', default: '100' },
    context: { type: 'string', default: '50' },
    k: { type: 'string', default: '200' },
    'is-images': { type: 'string', default: '500' },
    seed: { type: 'string', default: '1' },
    backend: { type: 'string', default: 'wasm' },
  },
});
const num = (name, integer = true) => {
  const v = Number(values[name]);
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${values[name]}`);
  return v;
};
const RUNS = values.runs.split(',').map((spec) => {
  if (spec === 'vae') return { name: 'vae', flow: 'iaf', steps: 0 };
  if (spec === 'vae-analytic') return { name: 'vae-analytic', flow: null, steps: 0 };
  const [flow, k] = spec.split(':');
  if (!['iaf', 'planar', 'radial'].includes(flow) || !(Number(k) > 0) || !Number.isInteger(Number(k))) throw new Error(`--runs: "${spec}" is not vae, vae-analytic or <iaf|planar|radial>:<steps>`);
  return { name: spec, flow, steps: Number(k) };
});
const EPOCHS = num('epochs');
const LR = num('lr', false);
const BATCH = num('batch');
const LATENT = num('latent');
const HIDDEN = values.hidden.split(',').map(Number);
const CONTEXT = num('context');
const K = num('k');
const IS_IMAGES = num('is-images');
const SEED = Number(values.seed);
const outDir = path.resolve(positionals[0] ?? path.join(here, '..', '..', '..', 'artifacts', 'posterior-flows'));
fs.mkdirSync(outDir, { recursive: true });

const backend = await initBackend({ backend: values.backend });
console.log(`backend: ${backend.summary ?? JSON.stringify(backend)}`);
const { train: fullTrain, test } = loadBundledMnist();
const { train, validation } = trainValidationSplit(fullTrain, { seed: SEED, validationCount: 1000 });
const D = 784;
const toTensor = (ds) => tf.tensor2d(binarizeStatic(ds.images), [ds.count, D], 'float32');
const xTrain = toTensor(train);
const xVal = toTensor(validation);
const xTest = toTensor(test);
const xIs = tf.slice(xTest, 0, Math.min(IS_IMAGES, test.count));
console.log(`data: ${train.count} train, ${validation.count} validation, ${test.count} test (binarized at > 127); IS on ${xIs.shape[0]} with k = ${K}`);

/** Mean −ELBO with Monte Carlo KL (10 samples per example), batched, with fixed seeds (the same for every model). */
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

const results = { backend: backend.summary ?? backend, epochs: EPOCHS, lr: LR, batch: BATCH, latent: LATENT, hidden: HIDDEN, context: CONTEXT, seed: SEED, k: K, isImages: xIs.shape[0], models: {} };
const base = { inputShape: [D], hidden: HIDDEN, latentDim: LATENT, likelihood: 'bernoulli', contextSize: CONTEXT, seed: SEED };
for (const run of RUNS) {
  const { contextSize: _c, ...vaeBase } = base;
  const model = run.flow === null ? new VAE(vaeBase) : new IafVae({ ...base, flowSteps: run.steps, ...(run.flow === 'iaf' ? {} : { flow: run.flow }) });
  const t0 = performance.now();
  const fit = await model.fit(xTrain, {
    epochs: EPOCHS,
    batchSize: BATCH,
    learningRate: LR,
    optimizer: gmAdam,
    validationData: xVal,
    onEpochEnd: (l) => console.log(`[${run.name}] epoch ${l.epoch}: train ${l.loss.toFixed(2)} val ${l.valLoss?.toFixed(2)} nats, ${l.examplesPerSecond.toFixed(0)} img/s`),
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  const testNegElbo = negElboMc(model, xTest);
  const t1 = performance.now();
  const ll = importanceSampledLogLikelihood(model, xIs, K, { seed: 77, maxElements: 2 ** 23 });
  const isMean = tf.mean(ll);
  const isLogLik = isMean.dataSync()[0];
  const isNegElbo = negElboMc(model, xIs);
  tf.dispose([ll, isMean]);
  results.models[run.name] = {
    flow: run.steps === 0 ? null : run.flow,
    model: model.constructor.name,
    flowSteps: run.steps,
    parameters: model.trainableVariables().reduce((a, v) => a + v.size, 0),
    trainSeconds,
    trainImagesPerSecond: fit.history.reduce((a, h) => a + h.examplesPerSecond, 0) / fit.history.length,
    lastTrainLoss: fit.history.at(-1).loss,
    lastValLoss: fit.history.at(-1).valLoss,
    testNegElbo,
    isImagesNegElbo: isNegElbo,
    testIsLogLikelihood: isLogLik,
    isGap: isLogLik + isNegElbo, // IS bound − ELBO (≥ 0)
    isSeconds: (performance.now() - t1) / 1000,
  };
  console.log(`[${run.name}] test −ELBO ${testNegElbo.toFixed(2)} nats; on the ${xIs.shape[0]} IS digits −ELBO ${isNegElbo.toFixed(2)}, IS log-lik ${isLogLik.toFixed(2)} (gap ${(isNegElbo + isLogLik).toFixed(2)}); ${trainSeconds.toFixed(0)} s`);
  fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(results, null, 2));
  model.dispose();
}

console.log('\n| posterior | steps | parameters | test −ELBO | −ELBO (IS digits) | IS log-lik. (k = ' + K + ') | gap | train img/s |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const [name, r] of Object.entries(results.models)) {
  console.log(`| ${name === 'vae' ? 'Gaussian (IafVae, T = 0)' : name === 'vae-analytic' ? 'Gaussian (VAE, analytic KL)' : r.flow} | ${r.flowSteps} | ${r.parameters.toLocaleString('en')} | ${r.testNegElbo.toFixed(2)} | ${r.isImagesNegElbo.toFixed(2)} | ${r.testIsLogLikelihood.toFixed(2)} | ${r.isGap.toFixed(2)} | ${r.trainImagesPerSecond.toFixed(0)} |`);
}
tf.dispose([xTrain, xVal, xTest, xIs]);
