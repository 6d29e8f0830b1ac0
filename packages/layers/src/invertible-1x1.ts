import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, serialization } from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { GmError, type Bijector } from '@gm/core';
import { invert, luDecompose, randomRotation, type Matrix } from './linalg';
import { buildLayer, channelwiseLogDet, oneShape, oneTensor, optionalSeed, zeros, type BaseLayerArgs, type Kwargs, type Shape } from './util';

export interface Invertible1x1Args extends BaseLayerArgs {
  /** Seed of the random rotation the layer starts as (unseeded: a fresh random one). */
  seed?: number | null;
}

/**
 * Glow's invertible 1×1 convolution (Kingma & Dhariwal, 2018) in the LU parameterisation: a C × C matrix
 * `W = P·L·(U + diag(sign·exp(log s)))` mixes the channels (the last axis) at every position, with P a fixed
 * permutation, L unit lower and U strictly upper triangular (learned), and sign fixed. So `log|det W| = Σ log s`,
 * O(C), and the log-det per example is that times the positions (H·W). It starts as a seeded random rotation
 * (log-det 0). `forward` is differentiable; `inverse` (sampling) inverts W in float64 from the current weights.
 */
export class Invertible1x1 extends layers.Layer implements Bijector {
  static className = 'GmInvertible1x1';
  static readonly gmLayer = true;

  readonly seed: number | undefined;
  private permutation: LayerVariable | undefined;
  private sign: LayerVariable | undefined;
  private lower: LayerVariable | undefined;
  private upper: LayerVariable | undefined;
  private logS: LayerVariable | undefined;
  /** Strictly-lower and strictly-upper masks and the identity, constants kept outside any tidy scope. */
  private masks: { lower: Tensor; upper: Tensor; eye: Tensor } | undefined;

  constructor(args: Invertible1x1Args = {}) {
    super(args);
    this.seed = optionalSeed(`Invertible1x1 "${this.name}"`, args.seed);
    if (this.batchInputShape !== null && this.batchInputShape !== undefined) buildLayer(this, this.batchInputShape);
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = oneShape(inputShape, `Invertible1x1 "${this.name}"`);
    const c = shape[shape.length - 1];
    if (shape.length < 2 || typeof c !== 'number') {
      throw new GmError('BAD_SHAPE', `Invertible1x1 "${this.name}"`, 'an input whose last (channel) dimension is known', `[${shape.map(String).join(', ')}]`);
    }
    const { perm, lower, upper } = luDecompose(randomRotation(c, this.seed ?? Math.floor(Math.random() * 2 ** 32)));
    const q: Matrix = Array.from({ length: c }, () => new Array<number>(c).fill(0));
    perm.forEach((row, i) => (q[row]![i] = 1)); // rotation = Q·L·U
    const diagonal = upper.map((r, i) => r[i]!);
    const set = (v: LayerVariable, values: number[][] | number[]): void => {
      const t = tf.tensor(values.flat(), v.shape as number[]);
      v.write(t);
      t.dispose();
    };
    this.permutation = this.addWeight('permutation', [c, c], 'float32', zeros(), undefined, false);
    this.sign = this.addWeight('sign', [c], 'float32', zeros(), undefined, false);
    this.lower = this.addWeight('lower', [c, c], 'float32', zeros());
    this.upper = this.addWeight('upper', [c, c], 'float32', zeros());
    this.logS = this.addWeight('log_s', [c], 'float32', zeros());
    set(this.permutation, q);
    set(this.sign, diagonal.map(Math.sign));
    set(this.lower, lower.map((r, i) => r.map((v, j) => (j < i ? v : 0))));
    set(this.upper, upper.map((r, i) => r.map((v, j) => (j > i ? v : 0))));
    set(this.logS, diagonal.map((d) => Math.log(Math.abs(d))));
    this.disposeMasks();
    this.masks = tf.tidy(() => {
      const eye = tf.eye(c);
      const lowerMask = tf.sub(tf.linalg.bandPart(tf.ones([c, c]), -1, 0), eye);
      return { lower: tf.keep(lowerMask), upper: tf.keep(tf.transpose(lowerMask)), eye: tf.keep(eye) };
    });
    this.built = true;
  }

  /** W from the weights (differentiable). */
  weightMatrix(): Tensor {
    const m = this.masks as { lower: Tensor; upper: Tensor; eye: Tensor };
    return tf.tidy(() => {
      const l = tf.add(tf.mul((this.lower as LayerVariable).read(), m.lower), m.eye);
      const diag = tf.mul((this.sign as LayerVariable).read(), tf.exp((this.logS as LayerVariable).read()));
      const u = tf.add(tf.mul((this.upper as LayerVariable).read(), m.upper), tf.mul(m.eye, diag));
      return tf.matMul((this.permutation as LayerVariable).read(), tf.matMul(l, u));
    });
  }

  /** Applies `w` to the last axis: y_c = Σ_k w[c][k]·x_k at every position. */
  private mix(x: Tensor, w: Tensor): Tensor {
    const c = x.shape[x.rank - 1] as number;
    return tf.reshape(tf.matMul(tf.reshape(x, [-1, c]), w, false, true), x.shape);
  }

  private logDetOf(x: Tensor): Tensor {
    return channelwiseLogDet(x, tf.sum((this.logS as LayerVariable).read()));
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return oneShape(inputShape, `Invertible1x1 "${this.name}"`);
  }

  override call(inputs: Tensor | Tensor[], _kwargs: Kwargs): Tensor {
    return this.forward(oneTensor(inputs, `Invertible1x1 "${this.name}"`)).y;
  }

  /** `y = x·Wᵀ` over the channels and the log-det per example. */
  forward(x: Tensor): { y: Tensor; logDet: Tensor } {
    buildLayer(this, x.shape);
    return tf.tidy(() => ({ y: this.mix(x, this.weightMatrix()), logDet: this.logDetOf(x) }));
  }

  /** `x = y·W⁻ᵀ` (W inverted in float64 from the current weights; no gradient flows through the inverse). */
  inverse(y: Tensor): { x: Tensor; logDet: Tensor } {
    buildLayer(this, y.shape);
    return tf.tidy(() => {
      const w = this.weightMatrix();
      const inverse = tf.tensor2d(invert(w.arraySync() as number[][], `Invertible1x1 "${this.name}"`));
      return { x: this.mix(y, inverse), logDet: tf.neg(this.logDetOf(y)) };
    });
  }

  private disposeMasks(): void {
    if (this.masks !== undefined) tf.dispose([this.masks.lower, this.masks.upper, this.masks.eye]);
    this.masks = undefined;
  }

  protected override disposeWeights(): number {
    this.disposeMasks();
    return super.disposeWeights();
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed ?? null };
  }

  /** L, U and log s (P and the signs are fixed). */
  trainableVariables(): tf.Variable[] {
    return this.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /** The fixed permutation and signs (saved with the weights). */
  stateVariables(): tf.Variable[] {
    return this.nonTrainableWeights.map((w) => w.read() as tf.Variable);
  }
}
