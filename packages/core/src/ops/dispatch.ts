/** When a fused op runs its own kernel rather than its composed tfjs ops. */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';

/**
 * Whether `kernel` can compute an op on `inputs`: the current backend registers it, every input is float32, and no
 * gradient of a gradient is recording (the backward kernels have no gradients of their own, so under a second tape the
 * op must be tfjs ops).
 */
export function fusedKernelApplies(kernel: string, inputs: readonly Tensor[]): boolean {
  const engine = tf.engine() as unknown as { state: { gradientDepth: number } };
  return tf.getKernel(kernel, tf.getBackend()) !== undefined && engine.state.gradientDepth <= 1 && inputs.every((t) => t.dtype === 'float32');
}
