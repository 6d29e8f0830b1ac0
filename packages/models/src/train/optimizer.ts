/**
 * How gm's models get their optimizer. A model keeps one between `fit` calls, so resuming keeps Adam's moments;
 * a new learning rate or a new factory starts a fresh one.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Builds an optimizer for a learning rate. The default is `tf.train.adam`; on wasm pass `gmAdam` from @gm/backend,
 * the same Adam bit for bit, fused into one SIMD kernel per variable (several times faster per step).
 */
export type OptimizerFactory = (learningRate: number) => tf.Optimizer;

/** `tf.train.adam` with tfjs's defaults. */
export const tfjsAdam: OptimizerFactory = (learningRate) => tf.train.adam(learningRate);

/** The optimizer a model holds across `fit` calls. */
export class OptimizerSlot {
  private optimizer: tf.Optimizer | undefined;
  private learningRate: number | undefined;
  private factory: OptimizerFactory | undefined;

  /** The held optimizer when it was built for this rate by this factory; otherwise a new one (the old is freed). */
  get(learningRate: number, factory: OptimizerFactory = tfjsAdam): tf.Optimizer {
    if (this.optimizer === undefined || this.learningRate !== learningRate || this.factory !== factory) {
      this.optimizer?.dispose();
      this.optimizer = factory(learningRate);
      this.learningRate = learningRate;
      this.factory = factory;
    }
    return this.optimizer;
  }

  dispose(): void {
    this.optimizer?.dispose();
    this.optimizer = undefined;
  }
}
