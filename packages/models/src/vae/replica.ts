/**
 * The VAE as a data-parallel replica (@gm/backend/data-parallel's `Replica`, satisfied by shape so that @gm/models
 * keeps importing no backend): the same −ELBO `fit` minimises (one posterior sample, analytic KL, β = 1), with the
 * posterior noise seeded by (seed, step, first row), so every replica draws its own reproducible noise.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // a worker is a fresh realm: the layers and the gradient functions
import { deriveSeed, type Replica } from '@gm/core';
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
    loss(inputs, { step, rows }) {
      const x = inputs.x as tf.Tensor;
      return tf.neg(tf.mean(vae.elbo(x, { seed: deriveSeed(seed, step, rows[0]) }).elbo)) as tf.Scalar;
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
