import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, serialization } from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { GmError, type Bijector, type BijectorOptions } from '@gm/core';
import { buildLayer, channelwiseLogDet, isTraining, oneShape, oneTensor, zeros, type BaseLayerArgs, type Kwargs, type Shape } from './util';

export interface ActNormArgs extends BaseLayerArgs {
  /** Added to each channel's standard deviation in the data-dependent initialisation (default 1e-6). */
  epsilon?: number;
}

/**
 * Glow's activation normalisation (Kingma & Dhariwal, 2018): a per-channel affine map `y = (x + b)·exp(log s)` over
 * the last axis. Its first call in training (`forward(x, { training: true })` or `kwargs.training`) initialises it
 * from that batch — `b = −mean`, `log s = −log(std + ε)` per channel — so the batch comes out with zero mean and unit
 * variance; the flag that it did is a (non-trained) weight, saved and loaded with the model. Before that it is the
 * identity. `log|det ∂y/∂x| = (positions per example)·Σ log s` (H·W for images).
 */
export class ActNorm extends layers.Layer implements Bijector {
  static className = 'GmActNorm';
  static readonly gmLayer = true;

  readonly epsilon: number;
  private bias: LayerVariable | undefined;
  private logScale: LayerVariable | undefined;
  private initializedFlag: LayerVariable | undefined;
  /** Cached once the flag reads 1, so later calls never read it back from the backend. */
  private knownInitialized = false;

  constructor(args: ActNormArgs = {}) {
    super(args);
    const epsilon = args.epsilon ?? 1e-6;
    if (typeof epsilon !== 'number' || !(epsilon > 0)) throw new GmError('BAD_ARGUMENT', `ActNorm "${this.name}": epsilon`, 'a positive number', epsilon);
    this.epsilon = epsilon;
    if (this.batchInputShape !== null && this.batchInputShape !== undefined) buildLayer(this, this.batchInputShape);
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = oneShape(inputShape, `ActNorm "${this.name}"`);
    const c = shape[shape.length - 1];
    if (shape.length < 2 || typeof c !== 'number') {
      throw new GmError('BAD_SHAPE', `ActNorm "${this.name}"`, 'an input whose last (channel) dimension is known', `[${shape.map(String).join(', ')}]`);
    }
    this.bias = this.addWeight('bias', [c], 'float32', zeros());
    this.logScale = this.addWeight('log_scale', [c], 'float32', zeros());
    this.initializedFlag = this.addWeight('initialized', [1], 'float32', zeros(), undefined, false);
    this.built = true;
  }

  /** Whether the data-dependent initialisation has run (on this layer, or on the one whose weights it loaded). */
  get initialized(): boolean {
    if (!this.knownInitialized && this.initializedFlag !== undefined) this.knownInitialized = (this.initializedFlag.read().dataSync()[0] as number) === 1;
    return this.knownInitialized;
  }

  /** Sets b and log s from `x` so that it comes out with zero mean and unit variance per channel. */
  private initializeFrom(x: Tensor): void {
    tf.tidy(() => {
      const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
      const { mean, variance } = tf.moments(x, axes);
      (this.bias as LayerVariable).write(tf.neg(mean));
      (this.logScale as LayerVariable).write(tf.neg(tf.log(tf.add(tf.sqrt(variance), this.epsilon))));
      (this.initializedFlag as LayerVariable).write(tf.ones([1]));
    });
    this.knownInitialized = true;
  }

  private logDetOf(x: Tensor): Tensor {
    return channelwiseLogDet(x, tf.sum((this.logScale as LayerVariable).read()));
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return oneShape(inputShape, `ActNorm "${this.name}"`);
  }

  override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor {
    const x = oneTensor(inputs, `ActNorm "${this.name}"`);
    return this.forward(x, { training: isTraining(kwargs) }).y;
  }

  /** `y` and the log-det per example; the first call with `training: true` initialises from `x`. */
  forward(x: Tensor, options?: BijectorOptions): { y: Tensor; logDet: Tensor } {
    buildLayer(this, x.shape);
    if (options?.training === true && !this.initialized) this.initializeFrom(x);
    return tf.tidy(() => ({
      y: tf.mul(tf.add(x, (this.bias as LayerVariable).read()), tf.exp((this.logScale as LayerVariable).read())),
      logDet: this.logDetOf(x),
    }));
  }

  /** `x = y·exp(−log s) − b` and the log-det per example (= −forward's). */
  inverse(y: Tensor): { x: Tensor; logDet: Tensor } {
    buildLayer(this, y.shape);
    return tf.tidy(() => ({
      x: tf.sub(tf.mul(y, tf.exp(tf.neg((this.logScale as LayerVariable).read()))), (this.bias as LayerVariable).read()),
      logDet: tf.neg(this.logDetOf(y)),
    }));
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon };
  }

  /** b and log s. */
  trainableVariables(): tf.Variable[] {
    return this.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /** The initialisation flag (saved with the weights, never trained). */
  stateVariables(): tf.Variable[] {
    return this.nonTrainableWeights.map((w) => w.read() as tf.Variable);
  }
}
