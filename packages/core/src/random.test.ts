import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mulberry32, permutation, randomInt, randomNormal, toRng } from './random.js';
import { GmError } from './errors.js';

describe('mulberry32', () => {
  it('gives the same stream for a seed on every run (pinned values) and different streams for other seeds', () => {
    const rng = mulberry32(42);
    expect(rng()).toBe(0.6011037519201636);
    expect([rng(), rng()]).toEqual([0.44829055899754167, 0.8524657934904099]);
    expect(mulberry32(43)()).not.toBe(0.6011037519201636);
  });

  it('stays in [0, 1) and has a uniform mean', () => {
    const rng = mulberry32(7);
    let sum = 0;
    for (let i = 0; i < 100_000; i++) {
      const u = rng();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
    }
    expect(Math.abs(sum / 100_000 - 0.5)).toBeLessThan(0.005);
  });

  it('refuses a non-finite seed with a GmError naming the argument', () => {
    expect(() => mulberry32(Number.NaN)).toThrow(GmError);
    expect(() => mulberry32(Number.NaN)).toThrow('mulberry32: seed must be a finite number, got NaN');
  });

  it('toRng passes a generator through and seeds a new one from a number', () => {
    const rng = mulberry32(1);
    expect(toRng(rng)).toBe(rng);
    expect(toRng(1)()).toBe(mulberry32(1)());
  });

  it('randomInt and randomNormal', () => {
    const rng = mulberry32(3);
    const counts = new Array<number>(5).fill(0);
    for (let i = 0; i < 50_000; i++) counts[randomInt(rng, 5)]!++;
    for (const c of counts) expect(Math.abs(c / 50_000 - 0.2)).toBeLessThan(0.01);
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < 50_000; i++) {
      const v = randomNormal(rng);
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / 50_000)).toBeLessThan(0.02);
    expect(Math.abs(s2 / 50_000 - 1)).toBeLessThan(0.03);
  });
});

describe('permutation', () => {
  it('is pinned for a seed', () => {
    expect([...permutation(5, 1)]).toEqual([4, 2, 1, 0, 3]);
  });

  it('is a permutation of 0..n−1 for any n and seed (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.integer(), (n, seed) => {
        const p = permutation(n, seed);
        expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a bad size', () => {
    expect(() => permutation(-1, 0)).toThrow('permutation: n must be a non-negative integer, got -1');
  });
});
