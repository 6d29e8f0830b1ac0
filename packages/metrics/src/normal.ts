import * as tf from '@tensorflow/tfjs-core';
import { normalSample, standardNormalLogProb } from '@gm/core/ops';
import type { Distribution, DistributionOptions, SampleWithLogProb } from './distribution';
import { SeededDistribution } from './distribution';
import { randomStandardNormal } from './seed';
import { LOG_2PI, broadcastShapes, checkCount, checkTensor, fmt, paramShape, prepareValue, resolveEventRank, sumEvent } from './util';

/**
 * Diagonal (independent) Normal, parameterised by `mean` and `logStd` = log σ (what an encoder outputs; never
 * needs a positivity constraint and keeps `logProb` and KL free of log(σ) underflow). Use {@link Normal.fromStd} when
 * you hold σ itself.
 *
 * The parameters are used, not owned: the distribution never disposes them. `sample` is reparameterised
 * (`mean + σ·ε`), so gradients flow to `mean` and `logStd`.
 *
 * @example
 * ```ts
 * const q = new Normal(mean, logStd);           // [batch, latent] → one log-density per example
 * const z = q.sample();                          // [batch, latent]
 * const logq = q.logProb(z);                     // [batch]
 * ```
 */
export class Normal extends SeededDistribution implements Distribution, SampleWithLogProb {
  readonly mean: tf.Tensor;
  readonly logStd: tf.Tensor;
  /** Number of trailing axes summed over by `logProb`. */
  readonly eventRank: number;
  /** Broadcast shape of the parameters (batch ++ event). */
  readonly shape: number[];

  constructor(mean: tf.Tensor, logStd: tf.Tensor, options: DistributionOptions = {}) {
    super(options.seed);
    checkTensor('Normal', 'mean', mean);
    checkTensor('Normal', 'logStd', logStd);
    this.mean = mean;
    this.logStd = logStd;
    this.shape = paramShape('Normal', { mean, logStd });
    this.eventRank = resolveEventRank('Normal', options.eventRank, this.shape);
  }

  /**
   * A Normal from σ instead of log σ (σ must be positive). log σ is computed once here into a new tensor,
   * `normal.logStd`, which the caller disposes (or call this inside `tf.tidy`).
   */
  static fromStd(mean: tf.Tensor, std: tf.Tensor, options: DistributionOptions = {}): Normal {
    checkTensor('Normal.fromStd', 'std', std);
    return new Normal(mean, tf.log(std), options);
  }

  /**
   * A Normal from its log-variance log σ² (what Keras-style encoders and @gm/layers' `Sampling` take): log σ is
   * computed once here into a new tensor, `normal.logStd`, which the caller disposes (or call this inside `tf.tidy`).
   */
  static fromLogVariance(mean: tf.Tensor, logVariance: tf.Tensor, options: DistributionOptions = {}): Normal {
    checkTensor('Normal.fromLogVariance', 'logVariance', logVariance);
    return new Normal(mean, tf.mul(logVariance, 0.5), options);
  }

  /** σ = exp(logStd) (a new tensor). */
  std(): tf.Tensor {
    return tf.exp(this.logStd);
  }

  /** Σ over event axes of −½((x−μ)/σ)² − log σ − ½ log 2π. */
  logProb(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const v = prepareValue('Normal.logProb', x, this.shape, this.eventRank);
      const z = tf.mul(tf.sub(v, this.mean), tf.exp(tf.neg(this.logStd)));
      const elem = tf.sub(tf.mul(tf.square(z), -0.5), tf.add(this.logStd, 0.5 * LOG_2PI));
      return sumEvent(elem, this.eventRank);
    });
  }

  sample(n?: number, seed?: number): tf.Tensor {
    return tf.tidy(() => {
      if (n !== undefined) checkCount('Normal.sample', n);
      const eps = randomStandardNormal(n === undefined ? this.shape : [n, ...this.shape], this.seedFor(seed), this.exampleAxis(n));
      return tf.add(this.mean, tf.mul(tf.exp(this.logStd), eps));
    });
  }

  /**
   * The axis of a draw of `n` samples (or one, `n` undefined) that holds the batch's examples — the first batch axis —
   * so each example's noise is its own stream (@gm/core's per-example noise: a data-parallel shard draws what one
   * thread draws for its examples). None when the distribution has no batch axes.
   */
  private exampleAxis(n: number | undefined): number | undefined {
    if (this.shape.length === this.eventRank) return undefined;
    return n === undefined ? 0 : 1;
  }

  /** Samples and their log densities in one pass (log q needs only ε, not a second look at the sample). */
  sampleWithLogProb(n: number, seed?: number): { sample: tf.Tensor; logProb: tf.Tensor } {
    return tf.tidy(() => {
      checkCount('Normal.sampleWithLogProb', n);
      const eps = randomStandardNormal([n, ...this.shape], this.seedFor(seed), this.exampleAxis(n));
      // log q(z) from ε itself ((z−μ)/σ = ε exactly, no round-off from recomputing it): one kernel each way on wasm.
      return normalSample(this.mean, this.logStd, eps, this.eventRank);
    });
  }

  /** Differential entropy Σ (½ log 2πe + log σ) over the event axes, shape = batch shape. */
  entropy(): tf.Tensor {
    return tf.tidy(() => {
      const elem = tf.add(tf.add(this.logStd, 0.5 * (LOG_2PI + 1)), tf.zeros(this.shape));
      return sumEvent(elem, this.eventRank);
    });
  }
}

/**
 * The standard Normal N(0, I) over events of shape `eventShape` — the usual VAE prior. It holds no tensors, so it
 * can live as long as a model without being disposed or kept.
 */
export class StandardNormal extends SeededDistribution implements Distribution, SampleWithLogProb {
  readonly eventShape: number[];

  constructor(eventShape: readonly number[], options: { seed?: number } = {}) {
    super(options.seed);
    if (!Array.isArray(eventShape) || !eventShape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new Error(`StandardNormal: eventShape must be an array of positive integers, got ${JSON.stringify(eventShape)}`);
    }
    this.eventShape = [...eventShape];
  }

  get eventRank(): number {
    return this.eventShape.length;
  }

  /** Σ over the event axes of −½x² − ½ log 2π; x has shape `[...any, ...eventShape]`. */
  logProb(x: tf.Tensor): tf.Tensor {
    const tail = x.shape.slice(x.rank - this.eventRank);
    if (x.rank < this.eventRank || tail.some((d, i) => d !== this.eventShape[i])) {
      throw new Error(`StandardNormal.logProb: x of shape ${fmt(x.shape)} must end with the event shape ${fmt(this.eventShape)}`);
    }
    return tf.tidy(() => standardNormalLogProb(x.dtype === 'float32' ? x : tf.cast(x, 'float32'), this.eventRank));
  }

  sample(n?: number, seed?: number): tf.Tensor {
    if (n !== undefined) checkCount('StandardNormal.sample', n);
    const shape = n === undefined ? this.eventShape : [n, ...this.eventShape];
    return randomStandardNormal(shape, this.seedFor(seed));
  }

  sampleWithLogProb(n: number, seed?: number): { sample: tf.Tensor; logProb: tf.Tensor } {
    const sample = this.sample(n, seed);
    return { sample, logProb: this.logProb(sample) };
  }

  /** This distribution as a {@link Normal} with explicit zero parameters (new tensors the caller owns). */
  toNormal(): Normal {
    return new Normal(tf.zeros(this.eventShape), tf.zeros(this.eventShape), { eventRank: this.eventRank });
  }
}

/** Mean and log σ of anything Normal-like (a Normal, or a StandardNormal as zeros). */
function normalParams(d: Normal | StandardNormal): { mean: tf.Tensor | null; logStd: tf.Tensor | null; eventRank: number } {
  if (d instanceof StandardNormal) return { mean: null, logStd: null, eventRank: d.eventRank };
  return { mean: d.mean, logStd: d.logStd, eventRank: d.eventRank };
}

/**
 * Analytic KL(q ‖ p) between diagonal Normals, summed over the event axes:
 * Σ [log σp − log σq + (σq² + (μq − μp)²) / (2σp²) − ½], computed from log σ (σ ratios as exp of differences, so no
 * overflow or 0/0 for extreme scales). Both must have the same event rank; batch shapes broadcast.
 */
export function klDivergence(q: Normal | StandardNormal, p: Normal | StandardNormal): tf.Tensor {
  for (const [name, d] of [['q', q], ['p', p]] as const) {
    if (!(d instanceof Normal) && !(d instanceof StandardNormal)) {
      throw new Error(`klDivergence: ${name} must be a Normal or StandardNormal`);
    }
  }
  const a = normalParams(q);
  const b = normalParams(p);
  if (a.eventRank !== b.eventRank) {
    throw new Error(`klDivergence: q has eventRank ${a.eventRank} but p has eventRank ${b.eventRank}; they must match`);
  }
  const shapeQ = q instanceof Normal ? q.shape : q.eventShape;
  const shapeP = p instanceof Normal ? p.shape : p.eventShape;
  const shape = broadcastShapes(shapeQ, shapeP);
  if (shape === undefined) {
    throw new Error(`klDivergence: q of shape ${fmt(shapeQ)} and p of shape ${fmt(shapeP)} do not broadcast`);
  }
  return tf.tidy(() => {
    const zero = tf.zeros(shape);
    const muQ = a.mean ?? zero;
    const muP = b.mean ?? zero;
    const lsQ = a.logStd ?? zero;
    const lsP = b.logStd ?? zero;
    const diffLog = tf.sub(lsQ, lsP); // log(σq/σp)
    const varRatio = tf.exp(tf.mul(diffLog, 2));
    const scaledMean = tf.mul(tf.sub(muQ, muP), tf.exp(tf.neg(lsP)));
    const elem = tf.sub(tf.mul(tf.sub(tf.add(varRatio, tf.square(scaledMean)), 1), 0.5), diffLog);
    return sumEvent(tf.add(elem, zero), a.eventRank);
  });
}
