import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, serialization } from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import type { Bijector, BijectorOptions } from '@gm/core';
import { buildLayer, channelwiseLogDet, isTraining, ones, oneShape, oneTensor, zeros, type BaseLayerArgs, type Kwargs, type Shape } from './util';

export interface FlowBatchNormArgs extends BaseLayerArgs {
  /** Running statistics: `running = momentum·running + (1 − momentum)·batch` (default 0.99). */
  momentum?: number;
  /** Added to the variance (default 1e-3). */
  epsilon?: number;
}

/**
 * Batch normalisation as a flow step (Real NVP): `y = (x − μ)·exp(logGamma)/√(σ² + ε) + β` per feature (the last
 * axis; statistics over every other axis, so per channel for images). Training (`forward(x, { training: true })` or `kwargs.training`)
 * uses the batch's μ, σ² and updates the running statistics; inference and `inverse` use the running ones. The
 * log-determinant per example is `Σ_features (logGamma − ½·log(σ² + ε))` times the number of positions per example
 * (H·W for images); in training the batch statistics are treated as constants, as Real NVP and TFP do.
 */
export class FlowBatchNorm extends layers.Layer implements Bijector {
  static className = 'GmFlowBatchNorm';
  static readonly gmLayer = true;

  readonly momentum: number;
  readonly epsilon: number;
  private logGamma: LayerVariable | undefined;
  private beta: LayerVariable | undefined;
  private movingMean: LayerVariable | undefined;
  private movingVariance: LayerVariable | undefined;

  constructor(args: FlowBatchNormArgs = {}) {
    super(args);
    const where = `FlowBatchNorm "${this.name}"`;
    const momentum = args.momentum ?? 0.99;
    const epsilon = args.epsilon ?? 1e-3;
    if (typeof momentum !== 'number' || !(momentum >= 0 && momentum < 1)) {
      throw new Error(`${where}: momentum must be in [0, 1); got ${JSON.stringify(momentum)}`);
    }
    if (typeof epsilon !== 'number' || !(epsilon > 0)) {
      throw new Error(`${where}: epsilon must be > 0; got ${JSON.stringify(epsilon)}`);
    }
    this.momentum = momentum;
    this.epsilon = epsilon;
    if (this.batchInputShape !== null && this.batchInputShape !== undefined) buildLayer(this, this.batchInputShape);
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = oneShape(inputShape, `FlowBatchNorm "${this.name}"`);
    const c = shape[shape.length - 1];
    if (shape.length < 2 || c === null || c === undefined) {
      throw new Error(`FlowBatchNorm "${this.name}": the last (feature) dimension must be known; got [${shape.map(String)}]`);
    }
    this.logGamma = this.addWeight('log_gamma', [c], 'float32', zeros());
    this.beta = this.addWeight('beta', [c], 'float32', zeros());
    this.movingMean = this.addWeight('moving_mean', [c], 'float32', zeros(), undefined, false);
    this.movingVariance = this.addWeight('moving_variance', [c], 'float32', ones(), undefined, false);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return oneShape(inputShape, `FlowBatchNorm "${this.name}"`);
  }

  private ensureBuilt(x: Tensor): void {
    buildLayer(this, x.shape);
  }

  /** The per-feature affine map `y = x·scale + shift` (small vectors), updating running stats when training. */
  private affine(x: Tensor, training: boolean): { scale: Tensor; shift: Tensor } {
    let mean: Tensor;
    let variance: Tensor;
    if (training) {
      const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
      const m = tf.moments(x, axes);
      mean = m.mean;
      variance = m.variance;
      const mm = this.movingMean as LayerVariable;
      const mv = this.movingVariance as LayerVariable;
      const k = this.momentum;
      tf.tidy(() => {
        mm.write(tf.add(tf.mul(mm.read(), k), tf.mul(mean, 1 - k)));
        mv.write(tf.add(tf.mul(mv.read(), k), tf.mul(variance, 1 - k)));
      });
    } else {
      mean = (this.movingMean as LayerVariable).read();
      variance = (this.movingVariance as LayerVariable).read();
    }
    const scale = tf.mul(tf.exp((this.logGamma as LayerVariable).read()), tf.rsqrt(tf.add(variance, this.epsilon)));
    const shift = tf.sub((this.beta as LayerVariable).read(), tf.mul(mean, scale));
    return { scale, shift };
  }

  private logDetOf(x: Tensor, scale: Tensor): Tensor {
    return channelwiseLogDet(x, tf.sum(tf.log(scale)));
  }

  override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor {
    return tf.tidy(() => {
      const x = oneTensor(inputs, `FlowBatchNorm "${this.name}"`);
      const { scale, shift } = this.affine(x, isTraining(kwargs));
      return tf.add(tf.mul(x, scale), shift);
    });
  }

  /** `y` and the log-det per example; `training` uses batch statistics and updates the running ones. */
  forward(x: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor } {
    const training = options?.training === true;
    this.ensureBuilt(x);
    return tf.tidy(() => {
      const { scale, shift } = this.affine(x, training);
      return { y: tf.add(tf.mul(x, scale), shift), logDet: this.logDetOf(x, scale) };
    });
  }

  /** Inverts the inference-time map (running statistics). */
  inverse(y: Tensor): { x: Tensor; logDet: Tensor } {
    this.ensureBuilt(y);
    return tf.tidy(() => {
      const { scale, shift } = this.affine(y, false);
      return { x: tf.div(tf.sub(y, shift), scale), logDet: tf.neg(this.logDetOf(y, scale)) };
    });
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), momentum: this.momentum, epsilon: this.epsilon };
  }

  /** log γ and β. */
  trainableVariables(): tf.Variable[] {
    return this.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /** The running mean and variance (restored with the weights, never trained). */
  stateVariables(): tf.Variable[] {
    return this.nonTrainableWeights.map((w) => w.read() as tf.Variable);
  }
}
