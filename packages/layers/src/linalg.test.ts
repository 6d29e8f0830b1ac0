import { describe, expect, it } from 'vitest';
import { determinantSign, invert, luDecompose, matMul, randomRotation } from './linalg';
import { logAbsDet } from './test-helpers';

const maxAbs = (a: number[][], b: number[][]) => Math.max(...a.flatMap((r, i) => r.map((v, j) => Math.abs(v - b[i]![j]!))));
const eye = (n: number) => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));

describe('linalg (float64, for channel × channel flow matrices)', () => {
  it('a random rotation is orthogonal with det +1, seeded', () => {
    for (const n of [1, 2, 5, 16]) {
      const q = randomRotation(n, 7);
      const qt = q[0]!.map((_, j) => q.map((r) => r[j]!));
      expect(maxAbs(matMul(q, qt), eye(n))).toBeLessThan(1e-12);
      expect(determinantSign(q)).toBe(1);
      expect(Math.abs(logAbsDet(q))).toBeLessThan(1e-10);
      expect(randomRotation(n, 7)).toEqual(q);
    }
    expect(randomRotation(4, 8)).not.toEqual(randomRotation(4, 7));
  });

  it('LU with partial pivoting reassembles A (rows permuted by perm), and invert(A)·A = I', () => {
    const a = [
      [0, 2, 1, -3],
      [4, -1, 0.5, 2],
      [1, 1, 1, 1],
      [-2, 0.3, 5, 0],
    ];
    const { perm, lower, upper } = luDecompose(a);
    const lu = matMul(lower, upper);
    expect(maxAbs(lu, perm.map((p) => a[p]!))).toBeLessThan(1e-12);
    lower.forEach((r, i) => r.forEach((v, j) => expect(j > i ? v : j === i ? v - 1 : 0).toBe(0)));
    upper.forEach((r, i) => r.forEach((v, j) => (j < i ? expect(v).toBe(0) : undefined)));
    expect(maxAbs(matMul(invert(a), a), eye(4))).toBeLessThan(1e-12);
    expect(() => invert([[1, 2], [2, 4]])).toThrow(/invertible matrix/);
    expect(determinantSign([[0, 1], [1, 0]])).toBe(-1);
  });
});
