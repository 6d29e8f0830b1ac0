import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32 } from '@gm/core';
import { loadImageFolder, loadSharp } from './image-folder.js';
import { rejection } from './test-helpers.js';

let root: string;

/** `width × height` pixels of `channels` bytes, a seeded pattern. */
function pattern(width: number, height: number, channels: number, seed: number): Buffer {
  const px = Buffer.alloc(width * height * channels);
  for (let i = 0; i < px.length; i++) px[i] = (i * 37 + seed * 101) % 256;
  return px;
}

async function png(width: number, height: number, channels: 1 | 3 | 4, seed = 0): Promise<Buffer> {
  const img = sharp(pattern(width, height, channels, seed), { raw: { width, height, channels } });
  return (channels === 1 ? img.toColourspace('b-w') : img).png().toBuffer();
}

async function jpeg(width: number, height: number, seed = 0): Promise<Buffer> {
  return sharp(pattern(width, height, 3, seed), { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

async function solid(width: number, height: number, value: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: value, g: value, b: value } } }).png().toBuffer();
}

async function folder(name: string, files: Record<string, Uint8Array | Promise<Uint8Array>>): Promise<string> {
  const dir = join(root, name);
  for (const [file, bytes] of Object.entries(files)) {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(join(dir, file), await bytes);
  }
  return dir;
}

/** A PNG whose header says `width × height` but whose data is a few bytes: a decompression bomb's header. */
function pngHeaderOnly(width: number, height: number): Uint8Array {
  const chunk = (type: string, data: Uint8Array): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body) >>> 0, 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // gray
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(64))),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gm-images-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('loadImageFolder', () => {
  it('reads PNG and JPEG pictures of mixed sizes into one shape, in file-name order, the same every time', async () => {
    const exact = await png(16, 12, 3, 5);
    const dir = await folder('mixed', {
      'b.jpg': jpeg(40, 30, 1),
      'a.png': exact,
      'C.JPEG': jpeg(9, 21, 2),
      'd.png': png(64, 64, 4, 3), // RGBA: alpha dropped
      'e.png': png(7, 5, 1, 4), // gray among RGB: replicated
      'notes.txt': new TextEncoder().encode('not a picture'),
      '.hidden.png': new TextEncoder().encode('skipped'),
    });
    const ds = await loadImageFolder(dir, { size: [12, 16] });
    expect(ds).toMatchObject({ count: 5, shape: [12, 16, 3], layout: 'HWC' });
    expect(ds.labelNames).toBeUndefined();
    expect(Array.from(ds.labels)).toEqual([0, 0, 0, 0, 0]);
    // Code-unit order: upper case before lower case, on every machine.
    expect(ds.files).toEqual(['C.JPEG', 'a.png', 'b.jpg', 'd.png', 'e.png'].map((f) => join(dir, f)));
    // A picture already of the size comes through byte for byte.
    expect(Buffer.from(ds.images.subarray(576, 2 * 576)).equals(pattern(16, 12, 3, 5))).toBe(true);
    // The gray PNG has R = G = B.
    const e = ds.images.subarray(4 * 576, 5 * 576);
    for (let p = 0; p < 192; p++) expect(e[3 * p]).toBe(e[3 * p + 2]);
    const again = await loadImageFolder(dir, { size: [12, 16] });
    expect(again.images).toEqual(ds.images);
    // Without a size: the first picture's (C.JPEG, 9 wide and 21 high).
    expect((await loadImageFolder(dir)).shape).toEqual([21, 9, 3]);
  });

  it('chooses gray or RGB: channels auto is 1 only when every picture is gray; 1 and 3 force it', async () => {
    const gray = await folder('gray', { 'x.png': png(8, 8, 1, 1), 'y.png': solid(10, 10, 77), 'z.jpg': sharp(pattern(8, 8, 1, 2), { raw: { width: 8, height: 8, channels: 1 } }).toColourspace('b-w').jpeg().toBuffer() });
    const auto = await loadImageFolder(gray, { size: 8 });
    expect(auto.shape).toEqual([8, 8, 1]);
    expect(Buffer.from(auto.images.subarray(0, 64)).equals(pattern(8, 8, 1, 1))).toBe(true);
    expect(Array.from(auto.images.subarray(64, 128)).every((v) => v === 77)).toBe(true);
    expect((await loadImageFolder(gray, { size: 8, channels: 3 })).shape).toEqual([8, 8, 3]);
    const rgb = await folder('rgb', { 'x.png': png(8, 8, 3, 1) });
    expect((await loadImageFolder(rgb, { size: 8 })).shape).toEqual([8, 8, 3]);
    expect((await loadImageFolder(rgb, { size: 8, channels: 1 })).shape).toEqual([8, 8, 1]);
  });

  it("fits other aspect ratios: cover scales and centre-crops, contain pads with black, fill stretches", async () => {
    const dir = await folder('wide', { 'w.png': solid(32, 16, 255) });
    const cover = await loadImageFolder(dir, { size: 16, channels: 1 });
    expect(Array.from(cover.images).every((v) => v === 255)).toBe(true);
    const contain = await loadImageFolder(dir, { size: 16, channels: 1, fit: 'contain' });
    const row = (r: number): number[] => Array.from(contain.images.subarray(16 * r, 16 * r + 16));
    expect(row(0).every((v) => v === 0)).toBe(true);
    expect(row(15).every((v) => v === 0)).toBe(true);
    expect(row(8).every((v) => v === 255)).toBe(true);
    const fill = await loadImageFolder(dir, { size: 16, channels: 1, fit: 'fill' });
    expect(Array.from(fill.images).every((v) => v === 255)).toBe(true);
  });

  it('gives labels from class sub-folders (ImageFolder style), classes and files in name order', async () => {
    const dir = await folder('classes', {
      'dog/2.png': png(8, 8, 3, 1),
      'dog/1.jpg': jpeg(12, 8, 2),
      'cat/z.png': png(8, 8, 3, 3),
      'bird/a.png': png(8, 8, 3, 4),
      'bird/b.png': png(8, 8, 3, 5),
      '.git/x.png': png(8, 8, 3, 6),
    });
    const ds = await loadImageFolder(dir, { size: 8, channels: 3 });
    expect(ds.labelNames).toEqual(['bird', 'cat', 'dog']);
    expect(Array.from(ds.labels)).toEqual([0, 0, 1, 2, 2]);
    expect(ds.files.map((f) => f.slice(dir.length + 1))).toEqual(['bird/a.png', 'bird/b.png', 'cat/z.png', 'dog/1.jpg', 'dog/2.png'].map((f) => join(f)));
    // labels 'none' reads only the pictures directly in the folder: there are none.
    expect((await rejection(loadImageFolder(dir, { labels: 'none' }))).code).toBe('MISSING_FILE');
  });

  it('refuses a broken JPEG, naming the file', async () => {
    const good = await jpeg(20, 20, 1);
    const dir = await folder('broken', { 'a.jpg': good, 'b.jpg': good.subarray(0, good.length >> 1), 'c.jpg': good.subarray(0, 40) });
    const err = await rejection(loadImageFolder(dir, { size: 8 }));
    expect(err.code).toBe('BAD_IMAGE');
    expect(err.file).toBe(join(dir, 'b.jpg'));
    // After the colon, sharp's own words (libvips says "premature end of JPEG image", or under load sometimes only
    // "Warning treated as error due to failOn setting").
    expect(err.message).toMatch(/^\S*broken\/b\.jpg: not a readable PNG or JPEG picture: \S/);
  });

  it('refuses what is not a PNG or JPEG, whatever its name, and a picture declaring too many pixels before decoding it', async () => {
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#fff' } }).gif().toBuffer();
    const dir = await folder('not-pictures', { 'a.png': gif });
    const err = await rejection(loadImageFolder(dir));
    expect(err.code).toBe('BAD_IMAGE');
    expect(err.message).toMatch(/a\.png: not a PNG or JPEG picture: expected 89 50 4e 47 .* or ff d8 ff \(JPEG\), got 47 49 46 38/);

    const bomb = await folder('bomb', { 'bomb.png': pngHeaderOnly(50_000, 50_000) });
    const big = await rejection(loadImageFolder(bomb, { size: 8 }));
    expect(big.code).toBe('TOO_LARGE');
    expect(big.message).toMatch(/bomb\.png: the picture is 50000×50000 = 2,500,000,000 pixels, more than 67,108,864 \(the default cap, 8192 × 8192; pass \{ maxPixels \} to allow more\)/);
    const small = await folder('small-cap', { 'p.png': png(20, 20, 3) });
    expect((await rejection(loadImageFolder(small, { maxPixels: 399 }))).message).toMatch(/p\.png: the picture is 20×20 = 400 pixels, more than 399 \(maxPixels\)/);
  });

  it('reads only regular files, within the file and dataset caps', async () => {
    const dir = await folder('special', { 'a.png': png(8, 8, 3) });
    execFileSync('mkfifo', [join(dir, 'b.png')]);
    const fifo = await rejection(loadImageFolder(dir));
    expect(fifo.code).toBe('NOT_REGULAR_FILE');
    expect(fifo.file).toBe(join(dir, 'b.png'));

    const two = await folder('caps', { 'a.png': png(30, 30, 3), 'b.png': png(8, 8, 3) });
    expect((await rejection(loadImageFolder(two, { maxFileBytes: 100 }))).message).toMatch(/a\.png: the file has [\d,]+ bytes, more than 100 bytes \(maxFileBytes\)/);
    expect((await rejection(loadImageFolder(two, { size: 10, maxBytes: 599 }))).message).toMatch(/caps: 2 images of 10×10×3 need 600 bytes, more than 599 bytes \(maxBytes\)/);
  });

  it('says what is wrong with the folder or the options', async () => {
    expect((await rejection(loadImageFolder(join(root, 'nope')))).code).toBe('MISSING_FILE');
    const empty = await folder('empty', { 'readme.txt': new Uint8Array(1) });
    expect((await rejection(loadImageFolder(empty))).message).toMatch(/empty: no PNG or JPEG pictures \(\.png, \.jpg, \.jpeg\) in /);
    const both = await folder('both', { 'top.png': png(8, 8, 3), 'cls/x.png': png(8, 8, 3) });
    expect((await loadImageFolder(both)).count).toBe(1); // auto: the pictures at the top, no labels
    expect((await rejection(loadImageFolder(both, { labels: 'folders' }))).message).toMatch(/top\.png: a picture beside the class folders/);
    const hollow = await folder('hollow', { 'a/x.png': png(8, 8, 3), 'b/readme.txt': new Uint8Array(1) });
    expect((await rejection(loadImageFolder(hollow))).message).toMatch(/b: class folder "b" holds no PNG or JPEG pictures/);
    for (const bad of [{ size: 0 }, { size: [8] as unknown as [number, number] }, { channels: 2 as 1 }, { fit: 'crop' as 'cover' }, { labels: 'yes' as 'none' }, { maxPixels: -1 }]) {
      expect((await rejection(loadImageFolder(both, bad))).code).toBe('BAD_ARGUMENT');
    }
  });
});

describe('loadSharp', () => {
  it('names the package to install when sharp is missing, and passes on why an installed sharp did not load', async () => {
    const missing = Object.assign(new Error("Cannot find package 'sharp' imported from /x/node.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    const err = await rejection(loadSharp('loadImageFolder', () => Promise.reject(missing)));
    expect(err.code).toBe('MISSING_DEPENDENCY');
    expect(err.message).toBe(
      'loadImageFolder: reading PNG and JPEG pictures needs the image library sharp, an optional peer dependency of @gm/data: run `npm install sharp`',
    );
    const broken = new Error('Could not load the "sharp" module using the linux-x64 runtime\nPossible solutions: …');
    expect((await rejection(loadSharp('loadImageFolder', () => Promise.reject(broken)))).message).toMatch(
      /sharp is installed but did not load \(Could not load the "sharp" module using the linux-x64 runtime\)/,
    );
    // The real one loads (a dev dependency here), and is kept.
    expect(typeof (await loadSharp('test'))).toBe('function');
    expect(loadSharp('test')).toBe(loadSharp('test'));
  });
});
