/**
 * Losses and metrics of the autoencoder family. All return scalars averaged over the batch; reconstruction losses
 * are also averaged over features (the Keras convention), so their scale does not depend on the input size.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Reconstruction losses an autoencoder can train with. */
export type ReconstructionLoss = 'binaryCrossentropy' | 'meanSquaredError';

export const RECONSTRUCTION_LOSSES: readonly ReconstructionLoss[] = ['binaryCrossentropy', 'meanSquaredError'];

/** Probabilities are clipped to [ε, 1 − ε] before taking logs (as Keras does), so a saturated sigmoid gives no ∞. */
export const BCE_EPSILON = 1e-7;

/**
 * Binary cross-entropy of probabilities `p` against targets `x` in [0, 1]:
 * mean over batch and features of −[x·log p + (1 − x)·log(1 − p)].
 */
export function binaryCrossentropy(x: tf.Tensor, p: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const q = tf.clipByValue(p, BCE_EPSILON, 1 - BCE_EPSILON);
    const ll = tf.add(tf.mul(x, tf.log(q)), tf.mul(tf.sub(1, x), tf.log(tf.sub(1, q))));
    return tf.neg(tf.mean(ll)) as tf.Scalar;
  });
}

/** Mean squared error, averaged over batch and features. */
export function meanSquaredError(x: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.squaredDifference(x, y)) as tf.Scalar);
}

/** The reconstruction loss named `loss` of targets `x` and reconstructions `y`. */
export function reconstructionLoss(loss: ReconstructionLoss, x: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return loss === 'binaryCrossentropy' ? binaryCrossentropy(x, y) : meanSquaredError(x, y);
}

/**
 * KL divergence between Bernoulli(target) and Bernoulli(q), element-wise:
 * target·log(target/q) + (1 − target)·log((1 − target)/(1 − q)). `q` is clipped to [ε, 1 − ε].
 */
export function bernoulliKl(target: number, q: tf.Tensor): tf.Tensor {
  if (!(target > 0 && target < 1)) throw new Error(`bernoulliKl: target must lie in (0, 1); got ${target}`);
  return tf.tidy(() => {
    const qc = tf.clipByValue(q, BCE_EPSILON, 1 - BCE_EPSILON);
    const a = tf.mul(target, tf.log(tf.div(target, qc)));
    const b = tf.mul(1 - target, tf.log(tf.div(1 - target, tf.sub(1, qc))));
    return tf.add(a, b);
  });
}

/**
 * The sparse autoencoder's penalty (Ng's sparse autoencoder; Géron, ch. 17): `weight · Σ_j KL(target ‖ q̂_j)`, where
 * q̂_j is the mean activation of coding unit j over the batch. Codings must lie in (0, 1) (sigmoid codings).
 */
export function sparsityPenalty(codings: tf.Tensor, target: number, weight: number): tf.Scalar {
  if (codings.rank !== 2) throw new Error(`sparsityPenalty: codings must be [batch, units]; got shape [${codings.shape}]`);
  return tf.tidy(() => tf.mul(weight, tf.sum(bernoulliKl(target, tf.mean(codings, 0)))) as tf.Scalar);
}

/**
 * L1 activity penalty on the codings: `weight · mean over the batch of Σ_j |h_j|` — Keras's
 * `ActivityRegularization(l1=weight)` (its regularisation losses are divided by the batch size).
 */
export function activityL1Penalty(codings: tf.Tensor, weight: number): tf.Scalar {
  if (codings.rank !== 2) throw new Error(`activityL1Penalty: codings must be [batch, units]; got shape [${codings.shape}]`);
  return tf.tidy(() => tf.mul(weight, tf.div(tf.sum(tf.abs(codings)), codings.shape[0] as number)) as tf.Scalar);
}

/**
 * Rounded accuracy of a reconstruction: the fraction of features where round(reconstruction) = round(input) —
 * for images in [0, 1], the share of pixels whose on/off state the autoencoder got right.
 */
export function roundedAccuracy(x: tf.Tensor, reconstruction: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.round(x), tf.round(reconstruction)), 'float32')) as tf.Scalar);
}

/** Mean cross-entropy of integer `labels` [batch] under class `logits` [batch, classes] (log-softmax, stable). */
export function sparseSoftmaxCrossentropy(labels: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[1] as number;
    const oneHot = tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, classes);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}
