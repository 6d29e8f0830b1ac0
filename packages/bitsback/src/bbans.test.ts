import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@gm/core';
import { bbAns, decodeLatentChunk, encodeLatentChunk, expandSchedule, resolveSettings, type BitsBackSettings } from './bbans';
import { categorical, type Codec } from './codecs';
import { latentCoder, type LatentCoder } from './coding/latent';
import { createDenseEngine } from './exact/dense';
import { realDigits } from './mnist-digits.test-helper';
import { createMessage, flatten, messageBits, stackUnits, unflatten } from './rans';
import { linearBernoulliModel, linearLogisticModel, type SyntheticLatentModel } from './testing/synthetic';

const D = 64;
const engine = createDenseEngine();

function coderOf(model: SyntheticLatentModel, settings: BitsBackSettings): LatentCoder {
  return latentCoder(model.coding, engine, settings);
}

/** Encodes then decodes a chunk through its flattened bytes; returns the chunk. */
function roundTrip(coder: LatentCoder, images: Uint8Array, settings: BitsBackSettings) {
  const count = images.length / coder.pixelsPerImage;
  const chunk = encodeLatentChunk(coder, images, count, settings);
  expect(decodeLatentChunk(coder, chunk, count, settings)).toEqual(images);
  return chunk;
}

describe('bbAns (the codec combinator)', () => {
  // A discrete toy model small enough for the exact −ELBO: z ∈ 0..3, x ∈ 0..7, tables at 12 bits.
  const P = 12;
  const prior = [1024, 1024, 1024, 1024];
  const lik = [
    [2000, 1000, 500, 250, 125, 100, 60, 61],
    [61, 60, 100, 125, 250, 500, 1000, 2000],
    [512, 512, 512, 512, 512, 512, 512, 512],
    [100, 2000, 100, 1000, 100, 500, 100, 196],
  ];
  // q(z|x) ∝ p(x|z) p(z), quantised (any q gives a valid code; this one is the true posterior, so −ELBO = −log p(x)).
  const post = Array.from({ length: 8 }, (_, x) => {
    const w = lik.map((row) => row[x]!);
    const total = w.reduce((a, b) => a + b, 0);
    const f = w.map((v) => Math.max(1, Math.floor((v / total) * 4096)));
    f[f.indexOf(Math.max(...f))]! += 4096 - f.reduce((a, b) => a + b, 0);
    return f;
  });
  const codec: Codec<number> = bbAns({
    prior: categorical(prior, P),
    likelihood: (z: number) => categorical(lik[z]!, P),
    posterior: (x: number) => categorical(post[x]!, P),
  });

  it('round-trips, leaves the message it is given unchanged, and undoes exactly', () => {
    const rnd = mulberry32(4);
    let m = createMessage(1, { seed: 9 });
    const xs = Array.from({ length: 3000 }, () => Math.floor(rnd() * 8));
    const start = flatten(m);
    const kept = m;
    for (const x of xs) m = codec.push(m, x);
    expect(flatten(kept)).toEqual(start);
    let back = unflatten(flatten(m), { seed: 9, onEmpty: 'throw' });
    for (let i = xs.length - 1; i >= 0; i--) {
      let x: number;
      [back, x] = codec.pop(back);
      expect(x).toBe(xs[i]);
    }
    // Everything taken back: only the clean bits the first pops drew are left, and they are the seed's.
    expect(back.size).toBe(m.cleanUnits);
  });

  it("costs the model's −ELBO per symbol (closed form over the toy tables)", () => {
    // x drawn from the model: the mean cost tends to H(X) = E[−log2 p(x)], the true posterior making the ELBO tight.
    const rnd = mulberry32(11);
    const pick = (f: number[]): number => {
      let u = rnd() * 4096;
      for (let i = 0; i < f.length; i++) if ((u -= f[i]!) < 0) return i;
      return f.length - 1;
    };
    let m = createMessage(1, { seed: 1 });
    const n = 20_000;
    let negElbo = 0;
    for (let i = 0; i < n; i++) {
      const x = pick(lik[pick(prior)]!);
      m = codec.push(m, x);
      // −ELBO(x) = E_q[−log p(x|z) − log p(z) + log q(z|x)], exact over the four z.
      for (let z = 0; z < 4; z++) {
        const q = post[x]![z]! / 4096;
        negElbo += q * (-Math.log2(lik[z]![x]! / 4096) - Math.log2(prior[z]! / 4096) + Math.log2(q));
      }
    }
    const bits = messageBits(m) - 16 * m.cleanUnits;
    expect(bits / negElbo).toBeGreaterThan(0.995);
    expect(bits / negElbo).toBeLessThan(1.005);
  });
});

describe('settings', () => {
  it('default to 32 lanes, 16 with particles (their networks run on lanes × k rows); an explicit lane count stands', () => {
    expect(resolveSettings({}, 'binary').lanes).toBe(32);
    expect(resolveSettings({ particles: 50 }, 'binary').lanes).toBe(16);
    expect(resolveSettings({ particles: 5, lanes: 40 }, 'u8').lanes).toBe(40);
    expect(() => resolveSettings({ lanes: 0 }, 'binary')).toThrow(/lanes must be an integer in \[1, 65536\], got 0/);
  });
});

describe('BB-ANS chunks with a Gaussian-latent coding model', () => {
  it('round-trip random binary images exactly, whatever the lane count', () => {
    const model = linearBernoulliModel({ latentDim: 3, pixelsPerImage: D, seed: 5 });
    const rnd = mulberry32(77);
    const count = 150;
    // Uniformly random pixels: nothing like the model's samples, so this exercises badly fitting posteriors too.
    const images = Uint8Array.from({ length: count * D }, () => (rnd() < 0.5 ? 1 : 0));
    for (const lanes of [1, 3, 16, 64]) {
      const s = resolveSettings({ lanes }, 'binary');
      roundTrip(coderOf(model, s), images, s);
    }
  });

  it('round-trip real binarized and 8-bit MNIST digits exactly', () => {
    const bin = realDigits(40, [2, 7]);
    const sb = resolveSettings({ lanes: 16 }, 'binary');
    roundTrip(coderOf(linearBernoulliModel({ latentDim: 8, pixelsPerImage: 784, seed: 4, weightScale: 0.5 }), sb), bin, sb);
    const u8 = realDigits(10, [2, 7], false);
    const su = resolveSettings({ lanes: 8 }, 'u8');
    roundTrip(coderOf(linearLogisticModel({ latentDim: 8, pixelsPerImage: 784, seed: 4 }), su), u8, su);
  });

  it('code within 1% of the exact −ELBO on samples of the model, with a start-up of one image', () => {
    const model = linearBernoulliModel({ latentDim: 4, pixelsPerImage: D, seed: 3 });
    const count = 2000;
    const images = model.sample(count, 7);
    const negElbo = model.negElboBits(images).reduce((a, b) => a + b, 0);
    const s = resolveSettings({ lanes: 32 }, 'binary');
    const coder = coderOf(model, s);
    const chunk = roundTrip(coder, images, s);
    const ratio = (8 * chunk.message.length) / negElbo;
    expect(ratio).toBeLessThan(1.01);
    // The discretised latents cannot beat the continuous bound by much either (a wrong bits-back sign would).
    expect(ratio).toBeGreaterThan(0.99);
    // Start-up costs about one image: the chunk draws barely more clean bits than a chunk of only its first image,
    // although 32 lanes end up open — later lanes are paid for by bits earlier images pushed.
    const first = encodeLatentChunk(coder, images.subarray(0, D), 1, s);
    expect(chunk.cleanUnits).toBeLessThanOrEqual(first.cleanUnits + 3);
  });

  it('batch the networks over lanes: about count / lanes posterior evaluations once warmed up', () => {
    const model = linearBernoulliModel({ latentDim: 2, pixelsPerImage: D, seed: 8 });
    const s = resolveSettings({ lanes: 32 }, 'binary');
    const inner = coderOf(model, s);
    let calls = 0;
    const counting: LatentCoder = { ...inner, posterior: (x, b) => (calls++, inner.posterior(x, b)), observation: (z, b) => inner.observation(z, b) };
    const count = 640;
    const images = model.sample(count, 1);
    const chunk = encodeLatentChunk(counting, images, count, s);
    const steps = expandSchedule(chunk.warmup, count, s).length;
    expect(steps).toBeLessThan(count / 32 + 12);
    // One per step: the warm-up steps measure what they take back on the posterior codec they then code with.
    expect(calls).toBe(steps);
    calls = 0;
    decodeLatentChunk(counting, chunk, count, s);
    expect(calls).toBe(steps);
  });

  it('code 8-bit images losslessly with a discretised-logistic likelihood, near the −ELBO', () => {
    const model = linearLogisticModel({ latentDim: 4, pixelsPerImage: D, seed: 3 });
    const count = 200;
    const images = model.sample(count, 9);
    const negElbo = model.negElboBits(images).reduce((a, b) => a + b, 0);
    const s = resolveSettings({ lanes: 16 }, 'u8');
    const chunk = roundTrip(coderOf(model, s), images, s);
    const ratio = (8 * chunk.message.length) / negElbo;
    expect(ratio).toBeLessThan(1.015);
    expect(ratio).toBeGreaterThan(0.985);
  });

  it('fail cleanly, never with garbage, when the decoder has a different model', () => {
    const a = linearBernoulliModel({ latentDim: 3, pixelsPerImage: D, seed: 5 });
    const b = linearBernoulliModel({ latentDim: 3, pixelsPerImage: D, seed: 6 });
    const images = a.sample(100, 2);
    const s = resolveSettings({ lanes: 8 }, 'binary');
    const chunk = encodeLatentChunk(coderOf(a, s), images, 100, s);
    expect(() => decodeLatentChunk(coderOf(b, s), chunk, 100, s)).toThrow(/wrong model|corrupt|exhausted|cannot be closed/);
  });

  it('leave exactly the clean bits the encoder drew, and refuse bad settings', () => {
    const model = linearBernoulliModel({ latentDim: 3, pixelsPerImage: D, seed: 5 });
    const s = resolveSettings({ lanes: 4, seed: 77 }, 'binary');
    const chunk = encodeLatentChunk(coderOf(model, s), model.sample(20, 3), 20, s);
    expect(chunk.cleanUnits).toBeGreaterThan(0);
    const m = unflatten(chunk.message);
    expect(stackUnits(m).length).toBeGreaterThanOrEqual(chunk.cleanUnits);
    expect(() => resolveSettings({ posteriorPrecision: 10 }, 'binary')).toThrow(/posteriorPrecision/);
    expect(() => resolveSettings({ likelihoodPrecision: 8 }, 'u8')).toThrow(/likelihoodPrecision/);
    expect(() => resolveSettings({ growth: 1.0005 }, 'binary')).toThrow(/growth/);
  });
});
