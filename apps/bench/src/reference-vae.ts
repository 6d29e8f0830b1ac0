/**
 * The reference VAE training step that gm benchmarks against its PyTorch twin (../shared/peers/torch_vae_step.py):
 * MLP encoder 784-512-256-(2×32), decoder 32-256-512-784, batch 128, Adam(1e-3), Bernoulli likelihood from logits,
 * analytic KL to N(0, I). Built from stock tfjs-layers Dense layers and a custom loop, as gm's models train, with
 * gmAdam (tf.train.adam bit for bit; one fused kernel per variable when gm's wasm kernels are bound).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { gmAdam } from '@gm/backend';

export const REFERENCE = { batch: 128, inputDim: 784, hidden: [512, 256], latentDim: 32, learningRate: 1e-3 } as const;

export interface ReferenceVae {
  /** Runs one Adam step on a batch [n, 784] of binary pixels; returns the batch's mean −ELBO in nats. */
  trainStep(x: tf.Tensor2D): number;
  /** Mean −ELBO (nats, one posterior sample, analytic KL) of a batch without training. */
  negativeElbo(x: tf.Tensor2D): number;
  dispose(): void;
}

export interface ReferenceVaeStep {
  /** Runs one optimisation step on a fixed random binary batch and returns its loss (mean −ELBO, nats). */
  step(): number;
  dispose(): void;
}

/** A ReLU MLP with a linear last layer; `seed` seeds the Glorot-uniform kernels (unseeded when omitted). */
export function mlp(sizes: number[], name: string, seed?: number): tfl.Sequential {
  const model = tfl.sequential({ name });
  sizes.slice(1).forEach((units, i) => {
    const last = i === sizes.length - 2;
    model.add(
      tfl.layers.dense({
        units,
        activation: last ? 'linear' : 'relu',
        inputShape: i === 0 ? [sizes[0] as number] : undefined,
        ...(seed === undefined ? {} : { kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + i }) }),
      }),
    );
  });
  return model;
}

/** The reference VAE architecture trained by a custom loop (tfjs-layers ignores model.addLoss). */
export interface ReferenceVaeOptions {
  seed?: number;
  latentDim?: number;
}

export function createReferenceVae(options: ReferenceVaeOptions = {}): ReferenceVae {
  const { inputDim, hidden, learningRate } = REFERENCE;
  const latentDim = options.latentDim ?? REFERENCE.latentDim;
  const seed = options.seed ?? 0;
  const encoder = mlp([inputDim, ...hidden, 2 * latentDim], 'encoder', seed);
  const decoder = mlp([latentDim, ...[...hidden].reverse(), inputDim], 'decoder', seed + 100);
  const optimizer = gmAdam(learningRate);
  const variables = [...encoder.trainableWeights, ...decoder.trainableWeights].map((w) => w.read() as tf.Variable);
  let noiseSeed = seed * 7919;

  const negativeElbo = (x: tf.Tensor2D) => {
    const h = encoder.apply(x, { training: true }) as tf.Tensor2D;
    const [mu, logVar] = tf.split(h, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
    const eps = tf.randomNormal(mu.shape, 0, 1, 'float32', noiseSeed++);
    const z = tf.add(mu, tf.mul(eps, tf.exp(tf.mul(logVar, 0.5))));
    const logits = decoder.apply(z, { training: true }) as tf.Tensor2D;
    // −log p(x|z) for a Bernoulli with logits l: softplus(l) − x·l, summed over pixels.
    const reconstruction = tf.sum(tf.sub(tf.softplus(logits), tf.mul(x, logits)), 1);
    const kl = tf.mul(tf.sum(tf.sub(tf.sub(tf.add(tf.exp(logVar), tf.square(mu)), 1), logVar), 1), 0.5);
    return tf.mean(tf.add(reconstruction, kl)) as tf.Scalar;
  };

  const read = (t: tf.Scalar) => {
    const value = t.dataSync()[0] as number;
    t.dispose();
    return value;
  };

  return {
    trainStep: (x) => read(optimizer.minimize(() => negativeElbo(x), true, variables) as tf.Scalar),
    negativeElbo: (x) => read(tf.tidy(() => negativeElbo(x))),
    dispose() {
      optimizer.dispose();
      encoder.dispose();
      decoder.dispose();
    },
  };
}

/** The benchmark step: the reference VAE on one fixed random binary batch of 128, as the PyTorch twin does. */
export function createReferenceVaeStep(seed = 0): ReferenceVaeStep {
  const vae = createReferenceVae({ seed });
  const { batch, inputDim } = REFERENCE;
  const x = tf.tidy(() =>
    tf.cast(tf.greater(tf.randomUniform([batch, inputDim], 0, 1, 'float32', seed), 0.5), 'float32'),
  ) as tf.Tensor2D;
  return {
    step: () => vae.trainStep(x),
    dispose() {
      vae.dispose();
      x.dispose();
    },
  };
}
