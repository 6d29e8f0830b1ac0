#!/usr/bin/env node
/**
 * Trains the checkpoints shipped with the page (apps/web/public/models/) and writes `models/index.json`, the page's
 * list of them. The digit models are trained with the built `gm` CLI, then saved again through @gm/models without
 * the optimizer state `gm train` keeps for --resume (the page only needs the weights; that state is twice their
 * size); the 2-D flow is trained with the library, as the page's flow panel trains one. Run after `pnpm build`:
 *
 *   node apps/web/scripts/train-models.mjs [name ...]      (default: all; e.g. `flow-moons` retrains just that one;
 *                                                          `--index-only` rewrites models/index.json only)
 *
 * Training is seeded and reproducible on one machine, not across machines (see DESIGN.md: the wasm GEMM may fuse
 * multiply-adds differently on another processor), so the files are committed and this script is how they were made.
 * A .gmz file records its model's fingerprint, so retraining vae-mnist changes which files the page can decode.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { gmAdam, initBackend } from '@gm/backend';
import { binarizeStatic, twoMoons } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import { loadModel, MADE, SplineFlow } from '@gm/models';
import { fileStore } from '@gm/models/node';

const APP = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const GM = resolve(APP, '../cli/dist/gm.js');
const OUT = join(APP, 'public', 'models');

const gm = (args) => execFileSync(process.execPath, [GM, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

/** Trains with `gm train <args>` into a temporary folder and saves the weights (no optimizer state) to `out`. */
async function trainWithCli(args, out) {
  const work = mkdtempSync(join(tmpdir(), 'gm-web-model-'));
  try {
    process.stdout.write(gm(['train', ...args, '--out', work]));
    const model = await loadModel(fileStore(work));
    rmSync(out, { recursive: true, force: true });
    // gm-cli.json (image shape, data, loss history) stays; optimizer.json/.bin (Adam's moments) do not.
    await model.save(fileStore(out), { files: new Map([['gm-cli.json', readFileSync(join(work, 'gm-cli.json'))]]) });
    model.dispose();
    process.stdout.write(gm(['eval', '--model', out, '--data', 'mnist-bundled']));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const cli = (args) => ({ trainedWith: `gm train ${args.join(' ')}`, train: (out) => trainWithCli(args, out) });

/** The 2-D flow panel's model: the page's spline flow (flow-2d.ts PAGE_FLOW) on 8,000 points of two moons. */
const FLOW = { dim: 2, couplings: 4, hidden: [64, 64], bins: 8, bound: 4, seed: 1 };
const FLOW_FIT = { epochs: 100, batchSize: 256, learningRate: 3e-3, clipNorm: 100, seed: 1 };
async function trainFlow(out) {
  const x = tf.tensor2d(twoMoons(8000, { seed: 1, noise: 0.05 }).points, [8000, 2]);
  const test = tf.tensor2d(twoMoons(2000, { seed: 2, noise: 0.05 }).points, [2000, 2]);
  const flow = new SplineFlow(FLOW);
  await flow.fit(x, { ...FLOW_FIT, optimizer: gmAdam });
  console.log(`flow-moons: test −log p ${flow.nll(test).toFixed(4)} nats per point (2,000 fresh points)`);
  rmSync(out, { recursive: true, force: true });
  await flow.save(fileStore(out));
  flow.dispose();
  x.dispose();
  test.dispose();
}

/**
 * MADE without the direct input → output connection and with 300 hidden units: a checkpoint stores each masked
 * layer's mask beside its kernel, so `gm train made`'s default (500 hidden, direct 784×784) ships 11 MB; this one ships
 * under 4 MB.
 */
const MADE_CONFIG = { inputSize: 784, hidden: [300], directConnection: false, seed: 1 };
const MADE_FIT = { epochs: 30, batchSize: 100, learningRate: 1e-3, seed: 1 };
async function trainMade(out) {
  const { train, test } = loadBundledMnist();
  const x = tf.tensor2d(binarizeStatic(train.images), [train.count, 784]);
  const xTest = tf.tensor2d(binarizeStatic(test.images), [test.count, 784]);
  const made = new MADE(MADE_CONFIG);
  await made.fit(x, { ...MADE_FIT, optimizer: gmAdam });
  for (const m of made.evaluate(xTest)) console.log(`made-mnist: test ${m.name} ${m.value.toFixed(4)} ${m.unit} (2,000 bundled test digits)`);
  rmSync(out, { recursive: true, force: true });
  await made.save(fileStore(out));
  made.dispose();
  x.dispose();
  xTest.dispose();
}

/**
 * Real NVP on the 8,000 bundled 8-bit digits (2 scales, 3 couplings per stage, 32 filters) for 45 minutes of training
 * on two threads — issue 16's fidelity run (1.64 bits/dim on the 2,000 test digits; samples at T = 0.7 are stroke
 * fragments, not yet digits). The shipped checkpoint is that run's (session 8, before the script clipped gradients on
 * two threads; a rerun today clips at 100, as one thread does).
 */
const REALNVP_ARGS = ['--minutes', '45', '--workers', '2'];
async function trainRealNvp(out) {
  const work = mkdtempSync(join(tmpdir(), 'gm-web-realnvp-'));
  try {
    execFileSync(process.execPath, ['scripts/realnvp-images.mjs', 'mnist', work, ...REALNVP_ARGS], { cwd: resolve(APP, '../../packages/models'), stdio: 'inherit' });
    rmSync(out, { recursive: true, force: true });
    cpSync(join(work, 'checkpoint'), out, { recursive: true });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The shipped models, in the order of the page's menu (the first digit model is shown at start). */
export const MODELS = [
  {
    name: 'vae-mnist',
    panel: 'digits',
    label: 'reference VAE 784-100-40, black-and-white digits',
    // The reference VAE (Bernoulli) on the 8,000 bundled MNIST training digits, binarized (> 127). The compression
    // panel codes with it too.
    ...cli(['vae', '--data', 'mnist-bundled', '--hidden', '100', '--latent', '40', '--likelihood', 'bernoulli', '--epochs', '50', '--seed', '1']),
  },
  {
    name: 'vae-dlogistic-mnist',
    panel: 'digits',
    label: 'VAE 784-200-32, 8-bit grey digits (discretized logistic)',
    ...cli(['vae', '--data', 'mnist-bundled', '--hidden', '200', '--latent', '32', '--likelihood', 'discretized-logistic', '--epochs', '40', '--seed', '1']),
  },
  {
    name: 'made-mnist',
    panel: 'digits',
    label: 'MADE 784-300-784, black-and-white digits, pixel by pixel',
    trainedWith: `new MADE(${JSON.stringify(MADE_CONFIG)}).fit(8,000 bundled training digits binarized, ${JSON.stringify(MADE_FIT)})`,
    train: trainMade,
  },
  {
    name: 'realnvp-mnist',
    panel: 'digits',
    label: 'Real NVP flow on 8-bit digits (45 min on 2 cores; samples not yet digits)',
    trainedWith: `node packages/models/scripts/realnvp-images.mjs mnist <out> ${REALNVP_ARGS.join(' ')}`,
    train: trainRealNvp,
  },
  {
    name: 'flow-moons',
    panel: 'flow',
    label: 'spline flow on two moons',
    trainedWith: `new SplineFlow(${JSON.stringify(FLOW)}).fit(8,000 two-moons points, ${JSON.stringify(FLOW_FIT)})`,
    train: trainFlow,
  },
];

function folderBytes(dir) {
  return readdirSync(dir, { withFileTypes: true }).reduce((a, e) => a + (e.isDirectory() ? folderBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size), 0);
}

const args = process.argv.slice(2);
const indexOnly = args.includes('--index-only');
const only = args.filter((a) => a !== '--index-only');
const unknown = only.filter((name) => !MODELS.some((m) => m.name === name));
if (unknown.length > 0) throw new Error(`unknown model(s) ${unknown.join(', ')}: expected any of ${MODELS.map((m) => m.name).join(', ')}`);
await initBackend({ backend: 'wasm' });
for (const m of MODELS) {
  if (indexOnly || (only.length > 0 && !only.includes(m.name))) continue;
  const out = join(OUT, m.name);
  const started = Date.now();
  await m.train(out);
  console.log(`${m.name}: ${folderBytes(out).toLocaleString('en-US')} bytes in ${out} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}
const index = { models: MODELS.map(({ name, panel, label, trainedWith }) => ({ name, panel, label, trainedWith })) };
writeFileSync(join(OUT, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
