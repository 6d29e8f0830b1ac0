/**
 * Uniform dequantization as a flow step: integer pixels → continuous values `x + u`, `u ~ U[0, 1)` seeded per call,
 * each example's noise its own stream (@gm/core's `uniformNoise`), so a data-parallel shard adds what one thread adds.
 * It is a surjection, not a bijection (SurVAE flows): the continuous density of `x + u` lower-bounds the discrete
 * probability of `x` (Theis et al., 2016), so a flow trained on dequantized pixels reports an upper bound on bits/dim;
 * `inverse` floors back to the pixel. The log-determinant is 0 (unit-width bins).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { checkPositiveInt, GmError, uniformNoise, type Bijector, type BijectorOptions } from '@gm/core';

export interface UniformDequantizationArgs {
  /** Pixel levels: `inverse` clips to [0, levels − 1] (default 256). */
  levels?: number;
}

export class UniformDequantization implements Bijector {
  readonly levels: number;

  constructor(args: UniformDequantizationArgs = {}) {
    const levels = args.levels ?? 256;
    checkPositiveInt('UniformDequantization: levels', levels);
    this.levels = levels;
  }

  /** `x + u` (needs `options.seed`, so training and evaluation are reproducible); log-det 0. */
  forward(x: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor } {
    if (options?.seed === undefined) throw new GmError('BAD_ARGUMENT', 'UniformDequantization.forward: options.seed', 'a seed for the dequantization noise');
    return tf.tidy(() => ({
      y: tf.add(tf.cast(x, 'float32'), tf.tensor(uniformNoise(x.shape, options.seed, 0), x.shape, 'float32')),
      logDet: tf.zeros([x.shape[0] as number]),
    }));
  }

  /** The pixel each value falls in: `floor`, clipped to [0, levels − 1]. */
  inverse(y: Tensor): { x: Tensor; logDet: Tensor } {
    return tf.tidy(() => ({ x: tf.clipByValue(tf.floor(y), 0, this.levels - 1), logDet: tf.zeros([y.shape[0] as number]) }));
  }
}
