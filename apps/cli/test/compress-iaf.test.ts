import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@gm/backend';
import { decompress } from '@gm/bitsback';
import { binarizeStatic } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import { IafVae } from '@gm/models';
import { fileStore } from '@gm/models/node';
import { run, runJson, tempDir, TINY } from './helpers';

interface CompressReport {
  images: number;
  pixels: string;
  binarized: boolean;
  bytes: number;
  bitsPerDim: number;
  method: string;
  particles: number;
  table: { method: string; bytes: number | null; bitsPerDim: number }[];
}

const dir = tempDir('compress-iaf');
const iaf = join(dir, 'iaf');
const planar = join(dir, 'planar');
const first = join(dir, 'first.gmz');
const ARCH = ['--hidden', '32', '--latent', '6', '--flow-steps', '2', '--seed', '1'];

beforeAll(async () => {
  await Promise.all([
    runJson(['train', 'iaf-vae', ...TINY, ...ARCH, '--out', iaf]),
    runJson(['train', 'iaf-vae', ...TINY, ...ARCH, '--posterior-flow', 'planar', '--out', planar]),
  ]);
  await runJson(['compress', 'mnist-bundled:test', first, '--model', iaf, '--limit', '60', '--chunk', '25']);
});

/** The first `n` bundled test digits as the binary model codes them. */
async function digits(n: number): Promise<Uint8Array> {
  const { test } = await loadBundledMnist();
  return binarizeStatic(test.images.subarray(0, n * 784));
}

describe('gm compress / gm decompress with an IAF-VAE', () => {
  it('round-trips byte for byte (BB-ANS), recompresses to the same file, and reports the flow posterior\'s −ELBO', async () => {
    const idx = join(dir, 'digits-idx3-ubyte');
    const d = await runJson<{ images: number; format: string; binary: boolean }>(['decompress', first, idx, '--model', iaf]);
    expect(d).toMatchObject({ images: 60, format: 'idx', binary: true });
    const pixels = await digits(60);
    expect([...readFileSync(idx).subarray(16)]).toEqual([...pixels].map((v) => v * 255));
    const second = join(dir, 'second.gmz');
    const c = await runJson<CompressReport>(['compress', idx, second, '--model', iaf, '--chunk', '25']);
    expect(c).toMatchObject({ images: 60, pixels: 'binary', binarized: false, method: 'bbans', particles: 1 });
    expect(readFileSync(second).equals(readFileSync(first))).toBe(true);
    expect(c.table[0]?.method).toMatch(/bits-back \(BB-ANS/);
    const elbo = c.table.find((row) => /model −ELBO/.test(row.method));
    expect(elbo?.method).toMatch(/flow posterior; BB-ANS codes with a Gaussian proposal from it/);
    // A barely trained model: the file is near its −ELBO (a Gaussian proposal, 60 images' start-up), far below raw bits.
    expect(c.bitsPerDim).toBeLessThan(1.15 * (elbo?.bitsPerDim as number));
    expect(c.bitsPerDim).toBeLessThan(0.9);
  });

  it('--method bbis: k in the file, the IS bound in the report, decoded by gm decompress and the library alike', async () => {
    const out = join(dir, 'bbis.gmz');
    const r = await runJson<CompressReport>(['compress', 'mnist-bundled:test', out, '--model', iaf, '--limit', '60', '--chunk', '60', '--method', 'bbis', '--particles', '5']);
    expect(r).toMatchObject({ images: 60, method: 'bbis', particles: 5 });
    expect(r.table[0]?.method).toMatch(/BB-CIS, 5 particles/);
    expect(r.table.find((row) => /5-sample IS bound/.test(row.method))?.method).toMatch(/flow posterior; BB-CIS samples the Gaussian proposal/);
    const bytes = new Uint8Array(readFileSync(out));
    expect(bytes[4]).toBe(4);
    const idx = join(dir, 'bbis-idx3-ubyte');
    await runJson(['decompress', out, idx, '--model', iaf]);
    const pixels = await digits(60);
    expect([...readFileSync(idx).subarray(16)]).toEqual([...pixels].map((v) => v * 255));
    // The library, on the cpu backend, with the checkpoint's own description.
    await initBackend({ backend: 'cpu' });
    const model = await IafVae.load(fileStore(iaf));
    expect((await decompress(bytes, model.codingModel())).images).toEqual(pixels);
    model.dispose();
  });

  it('refuses a corrupt file, and a planar posterior says what compresses', async () => {
    const corrupt = join(dir, 'corrupt.gmz');
    const bytes = readFileSync(first);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] as number) ^ 0x10;
    writeFileSync(corrupt, bytes);
    const [a, b] = await Promise.all([
      run(['decompress', corrupt, join(dir, 'y-idx3-ubyte'), '--model', iaf]),
      run(['compress', 'mnist-bundled:test', join(dir, 'p.gmz'), '--model', planar, '--limit', '10']),
    ]);
    expect(a.status).toBe(1);
    expect(a.stderr).toMatch(/corrupt\.gmz: not a valid \.gmz file \(checksum/);
    expect(b.status).toBe(1);
    expect(b.stderr).toMatch(/a "iaf-vae" cannot compress: .*a planar posterior has no portable proposal .*--posterior-flow iaf/);
  });
});
