import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compress } from './gmz';
import { baselineSizes, rateReport } from './node';
import { linearBernoulliModel } from './testing/synthetic';

describe('@gm/bitsback/node reports', () => {
  it('give the rate next to the −ELBO, how each chunk was stored, and gzip / brotli of the same images', async () => {
    const model = linearBernoulliModel({ latentDim: 3, pixelsPerImage: 64, seed: 1 });
    const images = model.sample(400, 2);
    const bytes = await compress(images, model.coding, { shape: [8, 8], chunkSize: 200 });
    const negElbo = model.negElboBits(images).reduce((a, b) => a + b, 0) / images.length;
    const r = rateReport(bytes, images, negElbo);
    expect(r.bitsPerDim).toBeCloseTo((8 * bytes.length) / images.length, 12);
    expect(r.ratioToElbo).toBeCloseTo(r.bitsPerDim / negElbo, 12);
    expect(r.ratioToElbo!).toBeLessThan(1.1);
    expect(r.chunks).toEqual([
      { method: 'model', images: 200, bytes: expect.any(Number), cleanBits: expect.any(Number) },
      { method: 'model', images: 200, bytes: expect.any(Number), cleanBits: expect.any(Number) },
    ]);
    expect(r.chunks.every((c) => c.cleanBits > 0 && c.cleanBits < 8 * c.bytes)).toBe(true); // part of each payload
    const base = baselineSizes(images, true);
    expect(base.rawBytes).toBe((400 * 64) / 8);
    expect(r.gzip.bytes).toBe(base.gzipBytes);
    expect(base.gzipBytes).toBe(gzipSync(Buffer.from(base.rawBytes === 0 ? [] : packed(images)), { level: 9 }).length);
    expect(r.bitsPerDim).toBeLessThan(r.gzip.bitsPerDim);
    expect(() => rateReport(bytes, images.subarray(1))).toThrow(/holds 25600 pixels/);
  });
});

function packed(pixels: Uint8Array): number[] {
  const out = new Array<number>(Math.ceil(pixels.length / 8)).fill(0);
  for (let i = 0; i < pixels.length; i++) if (pixels[i]) out[i >>> 3]! |= 0x80 >>> (i & 7);
  return out;
}
