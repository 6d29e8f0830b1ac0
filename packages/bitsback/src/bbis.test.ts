import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@gm/core';
import { decodeLatentChunk, encodeLatentChunk, resolveSettings, type BitsBackSettings } from './bbans';
import { latentCoder } from './coding/latent';
import { createDenseEngine } from './exact/dense';
import { linearBernoulliModel, linearLogisticModel, type SyntheticLatentModel } from './testing/synthetic';

const engine = createDenseEngine();

/** −log2 p(x) of each image of a linear-Bernoulli model with a 2-D latent, by quadrature over N(0, I). */
function exactNllBits(model: SyntheticLatentModel, images: Uint8Array): Float64Array {
  const op = model.coding.decoder.ops[0] as { kernel: Float32Array; bias: Float32Array; units: number; inputSize: number };
  const D = op.units;
  const n = 97;
  const t = Float64Array.from({ length: n }, (_, i) => -6 + (12 * i) / (n - 1));
  const w = Float64Array.from(t, (v) => ((12 / (n - 1)) * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI));
  const out = new Float64Array(images.length / D);
  for (let b = 0; b < out.length; b++) {
    const logs: number[] = [];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let lp = Math.log(w[i]!) + Math.log(w[j]!);
        for (let d = 0; d < D; d++) {
          const a = op.kernel[d]! * t[i]! + op.kernel[D + d]! * t[j]! + op.bias[d]!;
          lp += images[b * D + d] === 1 ? -Math.log1p(Math.exp(-a)) : -Math.log1p(Math.exp(a));
        }
        logs.push(lp);
      }
    }
    const max = Math.max(...logs);
    out[b] = -(max + Math.log(logs.reduce((s, v) => s + Math.exp(v - max), 0))) / Math.LN2;
  }
  return out;
}

/** The k-particle importance-sampled bound E[−log2((1/k) Σ p(x, z_i)/q(z_i|x))], independent z_i ~ q, by Monte Carlo
 * in float64 from the model's own networks (posterior from the coder, decoder from the model's kernel). */
function isBoundBits(model: SyntheticLatentModel, images: Uint8Array, k: number, draws: number): number {
  const op = model.coding.decoder.ops[0] as { kernel: Float32Array; bias: Float32Array; units: number };
  const D = op.units;
  const L = model.coding.latentDim;
  const count = images.length / D;
  const q = latentCoder(model.coding, engine, resolveSettings({}, 'binary')).posterior(images, count);
  const rnd = mulberry32(11);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  let total = 0;
  for (let b = 0; b < count; b++) {
    for (let r = 0; r < draws; r++) {
      const logW: number[] = [];
      for (let i = 0; i < k; i++) {
        let lw = 0;
        const z = new Float64Array(L);
        for (let l = 0; l < L; l++) {
          const e = normal();
          z[l] = q.mean[b * L + l]! + q.std[b * L + l]! * e;
          lw += -0.5 * z[l]! * z[l]! + 0.5 * e * e + Math.log(q.std[b * L + l]!);
        }
        for (let d = 0; d < D; d++) {
          let a = op.bias[d]!;
          for (let l = 0; l < L; l++) a += op.kernel[l * D + d]! * z[l]!;
          lw += images[b * D + d] === 1 ? -Math.log1p(Math.exp(-a)) : -Math.log1p(Math.exp(a));
        }
        logW.push(lw);
      }
      const max = Math.max(...logW);
      total += -(max + Math.log(logW.reduce((s, v) => s + Math.exp(v - max), 0) / k)) / Math.LN2;
    }
  }
  return total / (count * draws);
}

function chunkBits(model: SyntheticLatentModel, images: Uint8Array, count: number, settings: BitsBackSettings): number {
  const coder = latentCoder(model.coding, engine, settings);
  const chunk = encodeLatentChunk(coder, images, count, settings);
  expect(decodeLatentChunk(coder, chunk, count, settings)).toEqual(images);
  return chunk.message.length * 8;
}

describe('BB-CIS (coupled importance-sampled bits-back)', () => {
  it('round-trips exactly, binary and 8-bit, for several particle counts and lane counts', () => {
    for (const [make, k, lanes] of [
      [linearBernoulliModel, 2, 4],
      [linearBernoulliModel, 7, 8],
      [linearLogisticModel, 5, 3],
    ] as const) {
      const model = make({ latentDim: 3, pixelsPerImage: 20, seed: k });
      const settings = resolveSettings({ lanes, particles: k }, model.coding.pixels);
      const count = 60;
      chunkBits(model, model.sample(count, k + 1), count, settings);
    }
  });

  it('round-trips exactly for random models, data, particle counts, lanes and precisions (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.record({
          binary: fc.boolean(),
          latentDim: fc.integer({ min: 1, max: 4 }),
          pixels: fc.integer({ min: 2, max: 24 }),
          seed: fc.integer({ min: 0, max: 1000 }),
          k: fc.integer({ min: 2, max: 12 }),
          lanes: fc.integer({ min: 1, max: 6 }),
          count: fc.integer({ min: 1, max: 30 }),
          bucketBits: fc.integer({ min: 4, max: 12 }),
          extra: fc.integer({ min: 2, max: 14 }), // posterior precision above the bucket bits
        }),
        (c) => {
          const make = c.binary ? linearBernoulliModel : linearLogisticModel;
          const model = make({ latentDim: c.latentDim, pixelsPerImage: c.pixels, seed: c.seed });
          const settings = resolveSettings({ lanes: c.lanes, particles: c.k, bucketBits: c.bucketBits, posteriorPrecision: Math.min(30, c.bucketBits + c.extra), seed: c.seed }, model.coding.pixels);
          chunkBits(model, model.sample(c.count, c.seed + 1), c.count, settings);
        },
      ),
      { numRuns: 40, seed: 21 },
    );
  });

  it("scores images for the weights within 0.01 nats of the codec's own quantised log-probabilities (binary, 8-bit)", () => {
    for (const model of [
      linearBernoulliModel({ latentDim: 3, pixelsPerImage: 40, seed: 1 }),
      linearLogisticModel({ latentDim: 3, pixelsPerImage: 40, seed: 2 }),
    ]) {
      const settings = resolveSettings({ likelihoodPrecision: 28 }, model.coding.pixels);
      const coder = latentCoder(model.coding, engine, settings);
      const images = model.sample(6, 3);
      // Latents near each image's posterior mean (where importance weights are computed), two rows per image.
      const q = coder.posterior(images, 6);
      const z = Float32Array.from({ length: 12 * 3 }, (_, i) => q.mean[Math.floor(i / 6) * 3 + (i % 3)]! + 0.3 * Math.sin(i * 1.3));
      const fast = coder.logLikelihoods(z, 12, images, 2); // rows 2b, 2b+1 score image b
      const repeated = new Uint8Array(12 * 40);
      for (let r = 0; r < 12; r++) repeated.set(images.subarray(Math.floor(r / 2) * 40, (Math.floor(r / 2) + 1) * 40), r * 40);
      const exact = coder.observation(z, 12).logProb(repeated);
      for (let r = 0; r < 12; r++) expect(Math.abs(fast[r]! - exact[r]!)).toBeLessThan(0.01);
    }
  });

  it('codes below the ELBO, towards −log p(x): the rate falls with k and stays above the exact NLL', () => {
    const model = linearBernoulliModel({ latentDim: 2, pixelsPerImage: 48, seed: 3, weightScale: 3 });
    const count = 200;
    const images = model.sample(count, 5);
    const nll = exactNllBits(model, images).reduce((a, b) => a + b, 0) / count;
    const elbo = model.negElboBits(images).reduce((a, b) => a + b, 0) / count;
    const ks = [1, 4, 32];
    const rates = ks.map((k) => chunkBits(model, images, count, resolveSettings({ lanes: 8, particles: k }, 'binary')) / count);
    const bounds = ks.map((k) => isBoundBits(model, images, k, 4));
    // The Monte-Carlo bound with one particle is the ELBO (checks the estimator).
    expect(Math.abs(bounds[0]! - elbo)).toBeLessThan(0.1);
    // Coded rates fall with k, each within the container's per-image overhead (BB-ANS's own: ~0.55 bits here) of its
    // bound (coupled particles do at least as well as independent ones), and never below −log2 p(x).
    expect(rates[1]!).toBeLessThan(rates[0]! - 0.5);
    expect(rates[2]!).toBeLessThan(rates[1]! - 0.5);
    ks.forEach((_, i) => {
      expect(rates[i]! - bounds[i]!).toBeLessThan(0.8);
      expect(rates[i]!).toBeGreaterThan(nll);
    });
    // Most of the gap between the ELBO and the 32-particle bound is gained.
    expect(rates[0]! - rates[2]!).toBeGreaterThan(0.8 * (bounds[0]! - bounds[2]!));
  });
});
