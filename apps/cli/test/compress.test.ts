import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { mulberry32 } from '@gm/core';
import { packBits } from '@gm/bitsback';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@gm/backend';
import { compress, decompress } from '@gm/bitsback';
import { binarizeStatic } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import { VAE } from '@gm/models';
import { fileStore } from '@gm/models/node';
import { run, runJson, tempDir, TINY } from './helpers';

interface CompressReport {
  images: number;
  pixels: string;
  binarized: boolean;
  bytes: number;
  bitsPerDim: number;
  table: { method: string; bytes: number | null; bitsPerDim: number }[];
  chunks: { method: string; images: number; bytes: number; cleanBits: number }[];
}

const dir = tempDir('compress');
const vae = join(dir, 'vae');
const other = join(dir, 'vae-other');
const first = join(dir, 'first.gmz');

beforeAll(async () => {
  await Promise.all([
    runJson(['train', 'vae', ...TINY, '--hidden', '32', '--latent', '8', '--seed', '1', '--out', vae]),
    runJson(['train', 'vae', ...TINY, '--hidden', '32', '--latent', '8', '--seed', '2', '--out', other]),
  ]);
  await runJson(['compress', 'mnist-bundled:test', first, '--model', vae, '--limit', '60', '--chunk', '25']);
});

describe('gm compress / gm decompress', () => {
  it('round-trips through an IDX file and a PNG folder byte for byte', async () => {
    const idx = join(dir, 'digits-idx3-ubyte');
    const d = await runJson<{ images: number; format: string; binary: boolean }>(['decompress', first, idx, '--model', vae]);
    expect(d).toMatchObject({ images: 60, format: 'idx', binary: true });
    const bytes = readFileSync(idx);
    expect(bytes.length).toBe(16 + 60 * 784);
    expect([...bytes.subarray(16)].every((v) => v === 0 || v === 255)).toBe(true);

    // The decompressed (binary) digits compress to the very same file, and decompress to the very same bytes.
    const second = join(dir, 'second.gmz');
    const c = await runJson<CompressReport>(['compress', idx, second, '--model', vae, '--chunk', '25']);
    expect(c).toMatchObject({ images: 60, pixels: 'binary', binarized: false });
    expect(readFileSync(second).equals(readFileSync(first))).toBe(true);

    const pngs = join(dir, 'pngs');
    await runJson(['decompress', second, pngs, '--model', vae]);
    expect(readdirSync(pngs)).toHaveLength(60);
    const third = join(dir, 'third.gmz');
    await runJson(['compress', pngs, third, '--model', vae, '--chunk', '25']);
    expect(readFileSync(third).equals(readFileSync(first))).toBe(true);

    const gz = join(dir, 'back.idx.gz');
    await runJson(['decompress', third, gz, '--model', vae]);
    const again = join(dir, 'again-idx3-ubyte');
    await runJson(['decompress', third, again, '--model', vae]);
    expect(readFileSync(again).equals(bytes)).toBe(true);
  });

  it('reports the rate next to gzip, brotli and PNG, and says when it binarized', async () => {
    const out = join(dir, 'rate.gmz');
    const r = await runJson<CompressReport>(['compress', 'mnist-bundled:test', out, '--model', vae, '--limit', '60', '--chunk', '25']);
    expect(r).toMatchObject({ images: 60, pixels: 'binary', binarized: true });
    expect(r.bytes).toBe(readFileSync(out).length);
    expect(r.bitsPerDim).toBeCloseTo((8 * r.bytes) / (60 * 784), 9);
    const gzip = r.table.find((row) => row.method === 'gzip -9');
    expect(gzip?.bytes).toBeGreaterThan(0);
    expect(r.table[0]?.method).toMatch(/bits-back/);
    // The file's parts: header and framing, the three chunks' clean bits, the images' code — adding up to the file.
    const part = (re: RegExp) => r.table.find((row) => re.test(row.method))?.bytes as number;
    const framing = part(/header and chunk framing/);
    const clean = part(/initial bits/);
    const net = part(/net coded rate/);
    expect(framing + clean + net).toBe(r.bytes);
    expect(framing).toBe(r.bytes - r.chunks.reduce((a, c) => a + c.bytes, 0));
    expect(clean).toBe(r.chunks.reduce((a, c) => a + c.cleanBits, 0) / 8);
    if (r.chunks.some((c) => c.method === 'model')) expect(clean).toBeGreaterThan(0);
  });

  it('reads files the library writes, and writes files the library reads — byte for byte the same file', async () => {
    // The library on the cpu backend, the CLI on its default (wasm): the coding path does not care.
    await initBackend({ backend: 'cpu' });
    const coding = (await VAE.load(fileStore(vae))).codingModel();
    const { test } = await loadBundledMnist();
    const pixels = binarizeStatic(test.images.subarray(0, 60 * 784));
    const library = await compress(pixels, coding, { shape: [28, 28], chunkSize: 25 });
    expect(Buffer.from(library).equals(readFileSync(first))).toBe(true);
    const fromLibrary = join(dir, 'library.gmz');
    writeFileSync(fromLibrary, library);
    const idx = join(dir, 'library-idx3-ubyte');
    await runJson(['decompress', fromLibrary, idx, '--model', vae]);
    expect([...readFileSync(idx).subarray(16)]).toEqual([...pixels].map((v) => v * 255));
    expect((await decompress(new Uint8Array(readFileSync(first)), coding)).images).toEqual(pixels);
  });

  it('never writes much more than deflate: pictures unlike digits fall back per chunk, and the report says so', async () => {
    const pics = join(dir, 'noise');
    mkdirSync(pics);
    const rnd = mulberry32(3);
    for (let i = 0; i < 24; i++) {
      const png = new PNG({ width: 28, height: 28 });
      for (let p = 0; p < 28 * 28; p++) {
        const v = Math.floor(rnd() * 256);
        png.data.set([v, v, v, 255], 4 * p);
      }
      writeFileSync(join(pics, `${String(i).padStart(2, '0')}.png`), PNG.sync.write(png));
    }
    const out = join(dir, 'noise.gmz');
    const r = await runJson<CompressReport & { chunks: { method: string }[] }>(['compress', pics, out, '--model', vae, '--chunk', '25']);
    expect(r).toMatchObject({ images: 24, pixels: 'binary', binarized: true });
    expect(r.chunks.map((c) => c.method)).toEqual(['deflate']);
    const deflated = deflateRawSync(packBits(binarizeStatic(readAllPixels(pics))), { level: 9 }).length;
    // Header, one chunk's framing, trailer and SHA-256 on top of deflate's own output.
    expect(r.bytes - deflated).toBeLessThan(120);
    const back = join(dir, 'noise-back-idx3-ubyte');
    await runJson(['decompress', out, back, '--model', vae]);
    expect([...readFileSync(back).subarray(16)]).toEqual([...binarizeStatic(readAllPixels(pics))].map((v) => v * 255));
  });

  it('--method bbis: importance-sampled bits-back, k in the file, decoded by gm decompress and the library alike', async () => {
    const out = join(dir, 'bbis.gmz');
    const r = await runJson<CompressReport & { method: string; particles: number }>(['compress', 'mnist-bundled:test', out, '--model', vae, '--limit', '60', '--chunk', '60', '--method', 'bbis', '--particles', '6']);
    expect(r).toMatchObject({ images: 60, method: 'bbis', particles: 6 });
    expect(r.table[0]?.method).toMatch(/BB-CIS, 6 particles/);
    const bytes = new Uint8Array(readFileSync(out));
    expect(bytes[4]).toBe(4); // container version 4: the particle count is in the header
    const idx = join(dir, 'bbis-idx3-ubyte');
    await runJson(['decompress', out, idx, '--model', vae]);
    const { test } = await loadBundledMnist();
    const pixels = binarizeStatic(test.images.subarray(0, 60 * 784));
    expect([...readFileSync(idx).subarray(16)]).toEqual([...pixels].map((v) => v * 255));
    await initBackend({ backend: 'cpu' });
    const coding = (await VAE.load(fileStore(vae))).codingModel();
    expect((await decompress(bytes, coding)).images).toEqual(pixels);
    const bad = await Promise.all([
      run(['compress', 'mnist-bundled:test', join(dir, 'p.gmz'), '--model', vae, '--particles', '5']),
      run(['compress', 'mnist-bundled:test', join(dir, 'p.gmz'), '--model', vae, '--method', 'bbis', '--particles', '1']),
    ]);
    expect(bad.map((b) => b.status)).toEqual([1, 1]);
    expect(bad[0]!.stderr).toMatch(/--particles: only --method bbis samples particles/);
    expect(bad[1]!.stderr).toMatch(/--particles: expected 2\.\.1024, got 1/);
  });

  it('refuses a file compressed with another model', async () => {
    const r = await run(['decompress', first, join(dir, 'x-idx3-ubyte'), '--model', other]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/first\.gmz was compressed with a different model/);
  });

  it('refuses a corrupt or foreign file', async () => {
    const corrupt = join(dir, 'corrupt.gmz');
    const bytes = readFileSync(first);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] as number) ^ 0x10;
    writeFileSync(corrupt, bytes);
    const a = await run(['decompress', corrupt, join(dir, 'y-idx3-ubyte'), '--model', vae]);
    expect(a.status).toBe(1);
    expect(a.stderr).toMatch(/corrupt\.gmz: not a valid \.gmz file \(checksum/);
    const foreign = join(dir, 'foreign.gmz');
    writeFileSync(foreign, 'hello, not a gmz file');
    const b = await run(['decompress', foreign, join(dir, 'z-idx3-ubyte'), '--model', vae]);
    expect(b.status).toBe(1);
    expect(b.stderr).toMatch(/foreign\.gmz: not a valid \.gmz file \(not-gmz/);
  });

  it('refuses inputs it cannot code', async () => {
    const bad = join(dir, 'bad.idx');
    writeFileSync(bad, 'not an idx file at all');
    // CIFAR-sized RGB pictures through the MNIST model.
    const rgb = join(dir, 'rgb');
    mkdirSync(rgb);
    const colours = mulberry32(4);
    for (let i = 0; i < 3; i++) {
      const png = new PNG({ width: 32, height: 32 });
      for (let b = 0; b < png.data.length; b++) png.data[b] = b % 4 === 3 ? 255 : Math.floor(colours() * 256);
      writeFileSync(join(rgb, `${i}.png`), PNG.sync.write(png));
    }
    const cases: [string[], RegExp][] = [
      [['compress', join(dir, 'missing.idx'), join(dir, 'o.gmz'), '--model', vae], /<in>: .*missing\.idx not found/],
      [['compress', bad, join(dir, 'o.gmz'), '--model', vae], /<in>: .*bad\.idx is not an IDX file/],
      [['compress', 'mnist-bundled:validation', join(dir, 'o.gmz'), '--model', vae], /expected mnist-bundled, mnist-bundled:test/],
      [['decompress', join(dir, 'nothing.gmz'), join(dir, 'o-idx3-ubyte'), '--model', vae], /<in\.gmz>: .*nothing\.gmz not found/],
      [['compress', rgb, join(dir, 'o.gmz'), '--model', vae], /has images of 32×32×3 \(h×w×c\), but the model was trained on 28×28×1/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    results.forEach((r, i) => {
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch((cases[i] as [string[], RegExp])[1]);
    });
  });
});

/** The gray values of a folder of PNGs, in file-name order. */
function readAllPixels(folder: string): Uint8Array {
  const files = readdirSync(folder).sort();
  const out = new Uint8Array(files.length * 784);
  files.forEach((f, i) => {
    const png = PNG.sync.read(readFileSync(join(folder, f)));
    for (let p = 0; p < 784; p++) out[i * 784 + p] = png.data[4 * p] as number;
  });
  return out;
}
