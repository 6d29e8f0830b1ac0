import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  autoregressiveBernoulli,
  autoregressiveNllBits,
  decodeAutoregressive,
  encodeAutoregressive,
  type AutoregressiveBernoulliModel,
} from './autoregressive';
import { realDigits } from './mnist-digits.test-helper';
import { createMessage, flatten, messageBits, unflatten } from './rans';
import { mulberry32 } from '@gm/core';

/**
 * A MADE in plain JavaScript (one hidden layer, direct connection): degrees from the order, masks by the MADE rules,
 * masked terms skipped so future inputs cannot change a conditional by a single bit.
 */
function jsMade(D: number, H: number, seed: number, scale = 2): AutoregressiveBernoulliModel {
  const rand = mulberry32(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const order = Array.from({ length: D }, (_, i) => i);
  for (let i = D - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const deg = new Int32Array(D);
  order.forEach((d, k) => (deg[d] = k));
  const hDeg = Int32Array.from({ length: H }, () => Math.floor(rand() * Math.max(1, D - 1)));
  const W1 = Float64Array.from({ length: D * H }, () => scale * gauss());
  const W2 = Float64Array.from({ length: H * D }, () => scale * gauss());
  const V = Float64Array.from({ length: D * D }, () => scale * gauss());
  const b = Float64Array.from({ length: D }, () => gauss());
  return {
    dims: D,
    order,
    conditionals(x, batch) {
      const out = new Float32Array(batch * D);
      const h = new Float64Array(H);
      for (let r = 0; r < batch; r++) {
        for (let j = 0; j < H; j++) {
          let a = 0;
          for (let i = 0; i < D; i++) if (hDeg[j]! >= deg[i]!) a += x[r * D + i]! * W1[i * H + j]!;
          h[j] = Math.tanh(a);
        }
        for (let d = 0; d < D; d++) {
          let a = b[d]!;
          for (let j = 0; j < H; j++) if (deg[d]! > hDeg[j]!) a += h[j]! * W2[j * D + d]!;
          for (let i = 0; i < D; i++) if (deg[d]! > deg[i]!) a += x[r * D + i]! * V[i * D + d]!;
          out[r * D + d] = 1 / (1 + Math.exp(-a));
        }
      }
      return out;
    },
  };
}

describe('autoregressive Bernoulli codec', () => {
  it('round-trips exactly through bytes for random MADEs, orders, batches and images (property, 150 cases)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 8, max: 31 }),
        (D, H, batch, seed, precision) => {
          const model = jsMade(D, H, seed);
          const rand = mulberry32(seed ^ 0x5bd1e995);
          const images = Uint8Array.from({ length: batch * D }, () => (rand() < 0.5 ? 1 : 0));
          const codec = autoregressiveBernoulli(model, batch, { precision });
          const m = codec.push(createMessage(1, { onEmpty: 'throw' }), images);
          const [m2, back] = codec.pop(unflatten(flatten(m), { onEmpty: 'throw' }));
          expect(Array.from(back)).toEqual(Array.from(images));
          expect(m2.size).toBe(0);
        },
      ),
      { numRuns: 150, seed: 8 },
    );
  });

  it('a model that peeks at values not yet decoded breaks decoding (the round-trip test has power)', () => {
    const D = 8;
    const cheat: AutoregressiveBernoulliModel = {
      dims: D,
      conditionals: (x, batch) => Float32Array.from({ length: batch * D }, (_, i) => (x[(i + 1) % x.length] === 1 ? 0.9 : 0.1)),
    };
    const rand = mulberry32(3);
    const images = Uint8Array.from({ length: 4 * D }, () => (rand() < 0.5 ? 1 : 0));
    let broken = false;
    try {
      broken = decodeAutoregressive(encodeAutoregressive(images, cheat, { batch: 4 }), cheat, 4, { batch: 4 }).some((v, i) => v !== images[i]);
    } catch {
      broken = true;
    }
    expect(broken).toBe(true);
  });

  it('on real binarized digits the rate equals the model NLL within 0.5%, and the bytes decode exactly', () => {
    // An autoregressive model fitted to digits: P(pixel | left, up-left, up, up-right neighbours), 16 contexts,
    // Laplace-smoothed counts from 60 training digits per class; coded: 10 other digits per class.
    const all = realDigits(70);
    const W = 28;
    const D = 784;
    const train: number[] = [];
    const test: number[] = [];
    for (let c = 0; c < 10; c++) for (let i = 0; i < 70; i++) (i < 60 ? train : test).push(c * 70 + i);
    const px = (img: ArrayLike<number>, base: number, r: number, c: number): number =>
      r < 0 || c < 0 || c >= W ? 0 : (img[base + r * W + c] as number);
    const context = (img: ArrayLike<number>, base: number, d: number): number => {
      const r = Math.floor(d / W);
      const c = d % W;
      return px(img, base, r, c - 1) | (px(img, base, r - 1, c - 1) << 1) | (px(img, base, r - 1, c) << 2) | (px(img, base, r - 1, c + 1) << 3);
    };
    const ones = new Float64Array(16 * D).fill(1);
    const total = new Float64Array(16 * D).fill(2);
    for (const n of train) {
      for (let d = 0; d < D; d++) {
        const k = context(all, n * D, d) * D + d;
        ones[k]! += all[n * D + d]!;
        total[k]! += 1;
      }
    }
    const model: AutoregressiveBernoulliModel = {
      dims: D,
      conditionals(x, batch) {
        const out = new Float32Array(batch * D);
        for (let b = 0; b < batch; b++) for (let d = 0; d < D; d++) {
          const k = context(x, b * D, d) * D + d;
          out[b * D + d] = ones[k]! / total[k]!;
        }
        return out;
      },
    };
    const images = new Uint8Array(test.length * D);
    test.forEach((n, j) => images.set(all.subarray(n * D, (n + 1) * D), j * D));
    const nll = autoregressiveNllBits(model, images, 50).reduce((a, v) => a + v, 0);
    const codec = autoregressiveBernoulli(model, test.length);
    const m = codec.push(createMessage(1, { onEmpty: 'throw' }), images);
    const rate = messageBits(m);
    expect(Math.abs(rate - nll) / nll).toBeLessThan(0.005);
    // Sanity on the model: far below 1 bit/pixel on digits (so the rate is not trivially equal).
    expect(nll / images.length).toBeLessThan(0.25);
    const bytes = encodeAutoregressive(images, model, { batch: 64 });
    expect(Math.abs(bytes.length * 8 - nll) / nll).toBeLessThan(0.005);
    expect(Array.from(decodeAutoregressive(bytes, model, test.length, { batch: 64 }))).toEqual(Array.from(images));
  });

  it('rejects bad models and inputs with clear errors', () => {
    const model = jsMade(4, 3, 1);
    expect(() => autoregressiveBernoulli({ ...model, order: [0, 1, 1, 2] }, 1)).toThrow(/order must be a permutation/);
    expect(() => autoregressiveBernoulli(model, 0)).toThrow(/batch must be a positive integer/);
    expect(() => autoregressiveBernoulli(model, 1, { precision: 40 })).toThrow(/precision/);
    expect(() => autoregressiveBernoulli(model, 1).push(createMessage(1), [0, 1, 2, 0])).toThrow(/not 0 or 1/);
    const short: AutoregressiveBernoulliModel = { dims: 4, conditionals: () => new Float32Array(3) };
    expect(() => autoregressiveBernoulli(short, 1).push(createMessage(1), [0, 1, 1, 0])).toThrow(/must return 4 probabilities/);
    const bytes = encodeAutoregressive([1, 0, 1, 1, 0, 0, 1, 0], model, { batch: 1 });
    expect(() => decodeAutoregressive(bytes, model, 1, { batch: 1 })).toThrow(/left after decoding/);
  });
});
