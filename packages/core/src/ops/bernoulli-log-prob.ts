/**
 * The log-likelihood of independent Bernoulli variables given by logits — `Σ_event [x·ℓ − softplus(ℓ)]`, the
 * negative binary cross-entropy every Bernoulli decoder (VAE, IAF-VAE, conv VAE, MADE) trains on — as one op.
 *
 * In tfjs ops it is ~15 kernels forward and ~12 backward over the whole image batch; a backend that registers the
 * kernels named here runs one pass each way (@gm/backend on wasm). This module owns the contract and the composed
 * form, which is also what runs elsewhere (and whenever x only broadcasts against the logits).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, Tensor } from '@tensorflow/tfjs-core';
import { GmError } from '../errors.js';
import { fusedKernelApplies } from './dispatch.js';
import { sumEvent } from './event.js';

/** Inputs `{ logits, x }` of one shape, attrs `{ eventRank }`; output: the sums over the trailing eventRank axes. */
export const BERNOULLI_LOG_PROB_KERNEL = 'GmBernoulliLogProb';
/** Inputs `{ dy, logits, x }` (dy of the output's shape); outputs `[dLogits, dx]`: dy·(x − σ(ℓ)) and dy·ℓ. */
export const BERNOULLI_LOG_PROB_GRAD_KERNEL = 'GmBernoulliLogProbGrad';

/** Largest divisor of n that is ≤ 64: the group size for products of values in [½, 1] (½^64 ≫ float32's minimum). */
function groupSize(n: number): number {
  for (let g = Math.min(64, n); g > 1; g--) if (n % g === 0) return g;
  return 1;
}

/** Σ over the trailing eventRank axes of log σ(|ℓ|), with one log per group of up to 64 elements. */
function sumLogSigmoidAbs(l: Tensor, eventRank: number): Tensor {
  const s = tf.sigmoid(tf.abs(l)); // in [½, 1]: products of ≤ 64 of them stay normal floats
  const batchShape = l.shape.slice(0, l.rank - eventRank);
  const events = l.shape.slice(l.rank - eventRank).reduce((a, b) => a * b, 1);
  const g = eventRank === 0 ? 1 : groupSize(events);
  if (g === 1) return sumEvent(tf.log(s), eventRank);
  // log is the slow (scalar) kernel on tfjs-wasm; a product of 64 values costs a fraction of 64 logs and, with fewer
  // float32 additions, is even a little more accurate.
  const grouped = tf.prod(tf.reshape(s, [...batchShape, events / g, g]), -1);
  return tf.sum(tf.log(grouped), -1);
}

/**
 * Σ over the trailing `eventRank` axes of softplus(ℓ) = log(1 + e^ℓ), as Σ relu(ℓ) − Σ log σ(|ℓ|): stable
 * (σ(|ℓ|) ∈ [½, 1]) and several times faster on tfjs-wasm than tf.softplus, whose kernel evaluates exp and log in
 * scalar code while relu and sigmoid are vectorised. The gradient is set to σ(ℓ) explicitly: the composite's autodiff
 * would give 0 instead of ½ at ℓ = 0 (relu' and |·|' are 0 there).
 */
function softplusSum(logits: Tensor, eventRank: number): Tensor {
  const f = tf.customGrad((...args: Array<Tensor | tf.GradSaveFunc>) => {
    const l = args[0] as Tensor;
    (args[1] as tf.GradSaveFunc)([l]);
    const value = tf.sub(sumEvent(tf.relu(l), eventRank), sumLogSigmoidAbs(l, eventRank));
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const saveL = saved[0] as Tensor;
        // dy has the reduced shape: give it size-1 event axes so it broadcasts over them.
        const dyFull = tf.reshape(dy, [...dy.shape, ...new Array<number>(eventRank).fill(1)]);
        return tf.mul(dyFull, tf.sigmoid(saveL));
      },
    };
  });
  return f(logits);
}

/** The op in tfjs ops (x may broadcast against the logits): the path without the kernels, and their reference. */
export function composedBernoulliLogProb(logits: Tensor, x: Tensor, eventRank: number): Tensor {
  return tf.tidy(() => tf.sub(sumEvent(tf.mul(x, logits), eventRank), softplusSum(logits, eventRank)));
}

/**
 * `Σ [x·ℓ − softplus(ℓ)]` over the trailing `eventRank` axes of the logits ℓ: the log-probability of x under
 * independent Bernoulli variables with P(1) = σ(ℓ), finite for any finite logit. One kernel where the backend
 * registers {@link BERNOULLI_LOG_PROB_KERNEL} and x has the logits' shape (float32, no gradient of a gradient
 * recording); tfjs ops otherwise, where x may broadcast against the logits.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { bernoulliLogProb } from '@gm/core/ops';
 *
 * bernoulliLogProb(tf.tensor2d([[0, 0]]), tf.tensor2d([[1, 0]]), 1); // [2·log ½]
 * ```
 */
export function bernoulliLogProb(logits: Tensor, x: Tensor, eventRank: number): Tensor {
  if (!Number.isInteger(eventRank) || eventRank < 0 || eventRank > logits.rank) {
    throw new GmError('BAD_ARGUMENT', 'bernoulliLogProb: eventRank', `an integer in [0, ${logits.rank}] (the logits' rank)`, eventRank);
  }
  const sameShape = x.rank === logits.rank && x.shape.every((d, i) => d === logits.shape[i]);
  if (!sameShape || !fusedKernelApplies(BERNOULLI_LOG_PROB_KERNEL, [logits, x])) return composedBernoulliLogProb(logits, x, eventRank);
  return tf.engine().runKernel(BERNOULLI_LOG_PROB_KERNEL, { logits, x }, { eventRank }) as Tensor;
}

/** The gradient of {@link BERNOULLI_LOG_PROB_KERNEL}: both input gradients from one dispatch. */
export const bernoulliLogProbGradConfig: GradConfig = {
  kernelName: BERNOULLI_LOG_PROB_KERNEL,
  inputsToSave: ['logits', 'x'],
  gradFunc: (dy, saved) => {
    const [logits, x] = saved as [Tensor, Tensor];
    // A thunk the tape does not call leaves its tensor to the backward pass's tidy.
    const [dLogits, dx] = tf.engine().runKernel(BERNOULLI_LOG_PROB_GRAD_KERNEL, { dy: dy as Tensor, logits, x }) as Tensor[];
    return { logits: () => dLogits as Tensor, x: () => dx as Tensor };
  },
};
