/**
 * The Gaussian pieces of every VAE step as ops: the reparameterised draw from a diagonal Normal with its log-density
 * (`normalSample`), and the standard-normal log-density (`standardNormalLogProb`, the usual prior).
 *
 * In tfjs ops the draw and its log q are eight kernels forward and ~12 backward, the prior four and ~6, each an
 * engine round trip on a [batch, latent] tensor; a backend that registers the kernels named here runs one pass each
 * way (@gm/backend on wasm). This module owns the contract and the composed form, which runs elsewhere.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, Tensor } from '@tensorflow/tfjs-core';
import { GmError, formatShape } from '../errors.js';
import { fusedKernelApplies } from './dispatch.js';
import { LOG_2PI, sumEvent } from './event.js';

/**
 * Inputs `{ mean, logStd }` of one shape S and `{ eps }` of shape [n, ...S], attrs `{ eventRank }`; outputs
 * `[sample [n, ...S], logProb [n, ...batch]]` (batch = S without its trailing eventRank axes).
 */
export const NORMAL_SAMPLE_KERNEL = 'GmNormalSample';
/**
 * Inputs `{ dSample, dLogProb, logStd, eps }`; outputs `[dMean, dLogStd, dEps]`: Σₙ dSample, Σₙ (dSample·σ·ε − dLogProb)
 * and dSample·σ − dLogProb·ε.
 */
export const NORMAL_SAMPLE_GRAD_KERNEL = 'GmNormalSampleGrad';
/** Input `{ z }`, attrs `{ eventRank }`; output: Σ_event −½z² − ½ log 2π per event. */
export const STANDARD_NORMAL_LOG_PROB_KERNEL = 'GmStandardNormalLogProb';
/** Inputs `{ dy, z }`; output dz = −dy·z. */
export const STANDARD_NORMAL_LOG_PROB_GRAD_KERNEL = 'GmStandardNormalLogProbGrad';

function checkEventRank(where: string, eventRank: number, rank: number): void {
  if (!Number.isInteger(eventRank) || eventRank < 0 || eventRank > rank) {
    throw new GmError('BAD_ARGUMENT', `${where}: eventRank`, `an integer in [0, ${rank}]`, eventRank);
  }
}

/** {@link normalSample} in tfjs ops (mean and logStd may broadcast against each other): the path without the kernels. */
export function composedNormalSample(mean: Tensor, logStd: Tensor, eps: Tensor, eventRank: number): { sample: Tensor; logProb: Tensor } {
  return tf.tidy(() => {
    const sample = tf.add(mean, tf.mul(tf.exp(logStd), eps));
    // log q(z) with (z − μ)/σ = ε exactly, so no round-off from recomputing it.
    const elem = tf.sub(tf.mul(tf.square(eps), -0.5), tf.add(logStd, 0.5 * LOG_2PI));
    return { sample, logProb: sumEvent(elem, eventRank) };
  });
}

/**
 * The reparameterised draw `z = μ + e^{log σ} ⊙ ε` from a diagonal Normal and its log-density
 * `Σ_event −½ε² − log σ − ½ log 2π`, for `n` draws of noise `eps` [n, ...S] (mean and logStd broadcast to S). Gradients
 * flow to mean, logStd and eps. One kernel each way where the backend registers {@link NORMAL_SAMPLE_KERNEL} (and
 * mean and logStd have shape S, float32); tfjs ops otherwise.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { normalSample } from '@gm/core/ops';
 *
 * const { sample, logProb } = normalSample(tf.tensor2d([[1, 2]]), tf.zeros([1, 2]), tf.tensor3d([[[0.5, -1]]]), 1);
 * // sample [[[1.5, 1]]], logProb [[−½(0.25 + 1) − log 2π]]
 * ```
 */
export function normalSample(mean: Tensor, logStd: Tensor, eps: Tensor, eventRank: number): { sample: Tensor; logProb: Tensor } {
  const where = 'normalSample';
  if (eps.rank < 1) throw new GmError('BAD_SHAPE', `${where}: eps`, '[n, ...shape] (n draws)', formatShape(eps.shape));
  // S, the shape of one draw; mean and logStd broadcast to it (the kernel takes them at S exactly).
  const S = eps.shape.slice(1);
  checkEventRank(where, eventRank, S.length);
  const atS = (t: Tensor) => t.rank === S.length && t.shape.every((d, i) => d === S[i]);
  if (!atS(mean) || !atS(logStd) || !fusedKernelApplies(NORMAL_SAMPLE_KERNEL, [mean, logStd, eps])) return composedNormalSample(mean, logStd, eps, eventRank);
  const [sample, logProb] = tf.engine().runKernel(NORMAL_SAMPLE_KERNEL, { mean, logStd, eps }, { eventRank }) as Tensor[];
  return { sample: sample as Tensor, logProb: logProb as Tensor };
}

/** The gradient of {@link NORMAL_SAMPLE_KERNEL}: all three input gradients from one dispatch. */
export const normalSampleGradConfig: GradConfig = {
  kernelName: NORMAL_SAMPLE_KERNEL,
  inputsToSave: ['logStd', 'eps'],
  gradFunc: (dys, saved) => {
    const [dSample, dLogProb] = dys as Tensor[];
    const [logStd, eps] = saved as [Tensor, Tensor];
    // A thunk the tape does not call leaves its tensor to the backward pass's tidy.
    const [dMean, dLogStd, dEps] = tf.engine().runKernel(NORMAL_SAMPLE_GRAD_KERNEL, { dSample: dSample as Tensor, dLogProb: dLogProb as Tensor, logStd, eps }) as Tensor[];
    return { mean: () => dMean as Tensor, logStd: () => dLogStd as Tensor, eps: () => dEps as Tensor };
  },
};

/** {@link standardNormalLogProb} in tfjs ops. */
export function composedStandardNormalLogProb(z: Tensor, eventRank: number): Tensor {
  return tf.tidy(() => {
    const size = z.shape.slice(z.rank - eventRank).reduce((a, b) => a * b, 1);
    return tf.sub(tf.mul(sumEvent(tf.square(z), eventRank), -0.5), 0.5 * LOG_2PI * size);
  });
}

/**
 * log N(z; 0, I) summed over the trailing `eventRank` axes: `Σ −½z² − ½ log 2π`. One kernel each way where the backend
 * registers {@link STANDARD_NORMAL_LOG_PROB_KERNEL} (float32 z); tfjs ops otherwise.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { standardNormalLogProb } from '@gm/core/ops';
 *
 * standardNormalLogProb(tf.tensor2d([[0, 1]]), 1); // [−½ − log 2π]
 * ```
 */
export function standardNormalLogProb(z: Tensor, eventRank: number): Tensor {
  checkEventRank('standardNormalLogProb', eventRank, z.rank);
  if (!fusedKernelApplies(STANDARD_NORMAL_LOG_PROB_KERNEL, [z])) return composedStandardNormalLogProb(z, eventRank);
  return tf.engine().runKernel(STANDARD_NORMAL_LOG_PROB_KERNEL, { z }, { eventRank }) as Tensor;
}

/** The gradient of {@link STANDARD_NORMAL_LOG_PROB_KERNEL}. */
export const standardNormalLogProbGradConfig: GradConfig = {
  kernelName: STANDARD_NORMAL_LOG_PROB_KERNEL,
  inputsToSave: ['z'],
  gradFunc: (dy, saved) => {
    const [z] = saved as [Tensor];
    return { z: () => tf.engine().runKernel(STANDARD_NORMAL_LOG_PROB_GRAD_KERNEL, { dy: dy as Tensor, z }) as Tensor };
  },
};
