import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { MNIST_FILES, writeIdxImages, writeIdxLabels, writeNpy } from '@gm/data';
import { beforeAll, describe, expect, it } from 'vitest';
import { run, runJson, tempDir } from './helpers';

interface TrainReport {
  checkpoint: string;
  epochsTrained: number;
  epochs: { epoch: number; loss: number; valLoss?: number }[];
  data: { spec: string; train: number; test: number; imageShape: number[] };
}

const dir = tempDir('own-data');
/** Tiny, quick settings: one epoch of a small MLP VAE. */
const QUICK = ['--epochs', '1', '--hidden', '8', '--latent', '2', '--batch', '4'];

/** `width × height` RGB pixels of a seeded pattern. */
function pixels(width: number, height: number, seed: number): Buffer {
  const px = Buffer.alloc(width * height * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 13 + seed * 71) % 256;
  return px;
}

/** `n` pictures of mixed sizes in `folder`, PNG and JPEG by turns. */
async function pictures(folder: string, n: number, seed = 0): Promise<void> {
  mkdirSync(folder, { recursive: true });
  for (let i = 0; i < n; i++) {
    const width = 10 + 3 * i;
    const height = 12 + (i % 4) * 5;
    const img = sharp(pixels(width, height, seed + i), { raw: { width, height, channels: 3 } });
    const jpeg = i % 2 === 1;
    writeFileSync(join(folder, `${String(i).padStart(2, '0')}.${jpeg ? 'jpg' : 'png'}`), await (jpeg ? img.jpeg() : img.png()).toBuffer());
  }
}

const mixed = join(dir, 'mixed');
const classes = join(dir, 'classes');

beforeAll(async () => {
  await pictures(mixed, 12);
  await pictures(join(classes, 'circle'), 5, 1);
  await pictures(join(classes, 'square'), 5, 2);
});

describe('gm train --data images:<dir>', () => {
  it('trains on a folder of mixed-size PNG and JPEG pictures and writes a checkpoint', async () => {
    const out = join(dir, 'ckpt-mixed');
    const spec = `images:${mixed}?size=16x16`;
    const r = await runJson<TrainReport>(['train', 'vae', '--data', spec, ...QUICK, '--out', out]);
    // 12 pictures: a fixed seeded 10 % (one) held out as the test split.
    expect(r.data).toEqual({ spec, train: 11, test: 1, imageShape: [16, 16, 3] });
    expect(r.epochsTrained).toBe(1);
    expect(Number.isFinite(r.epochs[0]!.loss)).toBe(true);
    expect(existsSync(join(out, 'gm-checkpoint.json'))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'gm-cli.json'), 'utf8'))).toMatchObject({ kind: 'vae', imageShape: [16, 16, 3], data: spec, epochsTrained: 1 });
    // The checkpoint evaluates on the same data.
    const e = await runJson<{ data: { images: number } }>(['eval', '--model', out, '--data', spec, '--k', '3']);
    expect(e.data.images).toBe(1);
  });

  it('reads class sub-folders in gray with every picture contained, and compresses the folder', async () => {
    const out = join(dir, 'ckpt-classes');
    const spec = `images:${classes}?size=12x12&channels=1&fit=contain&test=0.2`;
    const r = await runJson<TrainReport>(['train', 'vae', '--data', spec, ...QUICK, '--out', out]);
    expect(r.data).toMatchObject({ train: 8, test: 2, imageShape: [12, 12, 1] });
    const c = await runJson<{ images: number }>(['compress', `${spec}:train`, join(dir, 'classes.gmz'), '--model', out]);
    expect(c.images).toBe(8);
  });

  it('refuses a broken JPEG naming the file, and a bad spec saying what it expects', async () => {
    const broken = join(dir, 'broken');
    await pictures(broken, 3);
    const good = readFileSync(join(broken, '01.jpg'));
    writeFileSync(join(broken, '01.jpg'), good.subarray(0, good.length >> 1));
    const r = await run(['train', 'vae', '--data', `images:${broken}?size=8x8`, ...QUICK, '--out', join(dir, 'no')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/gm: --data: .*broken\/01\.jpg: not a readable PNG or JPEG picture/);
    const bad = await run(['train', 'vae', '--data', `images:${mixed}?channels=2`]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/option channels=2 of images: expected channels=1\|3\|auto/);
    const unknown = await run(['train', 'vae', '--data', 'imagenet']);
    expect(unknown.stderr).toMatch(/expected mnist-bundled .*fashion-mnist:<dir> .*; your own data: images:<dir>.* or npy:<images\.npy>\[,<labels\.npy>\]/);
  });
});

describe('gm train --data fashion-mnist:<dir> and npy:<images>,<labels>', () => {
  it('trains from Fashion-MNIST files and from an NPY pair', async () => {
    const fashion = join(dir, 'fashion');
    mkdirSync(fashion, { recursive: true });
    const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 256);
    writeFileSync(join(fashion, MNIST_FILES.trainImages.replace('.gz', '')), writeIdxImages(bytes(20 * 784, 1), 20, 28, 28));
    writeFileSync(join(fashion, MNIST_FILES.trainLabels.replace('.gz', '')), writeIdxLabels(bytes(20, 2).map((v) => v % 10)));
    writeFileSync(join(fashion, MNIST_FILES.testImages.replace('.gz', '')), writeIdxImages(bytes(8 * 784, 3), 8, 28, 28));
    writeFileSync(join(fashion, MNIST_FILES.testLabels.replace('.gz', '')), writeIdxLabels(bytes(8, 4).map((v) => v % 10)));
    const f = await runJson<TrainReport>(['train', 'vae', '--data', `fashion-mnist:${fashion}`, ...QUICK, '--out', join(dir, 'ckpt-fashion')]);
    expect(f.data).toMatchObject({ train: 20, test: 8, imageShape: [28, 28, 1] });

    const x = join(dir, 'x.npy');
    const y = join(dir, 'y.npy');
    writeFileSync(x, writeNpy({ dtype: 'float32', shape: [10, 6, 6, 3], data: Float32Array.from(bytes(1080, 5), (v) => v / 255) }));
    writeFileSync(y, writeNpy({ dtype: 'uint8', shape: [10], data: bytes(10, 6).map((v) => v % 3) }));
    const n = await runJson<TrainReport>(['train', 'vae', '--data', `npy:${x},${y}`, ...QUICK, '--out', join(dir, 'ckpt-npy')]);
    expect(n.data).toMatchObject({ train: 9, test: 1, imageShape: [6, 6, 3] });
  });
});
