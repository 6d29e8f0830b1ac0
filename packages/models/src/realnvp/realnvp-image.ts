/**
 * Real NVP's multi-scale architecture for images (Dinh et al., 2017): at each scale, checkerboard couplings, a
 * squeeze, channel couplings, then half the channels are factored out (sent to the base) and the rest goes on to the
 * next scale; the last scale has checkerboard couplings only. Dequantization and the logit transform are part of the
 * model, with their log-determinants, so its density is over pixel values and bits/dim are in 8-bit pixel space.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { Chain, FlowBatchNorm, MultiScale, ResidualCoupling, Squeeze, registerGmLayers } from '@gm/layers';
import { checkPositiveInt, deriveSeed, formatShape, GmError, type Bijector, type CheckpointStore } from '@gm/core';
import { readCheckpoint, resolvedConfigOf } from '../io/checkpoint';
import { buildFromParts } from '../model-base';
import { ImageFlow, resolveImageFlowFields, type ImageFlowBitsOptions } from './image-flow';
import { chainLayers, chainModel } from './shared';

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
  if (config === null || typeof config !== 'object') throw new GmError('BAD_ARGUMENT', where, 'an object with "inputShape"', config);
  const { inputShape, alpha, levels, seed } = resolveImageFlowFields(where, config);
  const scales = config.scales ?? 2;
  checkPositiveInt(`${where}: "scales"`, scales);
  const [h, w] = inputShape;
  const f = 2 ** (scales - 1);
  if (h % f !== 0 || w % f !== 0) throw new Error(`${where}: with ${scales} scales, H and W must be divisible by ${f}; got inputShape [${inputShape.join(', ')}]`);
  if ((h / f) * (w / f) < 2) throw new Error(`${where}: the last scale would be 1×1 (no checkerboard coupling possible); use fewer "scales"`);
  const couplingsPerStage = config.couplingsPerStage ?? 3;
  checkPositiveInt(`${where}: "couplingsPerStage"`, couplingsPerStage);
  const filters = config.filters ?? 32;
  checkPositiveInt(`${where}: "filters"`, filters);
  const blocks = config.blocks ?? 1;
  if (!Number.isInteger(blocks) || blocks < 0) throw new Error(`${where}: "blocks" must be a non-negative integer, got ${String(blocks)}`);
  const batchNorm = config.batchNorm ?? false;
  if (typeof batchNorm !== 'boolean') throw new Error(`${where}: "batchNorm" must be a boolean, got ${JSON.stringify(batchNorm)}`);
  return { inputShape, scales, couplingsPerStage, filters, blocks, batchNorm, alpha, levels, seed };
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
export type RealNvpBitsOptions = ImageFlowBitsOptions;

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
export class RealNVPImage extends ImageFlow<ResolvedRealNvpImageConfig> {
  readonly kind = REALNVP_IMAGE_CHECKPOINT_KIND;
  protected readonly label = 'RealNVPImage';
  /** The flow steps of each scale, in data → base order. */
  readonly scaleFlows: readonly (readonly Bijector[])[];

  /** A fresh model (identity flow after the logit) with seeded weights; the second argument is internal (load). */
  constructor(config: RealNvpImageConfig, parts?: tfl.LayersModel[]) {
    registerGmLayers();
    const c = resolveRealNvpImageConfig(config);
    const built = parts ?? Array.from({ length: c.scales }, (_, i) => chainModel(scaleShape(c, i), buildScale(c, i), `realnvp_scale${i}`));
    const scaleFlows = built.map((p) => chainLayers(p) as unknown as Bijector[]);
    let flow: MultiScale | null = null;
    for (let i = c.scales - 1; i >= 0; i--) flow = new MultiScale(new Chain(scaleFlows[i] as Bijector[]), flow);
    super(c, built, flow as MultiScale);
    this.scaleFlows = scaleFlows;
  }

  describe(): string {
    const c = this.config;
    return `Real NVP (multi-scale), ${c.inputShape.join('×')}, ${c.scales} scales, ${c.couplingsPerStage} couplings per stage, ${c.filters} filters, ${c.blocks} residual block(s); loss in bits/dim`;
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
}
