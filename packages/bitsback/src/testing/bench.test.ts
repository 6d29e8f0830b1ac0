import { describe, expect, it } from 'vitest';
import { benchCompression, benchRans, benchTable } from './bench';
import { linearBernoulliModel } from './synthetic';

describe('benchmarks (small runs)', () => {
  it('benchRans decodes exactly and codes within 0.01 bit/symbol of the table entropy', () => {
    expect(benchTable(16).freqs.length).toBe(256);
    for (const lanes of [4, 3]) {
      const r = benchRans({ symbols: 200_000, runs: 1, lanes });
      expect(r.exact).toBe(true);
      expect(r.bitsPerSymbol - r.entropyBits).toBeGreaterThan(-0.001);
      expect(r.bitsPerSymbol - r.entropyBits).toBeLessThan(0.01);
      expect(r.encodeSymbolsPerSec).toBeGreaterThan(0);
      expect(r.decodeSymbolsPerSec).toBeGreaterThan(0);
    }
  });

  it('benchCompression round-trips and reports the rate and how each chunk was stored', async () => {
    const model = linearBernoulliModel({ latentDim: 2, pixelsPerImage: 16, seed: 1 });
    const images = model.sample(64, 2);
    const r = await benchCompression(images, model.coding, { shape: [4, 4], chunkSize: 32, lanes: 4 });
    expect(r.exact).toBe(true);
    expect(r.images).toBe(64);
    expect(r.chunks.map((c) => c.images)).toEqual([32, 32]);
    expect(r.bitsPerDim).toBeCloseTo((8 * r.fileBytes) / images.length, 12);
  });
});
