/**
 * Real NVP's multi-scale architecture as a bijector (Dinh et al., 2017): a scale's steps run on its input (they end
 * with a squeeze and channel couplings), then half of the channels are factored out — passed to the base as they
 * are — and the other half go through the next scale; the result is un-squeezed back to the scale's input shape, so
 * the whole flow maps an image to an image-shaped latent.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { deriveSeed, type Bijector, type BijectorOptions } from '@gm/core';
import { stateVariablesOf, trainableVariablesOf } from './bijector';
import { Squeeze } from './squeeze';

function part(options: BijectorOptions | undefined, i: number): BijectorOptions | undefined {
  return options?.seed === undefined ? options : { ...options, seed: deriveSeed(options.seed, i) };
}

export class MultiScale implements Bijector {
  private readonly squeeze = new Squeeze({});

  /**
   * @param steps this scale's steps (a `Chain`; for a scale with a `next`, ending in a squeeze so the channels can
   *   be halved).
   * @param next the next scale, or null for the last one.
   */
  constructor(
    readonly steps: Bijector,
    readonly next: Bijector | null,
  ) {}

  forward(x: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      const here = this.steps.forward(x, part(options, 0));
      if (this.next === null) return here;
      const [factored, rest] = tf.split(here.y, 2, -1) as [Tensor, Tensor];
      const deeper = this.next.forward(rest, part(options, 1));
      return { y: this.squeeze.inverse(tf.concat([factored, deeper.y], -1)).x, logDet: tf.add(here.logDet, deeper.logDet) };
    });
  }

  inverse(y: Tensor, options?: BijectorOptions): { x: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      let h = y;
      let logDet: Tensor | undefined;
      if (this.next !== null) {
        const [factored, rest] = tf.split(this.squeeze.forward(y).y, 2, -1) as [Tensor, Tensor];
        const deeper = this.next.inverse(rest, part(options, 1));
        h = tf.concat([factored, deeper.x], -1);
        logDet = deeper.logDet;
      }
      const here = this.steps.inverse(h, part(options, 0));
      return { x: here.x, logDet: logDet === undefined ? here.logDet : tf.add(logDet, here.logDet) };
    });
  }

  trainableVariables(): Variable[] {
    return [...trainableVariablesOf(this.steps), ...(this.next === null ? [] : trainableVariablesOf(this.next))];
  }

  stateVariables(): Variable[] {
    return [...stateVariablesOf(this.steps), ...(this.next === null ? [] : stateVariablesOf(this.next))];
  }
}
