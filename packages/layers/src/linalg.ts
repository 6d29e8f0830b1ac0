/**
 * Small dense linear algebra in float64 for flow layers whose matrices are channel × channel (Glow's invertible 1×1
 * convolution): a seeded random rotation, the LU decomposition with partial pivoting, and the inverse. Matrices are
 * row-major `number[][]`; sizes are a few hundred at most, so plain loops are the right tool.
 */
import { GmError, mulberry32 } from '@gm/core';

export type Matrix = number[][];

/** A seeded random rotation (orthogonal, det +1): Gram–Schmidt on Gaussian columns, the last column's sign fixed. */
export function randomRotation(n: number, seed: number): Matrix {
  const rand = mulberry32(seed);
  const gaussian = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const columns: number[][] = [];
  while (columns.length < n) {
    const v = Array.from({ length: n }, gaussian);
    for (const q of columns) {
      const dot = v.reduce((a, x, i) => a + x * (q[i] as number), 0);
      for (let i = 0; i < n; i++) v[i] = (v[i] as number) - dot * (q[i] as number);
    }
    const norm = Math.hypot(...v);
    if (norm < 1e-6) continue; // a (vanishingly unlikely) dependent draw: draw again
    columns.push(v.map((x) => x / norm));
  }
  const m = Array.from({ length: n }, (_, r) => columns.map((c) => c[r] as number));
  if (determinantSign(m) < 0) for (let r = 0; r < n; r++) m[r]![n - 1] = -(m[r]![n - 1] as number);
  return m;
}

/** `A = P·L·U`: P a permutation (`perm[i]` = the row of A that row i of L·U is), L unit lower, U upper triangular. */
export interface LU {
  perm: number[];
  lower: Matrix;
  upper: Matrix;
}

/** The LU decomposition with partial pivoting; throws on a singular matrix. */
export function luDecompose(a: Matrix, where = 'luDecompose'): LU {
  const n = a.length;
  const u = a.map((row) => {
    if (row.length !== n) throw new GmError('BAD_SHAPE', where, `a square matrix, got a row of ${row.length} in ${n} rows`);
    return [...row];
  });
  const lower: Matrix = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(u[i]![k]!) > Math.abs(u[p]![k]!)) p = i;
    if (u[p]![k] === 0) throw new GmError('BAD_ARGUMENT', where, 'an invertible matrix', 'a singular one');
    if (p !== k) {
      [u[p], u[k]] = [u[k]!, u[p]!];
      [perm[p], perm[k]] = [perm[k]!, perm[p]!];
      for (let j = 0; j < k; j++) [lower[p]![j], lower[k]![j]] = [lower[k]![j]!, lower[p]![j]!];
    }
    for (let i = k + 1; i < n; i++) {
      const f = u[i]![k]! / u[k]![k]!;
      lower[i]![k] = f;
      for (let j = k; j < n; j++) u[i]![j] = u[i]![j]! - f * u[k]![j]!;
    }
  }
  return { perm, lower, upper: u };
}

/** The sign of det A (0 when singular). */
export function determinantSign(a: Matrix): number {
  try {
    const { perm, upper } = luDecompose(a);
    let sign = permutationSign(perm);
    for (let i = 0; i < a.length; i++) sign *= Math.sign(upper[i]![i]!);
    return sign;
  } catch {
    return 0;
  }
}

function permutationSign(perm: readonly number[]): number {
  const seen = new Array<boolean>(perm.length).fill(false);
  let sign = 1;
  for (let i = 0; i < perm.length; i++) {
    if (seen[i]) continue;
    let length = 0;
    for (let j = i; !seen[j]; j = perm[j]!) {
      seen[j] = true;
      length++;
    }
    if (length % 2 === 0) sign = -sign;
  }
  return sign;
}

/** A⁻¹ through its LU decomposition (forward and back substitution per column). */
export function invert(a: Matrix, where = 'invert'): Matrix {
  const n = a.length;
  const { perm, lower, upper } = luDecompose(a, where);
  const inverse: Matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let col = 0; col < n; col++) {
    // Solve L·U·x = P⁻¹·e_col: row i of P⁻¹·e_col is 1 where perm[i] = col.
    const y = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) {
      let s = perm[i] === col ? 1 : 0;
      for (let j = 0; j < i; j++) s -= lower[i]![j]! * y[j]!;
      y[i] = s;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = y[i]!;
      for (let j = i + 1; j < n; j++) s -= upper[i]![j]! * inverse[j]![col]!;
      inverse[i]![col] = s / upper[i]![i]!;
    }
  }
  return inverse;
}

/** A·B. */
export function matMul(a: Matrix, b: Matrix): Matrix {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
}
