/**
 * Tile's gradient as one sum per tiled axis, not one slice and one add per tile.
 *
 * tfjs-core 4.22's Tile gradient walks every repetition: `dx += slice(dy, …)` for each of the ∏ reps tiles, two
 * kernels apiece. `tf.broadcastTo` is a Tile, so broadcasting a per-channel value over a batch of images costs
 * thousands of kernels in backprop: Glow's learned prior, broadcast to [64, 7, 7, 8], took 3,136 slices and 3,137 adds
 * (~35 ms) of a ~170 ms training step. Along a tiled axis of size s·r the tiles are the r blocks of s, so
 * dx = Σ over the r blocks: reshape dy to [before, r, s·after] and sum the middle axis, once per tiled axis. The sums
 * add the same numbers in another order, so the gradient equals the stock one to float32 rounding.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';
import { gradientOverride } from './gradient-override';

/** dy (x's shape tiled by `reps`) summed over its tiles: x's shape. */
export function untile(dy: Tensor, xShape: readonly number[], reps: readonly number[]): Tensor {
  return tf.tidy(() => {
    let g = dy;
    const shape = [...dy.shape];
    reps.forEach((r, axis) => {
      if (r === 1) return;
      const before = shape.slice(0, axis).reduce((a, b) => a * b, 1);
      const after = shape.slice(axis + 1).reduce((a, b) => a * b, 1) * (xShape[axis] as number);
      g = tf.sum(tf.reshape(g, [before, r, after]), 1);
      shape[axis] = xShape[axis] as number;
    });
    return tf.reshape(g, [...xShape]);
  });
}

const tileGradient: GradConfig = {
  kernelName: 'Tile',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs: NamedAttrMap) => {
    const [x] = saved as [Tensor];
    return { x: () => untile(dy as Tensor, x.shape, attrs.reps as number[]) };
  },
};

const override = gradientOverride(tileGradient);

/** Registers gm's Tile gradient (idempotent; gradients are global to tfjs, not per backend). */
export const installTileGradient = (): void => override.install();

/** Puts back the gradient registered before {@link installTileGradient}. */
export const uninstallTileGradient = (): void => override.uninstall();
