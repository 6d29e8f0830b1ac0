/**
 * Real NVP's multi-scale architecture for images (Dinh et al., 2017): at each scale, checkerboard couplings, a
 * squeeze, channel couplings, then half the channels are factored out (sent to the base) and the rest goes on to the
 * next scale; the last scale has checkerboard couplings only. Dequantization and the logit transform are part of the
 * model, with their log-determinants, so its density is over pixel values and bits/dim are in 8-bit pixel space.
 */
import * as tf from '@tensorflow/tfjs-core';
import { OptimizerSlot } from '../train/optimizer';
import type * as tfl from '@tensorflow/tfjs-layers';
import { FlowBatchNorm, Squeeze, type Flow } from '@gm/layers';
import { deriveSeed } from '@gm/core';
import { StandardNormal, bitsPerDim, randomStandardNormal } from '@gm/metrics';
import { loadCheckpointPart, readCheckpointManifest, saveCheckpoint } from '../io/checkpoint';
import type { FitResult } from '../train/fit-loop';
import { dequantize, logitForward, logitInverse } from './preprocess';
import { ResidualCoupling, registerRealNvpLayers } from './residual-coupling';
import type { RealNvpSampleOptions } from './realnvp';
import { batchedMean, chainLayers, chainModel, checkPosInt, checkTensor, fitFlow, fmt, type RealNvpFitOptions } from './shared';

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
  shape.forEach((d, i) => checkPosInt(where, `inputShape[${i}]`, d));
  const scales = config.scales ?? 2;
  checkPosInt(where, 'scales', scales);
  const [h, w, c] = shape;
  const f = 2 ** (scales - 1);
  if (h % f !== 0 || w % f !== 0) throw new Error(`${where}: with ${scales} scales, H and W must be divisible by ${f}; got inputShape [${shape.join(', ')}]`);
  if ((h / f) * (w / f) < 2) throw new Error(`${where}: the last scale would be 1×1 (no checkerboard coupling possible); use fewer "scales"`);
  const couplingsPerStage = config.couplingsPerStage ?? 3;
  checkPosInt(where, 'couplingsPerStage', couplingsPerStage);
  const filters = config.filters ?? 32;
  checkPosInt(where, 'filters', filters);
  const blocks = config.blocks ?? 1;
  if (!Number.isInteger(blocks) || blocks < 0) throw new Error(`${where}: "blocks" must be a non-negative integer, got ${String(blocks)}`);
  const batchNorm = config.batchNorm ?? false;
  if (typeof batchNorm !== 'boolean') throw new Error(`${where}: "batchNorm" must be a boolean, got ${JSON.stringify(batchNorm)}`);
  const alpha = config.alpha ?? 0.05;
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 0.5)) throw new Error(`${where}: "alpha" must be in (0, 0.5), got ${String(alpha)}`);
  const levels = config.levels ?? 256;
  checkPosInt(where, 'levels', levels);
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
 * flow.fit(pixels, { epochs: 5, batchSize: 64, learningRate: 1e-3, clipNorm: 100 }); // pixels: [N, 28, 28, 1] in 0..255
 * flow.bitsPerDim(testPixels);                         // bits/dim in 8-bit pixel space
 * const xs = flow.sample(16, { temperature: 0.7 });   // [16, 28, 28, 1], integer pixels 0..255
 * ```
 */
export class RealNVPImage implements Flow {
  /** The validated configuration, defaults filled in. */
  readonly config: ResolvedRealNvpImageConfig;
  /** One tfjs model per scale (what checkpoints store, parts `scale0`, `scale1`, …). */
  readonly parts: readonly tfl.LayersModel[];
  /** The flow steps of each scale, in data → base order. */
  readonly scaleFlows: readonly (readonly Flow[])[];
  /** N(0, I) over `inputShape`. */
  readonly base: StandardNormal;
  /** Epochs trained so far (restored by {@link RealNVPImage.load}). */
  epochsTrained = 0;
  private readonly squeezer = new Squeeze({});
  private readonly optimizerSlot = new OptimizerSlot();
  private disposed = false;

  /** A fresh model (identity flow after the logit) with seeded weights; the second argument is internal (load). */
  constructor(config: RealNvpImageConfig, parts?: tfl.LayersModel[]) {
    registerRealNvpLayers();
    this.config = resolveRealNvpImageConfig(config);
    const c = this.config;
    this.parts = parts ?? Array.from({ length: c.scales }, (_, i) => chainModel(scaleShape(c, i), buildScale(c, i), `realnvp_scale${i}`));
    this.scaleFlows = this.parts.map((p) => chainLayers(p) as unknown as Flow[]);
    this.base = new StandardNormal(c.inputShape);
  }

  /** Values per image (H·W·C). */
  get dataSize(): number {
    return this.config.inputShape.reduce((a, b) => a * b, 1);
  }

  private checkX(where: string, x: unknown, name = 'x'): asserts x is tf.Tensor {
    if (this.disposed) throw new Error(`RealNVPImage.${where}: this model has been disposed`);
    checkTensor(`RealNVPImage.${where}`, name, x);
    const want = this.config.inputShape;
    if (x.rank !== 4 || want.some((d, i) => x.shape[i + 1] !== d) || x.shape[0] === 0) {
      throw new Error(`RealNVPImage.${where}: ${name} has shape ${fmt(x.shape)}, expected [batch, ${want.join(', ')}] with batch ≥ 1`);
    }
  }

  private flowForward(i: number, h: tf.Tensor, training: boolean): { z: tf.Tensor; logDet: tf.Tensor } {
    let logDet: tf.Tensor = tf.zeros([h.shape[0] as number]);
    for (const f of this.scaleFlows[i] as Flow[]) {
      const step = f.forward(h, training);
      h = step.y;
      logDet = tf.add(logDet, step.logDet);
    }
    if (i < this.config.scales - 1) {
      const [factored, rest] = tf.split(h, 2, -1) as [tf.Tensor, tf.Tensor];
      const next = this.flowForward(i + 1, rest, training);
      h = this.squeezer.inverse(tf.concat([factored, next.z], -1)).x;
      logDet = tf.add(logDet, next.logDet);
    }
    return { z: h, logDet };
  }

  private flowInverse(i: number, z: tf.Tensor): { x: tf.Tensor; logDet: tf.Tensor } {
    let h = z;
    let logDet: tf.Tensor = tf.zeros([z.shape[0] as number]);
    if (i < this.config.scales - 1) {
      const [factored, rest] = tf.split(this.squeezer.forward(z).y, 2, -1) as [tf.Tensor, tf.Tensor];
      const next = this.flowInverse(i + 1, rest);
      h = tf.concat([factored, next.x], -1);
      logDet = next.logDet;
    }
    const flows = this.scaleFlows[i] as Flow[];
    for (let k = flows.length - 1; k >= 0; k--) {
      const step = (flows[k] as Flow).inverse(h);
      h = step.x;
      logDet = tf.add(logDet, step.logDet);
    }
    return { x: h, logDet };
  }

  /**
   * `z = f(x)` for continuous pixel values `x` in [0, levels) (logit transform, then the multi-scale flow) and
   * `log|det ∂z/∂x|` per example, the preprocessing's included. `training` uses batch statistics in batch norms.
   */
  forward(x: tf.Tensor, training = false): { y: tf.Tensor; logDet: tf.Tensor } {
    this.checkX('forward', x);
    const { alpha, levels } = this.config;
    return tf.tidy(() => {
      const pre = logitForward(x, alpha, levels);
      const { z, logDet } = this.flowForward(0, pre.y, training);
      return { y: z, logDet: tf.add(pre.logDet, logDet) };
    });
  }

  /** `x = f⁻¹(z)` in pixel units and `log|det ∂x/∂z|` per example. */
  inverse(z: tf.Tensor): { x: tf.Tensor; logDet: tf.Tensor } {
    this.checkX('inverse', z, 'z');
    const { alpha, levels } = this.config;
    return tf.tidy(() => {
      const { x: y, logDet } = this.flowInverse(0, z);
      const post = logitInverse(y, alpha, levels);
      return { x: post.x, logDet: tf.add(logDet, post.logDet) };
    });
  }

  /** log p(x) in nats per example (`[batch]`) for continuous pixel values `x` in [0, levels). */
  logProb(x: tf.Tensor, training = false): tf.Tensor {
    this.checkX('logProb', x);
    return tf.tidy(() => {
      const { y, logDet } = this.forward(x, training);
      return tf.add(this.base.logProb(y), logDet);
    });
  }

  /** Mean bits/dim of integer `pixels` (dequantized with seeded uniform noise): −log p(pixels + u)/(D·ln 2). */
  bitsPerDim(pixels: tf.Tensor, options: RealNvpBitsOptions = {}): number {
    this.checkX('bitsPerDim', pixels, 'pixels');
    const seed = options.seed ?? this.config.seed;
    const batchSize = options.batchSize ?? 100;
    checkPosInt('RealNVPImage.bitsPerDim', 'batchSize', batchSize);
    const D = this.dataSize;
    return batchedMean(pixels, batchSize, (xb, b) => bitsPerDim(tf.neg(this.logProb(dequantize(xb, deriveSeed(seed, 5, b)))), D));
  }

  /**
   * `n` images `[n, H, W, C]` of integer pixels 0..levels−1: z ~ N(0, temperature²·I), x = f⁻¹(z), quantised
   * (floor) and clipped (the inverse logit spans slightly more than [0, levels)). Use {@link RealNVPImage.inverse}
   * for the continuous values.
   */
  sample(n: number, options: RealNvpSampleOptions = {}): tf.Tensor {
    if (this.disposed) throw new Error('RealNVPImage.sample: this model has been disposed');
    checkPosInt('RealNVPImage.sample', 'n', n);
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

  /** All weights of the flow (trainable and running statistics). */
  private allVariables(): tf.Variable[] {
    return this.parts.flatMap((p) => p.weights.map((w) => w.read() as tf.Variable));
  }

  /** The trainable variables (what `fit` optimises). */
  trainableVariables(): tf.Variable[] {
    return this.parts.flatMap((p) => p.trainableWeights.map((w) => w.read() as tf.Variable));
  }

  /**
   * Maximum likelihood on integer `pixels` (`[N, H, W, C]`, values 0..levels−1), each batch dequantized with fresh
   * seeded uniform noise; the loss (and `loss`/`valLoss` in the logs) is bits/dim. Adam, optional global-norm
   * gradient clipping (`clipNorm`), the shared fit loop's NaN guard, validation and early stopping. Trains on wasm
   * (the s/t convs switch to im2col while recording gradients there).
   */
  fit(pixels: tf.Tensor, options: RealNvpFitOptions): FitResult {
    this.checkX('fit', pixels, 'pixels');
    if (options?.validationData !== undefined) this.checkX('fit', options.validationData, 'validationData');
    const [lo, hi] = tf.tidy(() => [tf.min(pixels).dataSync()[0] as number, tf.max(pixels).dataSync()[0] as number]) as [number, number];
    if (!(lo >= 0 && hi <= this.config.levels - 1)) {
      throw new Error(`RealNVPImage.fit: pixels must be integers in [0, ${this.config.levels - 1}] (they are dequantized here); got values in [${lo}, ${hi}]`);
    }
    const D = this.dataSize;
    return fitFlow({
      where: 'RealNVPImage.fit',
      data: pixels,
      options,
      defaultBatchSize: 64,
      configSeed: this.config.seed,
      trainable: this.trainableVariables(),
      state: this.allVariables(),
      optimizer: (lr) => this.optimizerSlot.get(lr, options.optimizer),
      initialEpoch: this.epochsTrained + 1,
      batchLoss: (xb, stepSeed) => tf.div(tf.neg(tf.mean(this.logProb(dequantize(xb, stepSeed), true))), D * Math.LN2) as tf.Scalar,
      validationLoss: (x, seed) => this.bitsPerDim(x, { seed }),
      onEpoch: (epoch) => {
        this.epochsTrained = epoch;
      },
    });
  }

  /** Saves the model as a gm checkpoint (kind `'realnvp-image'`, parts `scale0`…), atomically replacing `dir`. */
  async save(dir: string): Promise<void> {
    if (this.disposed) throw new Error('RealNVPImage.save: this model has been disposed');
    const parts: Record<string, tfl.LayersModel> = {};
    this.parts.forEach((p, i) => (parts[`scale${i}`] = p));
    await saveCheckpoint<RealNvpImageConfig>(
      dir,
      { kind: REALNVP_IMAGE_CHECKPOINT_KIND, config: { ...this.config, inputShape: [...this.config.inputShape] }, extra: { epochsTrained: this.epochsTrained } },
      parts,
    );
  }

  /** Loads a model saved by {@link RealNVPImage.save}; another kind, or parts that disagree with the config, is an error. */
  static async load(dir: string): Promise<RealNVPImage> {
    registerRealNvpLayers();
    const manifest = await readCheckpointManifest<RealNvpImageConfig>(dir, REALNVP_IMAGE_CHECKPOINT_KIND);
    let config: ResolvedRealNvpImageConfig;
    try {
      config = resolveRealNvpImageConfig(manifest.config);
    } catch (error) {
      throw new Error(`${dir}: the checkpoint's config is invalid: ${(error as Error).message}`);
    }
    const parts: tfl.LayersModel[] = [];
    try {
      for (let i = 0; i < config.scales; i++) {
        if (!manifest.parts.includes(`scale${i}`)) throw new Error(`${dir}: the checkpoint has no "scale${i}" part (parts: ${manifest.parts.join(', ')})`);
        const part = await loadCheckpointPart(dir, `scale${i}`);
        parts.push(part);
        const shape = part.inputs[0]?.shape ?? [];
        const want = [null, ...scaleShape(config, i)];
        const n = chainLayers(part).length;
        if (n !== layersPerScale(config, i) || shape.length !== 4 || shape.some((d, k) => d !== want[k])) {
          throw new Error(`${dir}: part scale${i} has ${n} layers on input ${fmt(shape)}, but the config implies ${layersPerScale(config, i)} on ${fmt(want)}`);
        }
      }
    } catch (error) {
      parts.forEach((p) => p.dispose());
      throw error;
    }
    const flow = new RealNVPImage(config, parts);
    const epochs = manifest.extra?.['epochsTrained'];
    flow.epochsTrained = typeof epochs === 'number' && Number.isInteger(epochs) && epochs >= 0 ? epochs : 0;
    return flow;
  }

  /** Frees the weights and the optimizer state. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.optimizerSlot.dispose();
    this.parts.forEach((p) => p.dispose());
  }
}
