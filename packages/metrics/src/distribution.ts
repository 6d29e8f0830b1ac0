import { SeedStream } from '@gm/core';

export type { Distribution, SampleWithLogProb } from '@gm/core';

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
