import * as tf from '@tensorflow/tfjs-core';
import type { Distribution, DistributionOptions } from './distribution';
import { SeededDistribution } from './distribution';
import { bernoulliLogProb } from '@gm/core/ops';
import { checkCount, checkTensor, paramShape, prepareValue, resolveEventRank } from './util';

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
      return bernoulliLogProb(this.logits, v, this.eventRank);
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
