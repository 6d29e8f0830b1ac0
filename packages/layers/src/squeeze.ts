import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, serialization } from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import type { Bijector } from '@gm/core';
import { checkPositiveInt } from '@gm/core';
import { oneShape, oneTensor, type BaseLayerArgs, type Kwargs, type Shape } from './util';

export interface SqueezeArgs extends BaseLayerArgs {
  /** Spatial block size f (default 2): `[B, H, W, C] → [B, H/f, W/f, C·f²]`. */
  factor?: number;
}

/**
 * Real NVP's squeeze: space-to-depth on NHWC images, `[B, H, W, C] → [B, H/f, W/f, C·f²]`. Each f×f block of
 * pixels becomes one pixel with f² times the channels (block row, block column, channel order). It only permutes
 * values, so its log-determinant is 0; `inverse` is depth-to-space.
 */
export class Squeeze extends layers.Layer implements Bijector {
  static className = 'GmSqueeze';
  static readonly gmLayer = true;

  readonly factor: number;

  constructor(args: SqueezeArgs = {}) {
    super(args);
    const factor = args.factor ?? 2;
    checkPositiveInt(`Squeeze "${this.name}": factor`, factor);
    this.factor = factor;
  }

  private check(shape: readonly (number | null)[], inverse: boolean): void {
    const where = `Squeeze "${this.name}"`;
    if (shape.length !== 4) throw new Error(`${where}: expected an image batch [B, H, W, C]; got [${shape.map(String)}]`);
    const f = this.factor;
    if (!inverse) {
      const [, h, w] = shape;
      if ((h !== null && (h as number) % f !== 0) || (w !== null && (w as number) % f !== 0)) {
        throw new Error(`${where}: height and width must be multiples of ${f}; got [${shape.map(String)}]`);
      }
    } else if (shape[3] !== null && (shape[3] as number) % (f * f) !== 0) {
      throw new Error(`${where}: inverse needs channels divisible by ${f * f}; got [${shape.map(String)}]`);
    }
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = oneShape(inputShape, `Squeeze "${this.name}"`);
    this.check(s, false);
    const f = this.factor;
    const div = (d: number | null | undefined) => (d === null || d === undefined ? null : d / f);
    return [s[0] ?? null, div(s[1]), div(s[2]), s[3] === null || s[3] === undefined ? null : s[3] * f * f];
  }

  private squeeze(x: Tensor): Tensor {
    this.check(x.shape, false);
    const [b, h, w, c] = x.shape as [number, number, number, number];
    const f = this.factor;
    return tf.tidy(() => {
      const blocks = tf.reshape(x, [b, h / f, f, w / f, f, c]);
      return tf.reshape(tf.transpose(blocks, [0, 1, 3, 2, 4, 5]), [b, h / f, w / f, c * f * f]);
    });
  }

  private unsqueeze(y: Tensor): Tensor {
    this.check(y.shape, true);
    const [b, h, w, cf] = y.shape as [number, number, number, number];
    const f = this.factor;
    const c = cf / (f * f);
    return tf.tidy(() => {
      const blocks = tf.reshape(y, [b, h, w, f, f, c]);
      return tf.reshape(tf.transpose(blocks, [0, 1, 3, 2, 4, 5]), [b, h * f, w * f, c]);
    });
  }

  override call(inputs: Tensor | Tensor[], _kwargs: Kwargs): Tensor {
    return this.squeeze(oneTensor(inputs, `Squeeze "${this.name}"`));
  }

  /** Space-to-depth; log-det 0 per example. */
  forward(x: Tensor): { y: Tensor; logDet: Tensor } {
    return { y: this.squeeze(x), logDet: tf.zeros([x.shape[0] as number]) };
  }

  /** Depth-to-space; log-det 0 per example. */
  inverse(y: Tensor): { x: Tensor; logDet: Tensor } {
    return { x: this.unsqueeze(y), logDet: tf.zeros([y.shape[0] as number]) };
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), factor: this.factor };
  }
}
