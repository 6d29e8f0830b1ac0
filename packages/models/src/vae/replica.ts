/**
 * The VAE as a data-parallel replica (@gm/backend/data-parallel's `Replica`, satisfied by shape so that @gm/models
 * keeps importing no backend): the objective `fit` minimises — the −ELBO (one posterior sample, analytic KL) with the
 * KL weighted by the config's β, or the negative k-sample IWAE bound — with the posterior noise of the step's seed
 * (the trainer's, which `gm train` sets to one thread's; else derived from the replica's seed and the step), each
 * example's from its own stream at its place in the whole batch, so the threads draw, example for example, the noise
 * one thread draws. (No KL warm-up: that is a `fit` option.)
 * A replica returns one loss, the objective: with β ≠ 1 a data-parallel `fit` logs the β-weighted objective as its
 * training loss, not the −ELBO (its validation loss stays the −ELBO).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // a worker is a fresh realm: the layers and the gradient functions
import { withExampleOffset, type Replica } from '@gm/core';
import { replicaStepSeed } from '../train/replica-seed';
import type { VaeConfig } from './config';
import { storedConfig, VAE } from './vae';

/** A data-parallel replica (@gm/core's `Replica`) holding a VAE. */
export interface VaeReplica extends Replica {
  readonly model: VAE;
}

/** The plain (structured-clonable) config a worker rebuilds a replica from. */
export interface VaeReplicaConfig {
  vae: VaeConfig;
  /** Seed of the posterior noise (default: the VAE config's seed). */
  seed?: number;
}

/** Wraps an existing VAE (rank 0 holds the caller's model). */
export function vaeReplica(vae: VAE, seed = vae.config.seed): VaeReplica {
  return {
    model: vae,
    variables: vae.trainableVariables(),
    inputs: [{ name: 'x', exampleShape: [...vae.config.inputShape] }],
    loss(inputs, context) {
      const x = inputs.x as tf.Tensor;
      const s = replicaStepSeed(seed, context);
      const c = vae.config;
      // This shard's examples take their places in the whole batch's noise: the step one thread takes.
      return withExampleOffset(context.rows[0], () => tf.tidy(() => (c.objective === 'iwae' ? vae.iwaeObjective(x, s) : (vae.elboObjective(x, s, c.beta).objective as tf.Scalar))));
    },
    dispose() {
      vae.dispose();
    },
  };
}

/** The config a worker rebuilds `vae`'s architecture from (its weights come from rank 0). */
export function vaeReplicaConfig(vae: VAE, seed = vae.config.seed): VaeReplicaConfig {
  return { vae: storedConfig(vae.config), seed };
}

/**
 * Builds a VAE replica from its config: what a data-parallel worker imports.
 *
 * @example
 * ```ts
 * import { createDataParallelTrainer } from '@gm/backend/data-parallel';
 * import { VAE, vaeReplica, vaeReplicaConfig } from '@gm/models';
 *
 * const vae = new VAE({ inputShape: [784], hidden: [512, 256], latentDim: 32 });
 * const trainer = await createDataParallelTrainer({
 *   replica: { module: import.meta.resolve('@gm/models'), exportName: 'createVaeReplica', config: vaeReplicaConfig(vae) },
 *   localReplica: vaeReplica(vae),
 *   batchSize: 128,
 *   optimizer: { name: 'adam', learningRate: 1e-3 },
 * });
 * ```
 */
export function createVaeReplica(config: VaeReplicaConfig): VaeReplica {
  if (config?.vae === undefined) throw new Error('createVaeReplica: config.vae (a VaeConfig) is required');
  const vae = new VAE(config.vae);
  return vaeReplica(vae, config.seed ?? vae.config.seed);
}
