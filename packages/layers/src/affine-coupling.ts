import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, serialization } from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import { checkPositiveInt } from '@gm/core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import type { Bijector, BijectorOptions } from '@gm/core';
import { addConditioner, resolveConditionerArgs, runConditioner, type ConditionerWeights } from './conditioner';
import {
  buildLayer,
  optionalBoolean,
  ones,
  oneShape,
  oneTensor,
  shapeList,
  type Activation,
  type BaseLayerArgs,
  type Kwargs,
  type Shape,
} from './util';

/** Which features condition the transform (mask 1) and which are transformed (mask 0).
 * Vectors `[batch, D]`: 'half' (first ⌊D/2⌋ features) or 'alternating' (even indices).
 * Images `[batch, H, W, C]`: 'checkerboard' ((h + w) even) or 'channel' (first ⌊C/2⌋ channels). */
export type CouplingMask = 'half' | 'alternating' | 'checkerboard' | 'channel';

export interface AffineCouplingArgs extends BaseLayerArgs {
  /** The mask pattern (default 'half' for vectors; choose 'checkerboard' or 'channel' for images). */
  mask?: CouplingMask;
  /** Swap the roles of the two parts, so that stacked layers transform every feature (default false). */
  invertMask?: boolean;
  /** Hidden widths of the shift-and-log-scale network: units of dense layers (vectors) or filters of conv
   * layers (images). Default [64, 64]. */
  hidden?: number[];
  /** Kernel size of the conv layers (images; default 3, 'same' padding). */
  kernelSize?: number;
  /** Activation of the hidden layers (default 'relu'). */
  activation?: Activation;
  /** Seed of the hidden layers' Glorot-uniform initialisers. */
  seed?: number | null;
  /**
   * Width of a conditioning context (a class one-hot, an encoder's features): the shift-and-log-scale network also
   * reads it (vectors: concatenated; images: tiled over the pixels as extra channels). Pass it as
   * `forward(x, { context })`.
   */
  contextSize?: number | null;
}

const VECTOR_MASKS: readonly CouplingMask[] = ['half', 'alternating'];
const IMAGE_MASKS: readonly CouplingMask[] = ['checkerboard', 'channel'];

/** The binary coupling mask for one example of shape `featureShape` (`[D]` or `[H, W, C]`), flattened. */
export function couplingMask(kind: CouplingMask, featureShape: readonly number[], invert = false): Float32Array {
  const size = featureShape.reduce((a, b) => a * b, 1);
  const mask = new Float32Array(size);
  if (kind === 'half' || kind === 'alternating') {
    if (featureShape.length !== 1) throw new Error(`couplingMask: '${kind}' is for vectors; got shape [${featureShape}]`);
    const d = featureShape[0] as number;
    for (let i = 0; i < d; i++) mask[i] = (kind === 'half' ? i < Math.floor(d / 2) : i % 2 === 0) ? 1 : 0;
  } else if (kind === 'checkerboard' || kind === 'channel') {
    if (featureShape.length !== 3) throw new Error(`couplingMask: '${kind}' is for images [H, W, C]; got [${featureShape}]`);
    const [h, w, c] = featureShape as [number, number, number];
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        for (let k = 0; k < c; k++) {
          const on = kind === 'checkerboard' ? (i + j) % 2 === 0 : k < Math.floor(c / 2);
          mask[(i * w + j) * c + k] = on ? 1 : 0;
        }
      }
    }
  } else {
    throw new Error(`couplingMask: unknown mask ${JSON.stringify(kind)}`);
  }
  if (invert) for (let i = 0; i < size; i++) mask[i] = 1 - (mask[i] as number);
  return mask;
}

/**
 * Real NVP's affine coupling layer (Dinh et al., 2017). With a binary mask `m`:
 * `y = m⊙x + (1−m)⊙(x⊙exp(s) + t)`, where `[s_raw, t] = NN(m⊙x)`, `s = tanh(s_raw)·scale` (a learned per-feature
 * factor bounds the log-scale) and both are zeroed on the conditioning part. `log|det ∂y/∂x| = Σ (1−m)⊙s`.
 * The network's last layer starts at zero, so a fresh layer is the identity. The network is dense layers for vectors
 * and 'same'-padded conv layers for images; with the contiguous masks ('half', 'channel') it sees only the
 * conditioning block and outputs `s, t` only for the transformed block.
 *
 * As a tfjs layer, `apply`/`call` return `y`; {@link AffineCoupling.forward} and {@link AffineCoupling.inverse}
 * implement @gm/core's `Bijector` contract with log-determinants. Given `inputShape`, the layer builds its weights at
 * construction, so an optimizer sees them from the first step (otherwise on first use).
 */
export class AffineCoupling extends layers.Layer implements Bijector {
  static className = 'GmAffineCoupling';
  static readonly gmLayer = true;

  readonly maskKind: CouplingMask | undefined;
  readonly invertMask: boolean;
  readonly hidden: number[];
  readonly kernelSize: number;
  readonly activation: Activation;
  readonly seed: number | undefined;
  readonly contextSize: number | undefined;
  private resolvedMask: CouplingMask | undefined;
  private isImage = false;
  /** Contiguous masks ('half', 'channel') slice the last axis instead of masking. */
  private split = false;
  /** Width of the conditioning block of a split layer. */
  private condWidth = 0;
  private conditioner: ConditionerWeights | undefined;
  private scale: LayerVariable | undefined;
  /** m and 1−m, broadcastable over the batch; constants kept outside any tidy scope. */
  private maskOn: Tensor | undefined;
  private maskOff: Tensor | undefined;

  constructor(args: AffineCouplingArgs = {}) {
    super(args);
    const where = `AffineCoupling "${this.name}"`;
    const mask = args.mask ?? undefined;
    if (mask !== undefined && mask !== null && ![...VECTOR_MASKS, ...IMAGE_MASKS].includes(mask)) {
      throw new Error(`${where}: mask must be one of half, alternating, checkerboard, channel; got ${JSON.stringify(mask)}`);
    }
    this.maskKind = mask ?? undefined;
    this.invertMask = optionalBoolean(`${where}: invertMask`, args.invertMask, false);
    ({ hidden: this.hidden, activation: this.activation, seed: this.seed, contextSize: this.contextSize } = resolveConditionerArgs(where, args));
    const kernelSize = args.kernelSize ?? 3;
    checkPositiveInt(`${where}: kernelSize`, kernelSize);
    this.kernelSize = kernelSize;
    if (this.batchInputShape !== null && this.batchInputShape !== undefined) buildLayer(this, this.batchInputShape, this.contextSize === undefined ? [] : [this.contextSize]);
  }

  override build(inputShape: Shape | Shape[]): void {
    const where = `AffineCoupling "${this.name}"`;
    const shape = this.contextSize === undefined ? oneShape(inputShape, where) : (shapeList(inputShape)[0] as Shape);
    const features = shape.slice(1);
    if (features.some((d) => d === null || d === undefined)) {
      throw new Error(`${where}: all non-batch dimensions must be known; got input shape [${shape.map(String)}]`);
    }
    const fs = features as number[];
    if (fs.length !== 1 && fs.length !== 3) {
      throw new Error(`${where}: input must be [batch, D] or [batch, H, W, C]; got [${shape.map(String)}]`);
    }
    this.isImage = fs.length === 3;
    const kind = this.maskKind ?? (this.isImage ? 'checkerboard' : 'half');
    if (this.isImage !== IMAGE_MASKS.includes(kind)) {
      throw new Error(
        `${where}: mask '${kind}' needs ${this.isImage ? 'a vector' : 'an image'} input; got [${shape.map(String)}]` +
          ` (vectors: half, alternating; images: checkerboard, channel)`,
      );
    }
    this.resolvedMask = kind;
    const m = couplingMask(kind, fs, this.invertMask);
    const on = m.reduce((a, v) => a + v, 0);
    if (on === 0 || on === m.length) {
      throw new Error(`${where}: mask '${kind}' on [${fs}] leaves nothing to ${on === 0 ? 'condition on' : 'transform'}`);
    }
    const channels = fs[fs.length - 1] as number;
    this.disposeMasks();
    // 'half' and 'channel' split the last axis into two contiguous blocks: slice instead of masking, so the network
    // sees only the conditioning block and outputs only the transformed block (about half the work of its first and
    // last layers). 'alternating' and 'checkerboard' interleave, so they mask.
    this.split = kind === 'half' || kind === 'channel';
    let inWidth = channels;
    let outWidth = channels;
    if (this.split) {
      const k = Math.floor(channels / 2);
      this.condWidth = this.invertMask ? channels - k : k;
      inWidth = this.condWidth;
      outWidth = channels - this.condWidth;
    } else {
      const maskShape = this.isImage ? [1, ...fs] : [1, channels];
      this.maskOn = tf.keep(tf.tensor(m, maskShape));
      this.maskOff = tf.keep(tf.tensor(m.map((v) => 1 - v), maskShape));
    }

    // The last layer outputs [s_raw, t] and starts at zero: the fresh layer is the identity.
    this.conditioner = addConditioner((name, shape, init) => this.addWeight(name, shape, 'float32', init), {
      inWidth,
      hidden: this.hidden,
      outWidth: 2 * outWidth,
      ...(this.isImage ? { kernelSize: this.kernelSize } : {}),
      ...(this.contextSize === undefined ? {} : { contextSize: this.contextSize }),
      ...(this.seed === undefined ? {} : { seed: this.seed }),
    });
    this.scale = this.addWeight('scale', [outWidth], 'float32', ones());
    this.built = true;
  }

  /** The shift-and-log-scale network on the conditioning input (and the context). */
  private network(h: Tensor, context: Tensor | undefined): { s: Tensor; t: Tensor } {
    h = runConditioner(this.conditioner as ConditionerWeights, this.activation, h, context, `AffineCoupling "${this.name}"`);
    const [sRaw, t] = tf.split(h, 2, -1) as [Tensor, Tensor];
    if (this.split) return { s: tf.mul(tf.tanh(sRaw), (this.scale as LayerVariable).read()), t };
    // scale·(1−m) is a small per-feature product, cheaper than masking the full-size s afterwards.
    const s = tf.mul(tf.tanh(sRaw), tf.mul((this.scale as LayerVariable).read(), this.maskOff as Tensor));
    return { s, t: tf.mul(t, this.maskOff as Tensor) };
  }

  /** The conditioning and transformed blocks of a split layer (in that order). */
  private halves(x: Tensor): [Tensor, Tensor] {
    const n = x.shape[x.rank - 1] as number;
    const k = this.invertMask ? n - this.condWidth : this.condWidth;
    const [a, b] = tf.split(x, [k, n - k], -1) as [Tensor, Tensor];
    return this.invertMask ? [b, a] : [a, b];
  }

  private join(cond: Tensor, trans: Tensor): Tensor {
    return tf.concat(this.invertMask ? [trans, cond] : [cond, trans], -1);
  }

  /** y and, when asked, the log-det per example. */
  private transform(x: Tensor, withLogDet: boolean, context?: Tensor): { y: Tensor; logDet?: Tensor } {
    if (this.split) {
      const [x1, x2] = this.halves(x);
      const { s, t } = this.network(x1, context);
      const y = this.join(x1, tf.add(tf.mul(x2, tf.exp(s)), t));
      return withLogDet ? { y, logDet: this.sumFeatures(s) } : { y };
    }
    const { s, t } = this.network(tf.mul(x, this.maskOn as Tensor), context);
    const y = tf.add(tf.mul(x, tf.exp(s)), t);
    return withLogDet ? { y, logDet: this.sumFeatures(s) } : { y };
  }

  private sumFeatures(s: Tensor): Tensor {
    return tf.sum(s, this.isImage ? [1, 2, 3] : [1]);
  }

  private ensureBuilt(x: Tensor): void {
    buildLayer(this, x.shape, this.contextSize === undefined ? [] : [this.contextSize]);
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return this.contextSize === undefined ? oneShape(inputShape, `AffineCoupling "${this.name}"`) : (shapeList(inputShape)[0] as Shape);
  }

  /** `y` (a conditional layer takes `[x, context]`). */
  override call(inputs: Tensor | Tensor[], _kwargs: Kwargs): Tensor {
    return tf.tidy(() => {
      if (this.contextSize !== undefined && Array.isArray(inputs) && inputs.length === 2) return this.transform(inputs[0] as Tensor, false, inputs[1]).y;
      return this.transform(oneTensor(inputs, `AffineCoupling "${this.name}"`), false).y;
    });
  }

  /** `y = f(x)` and `log|det ∂y/∂x|` per example (shape `[batch]`); `options.context` for a conditional layer. */
  forward(x: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor } {
    this.ensureBuilt(x);
    return tf.tidy(() => this.transform(x, true, options?.context) as { y: Tensor; logDet: Tensor });
  }

  /** `x = f⁻¹(y)` and `log|det ∂x/∂y|` per example (= −forward log-det). Exact: the conditioning part of `y` is
   * that of `x`, so the network sees the same input. */
  inverse(y: Tensor, options?: BijectorOptions): { x: Tensor; logDet: Tensor } {
    this.ensureBuilt(y);
    const context = options?.context;
    return tf.tidy(() => {
      if (this.split) {
        const [y1, y2] = this.halves(y);
        const { s, t } = this.network(y1, context);
        return { x: this.join(y1, tf.mul(tf.sub(y2, t), tf.exp(tf.neg(s)))), logDet: tf.neg(this.sumFeatures(s)) };
      }
      const { s, t } = this.network(tf.mul(y, this.maskOn as Tensor), context);
      return { x: tf.mul(tf.sub(y, t), tf.exp(tf.neg(s))), logDet: tf.neg(this.sumFeatures(s)) };
    });
  }

  private disposeMasks(): void {
    this.maskOn?.dispose();
    this.maskOff?.dispose();
    this.maskOn = undefined;
    this.maskOff = undefined;
  }

  protected override disposeWeights(): number {
    this.disposeMasks();
    return super.disposeWeights();
  }

  override getConfig(): serialization.ConfigDict {
    return {
      ...super.getConfig(),
      mask: this.resolvedMask ?? this.maskKind ?? null,
      invertMask: this.invertMask,
      hidden: [...this.hidden],
      kernelSize: this.kernelSize,
      activation: this.activation,
      seed: this.seed ?? null,
      contextSize: this.contextSize ?? null,
    };
  }

  /** The shift-and-log-scale network's weights and the log-scale factors. */
  trainableVariables(): tf.Variable[] {
    return this.trainableWeights.map((w) => w.read() as tf.Variable);
  }
}
