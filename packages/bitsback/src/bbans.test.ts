import { describe, expect, it } from 'vitest';
import { decodeImages, encodeImages, expandSchedule, resolveSettings } from './bbans';
import { realDigits } from './mnist-digits.test-helper';
import { mulberry32 } from '@gm/core';
import { linearBernoulliModel, linearLogisticModel } from './synthetic';

const D = 64;

describe('BB-ANS', () => {
  it('round-trips random binary images exactly, whatever the lane count', async () => {
    const model = linearBernoulliModel({ latentDim: 3, pixelsPerImage: D, seed: 5 });
    const rnd = mulberry32(77);
    const count = 150;
    // Uniformly random pixels: nothing like the model's samples, so this exercises badly fitting posteriors too.
    const images = Uint8Array.from({ length: count * D }, () => (rnd() < 0.5 ? 1 : 0));
    for (const lanes of [1, 3, 16, 64]) {
      const s = resolveSettings({ pixels: 'binary', pixelsPerImage: D, lanes });
      const enc = await encodeImages(images, count, model, s);
      const back = await decodeImages(enc.message, count, enc.cleanUnits, enc.warmup, model, s);
      expect(back).toEqual(images);
    }
  });

  it('round-trips real binarized and 8-bit MNIST digits exactly', async () => {
    const bin = realDigits(40, [2, 7]);
    const mb = linearBernoulliModel({ latentDim: 8, pixelsPerImage: 784, seed: 4, weightScale: 0.5 });
    const sb = resolveSettings({ pixels: 'binary', pixelsPerImage: 784, lanes: 16 });
    const eb = await encodeImages(bin, 80, mb, sb);
    expect(await decodeImages(eb.message, 80, eb.cleanUnits, eb.warmup, mb, sb)).toEqual(bin);
    const u8 = realDigits(10, [2, 7], false);
    const mu = linearLogisticModel({ latentDim: 8, pixelsPerImage: 784, seed: 4 });
    const su = resolveSettings({ pixels: 'u8', pixelsPerImage: 784, lanes: 8 });
    const eu = await encodeImages(u8, 20, mu, su);
    expect(await decodeImages(eu.message, 20, eu.cleanUnits, eu.warmup, mu, su)).toEqual(u8);
  });

  it('achieves a rate within 1% of the exact −ELBO on samples of the model, with a start-up of one image', async () => {
    const model = linearBernoulliModel({ latentDim: 4, pixelsPerImage: D, seed: 3 });
    const count = 2000;
    const images = model.sample(count, 7);
    const negElbo = model.negElboBits(images).reduce((a, b) => a + b, 0);
    const s = resolveSettings({ pixels: 'binary', pixelsPerImage: D, lanes: 32 });
    const enc = await encodeImages(images, count, model, s);
    const bits = 8 * enc.message.length;
    const ratio = bits / negElbo;
    console.log(
      `[bbans] binary synthetic: ${count} images × ${D} px, message ${bits} bits = ${(bits / (count * D)).toFixed(4)} bits/dim, ` +
        `−ELBO ${(negElbo / (count * D)).toFixed(4)} bits/dim, ratio ${ratio.toFixed(4)}, clean bits ${16 * enc.cleanUnits}, warm-up ${enc.warmup.join(',')}`,
    );
    expect(ratio).toBeLessThan(1.01);
    // The discretised latents cannot beat the continuous bound by much either (a wrong bits-back sign would).
    expect(ratio).toBeGreaterThan(0.99);
    // Start-up costs about one image: the chunk draws barely more clean bits than a chunk of only its first image
    // (that lane's 32-bit head plus its posterior pop), although 32 lanes end up open — later lanes are paid for by
    // bits earlier images pushed. (A few units more when the second image's pop outruns the first's pushes.)
    const first = await encodeImages(images.subarray(0, D), 1, model, s);
    expect(enc.cleanUnits).toBeLessThanOrEqual(first.cleanUnits + 3);
    expect(enc.message.length).toBeGreaterThan(0);
    const back = await decodeImages(enc.message, count, enc.cleanUnits, enc.warmup, model, s);
    expect(back).toEqual(images);
  });

  it('batches the model over lanes: about count / lanes calls once warmed up', async () => {
    const model = linearBernoulliModel({ latentDim: 2, pixelsPerImage: D, seed: 8 });
    const count = 640;
    const images = model.sample(count, 1);
    const s = resolveSettings({ pixels: 'binary', pixelsPerImage: D, lanes: 32 });
    const enc = await encodeImages(images, count, model, s);
    const steps = expandSchedule(enc.warmup, count, 32).length;
    expect(model.calls.posterior).toBe(steps);
    expect(steps).toBeLessThan(count / 32 + 12);
    model.calls.posterior = 0;
    await decodeImages(enc.message, count, enc.cleanUnits, enc.warmup, model, s);
    expect(model.calls.posterior).toBe(steps);
  });

  it('codes 8-bit images losslessly with a discretised-logistic likelihood, near the −ELBO', async () => {
    const model = linearLogisticModel({ latentDim: 4, pixelsPerImage: D, seed: 3 });
    const count = 200;
    const images = model.sample(count, 9);
    const negElbo = model.negElboBits(images).reduce((a, b) => a + b, 0);
    const s = resolveSettings({ pixels: 'u8', pixelsPerImage: D, lanes: 16 });
    const enc = await encodeImages(images, count, model, s);
    const bits = 8 * enc.message.length;
    console.log(`[bbans] 8-bit synthetic: ${(bits / (count * D)).toFixed(4)} bits/dim vs −ELBO ${(negElbo / (count * D)).toFixed(4)}, ratio ${(bits / negElbo).toFixed(4)}`);
    expect(bits / negElbo).toBeLessThan(1.015);
    expect(bits / negElbo).toBeGreaterThan(0.985);
    expect(await decodeImages(enc.message, count, enc.cleanUnits, enc.warmup, model, s)).toEqual(images);
  });

  it('fails cleanly, never with garbage, when the decoder has a different model', async () => {
    const a = linearBernoulliModel({ latentDim: 3, pixelsPerImage: D, seed: 5 });
    const b = linearBernoulliModel({ latentDim: 3, pixelsPerImage: D, seed: 6 });
    const images = a.sample(100, 2);
    const s = resolveSettings({ pixels: 'binary', pixelsPerImage: D, lanes: 8 });
    const enc = await encodeImages(images, 100, a, s);
    await expect(decodeImages(enc.message, 100, enc.cleanUnits, enc.warmup, b, s)).rejects.toThrow(/wrong model|corrupt|exhausted|cannot be closed/);
  });

  it('rejects bad images, settings and likelihood kinds with clear errors', async () => {
    const model = linearBernoulliModel({ latentDim: 2, pixelsPerImage: 4, seed: 1 });
    const s = resolveSettings({ pixels: 'binary', pixelsPerImage: 4 });
    await expect(encodeImages(Uint8Array.of(0, 1, 2, 0), 1, model, s)).rejects.toThrow(/pixel 2 is 2/);
    await expect(encodeImages(Uint8Array.of(0, 1, 0), 1, model, s)).rejects.toThrow(/expected 1 × 4/);
    expect(() => resolveSettings({ pixels: 'binary', pixelsPerImage: 4, posteriorPrecision: 10 })).toThrow(/posteriorPrecision/);
    const u8 = resolveSettings({ pixels: 'u8', pixelsPerImage: 4 });
    await expect(encodeImages(Uint8Array.of(0, 1, 0, 1), 1, model, u8)).rejects.toThrow(/'logistic' likelihood/);
  });
});
