/**
 * Real NVP's image preprocessing as part of the model: uniform dequantization of integer pixels and the logit
 * transform with its log-determinant, so the model's density is over continuous pixel values in [0, levels)^D and
 * bits/dim are those of the 8-bit pixels.
 */
import * as tf from '@tensorflow/tfjs-core';

/** `pixels + u`, u ~ U[0, 1) per value, seeded (pixels are integers 0..levels−1). */
export function dequantize(pixels: tf.Tensor, seed: number): tf.Tensor {
  return tf.tidy(() => tf.add(tf.cast(pixels, 'float32'), tf.randomUniform(pixels.shape, 0, 1, 'float32', seed)));
}

/**
 * `y = logit(α + (1 − 2α)·x/levels)` for `x` in [0, levels), and per example (first axis) the log-determinant
 * `Σ [log((1 − 2α)/levels) − log p − log(1 − p)]` with `p = α + (1 − 2α)·x/levels`.
 */
export function logitForward(x: tf.Tensor, alpha: number, levels: number): { y: tf.Tensor; logDet: tf.Tensor } {
  return tf.tidy(() => {
    const p = tf.add(alpha, tf.mul(x, (1 - 2 * alpha) / levels));
    const logP = tf.log(p);
    const log1mP = tf.log1p(tf.neg(p));
    const y = tf.sub(logP, log1mP);
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i + 1);
    const perExample = tf.sum(tf.neg(tf.add(logP, log1mP)), axes);
    const size = x.size / (x.shape[0] as number);
    return { y, logDet: tf.add(perExample, size * Math.log((1 - 2 * alpha) / levels)) };
  });
}

/** The inverse of {@link logitForward}: `x = (sigmoid(y) − α)/(1 − 2α)·levels`, with its log-determinant per example. */
export function logitInverse(y: tf.Tensor, alpha: number, levels: number): { x: tf.Tensor; logDet: tf.Tensor } {
  return tf.tidy(() => {
    const p = tf.sigmoid(y);
    const x = tf.mul(tf.sub(p, alpha), levels / (1 - 2 * alpha));
    // log σ(y) + log(1 − σ(y)) = −softplus(−y) − softplus(y).
    const axes = Array.from({ length: y.rank - 1 }, (_, i) => i + 1);
    const perExample = tf.sum(tf.neg(tf.add(tf.softplus(y), tf.softplus(tf.neg(y)))), axes);
    const size = y.size / (y.shape[0] as number);
    return { x, logDet: tf.add(perExample, size * Math.log(levels / (1 - 2 * alpha))) };
  });
}
