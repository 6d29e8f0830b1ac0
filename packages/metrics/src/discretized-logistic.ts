import * as tf from '@tensorflow/tfjs-core';
import type { Distribution, DistributionOptions } from './distribution';
import { SeededDistribution } from './distribution';
import { deriveSeed } from '@gm/core';
import { checkCount, checkTensor, fmt, log1mexp, paramShape, prepareValue, resolveEventRank, sumEvent } from './util';

/**
 * Pixel convention of the discretized logistics (PixelCNN++'s): a pixel value v ∈ {0, …, K−1} (K = `numBins`,
 * 256 for 8-bit data) is represented by the bin centre x = 2v/(K−1) − 1 ∈ [−1, 1]; each bin is [x − h, x + h] with
 * half-width h = 1/(K−1) (1/255 for bytes), except that the edge bins take the tails: v = 0 is (−∞, −1 + h] and
 * v = K−1 is [1 − h, ∞). So the K probabilities sum to exactly 1.
 */
export interface DiscretizedOptions extends DistributionOptions {
  /** Number of pixel levels K (default 256). */
  numBins?: number;
}

function checkBins(where: string, numBins: number): number {
  if (!Number.isInteger(numBins) || numBins < 2) throw new Error(`${where}: numBins must be an integer ≥ 2, got ${numBins}`);
  return numBins;
}

/** Pixel levels {0, …, K−1} (any dtype) → bin centres 2v/(K−1) − 1 in [−1, 1] (float32). */
export function toBinCenters(levels: tf.Tensor, numBins = 256): tf.Tensor {
  checkBins('toBinCenters', numBins);
  return tf.tidy(() => tf.sub(tf.mul(tf.cast(levels, 'float32'), 2 / (numBins - 1)), 1));
}

/** Bin centres (or any values) in [−1, 1] → the nearest pixel level in {0, …, K−1} as int32 (clipped). */
export function fromBinCenters(x: tf.Tensor, numBins = 256): tf.Tensor {
  checkBins('fromBinCenters', numBins);
  return tf.tidy(() => tf.cast(tf.clipByValue(tf.round(tf.mul(tf.add(x, 1), (numBins - 1) / 2)), 0, numBins - 1), 'int32'));
}

/**
 * Elementwise log P(bin of x) under Logistic(loc, s = exp(logScale)), no event sum.
 *
 * With a = (x − μ + h)/s and b = (x − μ − h)/s the bin mass is σ(a) − σ(b), computed through the exact identity
 *   σ(a) − σ(b) = σ(a) · σ(−b) · (1 − e^{−(a−b)}),
 * i.e. log P = −softplus(−a) − softplus(b) + log(1 − e^{−2h/s}). Every term is a stable function, so there is no
 * cancellation when the mass is tiny — far in a tail (σ(a) ≈ σ(b) ≈ 1 in float32) or in a very wide bin
 * spread (s ≫ h) — and no switch to a density approximation is needed. Edge bins drop the missing side:
 * log σ(a) for the lowest, log σ(−b) for the highest.
 */
export function discretizedLogisticLogProbElementwise(x: tf.Tensor, loc: tf.Tensor, logScale: tf.Tensor, numBins = 256): tf.Tensor {
  checkBins('discretizedLogisticLogProb', numBins);
  return tf.tidy(() => {
    const h = 1 / (numBins - 1);
    const invS = tf.exp(tf.neg(logScale));
    const centered = tf.sub(x, loc);
    const a = tf.mul(tf.add(centered, h), invS);
    const b = tf.mul(tf.sub(centered, h), invS);
    const logCdfA = tf.neg(tf.softplus(tf.neg(a))); // log σ(a)
    const logSfB = tf.neg(tf.softplus(b)); // log(1 − σ(b)) = log σ(−b)
    const interior = tf.add(tf.add(logCdfA, logSfB), log1mexp(tf.mul(invS, 2 * h)));
    const isLow = tf.less(x, -1 + h);
    const isHigh = tf.greater(x, 1 - h);
    return tf.where(isLow, logCdfA, tf.where(isHigh, logSfB, interior));
  });
}

/** Quantises continuous values to bin centres, edge bins taking the tails. */
function quantize(y: tf.Tensor, numBins: number): tf.Tensor {
  return tf.tidy(() => toBinCenters(fromBinCenters(y, numBins), numBins));
}

/** u ~ Uniform strictly inside (0, 1), so log u and log(1 − u) stay finite. */
function openUniform(shape: number[], seed: number | undefined): tf.Tensor {
  return tf.tidy(() => tf.clipByValue(tf.randomUniform(shape, 0, 1, 'float32', seed), 1e-7, 1 - 6e-8));
}

/** Logistic(0, 1) noise: log u − log(1 − u). */
function logisticNoise(shape: number[], seed: number | undefined): tf.Tensor {
  return tf.tidy(() => {
    const u = openUniform(shape, seed);
    return tf.sub(tf.log(u), tf.log1p(tf.neg(u)));
  });
}

/**
 * Discretized logistic over pixel levels (see {@link DiscretizedOptions} for the [−1, 1] bin convention), with
 * parameters `loc` (μ, in the same [−1, 1] units) and `logScale` (log s). `logProb(x)` takes bin centres
 * (use {@link toBinCenters} on bytes) and sums over the event axes; `sample()` returns bin centres.
 */
export class DiscretizedLogistic extends SeededDistribution implements Distribution {
  readonly loc: tf.Tensor;
  readonly logScale: tf.Tensor;
  readonly numBins: number;
  readonly eventRank: number;
  readonly shape: number[];

  constructor(loc: tf.Tensor, logScale: tf.Tensor, options: DiscretizedOptions = {}) {
    super(options.seed);
    checkTensor('DiscretizedLogistic', 'loc', loc);
    checkTensor('DiscretizedLogistic', 'logScale', logScale);
    this.loc = loc;
    this.logScale = logScale;
    this.numBins = checkBins('DiscretizedLogistic', options.numBins ?? 256);
    this.shape = paramShape('DiscretizedLogistic', { loc, logScale });
    this.eventRank = resolveEventRank('DiscretizedLogistic', options.eventRank, this.shape);
  }

  logProb(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const v = prepareValue('DiscretizedLogistic.logProb', x, this.shape, this.eventRank);
      return sumEvent(discretizedLogisticLogProbElementwise(v, this.loc, this.logScale, this.numBins), this.eventRank);
    });
  }

  sample(n?: number, seed?: number): tf.Tensor {
    return tf.tidy(() => {
      if (n !== undefined) checkCount('DiscretizedLogistic.sample', n);
      const shape = n === undefined ? this.shape : [n, ...this.shape];
      const y = tf.add(this.loc, tf.mul(tf.exp(this.logScale), logisticNoise(shape, this.seedFor(seed))));
      return quantize(y, this.numBins);
    });
  }
}

/**
 * A mixture of K discretized logistics per pixel (PixelCNN++'s output distribution, without its RGB channel
 * coupling: every sub-pixel has its own mixture). Parameters `logits`, `locs` and `logScales` have shape
 * `[...pixelShape, K]` — the last axis indexes components. `logProb(x)` takes bin centres of shape `pixelShape`
 * (broadcasting), computes log Σ_k π_k P_k(x) with a logsumexp over components, and sums over the event axes
 * (counted on `pixelShape`, i.e. without the component axis).
 */
export class DiscretizedLogisticMixture extends SeededDistribution implements Distribution {
  readonly logits: tf.Tensor;
  readonly locs: tf.Tensor;
  readonly logScales: tf.Tensor;
  readonly numBins: number;
  readonly numComponents: number;
  readonly eventRank: number;
  /** Broadcast shape of one pixel grid (the parameters' shape without the component axis). */
  readonly shape: number[];

  constructor(logits: tf.Tensor, locs: tf.Tensor, logScales: tf.Tensor, options: DiscretizedOptions = {}) {
    super(options.seed);
    const where = 'DiscretizedLogisticMixture';
    checkTensor(where, 'logits', logits);
    checkTensor(where, 'locs', locs);
    checkTensor(where, 'logScales', logScales);
    const full = paramShape(where, { logits, locs, logScales });
    for (const [name, t] of [['logits', logits], ['locs', locs], ['logScales', logScales]] as const) {
      if (t.rank < 1 || t.shape[t.rank - 1] !== full[full.length - 1]) {
        throw new Error(`${where}: "${name}" of shape ${fmt(t.shape)} must end with the component axis (size ${full[full.length - 1] ?? '?'})`);
      }
    }
    this.logits = logits;
    this.locs = locs;
    this.logScales = logScales;
    this.numComponents = full[full.length - 1] as number;
    this.numBins = checkBins(where, options.numBins ?? 256);
    this.shape = full.slice(0, -1);
    this.eventRank = resolveEventRank(where, options.eventRank, this.shape);
  }

  logProb(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const v = prepareValue('DiscretizedLogisticMixture.logProb', x, this.shape, this.eventRank);
      const comp = discretizedLogisticLogProbElementwise(tf.expandDims(v, -1), this.locs, this.logScales, this.numBins);
      const mixed = tf.logSumExp(tf.add(comp, tf.logSoftmax(this.logits)), -1);
      return sumEvent(mixed, this.eventRank);
    });
  }

  sample(n?: number, seed?: number): tf.Tensor {
    return tf.tidy(() => {
      if (n !== undefined) checkCount('DiscretizedLogisticMixture.sample', n);
      const s = this.seedFor(seed);
      const pixels = n === undefined ? this.shape : [n, ...this.shape];
      // Component by Gumbel-max over the logits, then logistic noise in that component.
      const u = openUniform([...pixels, this.numComponents], s === undefined ? undefined : deriveSeed(s, 0));
      const gumbel = tf.neg(tf.log(tf.neg(tf.log(u))));
      // int32 one-hot then cast: the wasm OneHot kernel writes integer bits when asked for float32 (tfjs 4.22).
      const pick = tf.cast(tf.oneHot(tf.argMax(tf.add(this.logits, gumbel), -1), this.numComponents), 'float32');
      const loc = tf.sum(tf.mul(pick, this.locs), -1);
      const logScale = tf.sum(tf.mul(pick, this.logScales), -1);
      const noise = logisticNoise(pixels, s === undefined ? undefined : deriveSeed(s, 1));
      return quantize(tf.add(loc, tf.mul(tf.exp(logScale), noise)), this.numBins);
    });
  }
}
