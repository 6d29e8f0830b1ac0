import { describe, expect, it } from 'vitest';
import { deriveSeed, SeedStream } from './seeds.js';

describe('deriveSeed', () => {
  it('is deterministic, 32-bit, and sensitive to every path element and its order', () => {
    expect(deriveSeed(1, 2, 3)).toBe(deriveSeed(1, 2, 3));
    const seen = new Set<number>();
    for (let e = 0; e < 50; e++) for (let b = 0; b < 50; b++) seen.add(deriveSeed(5, e, b));
    expect(seen.size).toBe(2500);
    expect(deriveSeed(1, 2, 3)).not.toBe(deriveSeed(1, 3, 2));
    expect(deriveSeed(1)).not.toBe(deriveSeed(1, 0));
    for (const v of seen) expect(Number.isInteger(v) && v >= 0 && v < 2 ** 32).toBe(true);
  });

  it('accepts fractional and huge seeds and tells them apart', () => {
    expect(deriveSeed(0.5)).not.toBe(deriveSeed(0.25));
    expect(deriveSeed(2 ** 40)).not.toBe(deriveSeed(2 ** 40 + 1));
    expect(() => deriveSeed(Number.POSITIVE_INFINITY)).toThrow('deriveSeed: seed must be a finite number');
  });
});

describe('SeedStream', () => {
  it('repeats for the same seed and never repeats a seed early', () => {
    const a = new SeedStream(9);
    const b = new SeedStream(9);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const s = a.next();
      expect(b.next()).toBe(s);
      seen.add(s);
    }
    expect(seen.size).toBe(1000);
  });
});
