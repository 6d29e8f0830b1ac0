import { describe, expect, it } from 'vitest';
import { crc32, mulberry32, sha256Hex } from '@gm/core';
import {
  chunkSummary,
  CODING_PATH,
  GMZ_VERSION,
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
import { encodeLatentChunk } from './bbans';
import { latentCoder } from './coding/latent';
import { createDenseEngine } from './exact/dense';
import { deflatePixels, packBits } from './fallback';
import { cloneGmzLayout, headerFieldBytes, readGmzLayout, writeGmzLayout, type GmzLayout, type GmzLayoutChunk } from './testing/gmz-craft';
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
    expect(Array.from(bytes.subarray(0, 6))).toEqual([0x89, 0x47, 0x4d, 0x5a, GMZ_VERSION, CODING_PATH]);
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
    // Container overhead is a constant: header (~60 B), per-chunk framing (length, method, index, first image, count,
    // image CRC, CRC: ~15 B), trailer with SHA-256.
    const payload = file.chunks.reduce((a, c) => a + c.payload.length, 0);
    expect(bytes.length - payload).toBeLessThan(100 + 3 * 15);
  });

  it("reports each chunk's clean bits (its initial-bits cost) as the encoder drew them; none for an autoregressive model", async () => {
    const file = splitGmz(await compress(images, model.coding, options));
    const settings = file.header.settings;
    const coder = latentCoder(model.coding, createDenseEngine(), settings);
    const drawn = file.chunks.map((c) => 16 * encodeLatentChunk(coder, images.subarray(c.firstImage * 36, (c.firstImage + c.count) * 36), c.count, settings).cleanUnits);
    expect(drawn.every((bits) => bits > 0)).toBe(true);
    expect(chunkSummary(file).map((c) => c.cleanBits)).toEqual(drawn);
    const made = randomMadeModel({ pixelsPerImage: 16, hidden: [12], seed: 4 });
    const madeFile = splitGmz(await compress(made.sample(40, 2), made.coding, { shape: [4, 4], chunkSize: 20 }));
    expect(chunkSummary(madeFile).map((c) => c.cleanBits)).toEqual([0, 0]);
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
    await expectTruncationsAndFlipsRefused(bytes, 5);
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
    const v2 = bytes.slice();
    v2[4] = 2;
    expect((await expectGmzError(decompress(v2, model.coding), 'version')).message).toMatch(/version-2 \.gmz file: its chunks are not numbered/);
    const v9 = bytes.slice();
    v9[4] = 9;
    expect((await expectGmzError(decompress(v9, model.coding), 'version')).message).toMatch(/version-9 \.gmz file; this @gm\/bitsback reads versions 3 and 4 — update/);
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
    // No images at all (an empty folder, a zero-count IDX file): refused, not an empty file.
    await expect(compress(new Uint8Array(0), model.coding, options)).rejects.toThrow(/compress: images must be a positive whole number/);
    const drain = async (source: Iterable<Uint8Array>, count: number | null): Promise<void> => {
      for await (const piece of compressStream(source, model.coding, options, count)) void piece;
    };
    await expect(drain([], null)).rejects.toThrow('compressStream: source must be at least one image, got "no images"');
    await expect(drain([new Uint8Array(0)], 0)).rejects.toThrow('compressStream: source must be at least one image');
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
    // The model payloads alone (the rANS bits, what the coding path produces) are pinned apart from the container.
    expect(sha256Hex(...js.flatMap((f) => splitGmz(f).chunks.map((c) => c.payload)))).toBe(GOLDEN_PAYLOADS_SHA256);
    // And a file decodes under the other engine.
    expect((await decompress(js[1]!, m8.coding, { engine: 'wasm-simd128' })).images).toEqual((await decompress(wasm[1]!, m8.coding, { engine: 'js' })).images);
    expect(crc32(js[0]!)).not.toBe(0);
  });
});

/** Every truncation of `bytes`, and 200 seeded single-bit flips, decode to a GmzError. */
async function expectTruncationsAndFlipsRefused(bytes: Uint8Array, seed: number): Promise<void> {
  for (let cut = 0; cut < bytes.length; cut++) await expectGmzError(decompress(bytes.subarray(0, cut), model.coding));
  const rnd = mulberry32(seed);
  for (let k = 0; k < 200; k++) {
    const bad = bytes.slice();
    const bit = Math.floor(rnd() * bad.length * 8);
    bad[bit >>> 3]! ^= 1 << (bit & 7);
    await expectGmzError(decompress(bad, model.coding));
  }
}

/** Every way of reading a whole file: decompress, the stream (in 17-byte pieces), and split + decodeChunk per chunk. */
async function readAll(bytes: Uint8Array, coding: typeof model.coding): Promise<Array<Uint8Array | unknown>> {
  const results: Array<Uint8Array | unknown> = [];
  const attempt = async (f: () => Promise<Uint8Array> | Uint8Array): Promise<void> => {
    try {
      results.push(await f());
    } catch (e) {
      results.push(e);
    }
  };
  await attempt(async () => (await decompress(bytes, coding)).images);
  await attempt(async () => {
    const got: Uint8Array[] = [];
    const pieces = Array.from({ length: Math.ceil(bytes.length / 17) }, (_, i) => bytes.subarray(i * 17, (i + 1) * 17));
    for await (const imgs of decompressStream(pieces, coding)) got.push(imgs);
    return Uint8Array.from(Buffer.concat(got));
  });
  await attempt(() => {
    const file = splitGmz(bytes);
    const reader = gmzReader(file.header, coding);
    return Uint8Array.from(Buffer.concat(file.chunks.map((c) => decodeChunk(c, reader, file.header))));
  });
  return results;
}

/** Expects every way of reading `bytes` to throw a GmzError (with `code`, and a message matching `message`). */
async function expectRefused(bytes: Uint8Array, coding: typeof model.coding, code: string, message: RegExp): Promise<void> {
  for (const [i, r] of (await readAll(bytes, coding)).entries()) {
    const path = ['decompress', 'decompressStream', 'splitGmz + decodeChunk'][i];
    if (!(r instanceof GmzError)) throw new Error(`${path}: expected a GmzError, got ${r instanceof Error ? `${r.name}: ${r.message}` : `${(r as Uint8Array).length} bytes of images`}`);
    expect({ path, code: r.code, message: r.message }).toEqual({ path, code, message: expect.stringMatching(message) });
  }
}

describe('.gmz with importance-sampling particles (BB-CIS, container version 4)', () => {
  const cis: CompressOptions = { ...options, chunkSize: 60, particles: 6 };

  it('records k in a version-4 header and decodes exactly on both dense engines (same bytes, pinned)', async () => {
    const part = images.subarray(0, 120 * 36);
    const js = await compress(part, model.coding, { ...cis, engine: 'js' });
    const wasm = await compress(part, model.coding, { ...cis, engine: 'wasm-simd128' });
    expect(wasm).toEqual(js);
    expect(js[4]).toBe(4);
    expect(splitGmz(js).header.settings.particles).toBe(6);
    expect((await decompress(js, model.coding, { engine: 'wasm-simd128' })).images).toEqual(part);
    expect((await decompress(js, model.coding, { engine: 'js' })).images).toEqual(part);
    const bbans = await compress(part, model.coding, { ...cis, particles: 1 });
    expect(bbans[4]).toBe(GMZ_VERSION); // one particle: the version-3 file of before (rates: bbis.test.ts)
    expect(sha256Hex(js)).toBe(GOLDEN_CIS_SHA256);
  });

  it('rejects every truncation and random bit flips with a GmzError; a version-4 header claiming one particle is corrupt', async () => {
    const bytes = await compress(images.subarray(0, 40 * 36), model.coding, { ...cis, chunkSize: 20 });
    await expectTruncationsAndFlipsRefused(bytes, 6);
    const layout = readGmzLayout(bytes);
    layout.header.particles = 1;
    expect((await expectGmzError(decompress(writeGmzLayout(layout), model.coding), 'corrupt')).message).toMatch(/version-4 file with 1 particles/);
  });

  it('refuses particles for a model without latents, naming the setting', async () => {
    const made = randomMadeModel({ pixelsPerImage: 36, hidden: [16], seed: 2 });
    await expect(compress(made.sample(5, 1), made.coding, { shape: [36], particles: 4 })).rejects.toThrow(/particles.*1 for an autoregressive model/);
    await expect(compress(images.subarray(0, 36), model.coding, { ...options, particles: 2000 })).rejects.toThrow(/particles/);
  });
});

describe('.gmz chunks: numbered and bound to their header', () => {
  const imgs = images.subarray(0, 90 * 36);
  const opts: CompressOptions = { shape: [6, 6], chunkSize: 30, lanes: 8 };
  const fields = (l: GmzLayout): GmzLayoutChunk[] => l.chunks as GmzLayoutChunk[];

  it('records each chunk\u2019s index and first image; the lone-chunk path still decodes each chunk with the header', async () => {
    const bytes = await compress(imgs, model.coding, opts);
    const file = splitGmz(bytes);
    expect(file.chunks.map((c) => [c.index, c.firstImage, c.count])).toEqual([
      [0, 0, 30],
      [1, 30, 30],
      [2, 60, 30],
    ]);
    expect(fields(readGmzLayout(bytes)).map((c) => [c.index, c.firstImage, c.count])).toEqual([
      [0, 0, 30],
      [1, 30, 30],
      [2, 60, 30],
    ]);
    // A chunk travels to a worker as plain data (structured clone) with the header, and decodes there, in any order.
    const reader = gmzReader(file.header, model.coding);
    for (const k of [2, 0, 1]) {
      const moved = structuredClone(file.chunks[k]!);
      expect(decodeChunk(moved, reader, structuredClone(file.header))).toEqual(imgs.subarray(k * 30 * 36, (k + 1) * 30 * 36));
    }
    // The writer's reseal reproduces the library's own bytes: the crafting layout is the format.
    expect(writeGmzLayout(readGmzLayout(bytes))).toEqual(bytes);
  });

  it('refuses re-sealed files with chunks swapped, dropped or duplicated (checksums recomputed: only structure protects)', async () => {
    for (const count of [90, null]) {
      // A file whose header knows the count (compress) and a streamed one (count only in the trailer).
      const parts: Uint8Array[] = [];
      for await (const p of compressStream([imgs], model.coding, opts, count)) parts.push(p);
      const bytes = Uint8Array.from(Buffer.concat(parts));
      const base = readGmzLayout(bytes);
      const orders: Array<[string, number[], RegExp]> = [
        ['swapped', [1, 0, 2], /chunk 1 .*position 0|position 0 .*chunk 1/],
        ['last first', [2, 0, 1], /chunk 2 .*position 0|position 0 .*chunk 2/],
        ['middle dropped', [0, 2], /chunk 2 .*position 1|position 1 .*chunk 2/],
        ['first dropped', [1, 2], /chunk 1 .*position 0|position 0 .*chunk 1/],
        ['last dropped', [0, 1], /image count|images|chunk 2/],
        ['duplicated', [0, 0, 1, 2], /chunk 0 .*position 1|position 1 .*chunk 0/],
        ['last duplicated', [0, 1, 2, 2], /chunk 2 .*position 3|position 3 .*chunk 2/],
      ];
      for (const [name, order, message] of orders) {
        const l = cloneGmzLayout(base);
        l.chunks = order.map((k) => ({ ...fields(base)[k]! }));
        await expectRefused(writeGmzLayout(l), model.coding, 'corrupt', message).catch((e: Error) => {
          throw new Error(`${name} (header count ${count}): ${e.message}`);
        });
      }
      // Renumbered to hide the swap: the first-image field disagrees; both rewritten: the images' CRC covers their place.
      const l = cloneGmzLayout(base);
      l.chunks = [1, 0, 2].map((k, i) => ({ ...fields(base)[k]!, index: i }));
      await expectRefused(writeGmzLayout(l), model.coding, 'corrupt', /first image/);
      l.chunks = [1, 0, 2].map((k, i) => ({ ...fields(base)[k]!, index: i, firstImage: 30 * i }));
      await expectRefused(writeGmzLayout(l), model.coding, 'mismatch', /chunk 0 fail their checksum/);
    }
  });

  it('refuses a chunk from another file by its header-bound checksum, in a file and on its own', async () => {
    const bytes = await compress(imgs, model.coding, opts);
    // Same model, same settings, other images and count: only the header (its count) differs.
    const other = await compress(model.sample(60, 9), model.coding, opts);
    const file = splitGmz(bytes);
    const foreign = splitGmz(other);
    // Spliced in with its own (valid in its file) checksum.
    const l = readGmzLayout(bytes);
    const fl = readGmzLayout(other);
    const spliced = cloneGmzLayout(l);
    const wrapped = (c: GmzLayoutChunk, crc: number): GmzLayoutChunk => ({ ...c, crc });
    spliced.chunks[1] = wrapped(fields(fl)[1]!, foreign.chunks[1]!.crc);
    await expectRefused(writeGmzLayout(spliced), model.coding, 'checksum', /chunk 1/);
    // On its own: decodeChunk checks the chunk against the header it is given before decoding.
    const reader = gmzReader(file.header, model.coding);
    expect(() => decodeChunk(foreign.chunks[1]!, reader, file.header)).toThrow(GmzError);
    expect(() => decodeChunk(foreign.chunks[1]!, reader, file.header)).toThrow(/another file|checksum/);
    // A chunk's position fields cannot be edited without breaking its checksum...
    expect(() => decodeChunk({ ...file.chunks[1]!, index: 0, firstImage: 0 }, reader, file.header)).toThrow(/checksum/);
    // ...and a position that does not fit the header is refused outright.
    const e = (() => {
      try {
        decodeChunk({ ...file.chunks[1]!, firstImage: 0 }, reader, file.header);
      } catch (err) {
        return err as GmzError;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(GmzError);
    expect(e!.message).toMatch(/first image/);
    expect(() => decodeChunk({ ...file.chunks[2]!, index: 3, firstImage: 90 }, reader, file.header)).toThrow(GmzError);
  });

  it('joinGmz refuses chunks out of order, missing, duplicated or encoded for another header', async () => {
    const writer = gmzWriter(model.coding, opts, 90);
    const enc = [0, 1, 2].map((k) => encodeChunk(writer, imgs.subarray(k * 30 * 36, (k + 1) * 30 * 36), k * 30));
    expect(enc.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(joinGmz(writer.header, enc)).toEqual(await compress(imgs, model.coding, opts));
    expect(() => joinGmz(writer.header, [enc[1]!, enc[0]!, enc[2]!])).toThrow(/position 0 .*chunk 1|out of order/);
    const streamed = gmzWriter(model.coding, opts, null);
    const encS = [0, 1, 2].map((k) => encodeChunk(streamed, imgs.subarray(k * 30 * 36, (k + 1) * 30 * 36), k * 30));
    expect(() => joinGmz(streamed.header, [encS[0]!, encS[2]!])).toThrow(/position 1 .*chunk 2|missing/);
    expect(() => joinGmz(streamed.header, [encS[0]!, encS[0]!, encS[1]!])).toThrow(/position 1 .*chunk 0/);
    // Chunks encoded for the streamed header (count unknown) are not chunks of the counted one.
    expect(() => joinGmz(writer.header, encS)).toThrow(/another header/);
    // A chunk's first image must be where its index puts it, and only the last chunk may hold fewer images.
    expect(() => encodeChunk(writer, imgs.subarray(0, 30 * 36), 15)).toThrow(/firstImage/);
    expect(() => encodeChunk(writer, imgs.subarray(0, 10 * 36), 30)).toThrow(/30 images/);
    expect(() => encodeChunk(writer, imgs.subarray(0, 30 * 36), 90)).toThrow(/firstImage|90 images/);
  });
});

/** A layout of a small real file, to edit. */
async function baseLayout(): Promise<{ bytes: Uint8Array; layout: GmzLayout }> {
  // Model-coded chunks (no deflate fallback), so the coder's own checks are reached.
  const bytes = await compress(images.subarray(0, 40 * 36), model.coding, { shape: [6, 6], chunkSize: 20, lanes: 8, fallback: false });
  return { bytes, layout: readGmzLayout(bytes) };
}

describe('.gmz bounds: extreme fields are GmzErrors naming the field, decided before allocating', () => {
  it('refuses [4096, 4096] × 1,000,000 images (and its variants) by their fields, quickly', async () => {
    const { layout } = await baseLayout();
    const variants: Array<[string, (l: GmzLayout) => void, RegExp]> = [
      [
        'one chunk of a million 4096×4096 images',
        (l) => {
          l.header.shape = [4096, 4096];
          l.header.countPlusOne = 1_000_001;
          l.header.chunkSize = 1_000_000;
          l.chunks = [{ ...(l.chunks[0] as GmzLayoutChunk), count: 1_000_000 }];
          l.trailerCount = 1_000_000;
        },
        /chunk size 1000000/,
      ],
      [
        'a million 4096×4096 images in chunks of one',
        (l) => {
          l.header.shape = [4096, 4096];
          l.header.countPlusOne = 1_000_001;
          l.header.chunkSize = 1;
          l.trailerCount = 1_000_000;
        },
        /image count|image shape/,
      ],
      [
        'a million 6×6 images in 2 chunks',
        (l) => {
          l.header.countPlusOne = 1_000_001;
          l.trailerCount = 1_000_000;
        },
        /image count/,
      ],
      [
        'a 4096×4097 image',
        (l) => {
          l.header.shape = [4096, 4097];
          l.header.chunkSize = 1;
        },
        /image shape/,
      ],
      [
        'a dimension of 2^40',
        (l) => {
          l.header.shape = [2 ** 40, 1];
        },
        /image dimension/,
      ],
    ];
    for (const [name, edit, message] of variants) {
      const l = cloneGmzLayout(layout);
      edit(l);
      const t0 = performance.now();
      await expectRefused(writeGmzLayout(l), model.coding, 'corrupt', message).catch((e: Error) => {
        throw new Error(`${name}: ${e.message}`);
      });
      expect(performance.now() - t0).toBeLessThan(2000);
    }
  });

  it('refuses extreme header fields with a GmzError naming the field', async () => {
    const { layout } = await baseLayout();
    const h = layout.header;
    const cases: Array<[Partial<GmzLayout['header']>, string, RegExp]> = [
      [{ modelKind: 2 }, 'corrupt', /model kind/],
      [{ pixels: 9 }, 'corrupt', /pixel kind/],
      [{ pixels: 1 }, 'corrupt', /pixel kind|8-bit/],
      [{ modelKind: 1, latentDim: 0 }, 'corrupt', /model kind|latent/],
      [{ shape: [] }, 'corrupt', /image rank/],
      [{ shape: [1, 1, 1, 6, 6] }, 'corrupt', /image rank/],
      [{ shape: [6, 0] }, 'corrupt', /image dimension/],
      [{ shape: [6, 7] }, 'corrupt', /image shape.*42 pixels|42 pixels/],
      [{ shape: [36] }, 'ok', /./],
      [{ countPlusOne: 2 ** 49 - 1 }, 'corrupt', /image count/],
      [{ chunkSize: 0 }, 'corrupt', /chunk size 0/],
      [{ chunkSize: 2 ** 20 + 1 }, 'corrupt', /chunk size/],
      [{ chunkSize: 2 ** 48 }, 'corrupt', /chunk size/],
      [{ latentDim: 4 }, 'corrupt', /latent size 4/],
      [{ latentDim: 2 ** 21 }, 'corrupt', /latent size/],
      [{ bucketBits: 0 }, 'corrupt', /bucketBits/],
      [{ bucketBits: 255 }, 'corrupt', /bucketBits/],
      [{ posteriorPrecision: 255 }, 'corrupt', /posteriorPrecision/],
      [{ likelihoodPrecision: 0 }, 'corrupt', /likelihoodPrecision/],
      [{ lanes: 0 }, 'corrupt', /lanes/],
      [{ lanes: 2 ** 48 }, 'corrupt', /lanes/],
      [{ lanes: 9 }, 'mismatch', /./],
      [{ growth: 0 }, 'corrupt', /growth/],
      [{ growth: 2 ** 48 }, 'corrupt', /growth/],
      [{ seed: 2 ** 32 - 1 }, 'mismatch', /./],
      [{ codingPath: 0 }, 'version', /coding path 0/],
      [{ version: GMZ_VERSION + 2 }, 'version', new RegExp(`version-${GMZ_VERSION + 2}`)],
    ];
    expect(h.latentDim).toBe(3);
    for (const [edit, code, message] of cases) {
      const l = cloneGmzLayout(layout);
      Object.assign(l.header, edit);
      const bytes = writeGmzLayout(l);
      const label = JSON.stringify(edit);
      if (code === 'ok') {
        for (const r of await readAll(bytes, model.coding)) expect({ label, same: r instanceof Uint8Array && Buffer.compare(r, images.subarray(0, 40 * 36)) === 0 }).toEqual({ label, same: true });
        continue;
      }
      await expectRefused(bytes, model.coding, code, message).catch((e: Error) => {
        throw new Error(`${label}: ${e.message}`);
      });
    }
    // A varint of more than 7 bytes, and one not in its shortest form, in place of count+1 (41: one byte, after the
    // fingerprint, kind, pixels, rank and the dims 6, 6).
    const fb = Array.from(headerFieldBytes(layout.header));
    expect(fb.slice(34, 38)).toEqual([2, 6, 6, 41]);
    for (const raw of [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], [0x80 | 41, 0x00]]) {
      const l = cloneGmzLayout(layout);
      l.rawHeader = Uint8Array.from([...fb.slice(0, 37), ...raw, ...fb.slice(38)]);
      await expectRefused(writeGmzLayout(l), model.coding, 'corrupt', /image count/);
    }
  });

  it('refuses extreme chunk fields with a GmzError naming the field', async () => {
    const { layout } = await baseLayout();
    const c0 = layout.chunks[0] as GmzLayoutChunk;
    const c1 = layout.chunks[1] as GmzLayoutChunk;
    const cases: Array<[string, (l: GmzLayout) => void, string, RegExp]> = [
      ['method 2', (l) => void Object.assign(l.chunks[0]!, { method: 2 }), 'corrupt', /chunk method 2/],
      ['method 255', (l) => void Object.assign(l.chunks[1]!, { method: 255 }), 'corrupt', /chunk method 255/],
      ['method deflate', (l) => void Object.assign(l.chunks[0]!, { method: 1 }), 'mismatch', /./],
      ['index 2^48', (l) => void Object.assign(l.chunks[1]!, { index: 2 ** 48 }), 'corrupt', /chunk 281474976710656|chunk index/],
      ['first image 2^48', (l) => void Object.assign(l.chunks[1]!, { firstImage: 2 ** 48 }), 'corrupt', /first image/],
      ['count 0', (l) => void Object.assign(l.chunks[0]!, { count: 0 }), 'corrupt', /holds 0 images/],
      ['count 21', (l) => void Object.assign(l.chunks[1]!, { count: 21 }), 'corrupt', /holds 21 images/],
      ['count 2^48', (l) => void Object.assign(l.chunks[1]!, { count: 2 ** 48 }), 'corrupt', /holds 281474976710656 images/],
      ['count 19 in a full chunk', (l) => void Object.assign(l.chunks[0]!, { count: 19 }), 'corrupt', /holds 19 images/],
      ['empty payload', (l) => void Object.assign(l.chunks[1]!, { payload: new Uint8Array(0) }), 'corrupt', /payload/],
      ['payload cut', (l) => void Object.assign(l.chunks[1]!, { payload: c1.payload.subarray(0, 5) }), 'mismatch', /./],
      ['payload of the other chunk', (l) => void Object.assign(l.chunks[1]!, { payload: c0.payload }), 'mismatch', /./],
      ['image CRC', (l) => void Object.assign(l.chunks[1]!, { imageCrc: (c1.imageCrc ^ 1) >>> 0 }), 'mismatch', /checksum/],
      ['trailer count + 1', (l) => void (l.trailerCount += 1), 'corrupt', /image count|images/],
      ['trailer count 2^48', (l) => void (l.trailerCount = 2 ** 48), 'corrupt', /image count|images/],
      ['length 2^48', (l) => void Object.assign(l.chunks[1]!, { length: 2 ** 48 }), 'corrupt', /chunk 1 length 281474976710656/],
      // The body is method, index, first image, count (one byte each here), image CRC and payload: one byte short.
      ['length − 1', (l) => void Object.assign(l.chunks[0]!, { length: (l.chunks[0] as GmzLayoutChunk).payload.length + 7 }), 'checksum', /chunk 0/],
      [
        'a deflate chunk of 3 bytes claiming 100,000 images',
        (l) => {
          l.header.chunkSize = 100_000;
          l.header.countPlusOne = 100_001;
          l.chunks = [{ ...(l.chunks[0] as GmzLayoutChunk), method: 1, count: 100_000, payload: Uint8Array.of(1, 2, 3) }];
          l.trailerCount = 100_000;
        },
        'corrupt',
        /deflate/,
      ],
    ];
    for (const [name, edit, code, message] of cases) {
      const l = cloneGmzLayout(layout);
      edit(l);
      await expectRefused(writeGmzLayout(l), model.coding, code, message).catch((e: Error) => {
        throw new Error(`${name}: ${e.message}`);
      });
    }
  });

  it('refuses header fields the fingerprinted model disagrees with (a re-sealed header cannot lie about the model)', async () => {
    const m8 = linearLogisticModel({ latentDim: 3, pixelsPerImage: 36, seed: 2 });
    const bytes = await compress(m8.sample(20, 1), m8.coding, { shape: [6, 6], chunkSize: 10, lanes: 4 });
    const layout = readGmzLayout(bytes);
    for (const [edit, message] of [
      [{ pixels: 0, likelihoodPrecision: 24 }, /pixel kind/],
      [{ shape: [5, 5] }, /image shape/],
      [{ latentDim: 2 }, /latent size/],
    ] as const) {
      const l = cloneGmzLayout(layout);
      Object.assign(l.header, edit);
      await expectRefused(writeGmzLayout(l), m8.coding, 'corrupt', message);
    }
  });
});

/**
 * SHA-256 of the three golden files above, written with coding path 1 in container version 3 (numbered chunks): it
 * changes with the container layout too (the chunk payloads did not change when chunks were numbered).
 */
// A BB-CIS file pinned like the others: its bits change only with CODING_PATH (or a new container version).
const GOLDEN_CIS_SHA256 = '3543b4e46d249d376da1a8b253976580480e93af9efd7e29877503b77126cbeb';
const GOLDEN_FILES_SHA256 = 'ca92778cc3652705efb6ce2145ab2fa9994a906b61eede77448923a2fa1b2a70';
/** SHA-256 of the chunk payloads of the golden files, in order: the coding path's bits alone (bump CODING_PATH if it changes). */
const GOLDEN_PAYLOADS_SHA256 = '2995d6f4a2a132e89ff9b7949654b5b8f67a825280550e52bca99aec7ccb741d';
