import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';

/**
 * The flow (bijector) contract of gm, after TensorFlow Probability's: an invertible map with the log-determinant
 * of its Jacobian. `forward` maps data `x` to `y` and returns `log|det ∂y/∂x|`; `inverse` maps `y` back to `x` and
 * returns `log|det ∂x/∂y|` (= minus the forward log-det at that point). Log-dets have shape `[batch]`: one value per
 * example, summed over all of its features. A flow's `logProb(x)` is the base `logProb(y)` plus the summed forward
 * log-dets of its steps.
 *
 * `training` (default false) matters only to flows with batch statistics ({@link FlowBatchNorm}): true uses the
 * batch's statistics and updates the running ones.
 */
export interface Flow {
  forward(x: Tensor, training?: boolean): { y: Tensor; logDet: Tensor };
  inverse(y: Tensor): { x: Tensor; logDet: Tensor };
}

/**
 * Composition of flows, applied in order: `forward` runs `flows[0]` first and sums the log-dets; `inverse` runs them
 * backwards. Itself a {@link Flow}, so chains nest.
 *
 * @example
 * ```ts
 * const chain = new FlowChain([couplingA, batchNorm, new Squeeze(), couplingB]);
 * const { y, logDet } = chain.forward(x, true); // training: batch statistics in the batch norm
 * ```
 */
export class FlowChain implements Flow {
  readonly flows: readonly Flow[];

  constructor(flows: readonly Flow[]) {
    if (flows.length === 0) throw new Error('FlowChain: needs at least one flow');
    this.flows = [...flows];
  }

  forward(x: Tensor, training = false): { y: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      let y = x;
      let logDet: Tensor | undefined;
      for (const flow of this.flows) {
        const step = flow.forward(y, training);
        y = step.y;
        logDet = logDet === undefined ? step.logDet : tf.add(logDet, step.logDet);
      }
      return { y, logDet: logDet as Tensor };
    });
  }

  inverse(y: Tensor): { x: Tensor; logDet: Tensor } {
    return tf.tidy(() => {
      let x = y;
      let logDet: Tensor | undefined;
      for (let i = this.flows.length - 1; i >= 0; i--) {
        const step = (this.flows[i] as Flow).inverse(x);
        x = step.x;
        logDet = logDet === undefined ? step.logDet : tf.add(logDet, step.logDet);
      }
      return { x, logDet: logDet as Tensor };
    });
  }
}
