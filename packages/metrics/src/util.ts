import * as tf from '@tensorflow/tfjs-core';

export { LOG_2PI, sumEvent } from '@gm/core/ops';

import { formatShape as fmt } from '@gm/core';

export { fmt };

/** NumPy broadcasting of two shapes, or undefined when they do not broadcast. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | undefined {
  const rank = Math.max(a.length, b.length);
  const out: number[] = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return undefined;
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Broadcast shape of several parameter tensors, with an error naming the distribution and its parameters. */
export function paramShape(where: string, params: Record<string, tf.Tensor>): number[] {
  let shape: number[] = [];
  const seen: string[] = [];
  for (const [name, t] of Object.entries(params)) {
    const next = broadcastShapes(shape, t.shape);
    if (next === undefined) {
      throw new Error(`${where}: parameter "${name}" of shape ${fmt(t.shape)} does not broadcast against ${seen.join(', ')} (shape ${fmt(shape)})`);
    }
    shape = next;
    seen.push(`"${name}"`);
  }
  return shape;
}

export function checkTensor(where: string, name: string, t: unknown): asserts t is tf.Tensor {
  if (!(t instanceof tf.Tensor)) throw new Error(`${where}: "${name}" must be a tf.Tensor, got ${t === null ? 'null' : typeof t}`);
  if (t.dtype !== 'float32') throw new Error(`${where}: "${name}" must be float32, got ${t.dtype}`);
}

/** Validates an eventRank option; the default is "every axis but the first" (per-example sums). */
export function resolveEventRank(where: string, eventRank: number | undefined, shape: readonly number[]): number {
  const rank = eventRank ?? Math.max(shape.length - 1, 0);
  if (!Number.isInteger(rank) || rank < 0 || rank > shape.length) {
    throw new Error(`${where}: eventRank must be an integer in [0, ${shape.length}] for parameters of shape ${fmt(shape)}, got ${eventRank}`);
  }
  return rank;
}

/** Checks that x broadcasts against the parameters and has every event axis; casts it to float32. */
export function prepareValue(where: string, x: tf.Tensor, shape: readonly number[], eventRank: number): tf.Tensor {
  if (!(x instanceof tf.Tensor)) throw new Error(`${where}: x must be a tf.Tensor`);
  const out = broadcastShapes(x.shape, shape);
  if (out === undefined) throw new Error(`${where}: x of shape ${fmt(x.shape)} does not broadcast against parameters of shape ${fmt(shape)}`);
  if (x.rank < eventRank) throw new Error(`${where}: x of shape ${fmt(x.shape)} has rank ${x.rank} < eventRank ${eventRank}`);
  return x.dtype === 'float32' ? x : tf.cast(x, 'float32');
}

/** Checks a sample count. */
export function checkCount(where: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${where}: the number of samples must be a positive integer, got ${n}`);
}

/**
 * log(1 − exp(−d)) for d > 0, stable for tiny d (where 1 − exp(−d) ≈ d) through expm1.
 * (For large d the result is ≈ −exp(−d), whose absolute error is below float32 resolution of any sum it enters.)
 */
export function log1mexp(d: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.log(tf.neg(tf.expm1(tf.neg(d)))));
}

/**
 * log(mean(exp(t))) along an axis, stable (subtracts the maximum first).
 *
 * @example `logMeanExp(logWeights, 0)` turns k log importance weights (axis 0) into a log-likelihood estimate.
 */
export function logMeanExp(t: tf.Tensor, axis = 0): tf.Tensor {
  return tf.tidy(() => {
    const ax = axis < 0 ? t.rank + axis : axis;
    const n = t.shape[ax];
    if (n === undefined) throw new Error(`logMeanExp: axis ${axis} is out of range for a tensor of rank ${t.rank}`);
    return tf.sub(tf.logSumExp(t, ax), Math.log(n));
  });
}
