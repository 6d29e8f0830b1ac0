/**
 * The logit transform of flows on images (Dinh et al., 2017): pixel values in [0, levels) → ℝ,
 * `y = logit(α + (1 − 2α)·x/levels)`, so the flow models unbounded values and its density converts back to pixel
 * space through the log-determinant. α keeps the logit finite at the edges.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { checkPositiveInt, GmError } from '@gm/core';
import { ElementwiseBijector } from './bijector';

export interface LogitArgs {
  /** α in (0, 0.5) (default 0.05, Real NVP's). */
  alpha?: number;
  /** The input's range [0, levels) (default 256: dequantized 8-bit pixels; 1 for values in [0, 1)). */
  levels?: number;
}

/**
 * `forward`: pixel values → logits, log-derivative `log((1 − 2α)/levels) − log p − log(1 − p)` per value;
 * `inverse`: logits → pixel values through the sigmoid.
 *
 * @example
 * ```ts
 * const logit = new Logit({ alpha: 0.05, levels: 256 });
 * const { y, logDet } = logit.forward(dequantizedPixels); // logDet [batch]
 * ```
 */
export class Logit extends ElementwiseBijector {
  readonly alpha: number;
  readonly levels: number;

  constructor(args: LogitArgs = {}) {
    super();
    const alpha = args.alpha ?? 0.05;
    if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 0.5)) throw new GmError('BAD_ARGUMENT', 'Logit: alpha', 'a number in (0, 0.5)', alpha);
    const levels = args.levels ?? 256;
    checkPositiveInt('Logit: levels', levels);
    this.alpha = alpha;
    this.levels = levels;
  }

  protected forwardElementwise(x: Tensor): { y: Tensor; logDerivative: Tensor } {
    const p = tf.add(this.alpha, tf.mul(x, (1 - 2 * this.alpha) / this.levels));
    const logP = tf.log(p);
    const log1mP = tf.log1p(tf.neg(p));
    return { y: tf.sub(logP, log1mP), logDerivative: tf.sub(Math.log((1 - 2 * this.alpha) / this.levels), tf.add(logP, log1mP)) };
  }

  protected inverseElementwise(y: Tensor): { x: Tensor; logDerivative: Tensor } {
    const x = tf.mul(tf.sub(tf.sigmoid(y), this.alpha), this.levels / (1 - 2 * this.alpha));
    // log σ(y) + log(1 − σ(y)) = −softplus(−y) − softplus(y).
    return { x, logDerivative: tf.sub(Math.log(this.levels / (1 - 2 * this.alpha)), tf.add(tf.softplus(y), tf.softplus(tf.neg(y)))) };
  }
}
