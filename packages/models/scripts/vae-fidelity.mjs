#!/usr/bin/env node
/**
 * VAE fidelity run (issue 5) against the built dist of @gm/models. Usage, from packages/models:
 *
 *   npx tsup && node scripts/vae-fidelity.mjs <out-dir> [--epochs 200] [--seed 20240601]
 *        [--logistic-epochs 20] [--logistic-k 1000] [--skip-binary] [--skip-logistic] [--is-k 1000]
 *        [--binary-checkpoint <dir>]   (evaluate a trained reference checkpoint instead of training one)
 *
 * 1. Binarized bundled MNIST (static: pixel byte > 127; the fixed 8,000 / 2,000 split), the reference MLP VAE
 *    784-100-40 (ReLU, Bernoulli logits, N(0, I) prior), Adam lr 1e-3, batch 100, `--epochs` epochs, fixed seed, on
 *    wasm. Reports test −ELBO (10 posterior samples, analytic KL) and IS log-likelihood (k = 1000) in nats and
 *    bits/dim, the last epoch's train −ELBO, the training wall time, and the IS wall time; writes PNG grids of
 *    samples, reconstructions and interpolations and the checkpoint `<out-dir>/vae-binarized-mnist` — the reference
 *    model of the bits-back coder (same seed → same weights on the same backend).
 * 2. The 8-bit digits (bin centres 2v/255 − 1) with a discretized-logistic decoder, same architecture otherwise,
 *    `--logistic-epochs` epochs: test −ELBO and IS log-likelihood in bits/dim; checkpoint `<out-dir>/vae-8bit-mnist`.
 *
 * Everything is printed and also written to `<out-dir>/results.json`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { PNG } from 'pngjs';
import { gmAdam, initBackend } from '@gm/backend';
import { binarizeStatic } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import { bitsPerDim, toBinCenters } from '@gm/metrics';
import { VAE } from '@gm/models';
import { fileStore } from '@gm/models/node';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    epochs: { type: 'string', default: '200' },
    seed: { type: 'string', default: '20240601' },
    'is-k': { type: 'string', default: '1000' },
    'logistic-epochs': { type: 'string', default: '20' },
    'logistic-k': { type: 'string', default: '1000' },
    'skip-binary': { type: 'boolean', default: false },
    'skip-logistic': { type: 'boolean', default: false },
    'binary-checkpoint': { type: 'string' },
  },
});
const outDir = positionals[0];
if (outDir === undefined) {
  console.error('usage: node scripts/vae-fidelity.mjs <out-dir> [--epochs 200] [--logistic-epochs 20] …');
  process.exit(2);
}
const int = (name) => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer, got ${values[name]}`);
  return v;
};
const EPOCHS = int('epochs');
const SEED = int('seed');
const IS_K = int('is-k');
const LOGISTIC_EPOCHS = int('logistic-epochs');
const LOGISTIC_K = int('logistic-k');
const D = 784;
fs.mkdirSync(outDir, { recursive: true });

const backend = await initBackend({ backend: 'wasm' });
console.log(`backend ${backend.backend} (fast MatMul ${backend.fastMatMul}), tfjs ${tf.version_core}, node ${process.version}`);
const { train, test } = loadBundledMnist();
console.log(`bundled MNIST: ${train.count} train / ${test.count} test`);

// The reference weights are reproducible for the same seed, backend and versions of tfjs and the gm packages.
let gitCommit = null;
try {
  gitCommit = execSync('git rev-parse HEAD', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {
  // not a git checkout
}
const results = { backend: backend.backend, seed: SEED, date: new Date().toISOString(), gitCommit, tfjs: tf.version_core };
/** sha256 of each checkpoint part's weights (from its model.json): equal digests ⇔ bit-identical weights. */
const weightDigests = (ckpt) =>
  Object.fromEntries(['encoder', 'decoder'].map((part) => [part, JSON.parse(fs.readFileSync(path.join(ckpt, part, 'model.json'), 'utf8')).gm.weightsSha256]));
const save = () => fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(results, null, 2));

/** Writes a grid of 28×28 gray images (values in [0, 1]) as a PNG, `cols` per row, 2-px white gutters. */
function writeGrid(file, pixels, count, cols) {
  const rows = Math.ceil(count / cols);
  const g = 2;
  const width = cols * 28 + (cols + 1) * g;
  const height = rows * 28 + (rows + 1) * g;
  const png = new PNG({ width, height });
  png.data.fill(255);
  for (let i = 0; i < count; i++) {
    const ox = g + (i % cols) * (28 + g);
    const oy = g + Math.floor(i / cols) * (28 + g);
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const v = Math.round(255 * (1 - Math.min(1, Math.max(0, pixels[i * D + y * 28 + x])))); // dark ink on white
        const at = ((oy + y) * width + ox + x) * 4;
        png.data[at] = v;
        png.data[at + 1] = v;
        png.data[at + 2] = v;
        png.data[at + 3] = 255;
      }
    }
  }
  fs.writeFileSync(file, PNG.sync.write(png));
  console.log(`wrote ${file}`);
}

/** Rows of originals and reconstructions interleaved: pairs of rows (10 originals, their reconstructions). */
function reconstructionGrid(vae, x, toUnit) {
  const n = 50;
  const xs = tf.slice(x, 0, n);
  const rec = vae.reconstruct(xs);
  const a = toUnit(xs);
  const b = toUnit(rec);
  const out = new Float32Array(2 * n * D);
  for (let r = 0; r < n / 10; r++) {
    out.set(a.subarray(r * 10 * D, (r + 1) * 10 * D), 2 * r * 10 * D);
    out.set(b.subarray(r * 10 * D, (r + 1) * 10 * D), (2 * r + 1) * 10 * D);
  }
  tf.dispose([xs, rec]);
  return out;
}

/** 8 rows: interpolation between the codings of test digits of different classes, 10 steps each. */
function interpolationGrid(vae, x, labels, toUnit) {
  const rows = 8;
  const steps = 10;
  const out = new Float32Array(rows * steps * D);
  for (let r = 0; r < rows; r++) {
    const i = r;
    let j = r + 1;
    while (labels[j] === labels[i]) j++;
    const [x1, x2] = [tf.slice(x, i, 1), tf.slice(x, j, 1)];
    const path_ = vae.interpolate(x1, x2, steps);
    out.set(toUnit(path_), r * steps * D);
    tf.dispose([x1, x2, path_]);
  }
  return out;
}

async function train_(vae, xs, epochs, label) {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const fit = await vae.fit(xs, {
    epochs,
    batchSize: 100,
    learningRate: 1e-3,
    optimizer: gmAdam,
    seed: SEED,
    onEpochEnd: (l) => {
      if (l.epoch <= 3 || l.epoch % 10 === 0 || l.epoch === epochs) {
        console.log(`[${label}] epoch ${l.epoch}: train −ELBO ${l.loss.toFixed(3)} nats (${l.seconds.toFixed(1)} s, ${tf.memory().numTensors} tensors)`);
      }
    },
  });
  return { fit, seconds: (performance.now() - t0) / 1000, cpuSeconds: process.cpuUsage(cpu0).user / 1e6 };
}

function evaluate(vae, xt, k, label) {
  const negElbo = vae.negativeElbo(xt, { samples: 10, seed: SEED + 1, batchSize: 500 });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const ll = vae.logLikelihood(xt, k, { seed: SEED + 2 });
  const nll = -tf.tidy(() => tf.mean(ll)).dataSync()[0];
  ll.dispose();
  const isSeconds = (performance.now() - t0) / 1000;
  // CPU time of this process too: on a shared machine the wall time includes waiting for a core.
  const isCpuSeconds = process.cpuUsage(cpu0).user / 1e6;
  const r = {
    testNegElboNats: negElbo,
    testNegElboBitsPerDim: bitsPerDim(negElbo, D),
    isK: k,
    testIsNllNats: nll,
    testIsNllBitsPerDim: bitsPerDim(nll, D),
    isSeconds,
    isCpuSeconds,
  };
  console.log(
    `[${label}] test −ELBO ${negElbo.toFixed(3)} nats = ${r.testNegElboBitsPerDim.toFixed(4)} bits/dim; ` +
      `IS (k=${k}) −log p(x) ${nll.toFixed(3)} nats = ${r.testIsNllBitsPerDim.toFixed(4)} bits/dim (${isSeconds.toFixed(1)} s wall, ${isCpuSeconds.toFixed(1)} s CPU for ${xt.shape[0]} digits)`,
  );
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
if (!values['skip-binary']) {
  const xTrain = tf.tensor(binarizeStatic(train.images), [train.count, D], 'float32'); // pixel/255 > 0.5 ⇔ byte > 127
  const xTest = tf.tensor(binarizeStatic(test.images), [test.count, D], 'float32');
  const config = { inputShape: [D], hidden: [100], latentDim: 40, likelihood: 'bernoulli', seed: SEED };
  let vae;
  if (values['binary-checkpoint'] !== undefined) {
    vae = await VAE.load(fileStore(values['binary-checkpoint']));
    results.binary = { checkpoint: values['binary-checkpoint'], config: vae.config, epochs: vae.epochsTrained, weightsSha256: weightDigests(values['binary-checkpoint']) };
    console.log(`[binary] evaluating ${values['binary-checkpoint']} (${vae.epochsTrained} epochs trained)`);
  } else {
    vae = new VAE(config);
    console.log(`[binary] VAE 784-100-40 Bernoulli, Adam 1e-3, batch 100, ${EPOCHS} epochs, seed ${SEED}`);
    const { fit, seconds, cpuSeconds } = await train_(vae, xTrain, EPOCHS, 'binary');
    const last = fit.history.at(-1);
    results.binary = {
      config,
      epochs: EPOCHS,
      trainSeconds: seconds,
      trainCpuSeconds: cpuSeconds,
      trainNegElboLastEpochNats: last?.loss,
      trainNegElboLastEpochBitsPerDim: last === undefined ? undefined : bitsPerDim(last.loss, D),
    };
    console.log(`[binary] ${EPOCHS} epochs in ${seconds.toFixed(1)} s wall (${cpuSeconds.toFixed(1)} s CPU); last-epoch train −ELBO ${last?.loss.toFixed(3)} nats`);
    const ckpt = path.join(outDir, 'vae-binarized-mnist');
    await vae.save(fileStore(ckpt));
    results.binary.checkpoint = ckpt;
    results.binary.weightsSha256 = weightDigests(ckpt);
    console.log(`[binary] checkpoint ${ckpt} (weights sha256 ${JSON.stringify(results.binary.weightsSha256)})`);
    save();
  }
  Object.assign(results.binary, evaluate(vae, xTest, IS_K, 'binary'));
  save();
  const unit = (t) => t.dataSync();
  const s = vae.sample(100, { seed: SEED + 3 });
  writeGrid(path.join(outDir, 'binary-samples.png'), s.dataSync(), 100, 10);
  s.dispose();
  writeGrid(path.join(outDir, 'binary-reconstructions.png'), reconstructionGrid(vae, xTest, unit), 100, 10);
  writeGrid(path.join(outDir, 'binary-interpolations.png'), interpolationGrid(vae, xTest, test.labels, unit), 80, 10);
  vae.dispose();
  tf.dispose([xTrain, xTest]);
}

if (!values['skip-logistic'] && LOGISTIC_EPOCHS > 0) {
  const bytes = (ds) => tf.tidy(() => toBinCenters(tf.tensor(ds.images, [ds.count, D], 'int32')));
  const xTrain = bytes(train);
  const xTest = bytes(test);
  const config = { inputShape: [D], hidden: [100], latentDim: 40, likelihood: 'discretized-logistic', seed: SEED };
  const vae = new VAE(config);
  console.log(`[8-bit] VAE 784-100-40 discretized logistic, Adam 1e-3, batch 100, ${LOGISTIC_EPOCHS} epochs, seed ${SEED}`);
  const { fit, seconds, cpuSeconds } = await train_(vae, xTrain, LOGISTIC_EPOCHS, '8-bit');
  const last = fit.history.at(-1);
  results.eightBit = {
    config,
    epochs: LOGISTIC_EPOCHS,
    trainSeconds: seconds,
    trainCpuSeconds: cpuSeconds,
    trainNegElboLastEpochNats: last?.loss,
    trainNegElboLastEpochBitsPerDim: last === undefined ? undefined : bitsPerDim(last.loss, D),
  };
  const ckpt = path.join(outDir, 'vae-8bit-mnist');
  await vae.save(fileStore(ckpt));
  results.eightBit.checkpoint = ckpt;
  results.eightBit.weightsSha256 = weightDigests(ckpt);
  save();
  Object.assign(results.eightBit, evaluate(vae, xTest, LOGISTIC_K, '8-bit'));
  save();
  const unit = (t) => tf.tidy(() => tf.div(tf.add(t, 1), 2)).dataSync(); // [−1, 1] → [0, 1]
  const s = vae.sample(100, { seed: SEED + 3 });
  writeGrid(path.join(outDir, '8bit-samples.png'), unit(s), 100, 10);
  s.dispose();
  writeGrid(path.join(outDir, '8bit-reconstructions.png'), reconstructionGrid(vae, xTest, unit), 100, 10);
  writeGrid(path.join(outDir, '8bit-interpolations.png'), interpolationGrid(vae, xTest, test.labels, unit), 80, 10);
  vae.dispose();
  tf.dispose([xTrain, xTest]);
}

save();
console.log(JSON.stringify(results, null, 2));
