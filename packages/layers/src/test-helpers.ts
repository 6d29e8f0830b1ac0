/** Helpers shared by the tests (not part of the package's API; tsup bundles only src/index.ts). */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { Distribution } from '@gm/core';
import type { LayersModel, LayerVariable } from '@tensorflow/tfjs-layers';
import { loadLayersModel } from '@tensorflow/tfjs-layers';

/**
 * The Jacobian `J[i][j] = ∂f(x)_i / ∂x_j` of a per-example map by autodiff, in one backward pass: `x` is repeated
 * once per output, and the loss picks output `i` from copy `i`, so the gradient of copy `i` is row `i`.
 * `f` maps `[n, inSize] → [n, outSize]` treating rows independently.
 */
export function jacobian(f: (x: Tensor) => Tensor, x: readonly number[], outSize: number): number[][] {
  const rows = tf.tidy(() => {
    const xs = tf.tile(tf.tensor2d([...x], [1, x.length]), [outSize, 1]);
    const pick = tf.eye(outSize);
    const g = tf.grad((v: Tensor) => tf.sum(tf.mul(f(v), pick)))(xs);
    return g.arraySync() as number[][];
  });
  return rows;
}

/** log|det A| of a square matrix, in float64 by LU decomposition with partial pivoting. */
export function logAbsDet(matrix: readonly (readonly number[])[]): number {
  const n = matrix.length;
  const a = matrix.map((r) => Float64Array.from(r));
  let logDet = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(a[i]![k]!) > Math.abs(a[p]![k]!)) p = i;
    if (p !== k) [a[p], a[k]] = [a[k]!, a[p]!];
    const pivot = a[k]![k]!;
    if (pivot === 0) return -Infinity;
    logDet += Math.log(Math.abs(pivot));
    for (let i = k + 1; i < n; i++) {
      const factor = a[i]![k]! / pivot;
      for (let j = k; j < n; j++) a[i]![j]! -= factor * a[k]![j]!;
    }
  }
  return logDet;
}

/** Saves a model through an in-memory IOHandler (topology through JSON text, as a file would) and loads it back. */
export async function saveAndLoad(model: LayersModel): Promise<LayersModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (saved === undefined) throw new Error('saveAndLoad: nothing was saved');
  const text = JSON.stringify(saved.modelTopology);
  const artifacts: tf.io.ModelArtifacts = { ...saved, modelTopology: JSON.parse(text) as object };
  return loadLayersModel(tf.io.fromMemory(artifacts));
}

/** Replaces every trainable weight of a layer/model with seeded normal noise (so a test does not run on a trivial
 * map); masks and running statistics (non-trainable) are left alone. */
export function randomizeWeights(target: { trainableWeights: LayerVariable[] }, seed: number, std = 0.5): void {
  target.trainableWeights.forEach((w, i) => {
    tf.tidy(() => {
      w.write(tf.randomNormal(w.shape as number[], 0, std, 'float32', seed + i));
    });
  });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** N(0, I) over `[dim]`, written here so the tests need nothing but the Distribution contract. */
export function standardNormal(dim: number): Distribution {
  return {
    logProb: (x) => tf.tidy(() => tf.sub(tf.mul(tf.sum(tf.square(x), -1), -0.5), 0.5 * dim * Math.log(2 * Math.PI))),
    sample: (n, seed) => tf.randomNormal(n === undefined ? [dim] : [n, dim], 0, 1, 'float32', seed),
  };
}

export type AnyBijector = { forward(x: tf.Tensor, o?: { context?: tf.Tensor }): { y: tf.Tensor; logDet: tf.Tensor }; inverse(y: tf.Tensor, o?: { context?: tf.Tensor }): { x: tf.Tensor; logDet: tf.Tensor } };

/**
 * For one example: inverse∘forward = id, inverse log-det = −forward log-det, and the log-det equals log|det J| of the
 * autodiff Jacobian — of `forward`, or of `inverse` for bijectors whose forward is not differentiable (sequential).
 */
export function checkBijector(b: AnyBijector, shape: number[], x0: number[], context?: tf.Tensor, jacobianOf: 'forward' | 'inverse' = 'forward') {
  const d = x0.length;
  const opts = (rows: number) => (context === undefined ? {} : { context: tf.tile(context, [rows, 1]) });
  const map = (v: tf.Tensor) => {
    const n = v.shape[0] as number;
    const input = tf.reshape(v, [n, ...shape]);
    return tf.reshape(jacobianOf === 'forward' ? b.forward(input, opts(n)).y : b.inverse(input, opts(n)).x, [n, d]);
  };
  const J = jacobian(map, x0, d);
  return tf.tidy(() => {
    const x = tf.tensor([x0], [1, ...shape]);
    const f = b.forward(x, opts(1));
    const back = b.inverse(f.y, opts(1));
    const direct = jacobianOf === 'forward' ? (f.logDet.dataSync()[0] as number) : (b.inverse(x, opts(1)).logDet.dataSync()[0] as number);
    return {
      roundTrip: maxAbsDiff(back.x.dataSync(), x.dataSync()),
      inverseLogDet: Math.abs((back.logDet.dataSync()[0] as number) + (f.logDet.dataSync()[0] as number)),
      logDetError: Math.abs(direct - logAbsDet(J)),
    };
  });
}

/** ∫ exp(logProb) over the square [−r, r]² by the midpoint rule with step h: ≈ 1 for a normalised 2-D density. */
export function gridMass(logProb: (x: Tensor) => Tensor, h = 0.05, r = 7): number {
  const pts: number[] = [];
  for (let a = -r; a < r; a += h) for (let b = -r; b < r; b += h) pts.push(a + h / 2, b + h / 2);
  return tf.tidy(() => tf.sum(tf.exp(logProb(tf.tensor2d(pts, [pts.length / 2, 2])))).dataSync()[0] as number) * h * h;
}
