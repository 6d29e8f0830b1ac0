import { describe, expect, it } from 'vitest';
import {
  compress,
  compressStream,
  createGmzHeader,
  decodeChunk,
  decompress,
  decompressStream,
  encodeChunk,
  GmzError,
  joinGmz,
  modelFingerprint,
  splitGmz,
  type CompressOptions,
} from './gmz';
import { baselineSizes, packBits, rateReport } from './report';
import { mulberry32 } from '@gm/core';
import { linearBernoulliModel, linearLogisticModel } from './synthetic';

const model = linearBernoulliModel({ latentDim: 3, pixelsPerImage: 36, seed: 21 });
const images = model.sample(230, 4);
const options: CompressOptions = { fingerprint: 'toy-bernoulli-v1', shape: [6, 6], pixels: 'binary', chunkSize: 100, lanes: 8 };

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
  it('compresses and decompresses exactly, in independent chunks', async () => {
    const bytes = await compress(images, model, options);
    expect(Array.from(bytes.subarray(0, 5))).toEqual([0x89, 0x47, 0x4d, 0x5a, 1]);
    const out = await decompress(bytes, model, { fingerprint: 'toy-bernoulli-v1' });
    expect(out.images).toEqual(images);
    expect(out.shape).toEqual([6, 6]);
    expect(out.count).toBe(230);
    const file = splitGmz(bytes);
    expect(file.chunks.map((c) => c.count)).toEqual([100, 100, 30]);
    // Any chunk decodes on its own (e.g. on another worker or machine), last chunk first here.
    const last = await decodeChunk(file.chunks[2]!, model, file.header);
    expect(last).toEqual(images.subarray(200 * 36));
    const r = rateReport(bytes, images, model.negElboBits(images).reduce((a, b) => a + b, 0) / images.length);
    expect(r.bitsPerDim).toBeCloseTo((8 * bytes.length) / images.length, 10);
    expect(r.chunks).toBe(3);
    expect(r.cleanBits).toBeGreaterThan(0);
    // Container overhead is a constant: header (~60 B), per-chunk framing and start-up, trailer with SHA-256.
    const payload = file.chunks.reduce((a, c) => a + c.message.length, 0);
    expect(bytes.length - payload).toBeLessThan(110 + 3 * 20);
    expect(r.ratioToElbo!).toBeLessThan(1.35); // tiny file: ~1 KB of content, so the fixed overhead shows
  });

  it('joins chunks encoded separately (other workers or machines) into the same file compress writes', async () => {
    const header = createGmzHeader(options, model.latentDim, 230);
    // Encode the chunks out of order, as independent jobs would finish.
    const jobs = [2, 0, 1].map(async (k) => ({ k, chunk: await encodeChunk(images.subarray(k * 100 * 36, Math.min(230, (k + 1) * 100) * 36), model, header) }));
    const done = (await Promise.all(jobs)).sort((a, b) => a.k - b.k).map((j) => j.chunk);
    const joined = joinGmz(header, done);
    expect(joined).toEqual(await compress(images, model, options));
    expect(() => joinGmz(header, done.slice(1))).toThrow(/230 images/);
  });

  it('refuses a different model by fingerprint, and catches a same-fingerprint model with other weights', async () => {
    const bytes = await compress(images, model, options);
    const e = await expectGmzError(decompress(bytes, model, { fingerprint: 'other-model' }), 'wrong-model');
    expect(e.message).toMatch(/different model/);
    const impostor = linearBernoulliModel({ latentDim: 3, pixelsPerImage: 36, seed: 22 });
    await expectGmzError(decompress(bytes, impostor, { fingerprint: 'toy-bernoulli-v1' }), 'mismatch');
    const wider = linearBernoulliModel({ latentDim: 5, pixelsPerImage: 36, seed: 21 });
    const e2 = await expectGmzError(decompress(bytes, wider, { fingerprint: 'toy-bernoulli-v1' }), 'wrong-model');
    expect(e2.message).toMatch(/3-dimensional latent, this model has 5/);
  });

  it('rejects every truncation and random bit flips with a GmzError, quickly', async () => {
    const bytes = await compress(images.subarray(0, 60 * 36), model, { ...options, chunkSize: 30 });
    const t0 = performance.now();
    for (let cut = 0; cut < bytes.length; cut++) {
      await expectGmzError(decompress(bytes.subarray(0, cut), model, { fingerprint: 'toy-bernoulli-v1' }));
    }
    const rnd = mulberry32(5);
    for (let k = 0; k < 200; k++) {
      const bad = bytes.slice(); // a copy: compress returns a plain Uint8Array
      expect(Buffer.isBuffer(bytes)).toBe(false);
      const bit = Math.floor(rnd() * bad.length * 8);
      bad[bit >>> 3]! ^= 1 << (bit & 7);
      await expectGmzError(decompress(bad, model, { fingerprint: 'toy-bernoulli-v1' }));
    }
    await expectGmzError(decompress(Uint8Array.from([...bytes, 0]), model, { fingerprint: 'toy-bernoulli-v1' }));
    await expectGmzError(decompress(new TextEncoder().encode('hello world, not gmz'), model, { fingerprint: 'x' }), 'not-gmz');
    expect(performance.now() - t0).toBeLessThan(20_000);
  });

  it('streams: compresses an async iterable piece by piece and decompresses chunk by chunk', async () => {
    async function* source() {
      for (let i = 0; i < 230; i += 7) yield images.subarray(i * 36, Math.min(230, i + 7) * 36);
    }
    const pieces: Uint8Array[] = [];
    for await (const p of compressStream(source(), model, options)) pieces.push(p);
    expect(pieces.length).toBe(1 + 3 + 1); // header, three chunks, trailer
    const whole = Buffer.concat(pieces);
    expect(splitGmz(whole).header.count).toBeNull(); // streamed: count only in the trailer
    // Decompress from small, unaligned pieces of the byte stream.
    async function* bytesIn() {
      for (let i = 0; i < whole.length; i += 13) yield whole.subarray(i, i + 13);
    }
    const got: Uint8Array[] = [];
    for await (const imgs of decompressStream(bytesIn(), model, { fingerprint: 'toy-bernoulli-v1' })) got.push(imgs);
    expect(got.map((g) => g.length / 36)).toEqual([100, 100, 30]);
    expect(Buffer.concat(got)).toEqual(Buffer.from(images));
    // A flipped bit inside the second chunk: the first chunk's images come out, then a checksum error — the bad
    // chunk is never yielded.
    const flipped = Uint8Array.from(whole); // a copy (Buffer#slice would share memory)
    const secondChunkByte = pieces[0]!.length + pieces[1]!.length + 40;
    flipped[secondChunkByte]! ^= 0x10;
    const seen: number[] = [];
    await expectGmzError(
      (async () => {
        for await (const imgs of decompressStream([flipped], model, { fingerprint: 'toy-bernoulli-v1' })) seen.push(imgs.length / 36);
      })(),
      'checksum',
    );
    expect(seen).toEqual([100]);
    // A stream cut short fails at the cut.
    const cut = whole.subarray(0, whole.length - 10);
    await expectGmzError(
      (async () => {
        for await (const _ of decompressStream([cut], model, { fingerprint: 'toy-bernoulli-v1' })) void _;
      })(),
      'truncated',
    );
  });

  it('handles 8-bit images with a logistic model and reports baselines', async () => {
    const m8 = linearLogisticModel({ latentDim: 3, pixelsPerImage: 36, seed: 2 });
    const imgs = m8.sample(120, 3);
    const bytes = await compress(imgs, m8, { fingerprint: 'toy-logistic', shape: [6, 6], pixels: 'u8', chunkSize: 60, lanes: 8 });
    expect((await decompress(bytes, m8, { fingerprint: 'toy-logistic' })).images).toEqual(imgs);
    const r = rateReport(bytes, imgs);
    expect(r.ratioToElbo).toBeNull();
    expect(r.gzip.bytes).toBe(baselineSizes(imgs, false).gzipBytes);
  });

  it('fingerprints a model from its architecture and weights', () => {
    const arch = JSON.stringify({ layers: [784, 100, 40] });
    const w = Float32Array.of(0.5, -1, 2);
    const a = modelFingerprint([arch, w]);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(modelFingerprint([arch, Float32Array.of(0.5, -1, 2)])).toBe(a);
    expect(modelFingerprint([arch, Float32Array.of(0.5, -1, 2.0000002)])).not.toBe(a);
    expect(modelFingerprint([arch + '1', w])).not.toBe(a);
    // Part boundaries count: ['ab', 'c'] differs from ['a', 'bc'].
    expect(modelFingerprint(['ab', 'c'])).not.toBe(modelFingerprint(['a', 'bc']));
  });

  it('validates inputs with clear messages', async () => {
    await expect(compress(images.subarray(0, 35), model, options)).rejects.toThrow(/whole number of 36-pixel images/);
    await expect(compress(images, model, { ...options, shape: [6, 0] })).rejects.toThrow(/shape/);
    await expect(compress(images, model, { ...options, fingerprint: '' })).rejects.toThrow(/fingerprint/);
    await expect(compress(images, model, { ...options, chunkSize: 0 })).rejects.toThrow(/chunkSize/);
    expect(Array.from(packBits(Uint8Array.of(1, 0, 1, 1, 0, 0, 0, 0, 1)))).toEqual([0b10110000, 0b10000000]);
  });
});
