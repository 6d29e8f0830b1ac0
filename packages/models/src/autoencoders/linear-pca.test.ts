import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { LinearAutoencoder } from './autoencoder';
import { mulberry32 } from '@gm/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Vec = number[];
type Mat = number[][];

const dot = (a: Vec, b: Vec) => a.reduce((s, v, i) => s + v * (b[i] as number), 0);
const scale = (a: Vec, k: number) => a.map((v) => v * k);
const sub = (a: Vec, b: Vec) => a.map((v, i) => v - (b[i] as number));
const norm = (a: Vec) => Math.sqrt(dot(a, a));

/** Cyclic Jacobi eigen-solver for a small symmetric matrix: eigenvalues descending with unit eigenvectors. */
function symmetricEigen(input: Mat): { values: number[]; vectors: Vec[] } {
  const n = input.length;
  const a = input.map((r) => [...r]);
  const v: Mat = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  const at = (m: Mat, i: number, j: number) => (m[i] as Vec)[j] as number;
  const set = (m: Mat, i: number, j: number, x: number) => ((m[i] as Vec)[j] = x);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += at(a, p, q) ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = at(a, p, q);
        if (Math.abs(apq) < 1e-300) continue;
        // Rotation angle that zeroes a[p][q].
        const theta = (at(a, q, q) - at(a, p, p)) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = at(a, k, p);
          const akq = at(a, k, q);
          set(a, k, p, c * akp - s * akq);
          set(a, k, q, s * akp + c * akq);
        }
        for (let k = 0; k < n; k++) {
          const apk = at(a, p, k);
          const aqk = at(a, q, k);
          set(a, p, k, c * apk - s * aqk);
          set(a, q, k, s * apk + c * aqk);
        }
        for (let k = 0; k < n; k++) {
          const vkp = at(v, k, p);
          const vkq = at(v, k, q);
          set(v, k, p, c * vkp - s * vkq);
          set(v, k, q, s * vkp + c * vkq);
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => at(a, j, j) - at(a, i, i));
  return { values: order.map((i) => at(a, i, i)), vectors: order.map((i) => v.map((row) => row[i] as number)) };
}

/** Orthonormal basis of span(vectors) by Gram–Schmidt. */
function orthonormalize(vectors: Vec[]): Vec[] {
  const out: Vec[] = [];
  for (const v of vectors) {
    let w = [...v];
    for (const q of out) w = sub(w, scale(q, dot(w, q)));
    out.push(scale(w, 1 / norm(w)));
  }
  return out;
}

/** Principal angles (radians, ascending) between two 2-D subspaces given by orthonormal bases: acos of the singular
 * values of QᵀP, from the eigenvalues of the 2×2 matrix MᵀM. */
function principalAngles(q: Vec[], p: Vec[]): number[] {
  const m = q.map((qi) => p.map((pj) => dot(qi, pj))); // 2×2
  const m00 = m[0]![0]!, m01 = m[0]![1]!, m10 = m[1]![0]!, m11 = m[1]![1]!;
  const a = m00 * m00 + m10 * m10;
  const b = m00 * m01 + m10 * m11;
  const d = m01 * m01 + m11 * m11;
  const mid = (a + d) / 2;
  const rad = Math.sqrt(((a - d) / 2) ** 2 + b * b);
  const sigmas = [Math.sqrt(Math.max(mid + rad, 0)), Math.sqrt(Math.max(mid - rad, 0))];
  return sigmas.map((s) => Math.acos(Math.min(1, s)));
}

/** n points near a tilted plane through `center`: spreads 3 and 1 within the plane, 0.05 off it. */
function planeData(n: number, seed: number): number[][] {
  const rand = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const [u1, u2] = orthonormalize([
    [1, 0.6, -0.4],
    [0.2, -1, 0.5],
  ]) as [Vec, Vec];
  const w = [u1[1]! * u2[2]! - u1[2]! * u2[1]!, u1[2]! * u2[0]! - u1[0]! * u2[2]!, u1[0]! * u2[1]! - u1[1]! * u2[0]!];
  const center = [0.5, -1, 2];
  return Array.from({ length: n }, () => {
    const a = 3 * normal();
    const b = normal();
    const c = 0.05 * normal();
    return center.map((m, k) => m + a * u1[k]! + b * u2[k]! + c * w[k]!);
  });
}

describe('LinearAutoencoder performs PCA', () => {
  it('the eigen-solver is right (A·v = λ·v, orthonormal)', async () => {
    const a = [
      [4, 1, -2],
      [1, 3, 0.5],
      [-2, 0.5, 5],
    ];
    const { values, vectors } = symmetricEigen(a);
    vectors.forEach((v, i) => {
      const av = a.map((row) => dot(row, v));
      expect(Math.max(...sub(av, scale(v, values[i] as number)).map(Math.abs))).toBeLessThan(1e-10);
      expect(norm(v)).toBeCloseTo(1, 12);
    });
    expect(Math.abs(dot(vectors[0]!, vectors[1]!))).toBeLessThan(1e-12);
    expect(values.reduce((s, v) => s + v, 0)).toBeCloseTo(12, 10); // trace
  });

  it('its decoder spans the top-2 principal subspace of 3-D data near a plane (principal angles < 1e-2 rad)', async () => {
    const points = planeData(600, 3);
    const n = points.length;
    const mean = [0, 1, 2].map((k) => points.reduce((s, p) => s + (p[k] as number), 0) / n);
    const centered = points.map((p) => sub(p, mean));
    const cov = [0, 1, 2].map((i) => [0, 1, 2].map((j) => centered.reduce((s, p) => s + (p[i] as number) * (p[j] as number), 0) / n));
    const { values, vectors } = symmetricEigen(cov);
    expect(values[2]).toBeLessThan(0.01); // the data is near a plane
    const pcaBasis = vectors.slice(0, 2);

    const ae = new LinearAutoencoder({ inputDim: 3, hidden: [2], seed: 5 });
    const decoderSpan = () => {
      const kernel = ae.decoderLayers[0]!.getWeights()[0] as tf.Tensor; // [2, 3]: rows span the reconstructions
      const rows = kernel.arraySync() as number[][];
      return principalAngles(orthonormalize(rows), pcaBasis);
    };
    const before = decoderSpan();
    const x = tf.tensor2d(points);
    await ae.fit(x, { epochs: 15, batchSize: 32, learningRate: 0.05 });
    await ae.fit(x, { epochs: 30, batchSize: 600, learningRate: 0.01 });
    const after = decoderSpan();
    expect(Math.max(...before)).toBeGreaterThan(0.1); // a random start is not already aligned
    expect(Math.max(...after)).toBeLessThan(1e-2);
    // Reconstructions lie in the PCA plane through the mean: their residual is the off-plane component only.
    const recon = ae.reconstruct(x).arraySync() as number[][];
    const normal = vectors[2] as Vec;
    const offPlane = recon.map((r) => Math.abs(dot(sub(r, mean), normal)));
    expect(Math.max(...offPlane)).toBeLessThan(0.05);
    x.dispose();
    ae.dispose();
  });
});
