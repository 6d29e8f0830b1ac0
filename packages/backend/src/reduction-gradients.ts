/**
 * The gradients of Sum and Mean with the ones they broadcast dy over made by the backend (`tf.fill`), not in
 * JavaScript.
 *
 * tfjs's own gradients compute dx = reshape(dy) · ones(x.shape), and `ones` allocates and fills a Float32Array of x's
 * size in JavaScript and then copies it into the wasm heap: for a per-example sum over 784 pixels of a batch of 100,
 * 78,400 floats per call, ~3% of an IAF-VAE training step (allocation, fill, upload and garbage collection). The same
 * product with the ones filled in the heap is the same float32 arithmetic, so the gradients are bit-identical.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';
import { gradientOverride } from './gradient-override';

/** dy reshaped to x's rank (reduced axes of size 1), times ones of x's shape. */
function broadcastDy(dy: Tensor, x: Tensor, attrs: NamedAttrMap): Tensor {
  const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
  const expanded = tf.reshape(dy, x.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
  return tf.mul(expanded, tf.fill(x.shape, 1, 'float32'));
}

const sumGradient: GradConfig = {
  kernelName: 'Sum',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as [Tensor];
    const dx = broadcastDy(dy as Tensor, x, attrs);
    return { x: () => dx };
  },
};

const meanGradient: GradConfig = {
  kernelName: 'Mean',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as [Tensor];
    const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
    const reduceSize = axes.reduce((n, axis) => n * (x.shape[axis] as number), 1);
    return { x: () => tf.div(broadcastDy(dy as Tensor, x, attrs), reduceSize) };
  },
};

const override = gradientOverride(sumGradient, meanGradient);

/** Registers gm's Sum and Mean gradients (idempotent; gradients are global to tfjs, not per backend). */
export const installReductionGradients = (): void => override.install();

/** Puts back the gradients that were registered before {@link installReductionGradients}. */
export const uninstallReductionGradients = (): void => override.uninstall();
