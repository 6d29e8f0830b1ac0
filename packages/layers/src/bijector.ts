/**
 * Composing bijectors (the contract is @gm/core's `Bijector`: `forward` maps data towards the base with the
 * log-determinant of its Jacobian, `inverse` maps back). `Chain` applies steps in order, `Invert` swaps the
 * directions, and `ElementwiseBijector` is the base of element-wise maps: a subclass gives the per-element
 * log-derivative and the base sums it over each example's event axes.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { deriveSeed, GmError, type Bijector, type BijectorOptions } from '@gm/core';

export type { Bijector, BijectorOptions };

/** Sums every axis but the first: one value per example. */
export function sumToBatch(t: Tensor): Tensor {
  if (t.rank <= 1) return t;
  return tf.sum(t, Array.from({ length: t.rank - 1 }, (_, i) => i + 1));
}

/** A bijector's trainable variables (its own method, else a tfjs layer's trainable weights, else none). */
export function trainableVariablesOf(b: Bijector): Variable[] {
  if (typeof b.trainableVariables === 'function') return b.trainableVariables();
  const layer = b as unknown as { trainableWeights?: Array<{ read(): Tensor }> };
  return (layer.trainableWeights ?? []).map((w) => w.read() as Variable);
}

/** A bijector's non-trained state (running statistics), by the same rules. */
export function stateVariablesOf(b: Bijector): Variable[] {
  if (typeof b.stateVariables === 'function') return b.stateVariables();
  const layer = b as unknown as { nonTrainableWeights?: Array<{ read(): Tensor }> };
  return (layer.nonTrainableWeights ?? []).map((w) => w.read() as Variable);
}

/** The options one step of a chain sees: its own seed (derived from the chain's and its index), the rest shared. */
function stepOptions(options: BijectorOptions | undefined, i: number): BijectorOptions | undefined {
  if (options?.seed === undefined) return options;
  return { ...options, seed: deriveSeed(options.seed, i) };
}

/**
 * Steps applied in order: `forward` runs `steps[0]` first and sums the log-dets; `inverse` runs them backwards.
 * (TensorFlow Probability's `Chain` lists steps in the opposite order; gm lists them in the order data meets them,
 * as zuko and nflows do.) Itself a bijector, so chains nest.
 *
 * @example
 * ```ts
 * const flow = new Chain([new AffineCoupling({ inputShape: [2] }), new AffineCoupling({ inputShape: [2], invertMask: true })]);
 * const { y, logDet } = flow.forward(x); // [batch, 2], [batch]
 * ```
 */
export class Chain implements Bijector {
  readonly steps: readonly Bijector[];

  constructor(steps: readonly Bijector[]) {
    if (!Array.isArray(steps) || steps.length === 0) throw new GmError('BAD_ARGUMENT', 'Chain: steps', 'a non-empty array of bijectors', steps);
    steps.forEach((s, i) => {
      if (typeof s?.forward !== 'function' || typeof s?.inverse !== 'function') {
        throw new GmError('BAD_ARGUMENT', `Chain: steps[${i}]`, 'a bijector (forward and inverse)', s);
      }
    });
    this.steps = [...steps];
  }

  forward(x: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      let y = x;
      let logDet: Tensor | undefined;
      this.steps.forEach((step, i) => {
        const r = step.forward(y, stepOptions(options, i));
        y = r.y;
        logDet = logDet === undefined ? r.logDet : tf.add(logDet, r.logDet);
      });
      return { y, logDet: logDet as Tensor };
    });
  }

  inverse(y: Tensor, options?: BijectorOptions): { x: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      let x = y;
      let logDet: Tensor | undefined;
      for (let i = this.steps.length - 1; i >= 0; i--) {
        const r = (this.steps[i] as Bijector).inverse(x, stepOptions(options, i));
        x = r.x;
        logDet = logDet === undefined ? r.logDet : tf.add(logDet, r.logDet);
      }
      return { x, logDet: logDet as Tensor };
    });
  }

  trainableVariables(): Variable[] {
    return this.steps.flatMap(trainableVariablesOf);
  }

  stateVariables(): Variable[] {
    return this.steps.flatMap(stateVariablesOf);
  }
}

/** A bijector with its directions swapped: `forward` is the inner `inverse` (e.g. an IAF from a MAF). */
export class Invert implements Bijector {
  constructor(readonly inner: Bijector) {}

  forward(x: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor } {
    const r = this.inner.inverse(x, options);
    return { y: r.x, logDet: r.logDet };
  }

  inverse(y: Tensor, options?: BijectorOptions): { x: Tensor; logDet: Tensor } {
    const r = this.inner.forward(y, options);
    return { x: r.y, logDet: r.logDet };
  }

  trainableVariables(): Variable[] {
    return trainableVariablesOf(this.inner);
  }

  stateVariables(): Variable[] {
    return stateVariablesOf(this.inner);
  }
}

/**
 * The base of element-wise bijectors: a subclass maps each value and gives log|dy/dx| per element; the base sums it
 * over each example's event axes (every axis but the first) for the log-determinant.
 */
export abstract class ElementwiseBijector implements Bijector {
  /** y = f(x) and log|f′(x)| per element. */
  protected abstract forwardElementwise(x: Tensor, options?: BijectorOptions): { y: Tensor; logDerivative: Tensor };
  /** x = f⁻¹(y) and log|(f⁻¹)′(y)| per element. */
  protected abstract inverseElementwise(y: Tensor, options?: BijectorOptions): { x: Tensor; logDerivative: Tensor };

  forward(x: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      const { y, logDerivative } = this.forwardElementwise(x, options);
      return { y, logDet: sumToBatch(logDerivative) };
    });
  }

  inverse(y: Tensor, options?: BijectorOptions): { x: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      const { x, logDerivative } = this.inverseElementwise(y, options);
      return { x, logDet: sumToBatch(logDerivative) };
    });
  }
}
