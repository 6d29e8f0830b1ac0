/**
 * The gated update of an inverse-autoregressive step (Kingma et al. 2016) as one op: from `z₀` and the MADE's output
 * `[m ‖ s]`, `z = m + σ(s) ⊙ (z₀ − m)` (= σ ⊙ z₀ + (1 − σ) ⊙ m) and the log-determinant `Σ_j log σ(s_j)` per row.
 *
 * In tfjs ops that is a split, eight element-wise kernels and a sum forward and ~25 kernels backward, per step, each
 * an engine round trip. A backend that registers the two kernels named here runs it as one forward and one backward
 * kernel (@gm/backend on wasm); elsewhere the same math runs as tfjs ops. This module owns the contract: names,
 * inputs, outputs, and the gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, Tensor } from '@tensorflow/tfjs-core';
import { GmError, formatShape } from '../errors.js';
import { fusedKernelApplies } from './dispatch.js';

/** Inputs `{ z0 [rows, L], ms [rows, 2L] }`; outputs `[z [rows, L], logGate [rows]]`. */
export const GATED_UPDATE_KERNEL = 'GmGatedUpdate';
/** Inputs `{ dz, dLogGate, z0, ms }`; outputs `[dz0, dms]`. */
export const GATED_UPDATE_GRAD_KERNEL = 'GmGatedUpdateGrad';

/** The op in tfjs ops: the reference the kernels are tested against, and the path without them. */
export function composedGatedUpdate(z0: Tensor, ms: Tensor): { z: Tensor; logGate: Tensor } {
  return tf.tidy(() => {
    const L = z0.shape[1] as number;
    const [m, s] = tf.split(ms, [L, L], 1) as [Tensor, Tensor];
    // log σ(s) = −softplus(−s), exact where σ(s) underflows
    return { z: tf.add(m, tf.mul(tf.sigmoid(s), tf.sub(z0, m))), logGate: tf.sum(tf.neg(tf.softplus(tf.neg(s))), 1) };
  });
}

/**
 * `z = m + σ(s) ⊙ (z₀ − m)` and `logGate = Σ_j log σ(s_j)` for `z₀` [rows, L] and `ms = [m ‖ s]` [rows, 2L]; one
 * kernel where the backend registers {@link GATED_UPDATE_KERNEL} (float32, no gradient of a gradient recording).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { gatedUpdate } from '@gm/core/ops';
 *
 * const { z, logGate } = gatedUpdate(tf.tensor2d([[2]]), tf.tensor2d([[0, 0]])); // m = 0, σ(0) = ½
 * // z = [[1]], logGate = [log ½]
 * ```
 */
export function gatedUpdate(z0: Tensor, ms: Tensor): { z: Tensor; logGate: Tensor } {
  const where = 'gatedUpdate';
  if (z0.rank !== 2) throw new GmError('BAD_SHAPE', `${where}: z0`, 'a [rows, L] tensor', formatShape(z0.shape));
  const [rows, L] = z0.shape as [number, number];
  if (ms.rank !== 2 || ms.shape[0] !== rows || ms.shape[1] !== 2 * L) {
    throw new GmError('BAD_SHAPE', `${where}: ms`, `[${rows}, ${2 * L}] ([m ‖ s] for z0's [${rows}, ${L}])`, formatShape(ms.shape));
  }
  if (!fusedKernelApplies(GATED_UPDATE_KERNEL, [z0, ms])) return composedGatedUpdate(z0, ms);
  const [z, logGate] = tf.engine().runKernel(GATED_UPDATE_KERNEL, { z0, ms }) as Tensor[];
  return { z: z as Tensor, logGate: logGate as Tensor };
}

/**
 * The gradient of {@link GATED_UPDATE_KERNEL} by {@link GATED_UPDATE_GRAD_KERNEL}, which gives both input gradients
 * at once: dz₀ = dz ⊙ σ, dm = dz ⊙ (1 − σ), ds = (dz ⊙ (z₀ − m) ⊙ σ + dlogGate) ⊙ (1 − σ).
 */
export const gatedUpdateGradConfig: GradConfig = {
  kernelName: GATED_UPDATE_KERNEL,
  inputsToSave: ['z0', 'ms'],
  gradFunc: (dys, saved) => {
    const [dz, dLogGate] = dys as Tensor[];
    const [z0, ms] = saved as [Tensor, Tensor];
    // Both gradients from one dispatch; a thunk the tape does not call leaves its tensor to the backward pass's tidy.
    const [dz0, dms] = tf.engine().runKernel(GATED_UPDATE_GRAD_KERNEL, { dz: dz as Tensor, dLogGate: dLogGate as Tensor, z0, ms }) as Tensor[];
    return { z0: () => dz0 as Tensor, ms: () => dms as Tensor };
  },
};
