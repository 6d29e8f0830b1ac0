import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, serialization } from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import { checkPositiveInt, GmError } from '@gm/core';
import type { Bijector, BijectorOptions } from '@gm/core';
import { addConditioner, resolveConditionerArgs, runConditioner, type ConditionerWeights } from './conditioner';
import { RQ_IDENTITY_DERIVATIVE, rationalQuadraticForward, rationalQuadraticInverse, rqParamsPerElement } from './rational-quadratic';
import { buildLayer, oneShape, oneTensor, optionalBoolean, shapeList, type Activation, type BaseLayerArgs, type Kwargs, type Shape } from './util';

export interface SplineCouplingArgs extends BaseLayerArgs {
  /** Bins K of each spline (default 8). */
  bins?: number;
  /** Half-width B of the interval the splines bend; identity outside (default 3). */
  bound?: number;
  /** Transform the first half and condition on the second, instead of the other way round (default false). */
  invertMask?: boolean;
  /** Hidden widths of the conditioner (default [64, 64]). */
  hidden?: number[];
  /** Activation of the hidden layers (default 'relu'). */
  activation?: Activation;
  /** Seed of the hidden layers' Glorot-uniform initialisers. */
  seed?: number | null;
  /** Width of a conditioning context the conditioner also reads (pass it as `forward(x, { context })`). */
  contextSize?: number | null;
}

/**
 * The rational-quadratic spline coupling layer of neural spline flows (Durkan et al., 2019) on vectors `[batch, D]`:
 * the first ⌊D/2⌋ features (the last ⌈D/2⌉ with `invertMask`) condition a network that outputs, for every other
 * feature, the 3K − 1 parameters of a monotonic rational-quadratic spline on [−B, B] (identity outside), applied
 * element-wise. `log|det ∂y/∂x|` is the sum of the splines' log-derivatives. The network's last layer starts at zero
 * with the derivative outputs offset to 1, so a fresh layer is the identity. The inverse is exact and closed-form.
 *
 * As a tfjs layer, `apply`/`call` return `y`; `forward` and `inverse` implement @gm/core's `Bijector` contract.
 *
 * @example
 * ```ts
 * const flow = new Chain([new SplineCoupling({ inputShape: [2], bins: 8 }), new SplineCoupling({ inputShape: [2], invertMask: true })]);
 * const { y, logDet } = flow.forward(x); // [batch, 2], [batch]
 * ```
 */
export class SplineCoupling extends layers.Layer implements Bijector {
  static className = 'GmSplineCoupling';
  static readonly gmLayer = true;

  readonly bins: number;
  readonly bound: number;
  readonly invertMask: boolean;
  readonly hidden: number[];
  readonly activation: Activation;
  readonly seed: number | undefined;
  readonly contextSize: number | undefined;
  private condWidth = 0;
  private transWidth = 0;
  private conditioner: ConditionerWeights | undefined;
  /** Added to the conditioner's output: the derivative slots start at 1, the others at 0 (constant, kept). */
  private offset: Tensor | undefined;

  constructor(args: SplineCouplingArgs = {}) {
    super(args);
    const where = `SplineCoupling "${this.name}"`;
    this.bins = args.bins ?? 8;
    checkPositiveInt(`${where}: bins`, this.bins);
    if (this.bins < 2) throw new GmError('BAD_ARGUMENT', `${where}: bins`, 'at least 2', this.bins);
    this.bound = args.bound ?? 3;
    if (!(typeof this.bound === 'number' && this.bound > 0 && Number.isFinite(this.bound))) throw new GmError('BAD_ARGUMENT', `${where}: bound`, 'a positive number', this.bound);
    this.invertMask = optionalBoolean(`${where}: invertMask`, args.invertMask, false);
    ({ hidden: this.hidden, activation: this.activation, seed: this.seed, contextSize: this.contextSize } = resolveConditionerArgs(where, args));
    if (this.batchInputShape !== null && this.batchInputShape !== undefined) buildLayer(this, this.batchInputShape, this.contextSize === undefined ? [] : [this.contextSize]);
  }

  override build(inputShape: Shape | Shape[]): void {
    const where = `SplineCoupling "${this.name}"`;
    const shape = this.contextSize === undefined ? oneShape(inputShape, where) : (shapeList(inputShape)[0] as Shape);
    const d = shape[1];
    if (shape.length !== 2 || typeof d !== 'number' || d < 2) {
      throw new GmError('BAD_SHAPE', where, `input [batch, D] with a known D ≥ 2, got [${shape.map(String).join(', ')}]`);
    }
    const k = Math.floor(d / 2);
    this.condWidth = this.invertMask ? d - k : k;
    this.transWidth = d - this.condWidth;
    const perElement = rqParamsPerElement(this.bins);
    this.conditioner = addConditioner((name, s, init) => this.addWeight(name, s, 'float32', init), {
      inWidth: this.condWidth,
      hidden: this.hidden,
      outWidth: this.transWidth * perElement,
      ...(this.contextSize === undefined ? {} : { contextSize: this.contextSize }),
      ...(this.seed === undefined ? {} : { seed: this.seed }),
    });
    this.offset?.dispose();
    const offset = new Float32Array(perElement);
    offset.fill(RQ_IDENTITY_DERIVATIVE, 2 * this.bins);
    this.offset = tf.keep(tf.tensor1d(offset));
    this.built = true;
  }

  /** The conditioning and transformed blocks (in that order). */
  private halves(x: Tensor): [Tensor, Tensor] {
    const n = x.shape[1] as number;
    const first = this.invertMask ? this.transWidth : this.condWidth;
    const [a, b] = tf.split(x, [first, n - first], 1) as [Tensor, Tensor];
    return this.invertMask ? [b, a] : [a, b];
  }

  private join(cond: Tensor, trans: Tensor): Tensor {
    return tf.concat(this.invertMask ? [trans, cond] : [cond, trans], 1);
  }

  /** Spline parameters `[batch, transWidth, 3K − 1]` from the conditioning block. */
  private params(cond: Tensor, context: Tensor | undefined): Tensor {
    const out = runConditioner(this.conditioner as ConditionerWeights, this.activation, cond, context, `SplineCoupling "${this.name}"`);
    return tf.add(tf.reshape(out, [cond.shape[0] as number, this.transWidth, rqParamsPerElement(this.bins)]), this.offset as Tensor);
  }

  private ensureBuilt(x: Tensor): void {
    buildLayer(this, x.shape, this.contextSize === undefined ? [] : [this.contextSize]);
  }

  /** `y = f(x)` and `log|det ∂y/∂x|` per example (`[batch]`); `options.context` for a conditional layer. */
  forward(x: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor } {
    this.ensureBuilt(x);
    return tf.tidy(() => {
      const [x1, x2] = this.halves(x);
      const { y, logDerivative } = rationalQuadraticForward(x2, this.params(x1, options?.context), { bins: this.bins, bound: this.bound });
      return { y: this.join(x1, y), logDet: tf.sum(logDerivative, 1) };
    });
  }

  /** `x = f⁻¹(y)` and `log|det ∂x/∂y|` per example: the conditioning block of `y` is that of `x`. */
  inverse(y: Tensor, options?: BijectorOptions): { x: Tensor; logDet: Tensor } {
    this.ensureBuilt(y);
    return tf.tidy(() => {
      const [y1, y2] = this.halves(y);
      const { x, logDerivative } = rationalQuadraticInverse(y2, this.params(y1, options?.context), { bins: this.bins, bound: this.bound });
      return { x: this.join(y1, x), logDet: tf.sum(logDerivative, 1) };
    });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return this.contextSize === undefined ? oneShape(inputShape, `SplineCoupling "${this.name}"`) : (shapeList(inputShape)[0] as Shape);
  }

  /** `y` (a conditional layer takes `[x, context]`). */
  override call(inputs: Tensor | Tensor[], _kwargs: Kwargs): Tensor {
    return tf.tidy(() => {
      if (this.contextSize !== undefined && Array.isArray(inputs) && inputs.length === 2) return this.forward(inputs[0] as Tensor, { context: inputs[1] as Tensor }).y;
      return this.forward(oneTensor(inputs, `SplineCoupling "${this.name}"`)).y;
    });
  }

  protected override disposeWeights(): number {
    this.offset?.dispose();
    this.offset = undefined;
    return super.disposeWeights();
  }

  override getConfig(): serialization.ConfigDict {
    return {
      ...super.getConfig(),
      bins: this.bins,
      bound: this.bound,
      invertMask: this.invertMask,
      hidden: [...this.hidden],
      activation: this.activation,
      seed: this.seed ?? null,
      contextSize: this.contextSize ?? null,
    };
  }

  /** The conditioner's weights. */
  trainableVariables(): tf.Variable[] {
    return this.trainableWeights.map((w) => w.read() as tf.Variable);
  }
}
