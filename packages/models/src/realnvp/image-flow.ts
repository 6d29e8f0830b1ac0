/**
 * What every flow model on 8-bit images `[batch, H, W, C]` shares (multi-scale Real NVP, Glow): dequantization and
 * the logit transform in front of the flow, so the density is over pixel values and bits/dim are in 8-bit pixel space;
 * an optional class condition (a one-hot context every conditional step reads); log p, bits/dim, temperature
 * sampling, the trainer's loss, evaluation and the checkpoint's parts. A subclass gives its config, its tfjs parts and
 * the bijector they make, its name and its loader.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Chain, registerGmLayers, TransformedDistribution } from '@gm/layers';
import { checkPositiveInt, deriveSeed, formatShape, GmError, type Bijector, type BijectorOptions, type EvaluateOptions, type InputConvention, type Metric, type StepContext, type TrainingBatch, type TrainingData } from '@gm/core';
import { StandardNormal, bitsPerDim, randomStandardNormal } from '@gm/metrics';
import { ModelBase, type CheckpointContent } from '../model-base';
import type { TrainerDefaults } from '../train/trainer';
import { batchedMean, checkTensor } from './shared';
import { PixelSpace, resolvePixelFields } from './pixel-space';

/** The fields every image flow's config has (defaults filled in). */
export interface ImageFlowConfig {
  /** `[H, W, C]`. */
  inputShape: [number, number, number];
  /** Logit transform's α: `y = logit(α + (1 − 2α)·x/levels)`. */
  alpha: number;
  /** Pixel levels (256 for 8-bit images). */
  levels: number;
  /** Classes of a class-conditional flow (0 or absent: unconditional). */
  classes?: number;
  /** Seed of the initialisers, batch order, dequantization noise and sampling. */
  seed: number;
}

/** Options of `sample` on image flows. */
export interface ImageFlowSampleOptions {
  /** Standard deviation of the base draws (default 1; < 1 gives "cooler", more typical samples — Glow's T). */
  temperature?: number;
  /** Seed of the base draws (default: the config's seed). */
  seed?: number;
  /** Class-conditional flows: the class of every sample (a number) or of each (an array of n). */
  label?: number | readonly number[];
}

/** Options of `bitsPerDim` on image flows. */
export interface ImageFlowBitsOptions {
  /** Seed of the dequantization noise (default: the config's seed). */
  seed?: number;
  /** Examples per batch (default 100). */
  batchSize?: number;
  /** Class-conditional flows: the class of each image, `[N]` int32 (bits/dim of p(x | label)). */
  labels?: tf.Tensor;
}

/** Validates the fields {@link ImageFlowConfig} names and fills in their defaults; `where` names the config. */
export function resolveImageFlowFields(where: string, config: { inputShape: unknown; alpha?: unknown; levels?: unknown; classes?: unknown; seed?: unknown }): ImageFlowConfig {
  const shape = config.inputShape;
  if (!Array.isArray(shape) || shape.length !== 3) throw new GmError('BAD_ARGUMENT', `${where}: "inputShape"`, '[H, W, C]', shape);
  shape.forEach((d, i) => checkPositiveInt(`${where}: "inputShape[${i}]"`, d));
  const { levels, alpha } = resolvePixelFields(where, config);
  const classes = config.classes ?? 0;
  if (typeof classes !== 'number' || !Number.isInteger(classes) || classes < 0 || classes === 1) {
    throw new GmError('BAD_ARGUMENT', `${where}: "classes"`, '0 (unconditional) or an integer ≥ 2', classes);
  }
  const seed = config.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0) throw new GmError('BAD_ARGUMENT', `${where}: "seed"`, 'a non-negative integer', seed);
  return { inputShape: [shape[0], shape[1], shape[2]], alpha, levels, classes, seed };
}

export abstract class ImageFlow<C extends ImageFlowConfig> extends ModelBase implements Bijector {
  readonly inputConvention: InputConvention = 'pixels';
  readonly codingsSize = 0;
  /** The validated configuration, defaults filled in. */
  readonly config: C;
  /** The tfjs models checkpoints store (one per scale). */
  readonly parts: readonly tfl.LayersModel[];
  /** The density over continuous pixel values: N(0, I) through the logit transform and the flow. */
  readonly distribution: TransformedDistribution;
  /** N(0, I) over `inputShape`. */
  readonly base: StandardNormal;
  /** Dequantization, the logit transform and bits/dim. */
  protected readonly pixels: PixelSpace;
  /** The class name errors start with (`RealNVPImage`, `Glow`). */
  protected abstract readonly label: string;

  /** `flow` is the bijector the parts make, from logit space to an image-shaped latent. */
  protected constructor(config: C, parts: tfl.LayersModel[], flow: Bijector) {
    super();
    registerGmLayers();
    this.config = config;
    this.parts = parts;
    this.pixels = new PixelSpace(config.levels, config.alpha);
    this.base = new StandardNormal(config.inputShape);
    this.distribution = new TransformedDistribution(this.base, new Chain([this.pixels.logit, flow]));
  }

  /** Values per image (H·W·C). */
  get dataSize(): number {
    return this.config.inputShape.reduce((a, b) => a * b, 1);
  }

  get inputShape(): readonly number[] {
    return this.config.inputShape;
  }

  protected checkX(where: string, x: unknown, name = 'x'): asserts x is tf.Tensor {
    this.live(where);
    checkTensor(`${this.label}.${where}`, name, x);
    const want = this.config.inputShape;
    if (x.rank !== 4 || want.some((d, i) => x.shape[i + 1] !== d) || x.shape[0] === 0) {
      throw new GmError('BAD_SHAPE', `${this.label}.${where}`, `${name} has shape ${formatShape(x.shape)}, expected [batch, ${want.join(', ')}] with batch ≥ 1`);
    }
  }

  /** Classes of a class-conditional flow (0: unconditional). */
  get classes(): number {
    return this.config.classes ?? 0;
  }

  /** Labels are required exactly when the flow is conditional, and must be `[batch]` integers in 0..classes−1. */
  private checkLabels(where: string, labels: tf.Tensor | undefined, batch: number): void {
    const classes = this.classes;
    if (classes === 0) {
      if (labels !== undefined) throw new GmError('BAD_ARGUMENT', `${this.label}.${where}: labels`, 'no labels (this flow is not class-conditional)', `a [${labels.shape.join(', ')}] tensor`);
      return;
    }
    if (labels === undefined) throw new GmError('BAD_ARGUMENT', `${this.label}.${where}: labels`, `the class of each image (this flow is conditional on ${classes} classes)`, undefined);
    checkTensor(`${this.label}.${where}`, 'labels', labels);
    if (labels.rank !== 1 || labels.shape[0] !== batch) throw new GmError('BAD_SHAPE', `${this.label}.${where}: labels`, `[${batch}]`, formatShape(labels.shape));
    const [lo, hi] = tf.tidy(() => [tf.min(labels).dataSync()[0] as number, tf.max(labels).dataSync()[0] as number]) as [number, number];
    if (!(lo >= 0 && hi <= classes - 1) || !Number.isInteger(lo) || !Number.isInteger(hi)) {
      throw new GmError('BAD_ARGUMENT', `${this.label}.${where}: labels`, `integers in [0, ${classes - 1}]`, `values in [${lo}, ${hi}]`);
    }
  }

  /** The one-hot context of `labels` for a class-conditional flow (undefined for an unconditional one), checked. */
  protected contextOf(where: string, labels: tf.Tensor | undefined, batch: number): tf.Tensor | undefined {
    this.checkLabels(where, labels, batch);
    return labels === undefined ? undefined : tf.tidy(() => tf.oneHot(tf.cast(labels, 'int32'), this.classes));
  }

  private options(where: string, batch: number, labels: tf.Tensor | undefined, training = false): BijectorOptions {
    const context = this.contextOf(where, labels, batch);
    return context === undefined ? { training } : { training, context };
  }

  /**
   * `z = f(x)` for continuous pixel values `x` in [0, levels) (logit transform, then the flow) and
   * `log|det ∂z/∂x|` per example, the preprocessing's included; a class-conditional flow needs `options.context`
   * (the one-hot class).
   */
  forward(x: tf.Tensor, options?: BijectorOptions): { y: tf.Tensor; logDet: tf.Tensor } {
    this.checkX('forward', x);
    return this.distribution.bijector.forward(x, options);
  }

  /** `x = f⁻¹(z)` in pixel units and `log|det ∂x/∂z|` per example. */
  inverse(z: tf.Tensor, options?: BijectorOptions): { x: tf.Tensor; logDet: tf.Tensor } {
    this.checkX('inverse', z, 'z');
    return this.distribution.bijector.inverse(z, options);
  }

  /**
   * log p(x) in nats per example (`[batch]`) for continuous pixel values `x` in [0, levels); `labels` (`[batch]`) for
   * a class-conditional flow, giving log p(x | label). `training` uses batch statistics and runs data-dependent
   * initialisations (ActNorm).
   */
  logProb(x: tf.Tensor, training = false, labels?: tf.Tensor): tf.Tensor {
    this.checkX('logProb', x);
    const options = this.options('logProb', x.shape[0] as number, labels, training);
    try {
      return this.distribution.logProb(x, options);
    } finally {
      options.context?.dispose();
    }
  }

  /** Mean bits/dim of integer `pixels` (dequantized with seeded uniform noise): −log p(pixels + u)/(D·ln 2). */
  bitsPerDim(pixels: tf.Tensor, options: ImageFlowBitsOptions = {}): number {
    this.checkX('bitsPerDim', pixels, 'pixels');
    const seed = options.seed ?? this.config.seed;
    const batchSize = options.batchSize ?? 100;
    checkPositiveInt(`${this.label}.bitsPerDim: "batchSize"`, batchSize);
    const labels = options.labels;
    this.checkLabels('bitsPerDim', labels, pixels.shape[0] as number);
    const D = this.dataSize;
    const N = pixels.shape[0] as number;
    return batchedMean(pixels, batchSize, (xb, b) => {
      const start = b * batchSize;
      const lb = labels === undefined ? undefined : xb.shape[0] === N ? labels : tf.slice(labels, start, xb.shape[0]);
      return bitsPerDim(tf.neg(this.logProb(this.pixels.dequantize(xb, deriveSeed(seed, 5, b)), false, lb)), D);
    });
  }

  /**
   * `n` images `[n, H, W, C]` of integer pixels 0..levels−1: z ~ N(0, temperature²·I), x = f⁻¹(z), quantised
   * (floor) and clipped (the inverse logit spans slightly more than [0, levels)). A class-conditional flow needs
   * `options.label`. Use {@link ImageFlow.inverse} for the continuous values.
   */
  sample(n: number, options: ImageFlowSampleOptions = {}): tf.Tensor {
    this.live('sample');
    checkPositiveInt(`${this.label}.sample: "n"`, n);
    const temperature = options.temperature ?? 1;
    if (typeof temperature !== 'number' || !(temperature > 0) || !Number.isFinite(temperature)) {
      throw new GmError('BAD_ARGUMENT', `${this.label}.sample: "temperature"`, 'a positive number', temperature);
    }
    const seed = options.seed ?? this.config.seed;
    const label = options.label;
    if (label !== undefined && this.classes > 0) {
      const list = typeof label === 'number' ? [label] : label;
      if (!Array.isArray(list) || (list.length !== 1 && list.length !== n)) throw new GmError('BAD_ARGUMENT', `${this.label}.sample: "label"`, `a class number or an array of ${n}`, label);
      list.forEach((l, i) => {
        if (!Number.isInteger(l) || l < 0 || l >= this.classes) throw new GmError('BAD_ARGUMENT', `${this.label}.sample: "label${typeof label === 'number' ? '' : `[${i}]`}"`, `an integer in [0, ${this.classes - 1}]`, l);
      });
    }
    const labels = label === undefined ? undefined : tf.tensor1d(typeof label === 'number' ? new Array<number>(n).fill(label) : [...label], 'int32');
    let opts: BijectorOptions | undefined;
    try {
      opts = this.options('sample', n, labels);
      const o = opts;
      return tf.tidy(() => {
        const x = this.distribution.bijector.inverse(tf.mul(randomStandardNormal([n, ...this.config.inputShape], deriveSeed(seed, 7)), temperature), o).x;
        return tf.clipByValue(tf.floor(x), 0, this.config.levels - 1);
      });
    } finally {
      labels?.dispose();
      opts?.context?.dispose();
    }
  }

  /** The trainable variables (what `fit` optimises). */
  trainableVariables(): tf.Variable[] {
    return this.parts.flatMap((p) => p.trainableWeights.map((w) => w.read() as tf.Variable));
  }

  /** State that is not trained (batch-norm running statistics, ActNorm's initialisation flags, 1×1 permutations). */
  override stateVariables(): tf.Variable[] {
    const trainable = new Set(this.trainableVariables().map((v) => v.id));
    return this.parts.flatMap((p) => p.weights.map((w) => w.read() as tf.Variable)).filter((v) => !trainable.has(v.id));
  }

  private meanBits(batch: TrainingBatch, seed: number, training: boolean): tf.Scalar {
    return tf.tidy(() => this.pixels.meanBits(this.logProb(this.pixels.dequantize(batch.x, seed), training, this.classes > 0 ? batch.labels : undefined), this.dataSize));
  }

  /** The training loss: bits/dim of the batch dequantized with the step's seeded noise (batch statistics). */
  loss(batch: TrainingBatch, ctx: StepContext): tf.Scalar {
    return this.meanBits(batch, ctx.seed, true);
  }

  /** Validation: bits/dim with seeded dequantization noise and running statistics. */
  validationLoss(batch: TrainingBatch, ctx: { seed: number }): tf.Scalar {
    return this.meanBits(batch, ctx.seed, false);
  }

  protected fitDefaults(): TrainerDefaults {
    return { where: `${this.label}.fit`, batchSize: 64, seed: this.config.seed, learningRate: 1e-3 };
  }

  /** Integer pixels only (they are dequantized here); a class-conditional flow needs the labels. */
  protected override beforeFit(data: TrainingData): void {
    const x = data instanceof tf.Tensor ? data : typeof data === 'object' && data !== null && (data as TrainingBatch).x instanceof tf.Tensor ? (data as TrainingBatch).x : undefined;
    if (this.classes > 0 && data instanceof tf.Tensor) {
      throw new GmError('BAD_ARGUMENT', `${this.label}.fit: data`, `{ x, labels } or an image dataset (this flow is conditional on ${this.classes} classes)`, 'a tensor without labels');
    }
    if (x === undefined) return;
    this.checkX('fit', x, 'pixels');
    this.pixels.checkPixels(`${this.label}.fit`, x);
  }

  /** −log p in nats and bits/dim of the 8-bit pixels (a one-sample dequantization bound); `options.labels` for a
   * class-conditional flow. */
  evaluate(x: tf.Tensor, options: EvaluateOptions & { labels?: tf.Tensor } = {}): Metric[] {
    const bpd = this.bitsPerDim(x, {
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      ...(options.labels === undefined ? {} : { labels: options.labels }),
    });
    return [
      { name: 'nll', value: bpd * this.dataSize * Math.LN2, unit: 'nats (dequantized, 8-bit)' },
      { name: 'nllBitsPerDim', value: bpd, unit: 'bits/dim' },
    ];
  }

  /** The config and one part per scale (`scale0`, `scale1`, …). */
  protected checkpointContent(): CheckpointContent {
    const parts: Record<string, tfl.LayersModel> = {};
    this.parts.forEach((p, i) => (parts[`scale${i}`] = p));
    return { config: { ...this.config, inputShape: [...this.config.inputShape] }, parts };
  }

  protected disposeModel(): void {
    this.parts.forEach((p) => p.dispose());
  }
}
