/**
 * Glow (Kingma & Dhariwal, 2018, "Glow: Generative Flow with Invertible 1×1 Convolutions"): a multi-scale flow on
 * images whose step is ActNorm → invertible 1×1 convolution (LU) → affine coupling with a conv net. Each scale
 * squeezes (×4 channels), runs K steps, and — except the last — factors out half of the channels under a learned
 * conditional prior N(μ(h), σ(h)²) computed from the other half h (a zero-initialised 3×3 conv, as an affine coupling
 * of the factored half on h); the last scale's latent has a learned (class-conditional) prior. With `classes`, every
 * coupling, every split prior and the top prior read the class as a one-hot context: a class-conditional flow with
 * `sample({ label })`. Sampling at temperature T draws the standardised latents from N(0, T²).
 *
 * Differences from the paper, for CPU budgets: the coupling net is `filters`-wide 3×3 → 3×3 → zero 3×3 (the paper's
 * middle layer is 1×1 and 512 wide) and its log-scale is bounded by tanh times a learned factor (the paper uses
 * sigmoid(s + 2)); the logit transform of Real NVP comes first, so bits/dim are comparable with {@link RealNVPImage}.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { ActNorm, AffineCoupling, Chain, ContextAffine, Invert, Invertible1x1, MultiScale, Squeeze, registerGmLayers } from '@gm/layers';
import { checkPositiveInt, deriveSeed, formatShape, GmError, type Bijector, type CheckpointStore } from '@gm/core';
import { readCheckpoint, resolvedConfigOf } from '../io/checkpoint';
import { buildFromParts } from '../model-base';
import { ImageFlow, resolveImageFlowFields } from '../realnvp/image-flow';
import { chainLayers, chainModel } from '../realnvp/shared';

/** Checkpoint kind written by {@link Glow.save}. */
export const GLOW_CHECKPOINT_KIND = 'glow';

/** Configuration of {@link Glow}. */
export interface GlowConfig {
  /** `[H, W, C]`; H and W must be divisible by 2^scales (every scale squeezes). */
  inputShape: [number, number, number];
  /** Number of scales L (default 2). */
  scales?: number;
  /** Flow steps per scale K (default 4), each ActNorm → 1×1 conv → affine coupling. */
  stepsPerScale?: number;
  /** Feature maps of the coupling networks' two hidden conv layers (default 32). */
  filters?: number;
  /** Classes of a class-conditional flow (default 0: unconditional). */
  classes?: number;
  /** Logit transform's α (default 0.05). */
  alpha?: number;
  /** Pixel levels (default 256 for 8-bit images). */
  levels?: number;
  /** Seed of the initialisers, 1×1 rotations, batch order, dequantization noise and sampling (default 0). */
  seed?: number;
}

/** {@link GlowConfig} with the defaults filled in. */
export type ResolvedGlowConfig = Required<GlowConfig>;

/** Validates a config and fills in its defaults (errors name the field and what was expected). */
export function resolveGlowConfig(config: GlowConfig): ResolvedGlowConfig {
  const where = 'Glow config';
  if (config === null || typeof config !== 'object') throw new GmError('BAD_ARGUMENT', where, 'an object with "inputShape"', config);
  const { inputShape, alpha, levels, classes, seed } = resolveImageFlowFields(where, config);
  const scales = config.scales ?? 2;
  checkPositiveInt(`${where}: "scales"`, scales);
  const [h, w] = inputShape;
  const f = 2 ** scales;
  if (h % f !== 0 || w % f !== 0) throw new GmError('BAD_ARGUMENT', `${where}: "inputShape"`, `H and W divisible by ${f} (${scales} scales, each squeezes)`, `[${inputShape.join(', ')}]`);
  const stepsPerScale = config.stepsPerScale ?? 4;
  checkPositiveInt(`${where}: "stepsPerScale"`, stepsPerScale);
  const filters = config.filters ?? 32;
  checkPositiveInt(`${where}: "filters"`, filters);
  return { inputShape, scales, stepsPerScale, filters, classes: classes ?? 0, alpha, levels, seed };
}

/** Input shape of scale `i`: `[H/2^i, W/2^i, C·2^i]` (each scale squeezes ×4 channels and passes on half). */
function scaleShape(c: ResolvedGlowConfig, i: number): [number, number, number] {
  const [h, w, ch] = c.inputShape;
  return [h / 2 ** i, w / 2 ** i, ch * 2 ** i];
}

/** Squeeze, K steps, then the split prior (or, on the last scale, the top prior). */
function buildScale(c: ResolvedGlowConfig, i: number): tfl.layers.Layer[] {
  const context = c.classes > 0 ? { contextSize: c.classes } : {};
  const out: tfl.layers.Layer[] = [new Squeeze({})];
  for (let k = 0; k < c.stepsPerScale; k++) {
    out.push(new ActNorm({}));
    out.push(new Invertible1x1({ seed: deriveSeed(c.seed, 300, i, k, 0) }));
    out.push(new AffineCoupling({ mask: 'channel', hidden: [c.filters, c.filters], kernelSize: 3, seed: deriveSeed(c.seed, 300, i, k, 1), ...context }));
  }
  // The factored-out half (the first channels) standardised by μ, σ from the half that goes on: a coupling whose
  // network is one zero-initialised 3×3 conv. The last scale's latent gets a learned prior of its own.
  if (i < c.scales - 1) out.push(new AffineCoupling({ mask: 'channel', invertMask: true, hidden: [], kernelSize: 3, ...context }));
  else out.push(new ContextAffine(context));
  return out;
}

function layersPerScale(c: ResolvedGlowConfig): number {
  return 2 + 3 * c.stepsPerScale;
}

/** The bijector the scale models make: nested multi-scale, the last scale un-squeezed back to its input's shape. */
function multiScaleFlow(parts: readonly tfl.LayersModel[]): Bijector {
  let flow: MultiScale | null = null;
  for (let i = parts.length - 1; i >= 0; i--) {
    const steps = chainLayers(parts[i] as tfl.LayersModel) as unknown as Bijector[];
    flow = new MultiScale(new Chain(flow === null ? [...steps, new Invert(new Squeeze({}))] : steps), flow);
  }
  return flow as MultiScale;
}

/**
 * Glow on images `[batch, H, W, C]` of integer pixels 0..levels−1; log p, bits/dim, sampling and training as
 * {@link RealNVPImage} (both are image flows), plus class conditioning.
 *
 * @example
 * ```ts
 * const glow = new Glow({ inputShape: [28, 28, 1], scales: 2, stepsPerScale: 4, classes: 10, seed: 1 });
 * await glow.fit({ x: pixels, labels }, { epochs: 5, learningRate: 1e-3, clipNorm: 50 }); // pixels: [N, 28, 28, 1] in 0..255
 * glow.bitsPerDim(testPixels, { labels: testLabels });   // bits/dim of p(x | label)
 * const threes = glow.sample(16, { label: 3, temperature: 0.7 }); // [16, 28, 28, 1], integer pixels
 * ```
 */
export class Glow extends ImageFlow<ResolvedGlowConfig> {
  readonly kind = GLOW_CHECKPOINT_KIND;
  protected readonly label = 'Glow';

  /** A fresh model (the identity flow after the logit; ActNorm initialises on the first training batch) with seeded
   * weights; the second argument is internal (load). */
  constructor(config: GlowConfig, parts?: tfl.LayersModel[]) {
    registerGmLayers();
    const c = resolveGlowConfig(config);
    const built = parts ?? Array.from({ length: c.scales }, (_, i) => chainModel(scaleShape(c, i), buildScale(c, i), `glow_scale${i}`, c.classes > 0 ? c.classes : undefined));
    super(c, built, multiScaleFlow(built));
  }

  describe(): string {
    const c = this.config;
    return `Glow, ${c.inputShape.join('×')}, ${c.scales} scales × ${c.stepsPerScale} steps, ${c.filters} filters${c.classes > 0 ? `, conditional on ${c.classes} classes` : ''}; loss in bits/dim`;
  }

  /** Loads a model saved by {@link Glow.save}; another kind, or parts that disagree with the config, is an error. */
  static async load(store: CheckpointStore): Promise<Glow> {
    registerGmLayers();
    const reader = await readCheckpoint<GlowConfig>(store, GLOW_CHECKPOINT_KIND);
    const where = store.label;
    const config = resolvedConfigOf(reader, resolveGlowConfig);
    const names = Array.from({ length: config.scales }, (_, i) => `scale${i}`);
    return buildFromParts(reader, names, (byName) => {
      const parts = names.map((name) => byName[name] as tfl.LayersModel);
      parts.forEach((part, i) => {
        const shape = part.inputs[0]?.shape ?? [];
        const want = [null, ...scaleShape(config, i)];
        const n = chainLayers(part).length;
        const inputs = part.inputs.length;
        if (n !== layersPerScale(config) || inputs !== (config.classes > 0 ? 2 : 1) || shape.length !== 4 || shape.some((d, k) => d !== want[k])) {
          throw new GmError('CORRUPT', where, `part scale${i} has ${n} layers and ${inputs} input(s), first ${formatShape(shape)}, but the config implies ${layersPerScale(config)} layers and ${config.classes > 0 ? 2 : 1} input(s), first ${formatShape(want)}`);
        }
      });
      Glow.checkStoredParts(where, config, byName);
      return new Glow(config, parts);
    });
  }
}
