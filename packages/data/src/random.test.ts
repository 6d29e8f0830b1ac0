import { describe, expect, it } from 'vitest';
import { mulberry32, permutation, randomNormal } from './random.js';

/** Mulberry32 written independently with BigInt arithmetic, to check the 32-bit Math.imul version. */
function referenceMulberry32(seed: number): () => number {
  const M = 0xffffffffn;
  let a = BigInt(seed >>> 0);
  return () => {
    a = (a + 0x6d2b79f5n) & M;
    let t = a;
    t = ((t ^ (t >> 15n)) * (t | 1n)) & M;
    t = (t ^ (t + (((t ^ (t >> 7n)) * (t | 61n)) & M))) & M;
    return Number((t ^ (t >> 14n)) & M) / 4294967296;
  };
}

describe('mulberry32', () => {
  it('matches an independent BigInt implementation', () => {
    for (const seed of [0, 1, 42, 0xdeadbeef, 2 ** 32 - 1]) {
      const a = mulberry32(seed);
      const b = referenceMulberry32(seed);
      for (let i = 0; i < 1000; i++) expect(a()).toBe(b());
    }
  });

  it('is reproducible, seed-dependent and roughly uniform', () => {
    const a = Array.from({ length: 5 }, mulberry32(7));
    expect(Array.from({ length: 5 }, mulberry32(7))).toEqual(a);
    expect(Array.from({ length: 5 }, mulberry32(8))).not.toEqual(a);
    const rng = mulberry32(123);
    const bins = new Array<number>(10).fill(0);
    const n = 100_000;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const v = rng();
      if (!(v >= 0 && v < 1)) outside++;
      else bins[Math.floor(v * 10)]! += 1;
    }
    expect(outside).toBe(0);
    // Chi-square with 9 degrees of freedom: 27.9 is the 0.999 quantile.
    const chi2 = bins.reduce((s, c) => s + (c - n / 10) ** 2 / (n / 10), 0);
    expect(chi2).toBeLessThan(27.9);
  });

  it('rejects a non-finite seed', () => {
    expect(() => mulberry32(Number.NaN)).toThrow(/seed/);
  });

  it('gives standard normals with mean 0 and variance 1', () => {
    const rng = mulberry32(5);
    let s = 0;
    let s2 = 0;
    const n = 50_000;
    for (let i = 0; i < n; i++) {
      const z = randomNormal(rng);
      s += z;
      s2 += z * z;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.03);
  });
});

describe('permutation', () => {
  it('is a reproducible permutation that depends on the seed', () => {
    const p = permutation(1000, 3);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(permutation(1000, 3)).toEqual(p);
    expect(permutation(1000, 4)).not.toEqual(p);
    expect(permutation(0, 1).length).toBe(0);
  });

  it('puts each element at each position about equally often', () => {
    const counts = new Array<number>(4).fill(0);
    const rng = mulberry32(9);
    for (let i = 0; i < 8000; i++) counts[permutation(4, rng).indexOf(0)]! += 1;
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(150);
  });
});
