/**
 * Neural spline flows on vectors (Durkan et al., 2019): rational-quadratic spline couplings, each preceded (by
 * default) by Glow's ActNorm and invertible 1×1 mixing (or a fixed random permutation for long vectors), over a standard-Normal base. On the 2-D toys it beats Real
 * NVP at the same budget with fewer parameters (packages/models/scripts/flows-toy.mjs).
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { ACTIVATIONS, ActNorm, Invertible1x1, RandomPermutation, registerGmLayers, SplineCoupling, type Activation } from '@gm/layers';
import { checkPositiveInt, deriveSeed, GmError, type CheckpointStore } from '@gm/core';
import { readCheckpoint, resolvedConfigOf } from '../io/checkpoint';
import { buildFromParts } from '../model-base';
import { chainParts, checkStoredChain, VectorFlow } from '../realnvp/vector-flow';
import { resolveVectorPixelFields } from '../realnvp/pixel-space';

/** Checkpoint kind written by {@link SplineFlow.save}. */
export const SPLINE_FLOW_CHECKPOINT_KIND = 'nsf';

/** Configuration of {@link SplineFlow}. */
export interface SplineFlowConfig {
  /** Dimension of the data vectors (≥ 2). */
  dim: number;
  /** Spline couplings (default 4); consecutive couplings swap which half is transformed. */
  couplings?: number;
  /** Hidden widths of each coupling's dense network (default [64, 64]). */
  hidden?: number[];
  /** Bins K of each spline (default 8). */
  bins?: number;
  /** Half-width B of the interval the splines bend; identity outside (default 4). */
  bound?: number;
  /**
   * What precedes every coupling (default 'lu' on real vectors, 'permutation' on pixels): 'lu' Glow's ActNorm and a learned invertible 1×1 (LU) mixing of all the
   * dimensions; 'permutation' a fixed seeded shuffle (for long vectors such as flattened images: a D×D LU is slow and
   * unstable there, and ActNorm's first-batch scaling blows up pixels that batch happened to leave blank); 'none'
   * nothing (the couplings alternate halves). `true`/`false` mean 'lu'/'none'.
   */
  mixing?: SplineFlowMixing | boolean;
  /** Activation of the coupling networks (default 'relu'). */
  activation?: Activation;
  /** Pixel levels of flattened 8-bit images (dequantized and logit-transformed inside the model; bits/dim in pixel
   * space); 0 (default): real vectors. */
  levels?: number;
  /** The logit transform's α for pixels (default 0.05). */
  alpha?: number;
  /** Seed of the weight initialisers, the 1×1 rotations, the batch order and sampling (default 0). */
  seed?: number;
}

/** The mixing between a {@link SplineFlow}'s couplings. */
export type SplineFlowMixing = 'lu' | 'permutation' | 'none';
const MIXINGS: readonly SplineFlowMixing[] = ['lu', 'permutation', 'none'];

/** {@link SplineFlowConfig} with the defaults filled in. */
export type ResolvedSplineFlowConfig = Required<Omit<SplineFlowConfig, 'mixing'>> & { mixing: SplineFlowMixing };

/** Validates a config and fills in its defaults (errors name the field and what was expected). */
export function resolveSplineFlowConfig(config: SplineFlowConfig): ResolvedSplineFlowConfig {
  const where = 'SplineFlow config';
  if (config === null || typeof config !== 'object') throw new GmError('BAD_ARGUMENT', where, 'an object with "dim"', config);
  checkPositiveInt(`${where}: "dim"`, config.dim);
  if (config.dim < 2) throw new GmError('BAD_ARGUMENT', `${where}: "dim"`, 'at least 2 (a coupling needs two parts)', config.dim);
  const couplings = config.couplings ?? 4;
  checkPositiveInt(`${where}: "couplings"`, couplings);
  const hidden = config.hidden ?? [64, 64];
  if (!Array.isArray(hidden)) throw new GmError('BAD_ARGUMENT', `${where}: "hidden"`, 'an array of positive integers', hidden);
  hidden.forEach((h, i) => checkPositiveInt(`${where}: "hidden[${i}]"`, h));
  const bins = config.bins ?? 8;
  checkPositiveInt(`${where}: "bins"`, bins);
  if (bins < 2) throw new GmError('BAD_ARGUMENT', `${where}: "bins"`, 'at least 2', bins);
  const bound = config.bound ?? 4;
  if (typeof bound !== 'number' || !(bound > 0) || !Number.isFinite(bound)) throw new GmError('BAD_ARGUMENT', `${where}: "bound"`, 'a positive number', bound);
  const { levels, alpha } = resolveVectorPixelFields(where, config);
  const mixing = config.mixing === undefined ? (levels > 0 ? 'permutation' : 'lu') : config.mixing === true ? 'lu' : config.mixing === false ? 'none' : config.mixing;
  if (!MIXINGS.includes(mixing)) throw new GmError('BAD_ARGUMENT', `${where}: "mixing"`, `one of ${MIXINGS.map((m) => `'${m}'`).join(', ')} (or a boolean)`, mixing);
  const activation = config.activation ?? 'relu';
  if (!ACTIVATIONS.includes(activation)) throw new GmError('BAD_ARGUMENT', `${where}: "activation"`, `one of ${ACTIVATIONS.join(', ')}`, activation);
  const seed = config.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0) throw new GmError('BAD_ARGUMENT', `${where}: "seed"`, 'a non-negative integer', seed);
  return { dim: config.dim, couplings, hidden: [...hidden], bins, bound, mixing, activation, levels, alpha, seed };
}

const MIXING_WORDS: Record<SplineFlowMixing, string> = { lu: ' with ActNorm and 1×1 mixing', permutation: ' with random permutations', none: '' };

const layersPerCoupling = (c: ResolvedSplineFlowConfig): number => ({ lu: 3, permutation: 2, none: 1 })[c.mixing];

function buildFlowLayers(c: ResolvedSplineFlowConfig): tfl.layers.Layer[] {
  const layers: tfl.layers.Layer[] = [];
  for (let i = 0; i < c.couplings; i++) {
    const mixingSeed = deriveSeed(c.seed, 200, i) % 2 ** 30;
    if (c.mixing === 'lu') layers.push(new ActNorm({}), new Invertible1x1({ seed: mixingSeed }));
    if (c.mixing === 'permutation') layers.push(new RandomPermutation({ seed: mixingSeed }));
    layers.push(new SplineCoupling({ bins: c.bins, bound: c.bound, invertMask: i % 2 === 1, hidden: c.hidden, activation: c.activation, seed: deriveSeed(c.seed, 100, i) % 2 ** 30 }));
  }
  return layers;
}

/**
 * A neural spline flow on vectors `[batch, dim]`: `z = f(x)` through the steps, `z ~ N(0, I)`, `log p(x) = log N(f(x))
 * + log|det ∂f/∂x|`. ActNorm initialises from the first training batch. A bijector itself.
 *
 * @example
 * ```ts
 * const flow = new SplineFlow({ dim: 2, couplings: 4, bins: 8, seed: 1 });
 * await flow.fit(points, { epochs: 30, batchSize: 256, clipNorm: 100 });
 * const lp = flow.logProb(points);                   // [N] nats
 * const xs = flow.sample(1000, { temperature: 0.8 }); // [1000, 2]
 * ```
 */
export class SplineFlow extends VectorFlow<ResolvedSplineFlowConfig> {
  readonly kind = SPLINE_FLOW_CHECKPOINT_KIND;
  protected readonly label = 'SplineFlow';

  /** A fresh (identity) flow with seeded weights; the second argument is internal (used by {@link SplineFlow.load}). */
  constructor(config: SplineFlowConfig, model?: tfl.LayersModel) {
    const resolved = resolveSplineFlowConfig(config);
    super(resolved, chainParts(resolved.dim, () => buildFlowLayers(resolved), 'nsf', model));
  }

  describe(): string {
    const c = this.config;
    return `neural spline flow, ${c.dim}-D${c.levels > 0 ? ` ${c.levels}-level pixels (dequantized, logit)` : ''}, ${c.couplings} rational-quadratic couplings (${c.bins} bins on [−${c.bound}, ${c.bound}], MLP ${c.hidden.join('-')})${MIXING_WORDS[c.mixing]}, N(0, I) base`;
  }

  /** Loads a flow saved by {@link SplineFlow.save}; another kind, or weights that disagree with the config, is an error. */
  static async load(store: CheckpointStore): Promise<SplineFlow> {
    registerGmLayers();
    const reader = await readCheckpoint<SplineFlowConfig>(store, SPLINE_FLOW_CHECKPOINT_KIND);
    const where = store.label;
    const config: ResolvedSplineFlowConfig = resolvedConfigOf(reader, resolveSplineFlowConfig);
    return buildFromParts(reader, ['flow'], ({ flow }) => {
      checkStoredChain(where, flow, config.couplings * layersPerCoupling(config), config.dim);
      SplineFlow.checkStoredParts(where, config, { flow });
      return new SplineFlow(config, flow);
    });
  }
}
