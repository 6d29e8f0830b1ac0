import type * as tf from '@tensorflow/tfjs-core';
import { SeedStream } from './seed';

/**
 * The gm distribution contract (DESIGN.md): a log density / mass and a sampler.
 *
 * Shapes follow TensorFlow Probability: a distribution has a *batch shape* and an *event shape*; its parameters have
 * shape `batch ++ event`. `logProb(x)` accepts any `x` that broadcasts against the parameters (so extra leading
 * sample axes are fine) and **sums over the trailing event axes**, returning the broadcast shape without them.
 * `sample(n)` returns shape `[n, ...batch, ...event]`; `sample()` returns `[...batch, ...event]`.
 */
export interface Distribution {
  logProb(x: tf.Tensor): tf.Tensor;
  /** `seed` makes this one call reproducible; without it the distribution's own seed stream (if any) is used. */
  sample(n?: number, seed?: number): tf.Tensor;
}

/** Samples together with their log density, for distributions (e.g. IAF posteriors) that know log q of their own
 * samples cheaply but cannot evaluate it at arbitrary points. */
export interface SampleWithLogProb {
  /** `n` samples of shape `[n, ...batch, ...event]` and their log densities of shape `[n, ...batch]`. */
  sampleWithLogProb(n: number, seed?: number): { sample: tf.Tensor; logProb: tf.Tensor };
}

/** Options shared by the distributions of this package. */
export interface DistributionOptions {
  /**
   * How many trailing axes of the parameters form one event (summed over by `logProb`). Default: every axis but the
   * first, i.e. parameters `[batch, ...]` give one log-probability per example.
   */
  eventRank?: number;
  /** Seed for a reproducible stream of samples across successive `sample()` calls. */
  seed?: number;
}

/** Seed handling shared by the concrete distributions. */
export abstract class SeededDistribution {
  private readonly seeds: SeedStream | undefined;

  protected constructor(seed: number | undefined) {
    this.seeds = seed === undefined ? undefined : new SeedStream(seed);
  }

  /** The seed for one sampling call: the explicit one, else the next from the stream, else none (tfjs random). */
  protected seedFor(seed: number | undefined): number | undefined {
    return seed ?? this.seeds?.next();
  }
}
