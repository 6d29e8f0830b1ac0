import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, serialization } from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import { checkOneOf, mulberry32, type Rng } from '@gm/core';
import { isTraining, optionalBoolean, optionalSeed, shapeList, type BaseLayerArgs, type Kwargs, type Shape } from './util';

export interface SamplingArgs extends BaseLayerArgs {
  /** Seed for the noise: a seeded layer draws the same sequence of ε on every run (each call draws fresh noise). */
  seed?: number;
  /** Whether to sample when not training (default true, as a VAE's generative path needs); false returns `mean`. */
  sampleAtInference?: boolean;
  /**
   * What the second input holds: `'log-variance'` (default, as Keras's VAE examples) or `'log-std'` (log σ, what
   * @gm/metrics' `Normal` takes). `Normal.fromLogVariance(mean, logVar)` is the distribution this layer samples.
   */
  scale?: 'log-variance' | 'log-std';
}

/**
 * The reparameterisation trick of a VAE: `[mean, logVar] → mean + exp(logVar / 2) · ε` with `ε ~ N(0, I)` (or one
 * input `[mean ‖ logVar]`, split in half along its last axis, as an encoder's single dense output gives it), so the
 * sample is a differentiable function of both inputs (∂z/∂mean = 1, ∂z/∂logVar = ½·exp(logVar/2)·ε). With
 * `scale: 'log-std'` the second input is log σ: `mean + exp(logStd) · ε`. Either way the sample is a draw from
 * @gm/metrics' `Normal` with the same parameters (`Normal.fromLogVariance(mean, logVar)` / `new Normal(mean, logStd)`),
 * which is how a model built from this layer scores its posterior.
 *
 * @example
 * ```ts
 * const z = new Sampling({ seed: 42 }).apply([mean, logVar]) as tf.SymbolicTensor;
 * ```
 */
export class Sampling extends layers.Layer {
  static className = 'GmSampling';
  static readonly gmLayer = true;

  readonly seed: number | undefined;
  readonly sampleAtInference: boolean;
  readonly scale: 'log-variance' | 'log-std';
  private readonly rng: Rng | undefined;

  constructor(args: SamplingArgs = {}) {
    super(args);
    const where = `Sampling "${this.name}"`;
    this.seed = optionalSeed(where, args.seed);
    this.sampleAtInference = optionalBoolean(`${where}: sampleAtInference`, args.sampleAtInference, true);
    const scale = args.scale ?? 'log-variance';
    checkOneOf(`${where}: scale`, scale, ['log-variance', 'log-std'] as const);
    this.scale = scale;
    this.rng = this.seed === undefined ? undefined : mulberry32(this.seed);
  }

  private split(inputs: Tensor | Tensor[]): [Tensor, Tensor] {
    const one = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    if (one !== undefined) {
      // One input [mean ‖ scale] along the last axis: an encoder's single dense output (gm's VAE convention).
      const width = one.shape[one.shape.length - 1] as number;
      if (width % 2 !== 0) throw new Error(`Sampling "${this.name}": a single input must be [mean ‖ ${this.scale}] of even width, got ${width}`);
      return tf.split(one, 2, -1) as [Tensor, Tensor];
    }
    if (!Array.isArray(inputs) || inputs.length !== 2) {
      throw new Error(`Sampling "${this.name}": expected inputs [mean, logVar] or one input [mean ‖ ${this.scale}]`);
    }
    const [mean, logVar] = inputs as [Tensor, Tensor];
    if (!tf.util.arraysEqual(mean.shape, logVar.shape)) {
      throw new Error(`Sampling "${this.name}": mean [${mean.shape}] and logVar [${logVar.shape}] differ in shape`);
    }
    return [mean, logVar];
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shapes = shapeList(inputShape);
    if (shapes.length === 1) {
      const shape = shapes[0] as Shape;
      const width = shape[shape.length - 1];
      return [...shape.slice(0, -1), width === null || width === undefined ? null : width / 2];
    }
    if (shapes.length !== 2) throw new Error(`Sampling "${this.name}": expected inputs [mean, logVar] or one input [mean ‖ ${this.scale}]`);
    return shapes[0] as Shape;
  }

  override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor {
    return tf.tidy(() => {
      const [mean, logVar] = this.split(inputs);
      if (!this.sampleAtInference && !isTraining(kwargs)) return tf.clone(mean);
      // A fresh integer seed per call from the layer's PRNG: reproducible, yet new noise every step.
      const seed = this.rng === undefined ? undefined : Math.floor(this.rng() * 2147483647);
      const eps = tf.randomNormal(mean.shape, 0, 1, 'float32', seed);
      return tf.add(mean, tf.mul(tf.exp(this.scale === 'log-std' ? logVar : tf.mul(logVar, 0.5)), eps));
    });
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed ?? null, sampleAtInference: this.sampleAtInference, scale: this.scale };
  }
}
