/**
 * Multiply's gradient without casting a float32 operand to float32.
 *
 * tfjs-core 4.22's gradient is `dy · cast(b, 'float32')` (and `dy · cast(a)`): the cast is a kernel even when the
 * operand already is float32, one per operand of every product in the backward pass (~20 per IAF-VAE step, ~90 per
 * Real NVP step). This gradient casts only other dtypes; otherwise it is tfjs's, so the values are bit-identical.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, Tensor } from '@tensorflow/tfjs-core';
import { gradientOverride } from './gradient-override';

/** dy · other, summed over the axes `self` was broadcast along. */
function productGradient(dy: Tensor, self: Tensor, other: Tensor, outShape: number[]): Tensor {
  const res = tf.mul(dy, other.dtype === 'float32' ? other : tf.cast(other, 'float32'));
  const reduceAxes = tf.backend_util.getReductionAxes(self.shape, outShape);
  return reduceAxes.length > 0 ? tf.reshape(tf.sum(res, reduceAxes), self.shape) : res;
}

const multiplyGradient: GradConfig = {
  kernelName: 'Multiply',
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved) => {
    const [a, b] = saved as [Tensor, Tensor];
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    return { a: () => productGradient(dy as Tensor, a, b, outShape), b: () => productGradient(dy as Tensor, b, a, outShape) };
  },
};

const override = gradientOverride(multiplyGradient);

/** Registers gm's Multiply gradient (idempotent; gradients are global to tfjs, not per backend). */
export const installMultiplyGradient = (): void => override.install();

/** Puts back the gradient registered before {@link installMultiplyGradient}. */
export const uninstallMultiplyGradient = (): void => override.uninstall();
