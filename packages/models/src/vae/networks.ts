/** Builds the VAE's encoder and decoder as ordinary tfjs LayersModels (standard layers only, so they save/load). */
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { deriveSeed } from '@gm/core';
import { paramsPerPixel, type ResolvedVaeConfig } from './config';

const ENCODER = 1;
const DECODER = 2;

/**
 * Seeded kernels, a distinct stream per (part, layer) so every layer starts differently: LeCun normal for SELU
 * networks (what keeps them self-normalising; Géron's VAE), Glorot uniform otherwise.
 */
function init(c: ResolvedVaeConfig, part: number, layer: number) {
  const seed = deriveSeed(c.seed, part, layer);
  const kernelInitializer = c.activation === 'selu' ? tfl.initializers.leCunNormal({ seed }) : tfl.initializers.glorotUniform({ seed });
  return { kernelInitializer, biasInitializer: 'zeros' as const };
}

const sym = (t: unknown): SymbolicTensor => t as SymbolicTensor;

/**
 * Encoder x → [mean ‖ log σ] of q(z|x): one output of width 2·latentDim (means first), so the posterior costs a
 * single final matrix product.
 */
export function buildEncoder(c: ResolvedVaeConfig): tfl.LayersModel {
  const x = tfl.input({ shape: c.inputShape, name: 'x' });
  let h: SymbolicTensor = x;
  let layer = 0;
  if (c.architecture === 'conv' && c.conv !== null) {
    for (const filters of c.conv.filters) {
      h = sym(
        tfl.layers
          .conv2d({ filters, kernelSize: c.conv.kernelSize, strides: 2, padding: 'same', activation: c.activation, ...init(c, ENCODER, layer++) })
          .apply(h),
      );
    }
    h = sym(tfl.layers.flatten().apply(h));
    if (c.conv.dense !== null) h = sym(tfl.layers.dense({ units: c.conv.dense, activation: c.activation, ...init(c, ENCODER, layer++) }).apply(h));
  } else {
    if (c.inputShape.length > 1) h = sym(tfl.layers.flatten().apply(h));
    for (const units of c.hidden) h = sym(tfl.layers.dense({ units, activation: c.activation, ...init(c, ENCODER, layer++) }).apply(h));
  }
  const params = sym(tfl.layers.dense({ units: 2 * c.latentDim, ...init(c, ENCODER, layer++) }).apply(h));
  return tfl.model({ inputs: x, outputs: params, name: 'vae_encoder' });
}

/** Decoder z → likelihood parameters of shape `[...inputShape, P]` (P per pixel, see `paramsPerPixel`). */
export function buildDecoder(c: ResolvedVaeConfig): tfl.LayersModel {
  const P = paramsPerPixel(c);
  const z = tfl.input({ shape: [c.latentDim], name: 'z' });
  let h: SymbolicTensor = z;
  let layer = 0;
  if (c.architecture === 'conv' && c.conv !== null) {
    const { filters, kernelSize } = c.conv;
    const [H, W, C] = c.inputShape as [number, number, number];
    const factor = 2 ** filters.length;
    const deepest = filters[filters.length - 1] as number;
    if (c.conv.dense !== null) h = sym(tfl.layers.dense({ units: c.conv.dense, activation: c.activation, ...init(c, DECODER, layer++) }).apply(h));
    h = sym(tfl.layers.dense({ units: (H / factor) * (W / factor) * deepest, activation: c.activation, ...init(c, DECODER, layer++) }).apply(h));
    h = sym(tfl.layers.reshape({ targetShape: [H / factor, W / factor, deepest] }).apply(h));
    for (let i = filters.length - 1; i >= 0; i--) {
      h = sym(
        tfl.layers
          .conv2dTranspose({ filters: filters[i] as number, kernelSize, strides: 2, padding: 'same', activation: c.activation, ...init(c, DECODER, layer++) })
          .apply(h),
      );
    }
    h = sym(tfl.layers.conv2d({ filters: C * P, kernelSize, padding: 'same', ...init(c, DECODER, layer++) }).apply(h));
  } else {
    for (let i = c.hidden.length - 1; i >= 0; i--) {
      h = sym(tfl.layers.dense({ units: c.hidden[i] as number, activation: c.activation, ...init(c, DECODER, layer++) }).apply(h));
    }
    const size = c.inputShape.reduce((a, b) => a * b, 1);
    h = sym(tfl.layers.dense({ units: size * P, ...init(c, DECODER, layer++) }).apply(h));
  }
  const out = sym(tfl.layers.reshape({ targetShape: [...c.inputShape, P] }).apply(h));
  return tfl.model({ inputs: z, outputs: out, name: 'vae_decoder' });
}
