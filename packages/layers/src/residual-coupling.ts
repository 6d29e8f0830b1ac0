/**
 * The image coupling of Real NVP's multi-scale model: an affine coupling whose shift-and-log-scale network is a small
 * residual conv net (conv in → residual blocks → zero-initialised conv out), as in Dinh et al. (2017). Given
 * `inputShape`, it builds at construction.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initializers, layers } from '@tensorflow/tfjs-layers';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { checkPositiveInt, GmError, type Bijector } from '@gm/core';
import { couplingMask } from './affine-coupling';
import { conv2dSameBias } from './conv-same';
import { buildLayer, type Shape } from './util';

type LayerArgs = NonNullable<ConstructorParameters<typeof layers.Layer>[0]>;

/** Constructor arguments of {@link ResidualCoupling}. */
export interface ResidualCouplingArgs extends LayerArgs {
  /** 'checkerboard' ((h + w) even conditions) or 'channel' (first ⌊C/2⌋ channels condition). */
  mask?: 'checkerboard' | 'channel';
  /** Swap conditioning and transformed parts (default false). */
  invertMask?: boolean;
  /** Feature maps of the s/t network (default 32). */
  filters?: number;
  /** Residual blocks (two 3×3 convs each, default 1). */
  blocks?: number;
  /** Seed of the Glorot-uniform initialisers. */
  seed?: number | null;
}

/**
 * Affine coupling on images `[B, H, W, C]` with mask `m`: `y = m⊙x + (1−m)⊙(x⊙exp(s) + t)`, `[s_raw, t] = NN(m⊙x)`,
 * `s = tanh(s_raw)·scale` with a learned per-channel `scale` (bounded log-scale), `log|det| = Σ(1−m)⊙s`. NN is
 * conv3×3 → `blocks` × (ReLU, conv3×3, ReLU, conv3×3, + skip) → ReLU → conv3×3 to `2·C'` outputs, the last conv
 * zero-initialised so a fresh layer is the identity. The 'channel' mask slices channels instead of masking.
 */
export class ResidualCoupling extends layers.Layer implements Bijector {
  static className = 'GmRealNvpResidualCoupling';
  static readonly gmLayer = true;

  readonly maskKind: 'checkerboard' | 'channel';
  readonly invertMask: boolean;
  readonly filters: number;
  readonly blocks: number;
  readonly seed: number | undefined;
  private condWidth = 0;
  private kernels: LayerVariable[] = [];
  private biases: LayerVariable[] = [];
  private scale: LayerVariable | undefined;
  private maskOn: tf.Tensor | undefined;
  private maskOff: tf.Tensor | undefined;

  constructor(args: ResidualCouplingArgs = {}) {
    super(args);
    const where = `ResidualCoupling "${this.name}"`;
    const mask = args.mask ?? 'checkerboard';
    if (mask !== 'checkerboard' && mask !== 'channel') throw new GmError('BAD_ARGUMENT', `${where}: mask`, "'checkerboard' or 'channel'", mask);
    this.maskKind = mask;
    this.invertMask = args.invertMask ?? false;
    if (typeof this.invertMask !== 'boolean') throw new GmError('BAD_ARGUMENT', `${where}: invertMask`, 'a boolean', args.invertMask);
    const int = (v: unknown, name: string): number => {
      checkPositiveInt(`${where}: ${name}`, v);
      return v;
    };
    this.filters = int(args.filters ?? 32, 'filters');
    this.blocks = args.blocks === 0 ? 0 : int(args.blocks ?? 1, 'blocks');
    const seed = args.seed ?? undefined;
    if (seed !== undefined && (typeof seed !== 'number' || !Number.isFinite(seed))) throw new GmError('BAD_ARGUMENT', `${where}: seed`, 'a number', seed);
    this.seed = seed;
    if (this.batchInputShape !== null && this.batchInputShape !== undefined) buildLayer(this, this.batchInputShape);
  }

  override build(inputShape: Shape | Shape[]): void {
    const where = `ResidualCoupling "${this.name}"`;
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    if (shape.length !== 4 || shape.slice(1).some((d) => d === null)) {
      throw new GmError('BAD_SHAPE', where, `input must be [batch, H, W, C] with known H, W, C; got [${shape.map(String)}]`);
    }
    const [, h, w, c] = shape as [null, number, number, number];
    const m = couplingMask(this.maskKind, [h, w, c], this.invertMask);
    const on = m.reduce((a, v) => a + v, 0);
    if (on === 0 || on === m.length) throw new GmError('BAD_ARGUMENT', where, `mask '${this.maskKind}' on [${h}, ${w}, ${c}] leaves nothing to ${on === 0 ? 'condition on' : 'transform'}`);
    let inWidth = c;
    let outWidth = c;
    if (this.maskKind === 'channel') {
      const k = Math.floor(c / 2);
      this.condWidth = this.invertMask ? c - k : k;
      inWidth = this.condWidth;
      outWidth = c - this.condWidth;
    } else {
      this.maskOn?.dispose();
      this.maskOff?.dispose();
      this.maskOn = tf.keep(tf.tensor(m, [1, h, w, c]));
      this.maskOff = tf.keep(tf.tensor(m.map((v) => 1 - v), [1, h, w, c]));
    }
    const f = this.filters;
    let i = 0;
    const glorot = () => initializers.glorotUniform({ seed: this.seed === undefined ? undefined : this.seed + 7919 * i++ });
    const add = (name: string, shape4: number[], zero = false) => {
      this.kernels.push(this.addWeight(`${name}_kernel`, shape4, 'float32', zero ? initializers.zeros() : glorot()));
      this.biases.push(this.addWeight(`${name}_bias`, [shape4[3] as number], 'float32', initializers.zeros()));
    };
    add('in', [3, 3, inWidth, f]);
    for (let b = 0; b < this.blocks; b++) {
      add(`block${b}_a`, [3, 3, f, f]);
      add(`block${b}_b`, [3, 3, f, f]);
    }
    add('out', [3, 3, f, 2 * outWidth], true);
    this.scale = this.addWeight('scale', [outWidth], 'float32', initializers.ones());
    this.built = true;
  }

  private layerOut(h: tf.Tensor, i: number): tf.Tensor {
    return conv2dSameBias(h as tf.Tensor4D, (this.kernels[i] as LayerVariable).read() as tf.Tensor4D, (this.biases[i] as LayerVariable).read());
  }

  private network(x: tf.Tensor): { s: tf.Tensor; t: tf.Tensor } {
    let h = this.layerOut(x, 0);
    for (let b = 0; b < this.blocks; b++) {
      const r = this.layerOut(tf.relu(this.layerOut(tf.relu(h), 1 + 2 * b)), 2 + 2 * b);
      h = tf.add(h, r);
    }
    const out = this.layerOut(tf.relu(h), this.kernels.length - 1);
    const [sRaw, t] = tf.split(out, 2, -1) as [tf.Tensor, tf.Tensor];
    const scale = (this.scale as LayerVariable).read();
    if (this.maskKind === 'channel') return { s: tf.mul(tf.tanh(sRaw), scale), t };
    const off = this.maskOff as tf.Tensor;
    return { s: tf.mul(tf.mul(tf.tanh(sRaw), scale), off), t: tf.mul(t, off) };
  }

  private halves(x: tf.Tensor): [tf.Tensor, tf.Tensor] {
    const n = x.shape[3] as number;
    const k = this.invertMask ? n - this.condWidth : this.condWidth;
    const [a, b] = tf.split(x, [k, n - k], -1) as [tf.Tensor, tf.Tensor];
    return this.invertMask ? [b, a] : [a, b];
  }

  private join(cond: tf.Tensor, trans: tf.Tensor): tf.Tensor {
    return tf.concat(this.invertMask ? [trans, cond] : [cond, trans], -1);
  }

  private ensureBuilt(x: tf.Tensor): void {
    buildLayer(this, x.shape);
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => this.forward(Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs).y);
  }

  /** `y = f(x)` and `log|det ∂y/∂x|` per example (`[batch]`). */
  forward(x: tf.Tensor): { y: tf.Tensor; logDet: tf.Tensor } {
    this.ensureBuilt(x);
    return tf.tidy(() => {
      if (this.maskKind === 'channel') {
        const [x1, x2] = this.halves(x);
        const { s, t } = this.network(x1);
        return { y: this.join(x1, tf.add(tf.mul(x2, tf.exp(s)), t)), logDet: tf.sum(s, [1, 2, 3]) };
      }
      const { s, t } = this.network(tf.mul(x, this.maskOn as tf.Tensor));
      return { y: tf.add(tf.mul(x, tf.exp(s)), t), logDet: tf.sum(s, [1, 2, 3]) };
    });
  }

  /** `x = f⁻¹(y)` and `log|det ∂x/∂y|` per example. */
  inverse(y: tf.Tensor): { x: tf.Tensor; logDet: tf.Tensor } {
    this.ensureBuilt(y);
    return tf.tidy(() => {
      if (this.maskKind === 'channel') {
        const [y1, y2] = this.halves(y);
        const { s, t } = this.network(y1);
        return { x: this.join(y1, tf.mul(tf.sub(y2, t), tf.exp(tf.neg(s)))), logDet: tf.neg(tf.sum(s, [1, 2, 3])) };
      }
      const { s, t } = this.network(tf.mul(y, this.maskOn as tf.Tensor));
      return { x: tf.mul(tf.sub(y, t), tf.exp(tf.neg(s))), logDet: tf.neg(tf.sum(s, [1, 2, 3])) };
    });
  }

  protected override disposeWeights(): number {
    this.maskOn?.dispose();
    this.maskOff?.dispose();
    this.maskOn = undefined;
    this.maskOff = undefined;
    return super.disposeWeights();
  }

  /** The s/t network's weights and the log-scale factors. */
  trainableVariables(): tf.Variable[] {
    return this.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      mask: this.maskKind,
      invertMask: this.invertMask,
      filters: this.filters,
      blocks: this.blocks,
      seed: this.seed ?? null,
    };
  }
}
