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
