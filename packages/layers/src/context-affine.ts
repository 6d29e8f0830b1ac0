import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, serialization } from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { checkPositiveInt, GmError, type Bijector, type BijectorOptions } from '@gm/core';
import { buildLayer, oneShape, oneTensor, shapeList, zeros, type BaseLayerArgs, type Kwargs, type Shape } from './util';

export interface ContextAffineArgs extends BaseLayerArgs {
  /** Width of the context (a class one-hot) the shift and log-scale depend on; absent: learned constants only. */
  contextSize?: number | null;
}

/**
 * A learned Gaussian prior as a bijector — Glow's "learntop" and its class-conditional prior (Kingma & Dhariwal, 2018):
 * per channel (the last axis) `y = (x − μ)·exp(−log σ)` with `[μ, log σ] = b + c·K` for a context `c`, or the learned
 * constants `b` without one. A standard-Normal base after it makes `x ~ N(μ(c), σ(c)²)`, so a class shifts and scales
 * the latent it samples from. Weights start at zero: a fresh layer is the identity. `log|det ∂y/∂x| = −Σ log σ` over
 * the positions and channels of each example.
 */
export class ContextAffine extends layers.Layer implements Bijector {
  static className = 'GmContextAffine';
  static readonly gmLayer = true;

  readonly contextSize: number | undefined;
  private bias: LayerVariable | undefined;
  private kernel: LayerVariable | undefined;

  constructor(args: ContextAffineArgs = {}) {
    super(args);
    if (args.contextSize !== undefined && args.contextSize !== null) checkPositiveInt(`ContextAffine "${this.name}": contextSize`, args.contextSize);
    this.contextSize = args.contextSize ?? undefined;
    if (this.batchInputShape !== null && this.batchInputShape !== undefined) buildLayer(this, this.batchInputShape, this.contextSize === undefined ? [] : [this.contextSize]);
  }

  private get where(): string {
    return `ContextAffine "${this.name}"`;
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = this.contextSize === undefined ? oneShape(inputShape, this.where) : (shapeList(inputShape)[0] as Shape);
    const c = shape[shape.length - 1];
    if (shape.length < 2 || typeof c !== 'number') {
      throw new GmError('BAD_SHAPE', this.where, 'an input whose last (channel) dimension is known', `[${shape.map(String).join(', ')}]`);
    }
    this.bias = this.addWeight('bias', [2 * c], 'float32', zeros());
    if (this.contextSize !== undefined) this.kernel = this.addWeight('kernel', [this.contextSize, 2 * c], 'float32', zeros());
    this.built = true;
  }

  /** μ and log σ, `[batch or 1, 1…, C]` so they broadcast over the positions of `x`. */
  private params(x: Tensor, context: Tensor | undefined): { shift: Tensor; logScale: Tensor } {
    if ((context === undefined) !== (this.contextSize === undefined)) {
      throw new GmError('BAD_ARGUMENT', `${this.where}: context`, this.contextSize === undefined ? 'no context (the layer was built without contextSize)' : `a [batch, ${this.contextSize}] tensor`, context === undefined ? undefined : `[${context.shape.join(', ')}]`);
    }
    let p = (this.bias as LayerVariable).read();
    let rows = 1;
    if (context !== undefined) {
      if (context.rank !== 2 || context.shape[1] !== this.contextSize || context.shape[0] !== x.shape[0]) {
        throw new GmError('BAD_SHAPE', `${this.where}: context`, `[${x.shape[0]}, ${this.contextSize}]`, `[${context.shape.join(', ')}]`);
      }
      p = tf.add(tf.matMul(context, (this.kernel as LayerVariable).read()), p);
      rows = x.shape[0] as number;
    }
    const c = x.shape[x.rank - 1] as number;
    const [shift, logScale] = tf.split(tf.reshape(p, [rows, ...new Array<number>(x.rank - 2).fill(1), 2 * c]), 2, -1) as [Tensor, Tensor];
    return { shift, logScale };
  }

  /** Σ log σ over each example's positions and channels, `[batch]`. */
  private sumLogScale(x: Tensor, logScale: Tensor): Tensor {
    // Σ_c log σ times the positions, not a sum over log σ broadcast to x's shape: tfjs-wasm's Tile (broadcastTo) of
    // [1, 1, 1, 8] to a batch of 64 × 7 × 7 took ~2 ms, forward alone.
    const batch = x.shape[0] as number;
    const positions = x.size / batch / (x.shape[x.rank - 1] as number);
    const perRow = tf.mul(tf.sum(tf.reshape(logScale, [logScale.shape[0] as number, -1]), 1), positions);
    return perRow.shape[0] === batch ? perRow : tf.mul(perRow, tf.ones([batch]));
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return this.contextSize === undefined ? oneShape(inputShape, this.where) : (shapeList(inputShape)[0] as Shape);
  }

  /** `y` (a conditional layer takes `[x, context]`). */
  override call(inputs: Tensor | Tensor[], _kwargs: Kwargs): Tensor {
    if (this.contextSize !== undefined && Array.isArray(inputs) && inputs.length === 2) return this.forward(inputs[0] as Tensor, { context: inputs[1] as Tensor }).y;
    return this.forward(oneTensor(inputs, this.where)).y;
  }

  /** `y = (x − μ)·exp(−log σ)` and `log|det| = −Σ log σ` per example. */
  forward(x: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor } {
    buildLayer(this, x.shape, this.contextSize === undefined ? [] : [this.contextSize]);
    return tf.tidy(() => {
      const { shift, logScale } = this.params(x, options?.context);
      return { y: tf.mul(tf.sub(x, shift), tf.exp(tf.neg(logScale))), logDet: tf.neg(this.sumLogScale(x, logScale)) };
    });
  }

  /** `x = y·exp(log σ) + μ` and `log|det| = Σ log σ` per example. */
  inverse(y: Tensor, options?: BijectorOptions): { x: Tensor; logDet: Tensor } {
    buildLayer(this, y.shape, this.contextSize === undefined ? [] : [this.contextSize]);
    return tf.tidy(() => {
      const { shift, logScale } = this.params(y, options?.context);
      return { x: tf.add(tf.mul(y, tf.exp(logScale)), shift), logDet: this.sumLogScale(y, logScale) };
    });
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), contextSize: this.contextSize ?? null };
  }

  /** The constants b and, with a context, the kernel K. */
  trainableVariables(): tf.Variable[] {
    return this.trainableWeights.map((w) => w.read() as tf.Variable);
  }
}
