/**
 * The test figures of a model with a latent variable (VAE, IAF-VAE): the mean −ELBO in nats and bits/dim and, with
 * `k` > 1 importance samples, −log p(x) estimated by importance sampling.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { EvaluateOptions, Metric } from '@gm/core';
import { bitsPerDim } from '@gm/metrics';

/** What the figures need from the model. */
export interface LatentBounds {
  negativeElbo(x: tf.Tensor, options: { seed: number; batchSize?: number }): number;
  logLikelihood(x: tf.Tensor, k: number, options: { seed: number }): tf.Tensor;
}

/**
 * −ELBO (seed `seed`) and, with `k` > 1, the IS estimate (seed `seed + 1`), over `dataSize` values per example.
 * `bits` converts nats to bits/dim (@gm/metrics' `bitsPerDim` options: `{ levels: 255 }` for a density on v/255).
 */
export function latentModelMetrics(model: LatentBounds, x: tf.Tensor, dataSize: number, seed: number, options: EvaluateOptions, bits: { levels?: number } = {}): Metric[] {
  const negElbo = model.negativeElbo(x, { seed, ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }) });
  const out: Metric[] = [
    { name: 'negElbo', value: negElbo, unit: 'nats' },
    { name: 'negElboBitsPerDim', value: bitsPerDim(negElbo, dataSize, bits), unit: 'bits/dim' },
  ];
  const k = options.k ?? 1;
  if (k > 1) {
    const ll = model.logLikelihood(x, k, { seed: seed + 1 });
    const mean = tf.tidy(() => tf.mean(ll));
    const nll = -(mean.dataSync()[0] as number);
    tf.dispose([ll, mean]);
    out.push(
      { name: 'isNll', value: nll, unit: 'nats' },
      { name: 'isNllBitsPerDim', value: bitsPerDim(nll, dataSize, bits), unit: 'bits/dim' },
      { name: 'isSamples', value: k, unit: 'k' },
    );
  }
  return out;
}
