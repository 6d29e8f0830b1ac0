/**
 * The bijector contract (TensorFlow Probability's, in the normalizing direction of zuko and nflows): an invertible
 * map with the log-determinant of its Jacobian. `forward` maps data `x` towards the base, `y = f(x)`, and returns
 * `log|det ∂y/∂x|`; `inverse` maps `y` back and returns `log|det ∂x/∂y|` (minus the forward log-det at that point).
 * Log-dets have the batch shape: one value per example, summed over its event axes. A flow's log-density is the
 * base's log-density of `f(x)` plus the forward log-det.
 */
import type { Tensor, Variable } from '@tensorflow/tfjs-core';

/** What a step may need besides its input. */
export interface BijectorOptions {
  /** Training mode: batch statistics in batch norms, data-dependent initialisation (default false). */
  training?: boolean;
  /** The conditioning input of a conditional bijector, `[batch, contextSize]` (a class one-hot, an encoder's h). */
  context?: Tensor;
  /** Seed of a stochastic step (dequantization noise). */
  seed?: number;
}

export interface Bijector {
  forward(x: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor };
  inverse(y: Tensor, options?: BijectorOptions): { x: Tensor; logDet: Tensor };
  /** The variables training should update (none for parameter-free steps). */
  trainableVariables?(): Variable[];
  /** Variables that are state but not trained (running statistics): snapshotted and saved with the weights. */
  stateVariables?(): Variable[];
}
