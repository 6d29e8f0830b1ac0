import { describe, expect, it } from 'vitest';
import { normalCdf, normalPpf, sigmoid } from './normal';

/** Marsaglia's Taylor series for Φ (absolute error ~1e-15): an independent reference. */
function marsaglia(x: number): number {
  let s = x;
  let t = 0;
  let b = x;
  const q = x * x;
  let i = 1;
  while (s !== t) {
    t = s;
    i += 2;
    b *= q / i;
    s = t + b;
  }
  return 0.5 + s * Math.exp(-0.5 * q - 0.9189385332046727);
}

describe('normal CDF and inverse', () => {
  it('normalCdf matches an independent series to 1e-14 and is symmetric', () => {
    for (let x = -7; x <= 7; x += 0.0137) {
      expect(Math.abs(normalCdf(x) - marsaglia(x))).toBeLessThan(1e-14);
      expect(Math.abs(normalCdf(x) + normalCdf(-x) - 1)).toBeLessThan(1e-15);
    }
    expect(normalCdf(0)).toBe(0.5);
    expect(normalCdf(-40)).toBe(0);
    // Known tail value: Φ(−10) = 7.619853024160527e-24 (relative accuracy in the far tail ~1e-8).
    expect(Math.abs(normalCdf(-10) / 7.619853024160527e-24 - 1)).toBeLessThan(1e-8);
  });

  it('is monotone on a fine grid (the quantised CDFs rely on it up to one slot)', () => {
    let prev = -1;
    let drops = 0;
    for (let x = -9; x <= 9; x += 1e-4) {
      const v = normalCdf(x);
      if (v < prev) drops++;
      prev = v;
    }
    expect(drops).toBe(0);
  });

  it('normalPpf inverts normalCdf to near double precision', () => {
    for (const p of [1e-300, 1e-20, 1e-9, 0.001, 0.02425, 0.1, 0.3, 0.5, 0.7, 0.97575, 0.999, 1 - 1e-12]) {
      const x = normalPpf(p);
      const back = p > 0.5 ? 1 - normalCdf(-x) : normalCdf(x);
      expect(Math.abs(back - p)).toBeLessThan(1e-14 * Math.max(p, 1e-300) + 1e-300 + (p > 0.5 ? 2e-16 : 0));
    }
    expect(normalPpf(0)).toBe(-Infinity);
    expect(normalPpf(1)).toBe(Infinity);
    expect(() => normalPpf(1.5)).toThrow(/probability/);
  });

  it('sigmoid is stable at the extremes', () => {
    expect(sigmoid(1000)).toBe(1);
    expect(sigmoid(-1000)).toBe(0);
    expect(sigmoid(0)).toBe(0.5);
    expect(Math.abs(sigmoid(-30) - 9.357622968840175e-14)).toBeLessThan(1e-25);
  });
});
