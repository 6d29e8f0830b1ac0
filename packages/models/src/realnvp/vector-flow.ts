/**
 * What every flow model on vectors `[batch, dim]` shares (Real NVP, neural spline flows): a chain of tfjs flow
 * layers (one tfjs model: what checkpoints store) under a standard-Normal base, as @gm/layers'
 * `TransformedDistribution`; log p, NLL, temperature sampling, the trainer's loss, evaluation and the checkpoint.
 * A subclass gives its config, its layers, its name and its loader.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Chain, registerGmLayers, TransformedDistribution } from '@gm/layers';
import { checkPositiveInt, checkPositiveNumber, deriveSeed, formatShape, GmError, type Bijector, type BijectorOptions, type EvaluateOptions, type InputConvention, type Metric, type StepContext, type TrainingBatch, type TrainingData } from '@gm/core';
import { StandardNormal, randomStandardNormal } from '@gm/metrics';
import { ModelBase, type CheckpointContent } from '../model-base';
import type { TrainerDefaults } from '../train/trainer';
import { batchedMean, chainLayers, chainModel, checkTensor } from './shared';
import { PixelSpace } from './pixel-space';

/** Options of `sample` on vector flows. */
export interface VectorFlowSampleOptions {
  /** Standard deviation of the base draws (default 1; < 1 gives "cooler", more typical samples). */
  temperature?: number;
  /** Seed of the base draws (default: the config's seed). */
  seed?: number;
}

/** What a vector flow is made of: the tfjs model a checkpoint stores, and the steps it holds. */
export interface VectorFlowParts {
  model: tfl.LayersModel;
  flows: readonly Bijector[];
}

/** Parts whose steps are tfjs flow layers applied in order (a chain model of `layers`, or a stored one). */
export function chainParts(dim: number, layers: () => tfl.layers.Layer[], modelName: string, model?: tfl.LayersModel): VectorFlowParts {
  registerGmLayers();
  const m = model ?? chainModel([dim], layers(), modelName);
  return { model: m, flows: chainLayers(m) as unknown as Bijector[] };
}

/** The fields every vector flow's config has: `levels` > 0 makes it a flow on flattened 8-bit pixels. */
export interface VectorFlowConfig {
  dim: number;
  seed: number;
  /** Pixel levels of flattened images (dequantized and logit-transformed inside the model); 0 or absent: real vectors. */
  levels?: number;
  /** The logit transform's α for pixels (default 0.05). */
  alpha?: number;
}

export abstract class VectorFlow<C extends VectorFlowConfig> extends ModelBase implements Bijector {
  readonly codingsSize = 0;
  /** The validated configuration, defaults filled in. */
  readonly config: C;
  /** The flow layers as one tfjs model (what checkpoints store). */
  readonly model: tfl.LayersModel;
  /** The flow steps in data → base order. */
  readonly flows: readonly Bijector[];
  /** The flow as a distribution: the base pushed through the chain of steps. */
  readonly distribution: TransformedDistribution;
  /** The base distribution N(0, I) over `[dim]`. */
  readonly base: StandardNormal;
  /** The class name errors start with (`RealNVP`, `SplineFlow`). */
  protected abstract readonly label: string;
  /** Dequantization and the logit transform, for a flow on pixels. */
  protected readonly pixels: PixelSpace | undefined;

  /** `parts`: the tfjs model checkpoints store and the steps (bijectors) it holds, in data → base order. */
  protected constructor(config: C, parts: VectorFlowParts) {
    super();
    registerGmLayers();
    this.config = config;
    this.model = parts.model;
    this.flows = parts.flows;
    this.base = new StandardNormal([config.dim]);
    const levels = config.levels ?? 0;
    this.pixels = levels > 0 ? new PixelSpace(levels, config.alpha ?? 0.05) : undefined;
    this.distribution = new TransformedDistribution(this.base, new Chain(this.pixels === undefined ? this.flows : [this.pixels.logit, ...this.flows]));
  }

  /** 'pixels' for a flow on flattened 8-bit images (integers 0..levels−1), else 'continuous'. */
  get inputConvention(): InputConvention {
    return this.pixels === undefined ? 'continuous' : 'pixels';
  }

  get inputShape(): readonly number[] {
    return [this.config.dim];
  }

  protected checkX(where: string, x: unknown, name = 'x'): asserts x is tf.Tensor {
    this.live(where);
    checkTensor(`${this.label}.${where}`, name, x);
    if (x.rank !== 2 || x.shape[1] !== this.config.dim || x.shape[0] === 0) {
      throw new GmError('BAD_SHAPE', `${this.label}.${where}`, `${name} has shape ${formatShape(x.shape)}, expected [batch, ${this.config.dim}] with batch ≥ 1`);
    }
  }

  /** `z = f(x)` and `log|det ∂z/∂x|` per example (`[batch]`); `options.training` uses batch statistics in batch norms. */
  forward(x: tf.Tensor, options?: BijectorOptions): { y: tf.Tensor; logDet: tf.Tensor } {
    this.checkX('forward', x);
    return this.distribution.bijector.forward(x, options);
  }

  /** `x = f⁻¹(z)` and `log|det ∂x/∂z|` per example (batch norms use their running statistics). */
  inverse(z: tf.Tensor): { x: tf.Tensor; logDet: tf.Tensor } {
    this.checkX('inverse', z, 'z');
    return this.distribution.bijector.inverse(z);
  }

  /** log p(x) per example, `[batch]`, in nats (`training`: batch statistics; data-dependent initialisations run). */
  logProb(x: tf.Tensor, training = false): tf.Tensor {
    this.checkX('logProb', x);
    return this.distribution.logProb(x, { training });
  }

  /** Mean −log p(x) over `x` in nats, batched to bound memory. */
  nll(x: tf.Tensor, batchSize = 1024): number {
    this.checkX('nll', x);
    checkPositiveInt(`${this.label}.nll: "batchSize"`, batchSize);
    return -batchedMean(x, batchSize, (xb) => this.logProb(xb));
  }

  /**
   * Mean bits/dim of flattened integer `pixels` (a flow on pixels): −log p(pixels + u)/(D·ln 2) with seeded uniform
   * noise u, the one-sample dequantization bound in 8-bit pixel space.
   */
  bitsPerDim(pixels: tf.Tensor, options: { seed?: number; batchSize?: number } = {}): number {
    this.checkX('bitsPerDim', pixels, 'pixels');
    const space = this.pixels;
    if (space === undefined) throw new GmError('BAD_ARGUMENT', `${this.label}.bitsPerDim`, 'a flow on pixels (config "levels"); this one models real vectors: use nll');
    const seed = options.seed ?? this.config.seed;
    const batchSize = options.batchSize ?? 100;
    checkPositiveInt(`${this.label}.bitsPerDim: "batchSize"`, batchSize);
    return batchedMean(pixels, batchSize, (xb, b) => tf.div(tf.neg(this.logProb(space.dequantize(xb, deriveSeed(seed, 5, b)))), this.config.dim * Math.LN2));
  }

  /**
   * `n` samples `[n, dim]`: z ~ N(0, temperature²·I), x = f⁻¹(z) — for a flow on pixels quantised (floor) and clipped
   * to 0..levels−1. Seeded calls are reproducible.
   */
  sample(n: number, options: VectorFlowSampleOptions = {}): tf.Tensor {
    this.live('sample');
    checkPositiveInt(`${this.label}.sample: "n"`, n);
    const temperature = options.temperature ?? 1;
    checkPositiveNumber(`${this.label}.sample: "temperature"`, temperature);
    const seed = options.seed ?? this.config.seed;
    return tf.tidy(() => {
      const z = tf.mul(randomStandardNormal([n, this.config.dim], deriveSeed(seed, 7)), temperature);
      const x = this.inverse(z).x;
      return this.pixels === undefined ? x : tf.clipByValue(tf.floor(x), 0, this.pixels.levels - 1);
    });
  }

  /** The trainable variables (what `fit` optimises). */
  trainableVariables(): tf.Variable[] {
    return this.model.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /** State that is not trained (batch-norm running statistics, ActNorm's flag, 1×1 permutations, MADE masks). */
  override stateVariables(): tf.Variable[] {
    const trainable = new Set(this.trainableVariables().map((v) => v.id));
    return this.model.weights.map((w) => w.read() as tf.Variable).filter((v) => !trainable.has(v.id));
  }

  /** The mean −log p of a batch in training or inference mode: nats, or for pixels bits/dim of the batch dequantized
   * with the step's seed. */
  private batchLoss(batch: TrainingBatch, seed: number, training: boolean): tf.Scalar {
    const space = this.pixels;
    return tf.tidy(() => (space === undefined ? (tf.neg(tf.mean(this.logProb(batch.x, training))) as tf.Scalar) : space.meanBits(this.logProb(space.dequantize(batch.x, seed), training), this.config.dim)));
  }

  /** The training loss: the mean −log p(x) in nats (pixels: bits/dim), in training mode. */
  loss(batch: TrainingBatch, ctx: StepContext): tf.Scalar {
    return this.batchLoss(batch, ctx.seed, true);
  }

  /** Validation: the mean −log p(x) in inference mode. */
  validationLoss(batch: TrainingBatch, ctx: { seed: number }): tf.Scalar {
    return this.batchLoss(batch, ctx.seed, false);
  }

  protected fitDefaults(): TrainerDefaults {
    // Pixels: a batch holding a stroke where earlier batches had none can give one huge gradient; clip it (bits/dim).
    return { where: `${this.label}.fit`, batchSize: 128, seed: this.config.seed, learningRate: 1e-3, ...(this.pixels === undefined ? {} : { clipNorm: PIXEL_CLIP_NORM }) };
  }

  protected override beforeFit(data: TrainingData): void {
    if (!(data instanceof tf.Tensor)) return;
    this.checkX('fit', data, 'data');
    this.pixels?.checkPixels(`${this.label}.fit`, data);
  }

  /** The mean negative log-likelihood in nats; for pixels of the dequantized 8-bit images, with bits/dim. */
  evaluate(x: tf.Tensor, options: EvaluateOptions = {}): Metric[] {
    if (this.pixels === undefined) return [{ name: 'nll', value: this.nll(x, options.batchSize ?? 1024), unit: 'nats' }];
    const bpd = this.bitsPerDim(x, { ...(options.seed === undefined ? {} : { seed: options.seed }), ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }) });
    return [
      { name: 'nll', value: bpd * this.config.dim * Math.LN2, unit: 'nats (dequantized, 8-bit)' },
      { name: 'nllBitsPerDim', value: bpd, unit: 'bits/dim' },
    ];
  }

  protected checkpointContent(): CheckpointContent {
    return { config: structuredClone(this.config), parts: { flow: this.model } };
  }

  protected disposeModel(): void {
    this.model.dispose();
  }
}

/** Default gradient-norm clip of a flow on pixels (its loss is in bits/dim). */
const PIXEL_CLIP_NORM = 10;

/** The load-time check every vector flow makes of its stored part: the layer count and the input width. */
export function checkStoredChain(where: string, flow: tfl.LayersModel, expectedLayers: number, dim: number): void {
  const layers = chainLayers(flow);
  const shape = flow.inputs[0]?.shape ?? [];
  if (layers.length !== expectedLayers || shape.length !== 2 || shape[1] !== dim) {
    throw new GmError('CORRUPT', where, `the flow part has ${layers.length} layers on input ${formatShape(shape)}, but the config implies ${expectedLayers} on [null, ${dim}]`);
  }
}
