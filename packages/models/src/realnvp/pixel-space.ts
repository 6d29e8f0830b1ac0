/**
 * Flows on 8-bit pixels (image flows, and vector flows on flattened images): integer pixels 0..levels−1 plus seeded
 * U[0, 1) noise (dequantization) go through the logit transform `logit(α + (1 − 2α)·x/levels)` in front of the flow,
 * its log-det included, so −log p of the dequantized pixels over (D·ln 2) is bits/dim of the 8-bit images.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Logit, UniformDequantization } from '@gm/layers';
import { checkPositiveInt, GmError } from '@gm/core';

/** Validates `levels` and `alpha` (`where` names the config) and fills in the defaults 256 and 0.05. */
export function resolvePixelFields(where: string, config: { levels?: unknown; alpha?: unknown }): { levels: number; alpha: number } {
  const alpha = config.alpha ?? 0.05;
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 0.5)) throw new GmError('BAD_ARGUMENT', `${where}: "alpha"`, 'a number in (0, 0.5)', alpha);
  const levels = config.levels ?? 256;
  checkPositiveInt(`${where}: "levels"`, levels);
  if ((levels as number) < 2) throw new GmError('BAD_ARGUMENT', `${where}: "levels"`, 'at least 2', levels);
  return { levels: levels as number, alpha };
}

/** The same for a vector flow's config, where `levels` 0 or absent (the default) means real vectors, not pixels. */
export function resolveVectorPixelFields(where: string, config: { levels?: unknown; alpha?: unknown }): { levels: number; alpha: number } {
  const resolved = resolvePixelFields(where, { ...config, levels: config.levels === 0 || config.levels === undefined ? 256 : config.levels });
  return config.levels === 0 || config.levels === undefined ? { levels: 0, alpha: resolved.alpha } : resolved;
}

export class PixelSpace {
  /** The logit transform (a bijector, first in the flow's chain). */
  readonly logit: Logit;
  private readonly dequantizer: UniformDequantization;

  constructor(
    readonly levels: number,
    readonly alpha: number,
  ) {
    this.logit = new Logit({ alpha, levels });
    this.dequantizer = new UniformDequantization({ levels });
  }

  /** Integer pixels plus seeded U[0, 1) noise. */
  dequantize(pixels: tf.Tensor, seed: number): tf.Tensor {
    return this.dequantizer.forward(pixels, { seed }).y;
  }

  /** Mean bits/dim of a batch from its per-example log-densities (nats) of the dequantized pixels. */
  meanBits(logProb: tf.Tensor, valuesPerExample: number): tf.Scalar {
    return tf.tidy(() => tf.div(tf.neg(tf.mean(logProb)), valuesPerExample * Math.LN2) as tf.Scalar);
  }

  /** Refuses anything but pixel values in 0..levels−1 (`where` names the call). */
  checkPixels(where: string, x: tf.Tensor): void {
    const [lo, hi] = tf.tidy(() => [tf.min(x).dataSync()[0] as number, tf.max(x).dataSync()[0] as number]) as [number, number];
    if (!(lo >= 0 && hi <= this.levels - 1)) {
      throw new GmError('BAD_ARGUMENT', `${where}: pixels`, `integers in [0, ${this.levels - 1}] (they are dequantized here); got values in [${lo}, ${hi}]`);
    }
  }
}
