import { describe, expect, it } from 'vitest';
import { crc32, mulberry32, sha256Hex } from '@gm/core';
import {
  chunkSummary,
  CODING_PATH,
  compress,
  compressStream,
  decodeChunk,
  decompress,
  decompressStream,
  encodeChunk,
  GmzError,
  gmzReader,
  gmzWriter,
  joinGmz,
  splitGmz,
  type CompressOptions,
} from './gmz';
import { deflatePixels, packBits } from './fallback';
import { linearBernoulliModel, linearLogisticModel, randomMadeModel } from './testing/synthetic';

const model = linearBernoulliModel({ latentDim: 3, pixelsPerImage: 36, seed: 21 });
const images = model.sample(230, 4);
const options: CompressOptions = { shape: [6, 6], chunkSize: 100, lanes: 8 };

async function expectGmzError(p: Promise<unknown>, code?: string): Promise<GmzError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(GmzError);
    if (code !== undefined) expect((e as GmzError).code).toBe(code);
    return e as GmzError;
  }
  throw new Error('expected a GmzError');
}

describe('.gmz container', () => {
  it('compresses and decompresses exactly, in independent chunks, with the versions up front', async () => {
    const bytes = await compress(images, model.coding, options);
    expect(Array.from(bytes.subarray(0, 6))).toEqual([0x89, 0x47, 0x4d, 0x5a, 2, CODING_PATH]);
    const out = await decompress(bytes, model.coding);
    expect(out.images).toEqual(images);
    expect(out.shape).toEqual([6, 6]);
    expect(out.count).toBe(230);
    const file = splitGmz(bytes);
    expect(file.chunks.map((c) => c.count)).toEqual([100, 100, 30]);
    expect(chunkSummary(file).map((c) => c.method)).toEqual(['model', 'model', 'model']);
    // Any chunk decodes on its own (e.g. on another worker or machine), last chunk first here.
    const coder = gmzReader(file.header, model.coding);
    expect(decodeChunk(file.chunks[2]!, coder, file.header)).toEqual(images.subarray(200 * 36));
    // Container overhead is a constant: header (~60 B), per-chunk framing, trailer with SHA-256.
    const payload = file.chunks.reduce((a, c) => a + c.payload.length, 0);
    expect(bytes.length - payload).toBeLessThan(100 + 3 * 12);
  });

  it('joins chunks encoded separately (other workers or machines) into the same file compress writes', async () => {
    const writer = gmzWriter(model.coding, options, 230);
    // Encode the chunks out of order, as independent jobs would finish.
    const done = [2, 0, 1]
      .map((k) => ({ k, chunk: encodeChunk(writer, images.subarray(k * 100 * 36, Math.min(230, (k + 1) * 100) * 36), k * 100) }))
      .sort((a, b) => a.k - b.k)
      .map((j) => j.chunk);
    expect(joinGmz(writer.header, done)).toEqual(await compress(images, model.coding, options));
    expect(() => joinGmz(writer.header, done.slice(1))).toThrow(/230 images/);
  });

  it('refuses a different model by its fingerprint before decoding anything', async () => {
    const bytes = await compress(images, model.coding, options);
    const impostor = linearBernoulliModel({ latentDim: 3, pixelsPerImage: 36, seed: 22 });
    const e = await expectGmzError(decompress(bytes, impostor.coding), 'wrong-model');
    expect(e.message).toMatch(/different model \(fingerprint [0-9a-f]{12}…, this model's is [0-9a-f]{12}…\)/);
    // One weight changed by one ulp is another model.
    const dense = model.coding.decoder.ops[0]!;
    if (dense.op !== 'dense') throw new Error('expected a dense layer');
    const kernel = dense.kernel.slice();
    kernel[5] = Math.fround(kernel[5]! * (1 + 2 ** -23));
    const nudged = { ...model.coding, decoder: { ...model.coding.decoder, ops: [{ ...dense, kernel }] } };
    await expectGmzError(decompress(bytes, nudged), 'wrong-model');
  });

  it('rejects every truncation and random bit flips with a GmzError, quickly', async () => {
    const bytes = await compress(images.subarray(0, 60 * 36), model.coding, { ...options, chunkSize: 30 });
    for (let cut = 0; cut < bytes.length; cut++) await expectGmzError(decompress(bytes.subarray(0, cut), model.coding));
    const rnd = mulberry32(5);
    for (let k = 0; k < 200; k++) {
      const bad = bytes.slice();
      const bit = Math.floor(rnd() * bad.length * 8);
      bad[bit >>> 3]! ^= 1 << (bit & 7);
      await expectGmzError(decompress(bad, model.coding));
    }
    await expectGmzError(decompress(Uint8Array.from([...bytes, 0]), model.coding));
    await expectGmzError(decompress(new TextEncoder().encode('hello world, not gmz'), model.coding), 'not-gmz');
  });

  it('refuses, in one line, files of another container version or coding path', async () => {
    const bytes = await compress(images.subarray(0, 10 * 36), model.coding, options);
    const v1 = bytes.slice();
    v1[4] = 1;
    const e1 = await expectGmzError(decompress(v1, model.coding), 'version');
    expect(e1.message).toMatch(/version-1 \.gmz file: written before gm coded deterministically/);
    expect(e1.message).not.toMatch(/\n/);
    const path = bytes.slice();
    path[5] = CODING_PATH + 1;
    const e2 = await expectGmzError(decompress(path, model.coding), 'version');
    expect(e2.message).toBe(`written with coding path ${CODING_PATH + 1}; this @gm/bitsback reproduces coding path ${CODING_PATH} only — use the @gm/bitsback that wrote it`);
  });

  it('streams: compresses an async iterable piece by piece and decompresses chunk by chunk', async () => {
    async function* source() {
      for (let i = 0; i < 230; i += 7) yield images.subarray(i * 36, Math.min(230, i + 7) * 36);
    }
    const pieces: Uint8Array[] = [];
    for await (const p of compressStream(source(), model.coding, options)) pieces.push(p);
    expect(pieces.length).toBe(1 + 3 + 1); // header, three chunks, trailer
    const whole = Buffer.concat(pieces);
    expect(splitGmz(whole).header.count).toBeNull(); // streamed: count only in the trailer
    async function* bytesIn() {
      for (let i = 0; i < whole.length; i += 13) yield whole.subarray(i, i + 13);
    }
    const got: Uint8Array[] = [];
    for await (const imgs of decompressStream(bytesIn(), model.coding)) got.push(imgs);
    expect(got.map((g) => g.length / 36)).toEqual([100, 100, 30]);
    expect(Buffer.concat(got)).toEqual(Buffer.from(images));
    // A flipped bit inside the second chunk: the first chunk's images come out, then a checksum error.
    const flipped = Uint8Array.from(whole);
    flipped[pieces[0]!.length + pieces[1]!.length + 40]! ^= 0x10;
    const seen: number[] = [];
    await expectGmzError(
      (async () => {
        for await (const imgs of decompressStream([flipped], model.coding)) seen.push(imgs.length / 36);
      })(),
      'checksum',
    );
    expect(seen).toEqual([100]);
    await expectGmzError(
      (async () => {
        for await (const _ of decompressStream([whole.subarray(0, whole.length - 10)], model.coding)) void _;
      })(),
      'truncated',
    );
  });

  it('codes 8-bit images with a discretized-logistic model and binary images with an autoregressive one', async () => {
    const m8 = linearLogisticModel({ latentDim: 3, pixelsPerImage: 36, seed: 2 });
    const imgs = m8.sample(120, 3);
    const bytes = await compress(imgs, m8.coding, { shape: [6, 6], chunkSize: 60, lanes: 8 });
    expect(splitGmz(bytes).header.pixels).toBe('u8');
    expect((await decompress(bytes, m8.coding)).images).toEqual(imgs);
    const made = randomMadeModel({ pixelsPerImage: 36, hidden: [48], seed: 3, scale: 2 });
    const bin = made.sample(150, 1);
    const madeBytes = await compress(bin, made.coding, { shape: [36], chunkSize: 150 });
    const file = splitGmz(madeBytes);
    expect(file.header.modelKind).toBe('autoregressive-bernoulli');
    expect(chunkSummary(file).every((c) => c.method === 'model')).toBe(true);
    expect((await decompress(madeBytes, made.coding)).images).toEqual(bin);
    const nll = made.nllBits(bin).reduce((a, b) => a + b, 0);
    // The code is the model's NLL plus the flushed head (≤ 53 bits) and byte rounding.
    expect(8 * file.chunks[0]!.payload.length).toBeLessThan(nll * 1.005 + 64);
  });

  it('is never more than a few bytes larger than deflate: random bytes, all-white and all-black images fall back', async () => {
    const m8 = linearLogisticModel({ latentDim: 3, pixelsPerImage: 36, seed: 2 });
    const rnd = mulberry32(8);
    const cases: Array<[string, typeof model.coding, Uint8Array]> = [
      ['random bytes', m8.coding, Uint8Array.from({ length: 200 * 36 }, () => Math.floor(rnd() * 256))],
      ['all white (8-bit)', m8.coding, new Uint8Array(200 * 36).fill(255)],
      ['all black (8-bit)', m8.coding, new Uint8Array(200 * 36)],
      ['all white (binary)', model.coding, new Uint8Array(200 * 36).fill(1)],
      ['all black (binary)', model.coding, new Uint8Array(200 * 36)],
    ];
    for (const [name, coding, imgs] of cases) {
      const bytes = await compress(imgs, coding, { shape: [6, 6], chunkSize: 200, lanes: 8 });
      const deflated = deflatePixels(imgs, coding.kind === 'gaussian-latent' && coding.pixels === 'u8' ? false : true).length;
      const file = splitGmz(bytes);
      expect({ name, method: chunkSummary(file)[0]!.method }).toEqual({ name, method: 'deflate' });
      // Header (~62 B), one chunk's framing (~13 B), trailer and SHA-256 (~35 B) on top of deflate's own output.
      expect(bytes.length - deflated).toBeLessThanOrEqual(112);
      expect((await decompress(bytes, coding)).images).toEqual(imgs);
      // Without the fallback the model's code is larger: the fallback is what kept the file small.
      const forced = await compress(imgs, coding, { shape: [6, 6], chunkSize: 200, lanes: 8, fallback: false });
      expect(forced.length).toBeGreaterThan(bytes.length);
      expect((await decompress(forced, coding)).images).toEqual(imgs);
    }
  });

  it('refuses images the model cannot code with a clear error (wrong size, 8-bit into a binary model)', async () => {
    // A CIFAR-sized RGB picture through a 36-pixel model.
    await expect(compress(new Uint8Array(32 * 32 * 3), model.coding, { shape: [32, 32, 3] })).rejects.toThrow(
      "compress: shape must be images of the model's 36 pixels, got \"[32, 32, 3] (3072 pixels)\"",
    );
    await expect(compress(Uint8Array.from({ length: 36 }, (_, i) => i), model.coding, options)).rejects.toThrow(
      /0\/1 pixels for a binary model \(binarize 8-bit images first\); image 0 has 2 at pixel 2/,
    );
    await expect(compress(images.subarray(0, 35), model.coding, options)).rejects.toThrow(/whole number of 36-pixel images/);
    await expect(compress(images, model.coding, { ...options, shape: [6, 0] })).rejects.toThrow(/shape/);
    await expect(compress(images, model.coding, { ...options, chunkSize: 0 })).rejects.toThrow(/chunkSize/);
    expect(Array.from(packBits(Uint8Array.of(1, 0, 1, 1, 0, 0, 0, 0, 1)))).toEqual([0b10110000, 0b10000000]);
  });

  it('writes the same bytes on every dense engine, and pins them (bump CODING_PATH when this digest changes)', async () => {
    // A file that exercises every part of the coding path: both latent observations, MADE, warm-up, several chunks.
    const m8 = linearLogisticModel({ latentDim: 4, pixelsPerImage: 36, seed: 6 });
    const made = randomMadeModel({ pixelsPerImage: 36, hidden: [32, 32], seed: 6 });
    const files = (backend: 'js' | 'wasm-simd128') =>
      Promise.all([
        compress(images, model.coding, { ...options, engine: backend }),
        compress(m8.sample(90, 1), m8.coding, { shape: [36], chunkSize: 40, lanes: 16, engine: backend }),
        compress(made.sample(40, 2), made.coding, { shape: [36], chunkSize: 25, engine: backend }),
      ]);
    const js = await files('js');
    const wasm = await files('wasm-simd128');
    for (let i = 0; i < js.length; i++) expect(wasm[i]).toEqual(js[i]);
    expect(sha256Hex(...js)).toBe(GOLDEN_FILES_SHA256);
    // And a file decodes under the other engine.
    expect((await decompress(js[1]!, m8.coding, { engine: 'wasm-simd128' })).images).toEqual((await decompress(wasm[1]!, m8.coding, { engine: 'js' })).images);
    expect(crc32(js[0]!)).not.toBe(0);
  });
});

/** SHA-256 of the three golden files above, written with coding path 1. */
const GOLDEN_FILES_SHA256 = '56991295a9b68aeaf0283d6925458c9b01234cf2b63e29bcdadce8cec4750466';
