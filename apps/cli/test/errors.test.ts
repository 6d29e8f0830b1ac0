import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeIdx } from '@gm/data';
import { loadModel } from '@gm/models';
import { fileStore } from '@gm/models/node';
import { run, runJson, tempDir, TINY } from './helpers';

const dir = tempDir('errors');
const ae = join(dir, 'ae');

beforeAll(async () => {
  await runJson(['train', 'stacked-ae', ...TINY, '--out', ae]);
});

describe.concurrent('bad input: a clear message on stderr and exit code 1', () => {
  const notCheckpoint = join(dir, 'empty');
  const brokenJson = join(dir, 'broken-json');
  const brokenWeights = join(dir, 'broken-weights');
  const nullManifest = join(dir, 'null-manifest');
  const editedSidecar = join(dir, 'edited-sidecar');
  const wrongShape = join(dir, 'wrong-shape');
  const noImages = join(dir, 'no-images-idx3-ubyte');
  const fifo = join(dir, 'a-fifo');
  beforeAll(async () => {
    cpSync(ae, nullManifest, { recursive: true });
    writeFileSync(join(nullManifest, 'gm-checkpoint.json'), 'null');
    cpSync(ae, editedSidecar, { recursive: true });
    writeFileSync(join(editedSidecar, 'gm-cli.json'), JSON.stringify({ format: 'gm-cli', version: 1, imageShape: [32, 32, 3], history: [] }));
    // A sealed checkpoint (every digest right) whose sidecar's image shape does not fit the model.
    await tf.setBackend('cpu');
    const model = await loadModel(fileStore(ae));
    const sidecar = { format: 'gm-cli', version: 1, model: 'stacked-ae', kind: model.kind, imageShape: [32, 32, 3], data: 'x', epochsTrained: 1, history: [] };
    await model.save(fileStore(wrongShape), { files: new Map([['gm-cli.json', new TextEncoder().encode(JSON.stringify(sidecar))]]) });
    model.dispose();
    writeFileSync(noImages, writeIdx({ dtype: 'uint8', dims: [0, 28, 28], data: new Uint8Array(0) }));
    execFileSync('mkfifo', [fifo]);
    mkdirSync(notCheckpoint, { recursive: true });
    cpSync(ae, brokenJson, { recursive: true });
    writeFileSync(join(brokenJson, 'gm-checkpoint.json'), '{ "format": "gm-checkpoint", ');
    cpSync(ae, brokenWeights, { recursive: true });
    writeFileSync(join(brokenWeights, 'autoencoder', 'weights.bin'), new Uint8Array(100));
  });

  const cases: [string, string[], RegExp][] = [
    ['zero epochs', ['demo', '--epochs', '0'], /--epochs <n>' argument '0' is invalid\. expected a positive integer, got "0"/],
    ['a word for a number', ['demo', '--batch', 'many'], /expected a positive integer, got "many"/],
    ['an unknown backend', ['demo', '--backend', 'gpu'], /Allowed choices are node, wasm, cpu/],
    ['an unknown option', ['demo', '--nope'], /unknown option '--nope'/],
    ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['an unknown model', ['train', 'gan'], /value 'gan' is invalid for argument 'model'\. Allowed choices are vae, stacked-ae, tied-ae, denoising-ae, sparse-ae, linear-ae/],
    ['a bad --data', ['train', 'vae', '--data', 'imagenet'], /--data <spec>' argument 'imagenet' is invalid\. expected mnist-bundled .*, mnist:<dir> .* or cifar:<dir>/],
    ['a missing data folder', ['train', 'vae', '--data', 'mnist:/no/such/folder'], /--data: folder \/no\/such\/folder not found/],
    ['a bad --hidden', ['train', 'vae', '--hidden', '100,x'], /expected comma-separated positive integers such as 100 or 500,200, got "100,x"/],
    ['a bad learning rate', ['train', 'vae', '--lr', '-1'], /--lr <x>' argument '-1' is invalid\. expected a positive number/],
    ['a dropout out of range', ['train', 'denoising-ae', '--dropout', '1.5'], /expected a number between 0 and 1 \(exclusive\), got "1\.5"/],
    ['a bad likelihood', ['train', 'vae', '--likelihood', 'poisson'], /Allowed choices are bernoulli, discretized-logistic, discretized-logistic-mixture, gaussian/],
    ['a missing --model', ['eval'], /required option '--model <dir>' not specified/],
    ['a missing checkpoint folder', ['eval', '--model', '/no/such/checkpoint'], /--model: checkpoint folder \/no\/such\/checkpoint not found/],
    ['a folder that is no checkpoint', ['sample', '--model', notCheckpoint], /--model: .*gm-checkpoint\.json: not found — .* is not a gm checkpoint folder/],
    ['a corrupt manifest', ['eval', '--model', brokenJson], /--model: .*gm-checkpoint\.json: not valid JSON/],
    ['corrupt weights', ['reconstruct', '--model', brokenWeights], /--model: cannot load the "stacked-autoencoder" checkpoint in .*broken-weights/],
    ['resuming the wrong kind', ['train', 'vae', '--resume', ae], /--resume: .* holds a "stacked-autoencoder" checkpoint, but this command needs a "vae"/],
    ['architecture flags on resume', ['train', 'stacked-ae', '--resume', ae, '--hidden', '50'], /--resume continues the checkpoint's own architecture; drop --hidden/],
    ['sampling an autoencoder', ['sample', '--model', ae], /a "stacked-autoencoder" is not a generative model/],
    ['compressing with an autoencoder', ['compress', 'mnist-bundled:test', join(dir, 'x.gmz'), '--model', ae], /a "stacked-autoencoder" cannot compress: gm's bits-back coder needs a VAE/],
    ['one interpolation step', ['interpolate', '--model', ae, '--steps', '1'], /--steps: expected at least 2/],
    ['a null manifest', ['eval', '--model', nullManifest], /--model: .*null-manifest\/gm-checkpoint\.json: expected a JSON object/],
    ['an edited sidecar', ['reconstruct', '--model', editedSidecar], /--model: .*edited-sidecar\/gm-cli\.json: expected \d+ bytes \(gm-checkpoint\.json\), found \d+: truncated, edited or replaced/],
    ["a sidecar whose image shape does not fit the model", ['reconstruct', '--model', wrongShape], /wrong-shape\/gm-cli\.json: "imageShape" 32×32×3 does not fit the model's input 784/],
    ['an IDX file of zero images', ['compress', noImages, join(dir, 'none.gmz'), '--model', ae], /<in>: .*no-images-idx3-ubyte holds no images; there is nothing to compress/],
    ['a device to compress', ['compress', '/dev/zero', join(dir, 'zero.gmz'), '--model', ae], /<in>: \/dev\/zero: not a regular file/],
    ['a FIFO to compress', ['compress', fifo, join(dir, 'fifo.gmz'), '--model', ae], /<in>: .*a-fifo: not a regular file/],
    ['a FIFO to decompress', ['decompress', fifo, join(dir, 'fifo-idx3-ubyte'), '--model', ae], /<in\.gmz>: .*a-fifo: not a regular file/],
  ];

  it.each(cases)('%s', async (_name, args, message) => {
    const r = await run(args);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/gm: gm:|\n\s+at /); // one prefix, no stack trace
    expect(r.status).toBe(1);
    expect(r.stdout).not.toMatch(/^\{/);
  });
});

describe.concurrent('--help', () => {
  it.each([
    ['demo', [/--epochs <n>/, /--k <n>/, /--out <dir>/, /--json/]],
    ['train', [/--data <spec>/, /--resume <dir>/, /stacked-ae/, /linear-ae/, /--seed <n>/, /--beta <x>/, /--objective <name>/, /--k <n>/, /--observation-std <x>/]],
    ['eval', [/--model <dir>/, /--k <n>/]],
    ['sample', [/--n <n>/, /--out <file>/]],
    ['reconstruct', [/--n <n>/]],
    ['interpolate', [/--rows <n>/, /--steps <n>/]],
    ['latent-map', [/UMAP/, /--n <n>/]],
    ['compress', [/<in>/, /<out\.gmz>/, /folder of PNGs/]],
    ['decompress', [/<in\.gmz>/, /IDX file/]],
    ['bench', [/benchmark harness/]],
  ] as [string, RegExp[]][])('gm %s --help', async (command, patterns) => {
    const r = await run([command, '--help']);
    expect(r.status).toBe(0);
    for (const p of patterns) expect(r.stdout).toMatch(p);
  });

  it('gm bench runs the repository harness with the given arguments and passes on its exit code', async () => {
    const r = await run(['bench', '--suite', 'no-such-suite']);
    expect(r.stderr).toMatch(/unknown suite "no-such-suite"; known: vae-step/);
    expect(r.status).toBe(1);
  });

  it('gm --help lists every command', async () => {
    const r = await run(['--help']);
    expect(r.status).toBe(0);
    for (const c of ['demo', 'train', 'eval', 'sample', 'reconstruct', 'interpolate', 'latent-map', 'compress', 'decompress', 'bench']) expect(r.stdout).toMatch(new RegExp(`\\n  ${c}\\b`));
  });

  it('gm --version prints the version of @gm/cli from its package.json', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await run([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe(version);
    }
  });
});
