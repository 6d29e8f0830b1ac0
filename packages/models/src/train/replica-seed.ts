/** The seed of a data-parallel replica's step: one owner for the VAE's replica and every other model's. */
import { deriveSeed, type ReplicaStepContext } from '@gm/core';

/**
 * The step's seed: the trainer's (`trainer.step(step, seed)` — `gm train` passes the seed one thread's `fit` gives
 * that step), else one derived from the replica's `seed` and the step. The same on every replica.
 */
export function replicaStepSeed(seed: number, context: ReplicaStepContext): number {
  return context.seed ?? deriveSeed(seed, context.step);
}
