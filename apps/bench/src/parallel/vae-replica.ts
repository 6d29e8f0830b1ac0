/**
 * The reference VAE (../reference-vae.ts: MLP 784-512-256-(2×32) / 32-256-512-784, Bernoulli logits, analytic KL) as a
 * data-parallel *replica*: the same layers and loss, but the batch and the reparameterisation noise are inputs, so
 * that two replicas fed two halves of a batch see exactly the examples and noise one full-batch step would.
 *
 * A replica module is what a worker imports by URL and builds from a plain (structured-clonable) config; this is
 * the shape a reusable trainer would ask model authors for (see ./README.md).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // a worker is a fresh realm: layers and gradient functions
import type { Replica } from '@gm/backend/data-parallel';
import { mlp, REFERENCE } from '../reference-vae';

export interface VaeReplicaConfig {
  inputDim: number;
  hidden: number[];
  latentDim: number;
}

export const REFERENCE_VAE_CONFIG: VaeReplicaConfig = {
  inputDim: REFERENCE.inputDim,
  hidden: [...REFERENCE.hidden],
  latentDim: REFERENCE.latentDim,
};

export type { Replica } from '@gm/backend/data-parallel';


/** Builds the VAE replica. Exported under the name the data-parallel worker looks for. */
export function createReplica(config: VaeReplicaConfig = REFERENCE_VAE_CONFIG): Replica {
  const { inputDim, hidden, latentDim } = config;
  const encoder = mlp([inputDim, ...hidden, 2 * latentDim], 'encoder');
  const decoder = mlp([latentDim, ...[...hidden].reverse(), inputDim], 'decoder');
  const variables = [...encoder.trainableWeights, ...decoder.trainableWeights].map((w) => w.read() as tf.Variable);
  return {
    variables,
    inputs: [
      { name: 'x', exampleShape: [inputDim] },
      { name: 'eps', exampleShape: [latentDim] },
    ],
    loss(inputs) {
      const x = inputs.x as tf.Tensor2D;
      const eps = inputs.eps as tf.Tensor2D;
      const h = encoder.apply(x, { training: true }) as tf.Tensor2D;
      const [mu, logVar] = tf.split(h, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
      const z = tf.add(mu, tf.mul(eps, tf.exp(tf.mul(logVar, 0.5))));
      const logits = decoder.apply(z, { training: true }) as tf.Tensor2D;
      const reconstruction = tf.sum(tf.sub(tf.softplus(logits), tf.mul(x, logits)), 1);
      const kl = tf.mul(tf.sum(tf.sub(tf.sub(tf.add(tf.exp(logVar), tf.square(mu)), 1), logVar), 1), 0.5);
      return tf.mean(tf.add(reconstruction, kl)) as tf.Scalar;
    },
    dispose() {
      encoder.dispose();
      decoder.dispose();
    },
  };
}
