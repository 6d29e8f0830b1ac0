import { describe, expect, it } from 'vitest';
import { checkerboard, gaussianMixture, gaussianMixtureMeans, rings, twoMoons } from './toy.js';

describe('2-D toy datasets', () => {
  it('two moons lie on their half circles (noise 0), in balanced classes', () => {
    const { points, labels, count } = twoMoons(1000, { seed: 1, noise: 0 });
    expect(count).toBe(1000);
    let ones = 0;
    for (let i = 0; i < count; i++) {
      const x = points[2 * i]!;
      const y = points[2 * i + 1]!;
      if (labels[i] === 0) {
        expect(Math.hypot(x, y)).toBeCloseTo(1, 5);
        expect(y).toBeGreaterThanOrEqual(0);
      } else {
        ones++;
        expect(Math.hypot(x - 1, y - 0.5)).toBeCloseTo(1, 5);
        expect(y).toBeLessThanOrEqual(0.5);
      }
    }
    expect(ones).toBe(500);
  });

  it('are seeded: same seed same points, other seed other points', () => {
    expect(twoMoons(50, { seed: 3 }).points).toEqual(twoMoons(50, { seed: 3 }).points);
    expect(twoMoons(50, { seed: 3 }).points).not.toEqual(twoMoons(50, { seed: 4 }).points);
    expect(rings(50, { seed: 3 }).points).toEqual(rings(50, { seed: 3 }).points);
    expect(gaussianMixture(50, { seed: 3 }).points).toEqual(gaussianMixture(50, { seed: 3 }).points);
    expect(gaussianMixture(50, { seed: 3 }).points).not.toEqual(gaussianMixture(50, { seed: 5 }).points);
  });

  it('rings have their radii, and noise of the requested size', () => {
    const radii = [1, 2.5];
    const exact = rings(400, { seed: 2, noise: 0, radii });
    for (let i = 0; i < 400; i++) {
      expect(Math.hypot(exact.points[2 * i]!, exact.points[2 * i + 1]!)).toBeCloseTo(radii[exact.labels[i]!]!, 5);
    }
    const noisy = rings(20_000, { seed: 2, noise: 0.1, radii });
    let s2 = 0;
    for (let i = 0; i < 20_000; i++) {
      const r = Math.hypot(noisy.points[2 * i]!, noisy.points[2 * i + 1]!);
      s2 += (r - radii[noisy.labels[i]!]!) ** 2;
    }
    // Radial deviation of isotropic 2-D noise has variance ≈ σ² (for σ ≪ r).
    expect(Math.sqrt(s2 / 20_000)).toBeCloseTo(0.1, 2);
  });

  it('the Gaussian mixture has the right component means, std and weights', () => {
    const n = 40_000;
    const k = 6;
    const { points, labels } = gaussianMixture(n, { seed: 9, components: k, radius: 3, std: 0.2 });
    const means = gaussianMixtureMeans(k, 3);
    const sum = Array.from({ length: k }, () => [0, 0, 0, 0]);
    for (let i = 0; i < n; i++) {
      const s = sum[labels[i]!]!;
      const dx = points[2 * i]! - means[labels[i]!]![0];
      const dy = points[2 * i + 1]! - means[labels[i]!]![1];
      s[0]! += dx;
      s[1]! += dy;
      s[2]! += dx * dx + dy * dy;
      s[3]! += 1;
    }
    for (const [sx, sy, ss, c] of sum as Array<[number, number, number, number]>) {
      expect(Math.abs(c / n - 1 / k)).toBeLessThan(0.01);
      expect(Math.abs(sx / c)).toBeLessThan(0.02);
      expect(Math.abs(sy / c)).toBeLessThan(0.02);
      expect(Math.sqrt(ss / (2 * c))).toBeCloseTo(0.2, 2);
    }
  });

  it('the checkerboard fills the 8 dark squares of [−2, 2]² evenly and nothing else', () => {
    const n = 8000;
    const { points, labels } = checkerboard(n, { seed: 3 });
    const perSquare = new Map<number, number>();
    for (let k = 0; k < n; k++) {
      const x = points[2 * k]!;
      const y = points[2 * k + 1]!;
      expect(Math.abs(x)).toBeLessThanOrEqual(2);
      expect(Math.abs(y)).toBeLessThanOrEqual(2);
      const j = Math.floor(x + 2);
      const i = Math.floor(y + 2);
      expect((i + j) % 2).toBe(0);
      expect(labels[k]).toBe(4 * i + j);
      perSquare.set(4 * i + j, (perSquare.get(4 * i + j) ?? 0) + 1);
    }
    expect(perSquare.size).toBe(8);
    for (const c of perSquare.values()) expect(Math.abs(c - n / 8)).toBeLessThan(0.15 * (n / 8));
    expect(checkerboard(10, { seed: 3 }).points).toEqual(checkerboard(10, { seed: 3 }).points);
  });
});
