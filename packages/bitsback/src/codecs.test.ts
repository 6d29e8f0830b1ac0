import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bernoulli,
  bernoulliBatch,
  bernoulliFrequency,
  bucketCentres,
  categorical,
  diagGaussianBucket,
  diagGaussianBuckets,
  discretizedLogistic,
  discretizedLogisticBatch,
  parallel,
  quantizeFrequencies,
  repeat,
  searchCdfFrom,
  serial,
  stdNormalBuckets,
  stdNormalPrior,
  uniform,
  type Codec,
} from './codecs';
import { exactNormalCdf } from './exact/math';
import { createMessage, flatten, frequencyTable, messageBits, peek, popCommit, push, unflatten, type Message } from './rans';

/** Push then pop through flattened bytes; the decoder side refuses to invent bits. */
function roundTrip<S>(codec: Codec<S>, s: S, lanes = 1): { back: S; bits: number } {
  const m = codec.push(createMessage(lanes, { onEmpty: 'throw' }), s);
  const bits = messageBits(m);
  const m2 = unflatten(flatten(m), { onEmpty: 'throw' });
  const [m3, back] = codec.pop(m2);
  expect(m3.size).toBe(0);
  return { back, bits };
}

describe('codecs', () => {
  it('Bernoulli round-trips for any probability, extremes included, and costs −log2 P (property, 1500 cases)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 1, 1e-30, 1 - 1e-16)), fc.boolean()), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.integer({ min: 1, max: 31 }),
        (items, precision) => {
          const probs = items.map(([p]) => p);
          const bits = items.map(([, b]) => (b ? 1 : 0));
          const codec = bernoulliBatch(probs, 1, probs.length, precision);
          const { back, bits: cost } = roundTrip(codec, bits);
          expect(Array.from(back)).toEqual(bits);
          // Exact information: Σ −log2(freq / 2^P) with the documented quantisation.
          let want = 0;
          for (let i = 0; i < probs.length; i++) {
            const f1 = Math.min(2 ** precision - 1, Math.max(1, Math.round(probs[i]! * 2 ** precision)));
            want -= Math.log2((bits[i] === 1 ? f1 : 2 ** precision - f1) / 2 ** precision);
          }
          // rANS codes within log2(1 + 2^P / x) ≤ 1.5 · 2^(P − 32) bits of that per symbol (heads x ≥ 2^32).
          expect(Math.abs(cost - want)).toBeLessThan(probs.length * 1.5 * 2 ** (precision - 32) + 1e-9);
        },
      ),
      { numRuns: 1500, seed: 11 },
    );
  });

  it('Categorical from quantised weights round-trips (property, 1000 cases)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }).chain((p) =>
          fc.tuple(
            fc.constant(p),
            fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: Math.min(64, 2 ** p) }),
            fc.array(fc.nat(), { maxLength: 40 }),
          ),
        ),
        ([p, w, raw]) => {
          const freqs = quantizeFrequencies(w, p);
          expect(freqs.reduce((a, b) => a + b, 0)).toBe(2 ** p);
          expect(Math.min(...freqs)).toBeGreaterThanOrEqual(1);
          const c = repeat(categorical(frequencyTable(freqs, p)), raw.length);
          const syms = raw.map((v) => v % w.length);
          expect(roundTrip(c, syms).back).toEqual(syms);
        },
      ),
      { numRuns: 1000, seed: 12 },
    );
  });

  it('buckets are equiprobable under N(0, 1); the prior costs exactly bucketBits per latent', () => {
    const { edges, centres } = stdNormalBuckets(8);
    for (let i = 0; i < 256; i++) {
      expect(Math.abs(exactNormalCdf(edges[i + 1]!) - exactNormalCdf(edges[i]!) - 1 / 256)).toBeLessThan(1e-13);
      expect(centres[i]).toBeGreaterThan(edges[i]!);
      expect(centres[i]).toBeLessThan(edges[i + 1]!);
    }
    const z = [0, 255, 17, 128];
    const { back, bits } = roundTrip(stdNormalPrior(8, 2, 2), z, 2);
    expect(Array.from(back)).toEqual(z);
    expect(bits).toBeCloseTo(32, 6);
  });

  it('diagonal-Gaussian posterior round-trips for any mean/std, extreme ones included (property, 1500 cases)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 14 }).chain((B) =>
          fc.tuple(
            fc.constant(B),
            fc.integer({ min: B + 2, max: 32 }),
            fc.array(
              fc.tuple(
                fc.oneof(fc.double({ min: -5, max: 5, noNaN: true }), fc.constantFrom(-1e6, 1e6, 0)),
                fc.oneof(fc.double({ min: 1e-6, max: 10, noNaN: true }), fc.constantFrom(1e-30, 1e-9, 1e6)),
                fc.nat(),
              ),
              { minLength: 1, maxLength: 12 },
            ),
          ),
        ),
        ([B, P, items]) => {
          const mean = items.map(([m]) => m);
          const std = items.map(([, s]) => s);
          const z = items.map(([, , v]) => v % 2 ** B);
          const codec = diagGaussianBuckets(mean, std, 1, items.length, B, P);
          expect(Array.from(roundTrip(codec, z).back)).toEqual(z);
        },
      ),
      { numRuns: 1500, seed: 13 },
    );
  });

  it('posterior bucket probabilities follow the Gaussian: popping clean bits samples q(z|x)', () => {
    // Pop many latents from N(0.7, 0.2²) using clean bits; their bucket centres have the right mean and std.
    const n = 4000;
    const codec = diagGaussianBuckets(new Array(n).fill(0.7), new Array(n).fill(0.2), 1, n, 12, 28);
    const [, z] = codec.pop(createMessage(1, { seed: 9 }));
    const v = bucketCentres(z, 12);
    const mean = v.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    expect(Math.abs(mean - 0.7)).toBeLessThan(0.02);
    expect(Math.abs(sd - 0.2)).toBeLessThan(0.015);
  });

  it('discretised logistic (and mixtures) round-trip every pixel value under random params (property, 800 cases)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 10, max: 32 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: -12, max: 3, noNaN: true }), fc.double({ min: -5, max: 5, noNaN: true })), {
          minLength: 3,
          maxLength: 24,
        }),
        (C, P, items) => {
          const pix = Math.floor(items.length / C);
          const used = items.slice(0, pix * C);
          const codec = discretizedLogisticBatch(
            { mean: used.map((t) => t[1]), logScale: used.map((t) => t[2]), minLogScale: -7, logits: used.map((t) => t[3]), components: C },
            1,
            pix,
            P,
          );
          const x = used.filter((_, i) => i % C === 0).map((t) => t[0]);
          expect(Array.from(roundTrip(codec, x).back)).toEqual(x);
        },
      ),
      { numRuns: 800, seed: 14 },
    );
  });

  it('discretised logistic costs what the continuous logistic says for a well-resolved pixel', () => {
    // Pixel 100 under mean at its centre, scale 0.05: P ≈ σ(+1/255/s) − σ(−1/255/s).
    const mean = (2 * 100) / 255 - 1;
    const { bits } = roundTrip(discretizedLogistic(mean, Math.log(0.05), -7, 24), 100);
    const s = 0.05;
    const p = 1 / (1 + Math.exp(-1 / 255 / s)) - 1 / (1 + Math.exp(1 / 255 / s));
    expect(Math.abs(bits + Math.log2(p))).toBeLessThan(1e-3);
  });

  it('combinators compose: serial, repeat and parallel over lanes', () => {
    const codec = serial([uniform(5), bernoulli(0.9), repeat(categorical([1, 3, 4], 3), 3), diagGaussianBucket(0.1, 0.5, 6, 16)] as const);
    const sym: [number, number, number[], number] = [17, 1, [2, 0, 1], 40];
    expect(roundTrip(codec as unknown as Codec<typeof sym>, sym).back).toEqual(sym);
    const lanes = parallel((l) => uniform(4 + l, l), 3);
    const m = lanes.push(createMessage(3), [3, 30, 60]);
    expect(m.size).toBe(0); // three lanes, three heads: nothing spills onto the stack
    expect(lanes.pop(unflatten(flatten(m)))[1]).toEqual([3, 30, 60]);
  });

  it('rejects symbols and parameters it cannot code, naming what was expected', () => {
    expect(() => bernoulliBatch([0.5], 1, 1).push(createMessage(1), [2])).toThrow(/outside 0..1/);
    expect(() => bernoulliBatch([0.5, 0.5], 1, 1)).toThrow(/expected 1 probabilities/);
    expect(() => diagGaussianBuckets([0], [0], 1, 1, 8, 16)).toThrow(/std must be positive/);
    expect(() => diagGaussianBuckets([0], [1], 1, 1, 8, 9)).toThrow(/posterior precision/);
    expect(() => categorical([1, 1], 1).push(createMessage(1) as Message, 2)).toThrow(/cannot be coded/);
    expect(() => discretizedLogisticBatch({ mean: [0], logScale: [NaN], minLogScale: -7 }, 1, 1)).toThrow(/not finite/);
  });
  it('bernoulliBatch (flat loops) writes and reads exactly the bits of element-by-element push / popCommit (property, 1000 cases)', () => {
    // The reference: the generic element codec's order and arithmetic (d outer, lanes inner; pop in reverse).
    const refPush = (m: Message, probs: number[], bits: number[], lanes: number, perLane: number, P: number, off: number): Message => {
      for (let d = 0; d < perLane; d++) {
        for (let l = 0; l < lanes; l++) {
          const i = l * perLane + d;
          const split = 2 ** P - bernoulliFrequency(probs[i]!, P);
          if (bits[i] === 0) m = push(m, off + l, 0, split, P);
          else m = push(m, off + l, split, 2 ** P - split, P);
        }
      }
      return m;
    };
    const refPop = (m: Message, probs: number[], lanes: number, perLane: number, P: number, off: number): [Message, number[]] => {
      const out = new Array<number>(lanes * perLane).fill(-1);
      for (let d = perLane - 1; d >= 0; d--) {
        for (let l = lanes - 1; l >= 0; l--) {
          const i = l * perLane + d;
          const split = 2 ** P - bernoulliFrequency(probs[i]!, P);
          const s = peek(m, off + l, P) >= split ? 1 : 0;
          m = popCommit(m, off + l, s === 0 ? 0 : split, s === 0 ? split : 2 ** P - split, P);
          out[i] = s;
        }
      }
      return [m, out];
    };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 31 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.boolean(),
        (lanes, perLane, off, P, seed, popFirst) => {
          let r = seed >>> 0;
          const rnd = (): number => ((r = (Math.imul(r, 1664525) + 1013904223) >>> 0) / 2 ** 32);
          const n = lanes * perLane;
          const probs = Array.from({ length: n }, () => [0, 1, 1e-12, 1 - 1e-12, NaN][Math.floor(rnd() * 12)] ?? rnd());
          const bits = probs.map((p) => (rnd() < (Number.isNaN(p) ? 0.5 : p) ? 1 : 0));
          const codec = bernoulliBatch(probs, lanes, perLane, P, off);
          // popFirst: pop from a fresh message (its stack runs dry: clean units are drawn), as bits-back does.
          const base = createMessage(lanes + off, { seed: seed & 0xffff, capacity: 16 });
          if (popFirst) {
            // Both pop from the same base: it is a value, so neither pop disturbs the other (or the pushes below).
            const [a, got] = codec.pop(base);
            const [b, want] = refPop(base, probs, lanes, perLane, P, off);
            expect(Array.from(got)).toEqual(want);
            expect(a.cleanUnits).toBe(b.cleanUnits);
            expect(flatten(a)).toEqual(flatten(b));
          }
          const a = codec.push(base, bits);
          const b = refPush(base, probs, bits, lanes, perLane, P, off);
          expect(flatten(a)).toEqual(flatten(b));
          const a2 = unflatten(flatten(a), { onEmpty: 'throw' });
          const b2 = unflatten(flatten(b), { onEmpty: 'throw' });
          const [a3, back] = codec.pop(a2);
          expect(Array.from(back)).toEqual(bits);
          const [b3, refBack] = refPop(b2, probs, lanes, perLane, P, off);
          expect(refBack).toEqual(bits);
          expect(flatten(a3)).toEqual(flatten(b3));
        },
      ),
      { numRuns: 1000, seed: 23 },
    );
    expect(() => bernoulliBatch([0.5], 1, 1, 16, 1).push(createMessage(1), [1])).toThrow(/lane 1 is closed or out of range/);
  });
  it('searchCdfFrom finds the binary search\'s symbol from any guess (property, 3000 cases)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 300 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.oneof(fc.integer({ min: -5, max: 310 }), fc.constantFrom(NaN, Infinity, -Infinity, 1e300), fc.double({ noNaN: false })),
        (gaps, u, guess) => {
          // cdf(0) = 0, non-decreasing (gaps of 0 allowed), cdf(alphabet) = total.
          const starts = [0];
          for (let k = 1; k < gaps.length; k++) starts.push(starts[k - 1]! + gaps[k]!);
          const total = starts[starts.length - 1]! + 1 + gaps[0]!;
          const model = { precision: 0, alphabet: gaps.length, cdf: (_i: number, b: number) => (b >= gaps.length ? total : starts[b]!) };
          const slot = Math.min(total - 1, Math.floor(u * total));
          let lo = 0;
          let hi = gaps.length - 1;
          while (lo < hi) {
            const mid = (lo + hi + 1) >>> 1;
            if (starts[mid]! <= slot) lo = mid;
            else hi = mid - 1;
          }
          expect(searchCdfFrom(model, 0, slot, guess)).toBe(lo);
        },
      ),
      { numRuns: 3000, seed: 29 },
    );
  });

  it('diagGaussianBuckets pops exactly the bucket of the documented quantised CDF (property, 400 cases)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 14 }).chain((B) => fc.tuple(fc.constant(B), fc.integer({ min: B + 2, max: 32 }))),
        fc.array(
          fc.tuple(fc.oneof(fc.double({ min: -6, max: 6, noNaN: true }), fc.constantFrom(-40, 40, 0)), fc.oneof(fc.double({ min: 1e-6, max: 5, noNaN: true }), fc.constantFrom(1e-12, 30))),
          { minLength: 1, maxLength: 12 },
        ),
        fc.integer({ min: 0, max: 0xffff }),
        ([B, P], params, seed) => {
          const mean = params.map(([m]) => m);
          const std = params.map(([, sd]) => sd);
          const { edges } = stdNormalBuckets(B);
          const K = 2 ** B;
          const M = 2 ** P;
          const cdf = (i: number, b: number): number =>
            b <= 0 ? 0 : b >= K ? M : Math.floor(exactNormalCdf((edges[b]! - mean[i]!) / Math.max(std[i]!, 1e-9)) * (M - 2 * K)) + 2 * b;
          const m = createMessage(1, { seed, capacity: 16 });
          let ref = m; // the same starting message: the codec's pop leaves m as it is
          const [popped, got] = diagGaussianBuckets(mean, std, 1, mean.length, B, P).pop(m);
          for (let d = mean.length - 1; d >= 0; d--) {
            const slot = peek(ref, 0, P);
            let lo = 0;
            let hi = K - 1;
            while (lo < hi) {
              const mid = (lo + hi + 1) >>> 1;
              if (cdf(d, mid) <= slot) lo = mid;
              else hi = mid - 1;
            }
            expect(got[d]).toBe(lo);
            ref = popCommit(ref, 0, cdf(d, lo), cdf(d, lo + 1) - cdf(d, lo), P);
          }
          expect(popped.cleanUnits).toBe(ref.cleanUnits);
          expect(flatten(popped)).toEqual(flatten(ref));
        },
      ),
      { numRuns: 400, seed: 31 },
    );
  });
});
