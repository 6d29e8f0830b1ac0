/** Helpers for the autoencoder tests (not exported). */
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '@gm/core';

/**
 * `n` examples of width `dim` in (0, 1) that lie near a `latent`-dimensional manifold: sigmoid(z·A + b) with
 * seeded standard-normal z, A, b — learnable by a small autoencoder.
 */
export function syntheticData(n: number, dim: number, latent: number, seed: number): tf.Tensor2D {
  const rand = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return tf.tidy(() => {
    const z = tf.tensor2d(Array.from({ length: n * latent }, normal), [n, latent]);
    const a = tf.tensor2d(Array.from({ length: latent * dim }, () => 2 * normal()), [latent, dim]);
    const b = tf.tensor1d(Array.from({ length: dim }, normal));
    return tf.sigmoid(tf.add(tf.matMul(z, a), b)) as tf.Tensor2D;
  });
}

/** The values of `t` as a plain array (disposing `t` when `dispose`). */
export function values(t: tf.Tensor, dispose = true): number[] {
  const out = Array.from(t.dataSync());
  if (dispose) t.dispose();
  return out;
}

export { maxAbsDiff, tempDir } from '../test-helpers';
