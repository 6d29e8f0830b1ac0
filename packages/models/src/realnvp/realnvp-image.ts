/**
 * Real NVP's multi-scale architecture for images (Dinh et al., 2017): at each scale, checkerboard couplings, a
 * squeeze, channel couplings, then half the channels are factored out (sent to the base) and the rest goes on to the
 * next scale; the last scale has checkerboard couplings only. Dequantization and the logit transform are part of the
 * model, with their log-determinants, so its density is over pixel values and bits/dim are in 8-bit pixel space.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Chain, FlowBatchNorm, Logit, MultiScale, ResidualCoupling, Squeeze, TransformedDistribution, UniformDequantization, registerGmLayers } from '@gm/layers';
import { checkPositiveInt, deriveSeed, formatShape, GmError, type Bijector, type BijectorOptions, type CheckpointStore, type EvaluateOptions, type InputConvention, type Metric, type StepContext, type TrainingBatch, type TrainingData } from '@gm/core';
import { StandardNormal, bitsPerDim, randomStandardNormal } from '@gm/metrics';
import { readCheckpoint, resolvedConfigOf } from '../io/checkpoint';
import { buildFromParts, ModelBase, type CheckpointContent } from '../model-base';
import type { TrainerDefaults } from '../train/trainer';
import type { RealNvpSampleOptions } from './realnvp';
import { batchedMean, chainLayers, chainModel, checkTensor } from './shared';

/** Checkpoint kind written by {@link RealNVPImage.save}. */
export const REALNVP_IMAGE_CHECKPOINT_KIND = 'realnvp-image';

/** Configuration of {@link RealNVPImage}. */
export interface RealNvpImageConfig {
  /** `[H, W, C]`; H and W must be divisible by 2^(scales − 1). */
  inputShape: [number, number, number];
  /** Number of scales (default 2): scales − 1 squeeze-and-factor-out stages, then a final stage. */
  scales?: number;
  /** Couplings per stage (default 3): per scale that many checkerboard and channel couplings; the last scale gets one
   * more checkerboard coupling instead. Masks alternate within a stage. */
  couplingsPerStage?: number;
  /** Feature maps of the residual s/t networks (default 32). */
  filters?: number;
  /** Residual blocks per s/t network (default 1). */
  blocks?: number;
  /** Flow batch norm after each coupling (default false: a fresh model is then exactly the identity after the logit). */
  batchNorm?: boolean;
  /** Logit transform's α (default 0.05): `y = logit(α + (1 − 2α)·x/levels)`. */
  alpha?: number;
  /** Pixel levels (default 256 for 8-bit images). */
  levels?: number;
  /** Seed of the initialisers, batch order, dequantization noise and sampling (default 0). */
  seed?: number;
}

/** {@link RealNvpImageConfig} with the defaults filled in. */
export type ResolvedRealNvpImageConfig = Required<RealNvpImageConfig>;

/** Validates an image config and fills in its defaults (errors name the field and what was expected). */
export function resolveRealNvpImageConfig(config: RealNvpImageConfig): ResolvedRealNvpImageConfig {
  const where = 'RealNVPImage config';
  if (config === null || typeof config !== 'object') throw new Error(`${where}: expected an object with "inputShape"`);
  const shape = config.inputShape;
  if (!Array.isArray(shape) || shape.length !== 3) throw new Error(`${where}: "inputShape" must be [H, W, C], got ${JSON.stringify(shape)}`);
  shape.forEach((d, i) => checkPositiveInt(`${where}: "inputShape[${i}]"`, d));
  const scales = config.scales ?? 2;
  checkPositiveInt(`${where}: "scales"`, scales);
  const [h, w, c] = shape;
  const f = 2 ** (scales - 1);
  if (h % f !== 0 || w % f !== 0) throw new Error(`${where}: with ${scales} scales, H and W must be divisible by ${f}; got inputShape [${shape.join(', ')}]`);
  if ((h / f) * (w / f) < 2) throw new Error(`${where}: the last scale would be 1×1 (no checkerboard coupling possible); use fewer "scales"`);
  const couplingsPerStage = config.couplingsPerStage ?? 3;
  checkPositiveInt(`${where}: "couplingsPerStage"`, couplingsPerStage);
  const filters = config.filters ?? 32;
  checkPositiveInt(`${where}: "filters"`, filters);
  const blocks = config.blocks ?? 1;
  if (!Number.isInteger(blocks) || blocks < 0) throw new Error(`${where}: "blocks" must be a non-negative integer, got ${String(blocks)}`);
  const batchNorm = config.batchNorm ?? false;
  if (typeof batchNorm !== 'boolean') throw new Error(`${where}: "batchNorm" must be a boolean, got ${JSON.stringify(batchNorm)}`);
  const alpha = config.alpha ?? 0.05;
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 0.5)) throw new Error(`${where}: "alpha" must be in (0, 0.5), got ${String(alpha)}`);
  const levels = config.levels ?? 256;
  checkPositiveInt(`${where}: "levels"`, levels);
  if (levels < 2) throw new Error(`${where}: "levels" must be at least 2, got ${levels}`);
  const seed = config.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0) throw new Error(`${where}: "seed" must be a non-negative integer, got ${String(seed)}`);
  return { inputShape: [h, w, c], scales, couplingsPerStage, filters, blocks, batchNorm, alpha, levels, seed };
}

/** Input shape of scale `i`: `[H/2^i, W/2^i, C·2^i]` (each stage squeezes ×4 channels and factors out half). */
function scaleShape(c: ResolvedRealNvpImageConfig, i: number): [number, number, number] {
  const [h, w, ch] = c.inputShape;
  return [h / 2 ** i, w / 2 ** i, ch * 2 ** i];
}

function buildScale(c: ResolvedRealNvpImageConfig, i: number): tfl.layers.Layer[] {
  const last = i === c.scales - 1;
  const out: tfl.layers.Layer[] = [];
  const coupling = (mask: 'checkerboard' | 'channel', k: number) => {
    out.push(
      new ResidualCoupling({ mask, invertMask: k % 2 === 1, filters: c.filters, blocks: c.blocks, seed: deriveSeed(c.seed, 200, i, mask === 'channel' ? 1 : 0, k) }),
    );
    if (c.batchNorm) out.push(new FlowBatchNorm({}));
  };
  const checkerboards = last ? c.couplingsPerStage + 1 : c.couplingsPerStage;
  for (let k = 0; k < checkerboards; k++) coupling('checkerboard', k);
  if (!last) {
    out.push(new Squeeze({}));
    for (let k = 0; k < c.couplingsPerStage; k++) coupling('channel', k);
  }
  return out;
}

function layersPerScale(c: ResolvedRealNvpImageConfig, i: number): number {
  const per = c.batchNorm ? 2 : 1;
  return i === c.scales - 1 ? (c.couplingsPerStage + 1) * per : 2 * c.couplingsPerStage * per + 1;
}

/** Options of {@link RealNVPImage.bitsPerDim}. */
export interface RealNvpBitsOptions {
  /** Seed of the dequantization noise (default: the config's seed). */
  seed?: number;
  /** Examples per batch (default 100). */
  batchSize?: number;
}

/**
 * Multi-scale Real NVP on images `[batch, H, W, C]` of integer pixels 0..levels−1. `forward` maps continuous
 * (dequantized) pixel values `x` in [0, levels) through the logit transform and the flow to `z` of the same shape
 * (the factored-out parts put back in place by un-squeezing), `z ~ N(0, I)`; `logProb(x)` is the density of `x` in
 * pixel units, so `−logProb/(D·ln 2)` is bits/dim of 8-bit images (a one-sample dequantization bound).
 *
 * @example
 * ```ts
 * const flow = new RealNVPImage({ inputShape: [28, 28, 1], scales: 2, filters: 32, seed: 1 });
 * await flow.fit(pixels, { epochs: 5, batchSize: 64, learningRate: 1e-3, clipNorm: 100 }); // pixels: [N, 28, 28, 1] in 0..255
 * flow.bitsPerDim(testPixels);                         // bits/dim in 8-bit pixel space
 * const xs = flow.sample(16, { temperature: 0.7 });   // [16, 28, 28, 1], integer pixels 0..255
 * ```
 */
export class RealNVPImage extends ModelBase implements Bijector {
  readonly kind = REALNVP_IMAGE_CHECKPOINT_KIND;
  readonly inputConvention: InputConvention = 'pixels';
  readonly codingsSize = 0;
  /** The validated configuration, defaults filled in. */
  readonly config: ResolvedRealNvpImageConfig;
  /** One tfjs model per scale (what checkpoints store, parts `scale0`, `scale1`, …). */
  readonly parts: readonly tfl.LayersModel[];
  /** The flow steps of each scale, in data → base order. */
  readonly scaleFlows: readonly (readonly Bijector[])[];
  /** The density over continuous pixel values: N(0, I) through the logit transform and the multi-scale flow. */
  readonly distribution: TransformedDistribution;
  private readonly dequantizer: UniformDequantization;
  /** N(0, I) over `inputShape`. */
  readonly base: StandardNormal;

  /** A fresh model (identity flow after the logit) with seeded weights; the second argument is internal (load). */
  constructor(config: RealNvpImageConfig, parts?: tfl.LayersModel[]) {
    super();
    registerGmLayers();
    this.config = resolveRealNvpImageConfig(config);
    const c = this.config;
    this.parts = parts ?? Array.from({ length: c.scales }, (_, i) => chainModel(scaleShape(c, i), buildScale(c, i), `realnvp_scale${i}`));
    this.scaleFlows = this.parts.map((p) => chainLayers(p) as unknown as Bijector[]);
    let flow: MultiScale | null = null;
    for (let i = c.scales - 1; i >= 0; i--) flow = new MultiScale(new Chain(this.scaleFlows[i] as Bijector[]), flow);
    this.dequantizer = new UniformDequantization({ levels: c.levels });
    this.base = new StandardNormal(c.inputShape);
    this.distribution = new TransformedDistribution(this.base, new Chain([new Logit({ alpha: c.alpha, levels: c.levels }), flow as MultiScale]));
  }

  /** Values per image (H·W·C). */
  get dataSize(): number {
    return this.config.inputShape.reduce((a, b) => a * b, 1);
  }

  get inputShape(): readonly number[] {
    return this.config.inputShape;
  }

  describe(): string {
    const c = this.config;
    return `Real NVP (multi-scale), ${c.inputShape.join('×')}, ${c.scales} scales, ${c.couplingsPerStage} couplings per stage, ${c.filters} filters, ${c.blocks} residual block(s); loss in bits/dim`;
  }

  private checkX(where: string, x: unknown, name = 'x'): asserts x is tf.Tensor {
    this.live(where);
    checkTensor(`RealNVPImage.${where}`, name, x);
    const want = this.config.inputShape;
    if (x.rank !== 4 || want.some((d, i) => x.shape[i + 1] !== d) || x.shape[0] === 0) {
      throw new GmError('BAD_SHAPE', `RealNVPImage.${where}`, `${name} has shape ${formatShape(x.shape)}, expected [batch, ${want.join(', ')}] with batch ≥ 1`);
    }
  }

  /**
   * `z = f(x)` for continuous pixel values `x` in [0, levels) (logit transform, then the multi-scale flow) and
   * `log|det ∂z/∂x|` per example, the preprocessing's included. `options.training` uses batch statistics.
   */
  forward(x: tf.Tensor, options?: BijectorOptions): { y: tf.Tensor; logDet: tf.Tensor } {
    this.checkX('forward', x);
    return this.distribution.bijector.forward(x, options);
  }

  /** `x = f⁻¹(z)` in pixel units and `log|det ∂x/∂z|` per example. */
  inverse(z: tf.Tensor): { x: tf.Tensor; logDet: tf.Tensor } {
    this.checkX('inverse', z, 'z');
    return this.distribution.bijector.inverse(z);
  }

  /** log p(x) in nats per example (`[batch]`) for continuous pixel values `x` in [0, levels). */
  logProb(x: tf.Tensor, training = false): tf.Tensor {
    this.checkX('logProb', x);
    return this.distribution.logProb(x, { training });
  }

  /** Integer pixels plus seeded U[0, 1) noise (the dequantization bound's continuous values). */
  private dequantize(pixels: tf.Tensor, seed: number): tf.Tensor {
    return this.dequantizer.forward(pixels, { seed }).y;
  }

  /** Mean bits/dim of integer `pixels` (dequantized with seeded uniform noise): −log p(pixels + u)/(D·ln 2). */
  bitsPerDim(pixels: tf.Tensor, options: RealNvpBitsOptions = {}): number {
    this.checkX('bitsPerDim', pixels, 'pixels');
    const seed = options.seed ?? this.config.seed;
    const batchSize = options.batchSize ?? 100;
    checkPositiveInt(`RealNVPImage.bitsPerDim: "batchSize"`, batchSize);
    const D = this.dataSize;
    return batchedMean(pixels, batchSize, (xb, b) => bitsPerDim(tf.neg(this.logProb(this.dequantize(xb, deriveSeed(seed, 5, b)))), D));
  }

  /**
   * `n` images `[n, H, W, C]` of integer pixels 0..levels−1: z ~ N(0, temperature²·I), x = f⁻¹(z), quantised
   * (floor) and clipped (the inverse logit spans slightly more than [0, levels)). Use {@link RealNVPImage.inverse}
   * for the continuous values.
   */
  sample(n: number, options: RealNvpSampleOptions = {}): tf.Tensor {
    this.live('sample');
    checkPositiveInt(`RealNVPImage.sample: "n"`, n);
    const temperature = options.temperature ?? 1;
    if (typeof temperature !== 'number' || !(temperature > 0) || !Number.isFinite(temperature)) {
      throw new Error(`RealNVPImage.sample: "temperature" must be a positive number, got ${String(temperature)}`);
    }
    const seed = options.seed ?? this.config.seed;
    return tf.tidy(() => {
      const x = this.inverse(tf.mul(randomStandardNormal([n, ...this.config.inputShape], deriveSeed(seed, 7)), temperature)).x;
      return tf.clipByValue(tf.floor(x), 0, this.config.levels - 1);
    });
  }

  /** The trainable variables (what `fit` optimises). */
  trainableVariables(): tf.Variable[] {
    return this.parts.flatMap((p) => p.trainableWeights.map((w) => w.read() as tf.Variable));
  }

  /** Batch-norm running statistics (state that is not trained). */
  override stateVariables(): tf.Variable[] {
    const trainable = new Set(this.trainableVariables().map((v) => v.id));
    return this.parts.flatMap((p) => p.weights.map((w) => w.read() as tf.Variable)).filter((v) => !trainable.has(v.id));
  }

  /** The training loss: bits/dim of the batch dequantized with the step's seeded noise (batch statistics). */
  loss(batch: TrainingBatch, ctx: StepContext): tf.Scalar {
    const D = this.dataSize;
    return tf.tidy(() => tf.div(tf.neg(tf.mean(this.logProb(this.dequantize(batch.x, ctx.seed), true))), D * Math.LN2) as tf.Scalar);
  }

  /** Validation: bits/dim with seeded dequantization noise and running statistics. */
  validationLoss(batch: TrainingBatch, ctx: { seed: number }): tf.Scalar {
    const D = this.dataSize;
    return tf.tidy(() => tf.div(tf.neg(tf.mean(this.logProb(this.dequantize(batch.x, ctx.seed)))), D * Math.LN2) as tf.Scalar);
  }

  protected fitDefaults(): TrainerDefaults {
    return { where: 'RealNVPImage.fit', batchSize: 64, seed: this.config.seed, learningRate: 1e-3 };
  }

  /** Integer pixels only (they are dequantized here). */
  protected override beforeFit(data: TrainingData): void {
    if (!(data instanceof tf.Tensor)) return;
    this.checkX('fit', data, 'pixels');
    const [lo, hi] = tf.tidy(() => [tf.min(data).dataSync()[0] as number, tf.max(data).dataSync()[0] as number]) as [number, number];
    if (!(lo >= 0 && hi <= this.config.levels - 1)) {
      throw new GmError('BAD_ARGUMENT', 'RealNVPImage.fit: pixels', `integers in [0, ${this.config.levels - 1}] (they are dequantized here); got values in [${lo}, ${hi}]`);
    }
  }

  /** −log p in nats and bits/dim of the 8-bit pixels (a one-sample dequantization bound). */
  evaluate(x: tf.Tensor, options: EvaluateOptions = {}): Metric[] {
    const bpd = this.bitsPerDim(x, { ...(options.seed === undefined ? {} : { seed: options.seed }), ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }) });
    return [
      { name: 'nll', value: bpd * this.dataSize * Math.LN2, unit: 'nats (dequantized, 8-bit)' },
      { name: 'nllBitsPerDim', value: bpd, unit: 'bits/dim' },
    ];
  }

  protected checkpointContent(): CheckpointContent {
    const parts: Record<string, tfl.LayersModel> = {};
    this.parts.forEach((p, i) => (parts[`scale${i}`] = p));
    return { config: { ...this.config, inputShape: [...this.config.inputShape] }, parts };
  }

  /** Loads a model saved by {@link RealNVPImage.save}; another kind, or parts that disagree with the config, is an error. */
  static async load(store: CheckpointStore): Promise<RealNVPImage> {
    registerGmLayers();
    const reader = await readCheckpoint<RealNvpImageConfig>(store, REALNVP_IMAGE_CHECKPOINT_KIND);
    const where = store.label;
    const config: ResolvedRealNvpImageConfig = resolvedConfigOf(reader, resolveRealNvpImageConfig);
    const names = Array.from({ length: config.scales }, (_, i) => `scale${i}`);
    return buildFromParts(reader, names, (byName) => {
      const parts = names.map((name) => byName[name] as tfl.LayersModel);
      parts.forEach((part, i) => {
        const shape = part.inputs[0]?.shape ?? [];
        const want = [null, ...scaleShape(config, i)];
        const n = chainLayers(part).length;
        if (n !== layersPerScale(config, i) || shape.length !== 4 || shape.some((d, k) => d !== want[k])) {
          throw new GmError('CORRUPT', where, `part scale${i} has ${n} layers on input ${formatShape(shape)}, but the config implies ${layersPerScale(config, i)} on ${formatShape(want)}`);
        }
      });
      RealNVPImage.checkStoredParts(where, config, byName);
      return new RealNVPImage(config, parts);
    });
  }

  protected disposeModel(): void {
    this.parts.forEach((p) => p.dispose());
  }
}
