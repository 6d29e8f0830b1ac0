import * as tf from '@tensorflow/tfjs-core';
import type { Distribution, DistributionOptions } from './distribution';
import { SeededDistribution } from './distribution';
import { checkCount, checkTensor, paramShape, prepareValue, resolveEventRank, sumEvent } from './util';

/** Largest divisor of n that is ≤ 64: the group size for products of values in [½, 1] (½^64 ≫ float32's minimum). */
function groupSize(n: number): number {
  for (let g = Math.min(64, n); g > 1; g--) if (n % g === 0) return g;
  return 1;
}

/** Σ over the trailing eventRank axes of log σ(|ℓ|), with one log per group of up to 64 elements. */
function sumLogSigmoidAbs(l: tf.Tensor, eventRank: number): tf.Tensor {
  const s = tf.sigmoid(tf.abs(l)); // in [½, 1]: products of ≤ 64 of them stay normal floats
  const batchShape = l.shape.slice(0, l.rank - eventRank);
  const events = l.shape.slice(l.rank - eventRank).reduce((a, b) => a * b, 1);
  const g = eventRank === 0 ? 1 : groupSize(events);
  if (g === 1) return sumEvent(tf.log(s), eventRank);
  // log is the slow (scalar) kernel on wasm; a product of 64 values costs a fraction of 64 logs and, with fewer
  // float32 additions, is even a little more accurate.
  const grouped = tf.prod(tf.reshape(s, [...batchShape, events / g, g]), -1);
  return tf.sum(tf.log(grouped), -1);
}

/**
 * Σ over the trailing `eventRank` axes of softplus(ℓ) = log(1 + e^ℓ), as Σ relu(ℓ) − Σ log σ(|ℓ|): stable
 * (σ(|ℓ|) ∈ [½, 1]) and several times faster on wasm than tf.softplus, whose kernel evaluates exp and log in scalar
 * code while relu and sigmoid are vectorised — this is the hot loop of importance sampling with k·batch·784 logits.
 * The gradient is set to σ(ℓ) explicitly: the composite's autodiff would give 0 instead of ½ at ℓ = 0 (relu' and
 * |·|' are 0 there).
 */
function softplusSum(logits: tf.Tensor, eventRank: number): tf.Tensor {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const l = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([l]);
    const value = tf.sub(sumEvent(tf.relu(l), eventRank), sumLogSigmoidAbs(l, eventRank));
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const saveL = saved[0] as tf.Tensor;
        // dy has the reduced shape: give it size-1 event axes so it broadcasts over them.
        const dyFull = tf.reshape(dy, [...dy.shape, ...new Array<number>(eventRank).fill(1)]);
        return tf.mul(dyFull, tf.sigmoid(saveL));
      },
    };
  });
  return f(logits);
}

/**
 * Independent Bernoulli variables parameterised by logits ℓ (p = sigmoid(ℓ)) — what a decoder outputs.
 *
 * `logProb(x) = Σ [x·ℓ − softplus(ℓ)]` over the event axes, which equals x·log σ(ℓ) + (1−x)·log σ(−ℓ) but never
 * forms σ(ℓ), so it stays finite for any finite logit (no log 0 at ℓ = ±100). It is also the (negative) binary
 * cross-entropy for targets x ∈ [0, 1]. Samples are 0/1 floats. The logits are used, not owned.
 *
 * @example
 * ```ts
 * const px = new Bernoulli(decoderLogits);   // [batch, 784]
 * const logpx = px.logProb(binarizedImages); // [batch]
 * ```
 */
export class Bernoulli extends SeededDistribution implements Distribution {
  readonly logits: tf.Tensor;
  readonly eventRank: number;
  readonly shape: number[];

  constructor(logits: tf.Tensor, options: DistributionOptions = {}) {
    super(options.seed);
    checkTensor('Bernoulli', 'logits', logits);
    this.logits = logits;
    this.shape = paramShape('Bernoulli', { logits });
    this.eventRank = resolveEventRank('Bernoulli', options.eventRank, this.shape);
  }

  /** P(x = 1) = sigmoid(logits) (a new tensor). */
  probs(): tf.Tensor {
    return tf.sigmoid(this.logits);
  }

  logProb(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const v = prepareValue('Bernoulli.logProb', x, this.shape, this.eventRank);
      return tf.sub(sumEvent(tf.mul(v, this.logits), this.eventRank), softplusSum(this.logits, this.eventRank));
    });
  }

  sample(n?: number, seed?: number): tf.Tensor {
    return tf.tidy(() => {
      if (n !== undefined) checkCount('Bernoulli.sample', n);
      const u = tf.randomUniform(n === undefined ? this.shape : [n, ...this.shape], 0, 1, 'float32', this.seedFor(seed));
      return tf.cast(tf.less(u, tf.sigmoid(this.logits)), 'float32');
    });
  }
}
