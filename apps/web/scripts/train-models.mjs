#!/usr/bin/env node
/**
 * Trains the checkpoints shipped with the page (apps/web/public/models/) with the built `gm` CLI, then saves each
 * again through @gm/models without the optimizer state `gm train` keeps for --resume (the page only needs the
 * weights; that state is twice their size). Run after `pnpm build`, from anywhere:
 *
 *   node apps/web/scripts/train-models.mjs
 *
 * Training is seeded and reproducible on one machine, not across machines (see DESIGN.md: the wasm GEMM may fuse
 * multiply-adds differently on another processor), so the files are committed and this script is how they were made.
 * A .gmz file records its model's fingerprint, so retraining changes which files the page can decode.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import '@tensorflow/tfjs-layers';
import { initBackend } from '@gm/backend';
import { VAE } from '@gm/models';
import { fileStore } from '@gm/models/node';

const APP = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const GM = resolve(APP, '../cli/dist/gm.js');
const OUT = join(APP, 'public', 'models');

/** The shipped models: folder name under public/models/ and the `gm train` arguments. */
export const MODELS = [
  {
    name: 'vae-mnist',
    // The reference VAE (784-100-40, Bernoulli) on the 8,000 bundled MNIST training digits, binarized (> 127).
    args: ['vae', '--data', 'mnist-bundled', '--hidden', '100', '--latent', '40', '--likelihood', 'bernoulli', '--epochs', '50', '--seed', '1'],
  },
];

function folderBytes(dir) {
  return readdirSync(dir, { withFileTypes: true }).reduce((a, e) => a + (e.isDirectory() ? folderBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size), 0);
}

const gm = (args) => execFileSync(process.execPath, [GM, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

await initBackend({ backend: 'wasm' });
for (const m of MODELS) {
  const work = mkdtempSync(join(tmpdir(), `gm-web-${m.name}-`));
  try {
    process.stdout.write(gm(['train', ...m.args, '--out', work]));
    const vae = await VAE.load(fileStore(work));
    const out = join(OUT, m.name);
    rmSync(out, { recursive: true, force: true });
    // gm-cli.json (image shape, data, loss history) stays; optimizer.json/.bin (Adam's moments) do not.
    await vae.save(fileStore(out), { files: new Map([['gm-cli.json', readFileSync(join(work, 'gm-cli.json'))]]) });
    vae.dispose();
    console.log(`${m.name}: ${folderBytes(out).toLocaleString('en-US')} bytes in ${out}`);
    process.stdout.write(gm(['compress', 'mnist-bundled:test', join(work, 'test.gmz'), '--model', out]));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
