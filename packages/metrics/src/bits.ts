import * as tf from '@tensorflow/tfjs-core';

export interface BitsPerDimOptions {
  /**
   * log |det ∂y/∂x| (nats) of the preprocessing map from the data space you report in (x) to the space the model's
   * likelihood lives in (y), per example (a number, or a tensor broadcasting against `nll`). With it,
   * log p(x) = log p(y) + logDet, so the result is in the data space. Examples: pixels dequantised on [0, 256)
   * and scaled to [0, 1] give logDet = −D·ln 256; a further logit transform adds its own log-det (the `Logit`
   * bijector of @gm/layers returns it). Default 0 (the model already scores the data space, e.g. a discretized logistic on bytes).
   */
  logDet?: number | tf.Tensor;
  /**
   * Shorthand for the dequantisation scaling: the model scores pixels that were dequantised and divided by `levels`
   * (e.g. 256 for bytes → [0, 1]), so −numDims·ln(levels) is added to `logDet`. With the `Logit` bijector of @gm/layers
   * (whose log-det is for the map [0, 1] → logit space) pass `{ logDet: itsLogDet, levels: 256 }`.
   */
  levels?: number;
}

function checkDims(numDims: number): void {
  if (!Number.isInteger(numDims) || numDims < 1) throw new Error(`bitsPerDim: numDims must be a positive integer, got ${numDims}`);
}

/**
 * Negative log-likelihood in nats (of the model space) → bits per dimension of the data space:
 * (nll − logDet) / (numDims · ln 2). Returns a number for number inputs, else a tensor shaped like `nll`.
 *
 * @example
 * ```ts
 * bitsPerDim(86 * 1, 784);                                    // binarized MNIST at 86 nats ≈ 0.158 bits/dim
 * bitsPerDim(nllUnit, 784, { logDet: -784 * Math.log(256) }); // density on [0,1]^784 → 8-bit pixel space
 * ```
 */
export function bitsPerDim(nll: number, numDims: number, options?: { logDet?: number; levels?: number }): number;
export function bitsPerDim(nll: number | tf.Tensor, numDims: number, options?: BitsPerDimOptions): tf.Tensor;
export function bitsPerDim(nll: number | tf.Tensor, numDims: number, options: BitsPerDimOptions = {}): number | tf.Tensor {
  checkDims(numDims);
  const levels = options.levels ?? 1;
  if (!(Number.isFinite(levels) && levels > 0)) throw new Error(`bitsPerDim: options.levels must be a positive number, got ${levels}`);
  const scaling = -numDims * Math.log(levels);
  const given = options.logDet ?? 0;
  const logDet = typeof given === 'number' ? given + scaling : given;
  const scale = 1 / (numDims * Math.LN2);
  if (typeof nll === 'number' && typeof logDet === 'number') {
    if (!Number.isFinite(nll)) throw new Error(`bitsPerDim: nll must be finite, got ${nll}`);
    return (nll - logDet) * scale;
  }
  if (typeof nll !== 'number' && !(nll instanceof tf.Tensor)) throw new Error('bitsPerDim: nll must be a number or a tf.Tensor');
  if (typeof logDet !== 'number' && !(logDet instanceof tf.Tensor)) throw new Error('bitsPerDim: options.logDet must be a number or a tf.Tensor');
  return tf.tidy(() => tf.mul(tf.sub(tf.sub(nll, logDet), typeof given === 'number' ? 0 : scaling), scale));
}
