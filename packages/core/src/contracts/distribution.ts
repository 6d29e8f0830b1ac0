/**
 * The distribution contract (TensorFlow Probability's shapes): a distribution has a batch shape and an event shape.
 * `logProb(x)` accepts any `x` that broadcasts against the parameters and sums over the trailing event axes;
 * `sample(n)` returns `[n, ...batch, ...event]` and `sample()` `[...batch, ...event]`.
 */
import type { Tensor } from '@tensorflow/tfjs-core';

export interface Distribution {
  logProb(x: Tensor): Tensor;
  /** `seed` makes this one call reproducible. */
  sample(n?: number, seed?: number): Tensor;
}

/**
 * Samples together with their log density, for distributions that know log q of their own samples cheaply but
 * cannot evaluate it at arbitrary points (an inverse-autoregressive-flow posterior).
 */
export interface SampleWithLogProb {
  /** `n` samples `[n, ...batch, ...event]` and their log densities `[n, ...batch]`. */
  sampleWithLogProb(n: number, seed?: number): { sample: Tensor; logProb: Tensor };
}

/** A latent-variable model p(x, z) = p(z) p(x|z) with an amortised posterior q(z|x) (VAE, IAF-VAE). */
export interface LatentVariableModel {
  /** p(z). */
  readonly prior: Distribution;
  /** q(z|x) for a batch `[B, ...]`: batch shape `[B]`. */
  posterior(x: Tensor): Distribution | SampleWithLogProb;
  /** p(x|z) for codes `[M, ...latent]`: batch shape `[M]`. */
  likelihood(z: Tensor): Distribution;
}
