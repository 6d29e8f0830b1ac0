/**
 * Real NVP for vectors (Dinh et al., 2017): a stack of affine couplings with alternating masks, optionally with flow
 * batch norm between them, over a standard-Normal base.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { ACTIVATIONS, AffineCoupling, FlowBatchNorm, registerGmLayers, type Activation } from '@gm/layers';
import { checkPositiveInt, deriveSeed, type CheckpointStore } from '@gm/core';
import { readCheckpoint, resolvedConfigOf } from '../io/checkpoint';
import { buildFromParts } from '../model-base';
import { chainParts, checkStoredChain, VectorFlow, type VectorFlowSampleOptions } from './vector-flow';

/** Checkpoint kind written by {@link RealNVP.save}. */
export const REALNVP_CHECKPOINT_KIND = 'realnvp';

/** Configuration of {@link RealNVP}. */
export interface RealNvpConfig {
  /** Dimension of the data vectors (≥ 2). */
  dim: number;
  /** Number of affine couplings (default 8); consecutive couplings swap the mask so every feature is transformed. */
  couplings?: number;
  /** Hidden widths of each coupling's dense s/t network (default [64, 64]). */
  hidden?: number[];
  /** Mask pattern: 'alternating' (even/odd features, default) or 'half' (first/second half). */
  mask?: 'alternating' | 'half';
  /** Flow batch norm after every coupling but the last (default false). */
  batchNorm?: boolean;
  /** Activation of the s/t networks (default 'relu'). */
  activation?: Activation;
  /** Seed of the weight initialisers, the batch order and sampling (default 0). */
  seed?: number;
}

/** {@link RealNvpConfig} with the defaults filled in. */
export type ResolvedRealNvpConfig = Required<RealNvpConfig>;

/** Validates a config and fills in its defaults (errors name the field and what was expected). */
export function resolveRealNvpConfig(config: RealNvpConfig): ResolvedRealNvpConfig {
  const where = 'RealNVP config';
  if (config === null || typeof config !== 'object') throw new Error(`${where}: expected an object with "dim"`);
  checkPositiveInt(`${where}: "dim"`, config.dim);
  if (config.dim < 2) throw new Error(`${where}: "dim" must be at least 2 (a coupling needs two parts), got ${config.dim}`);
  const couplings = config.couplings ?? 8;
  checkPositiveInt(`${where}: "couplings"`, couplings);
  const hidden = config.hidden ?? [64, 64];
  if (!Array.isArray(hidden)) throw new Error(`${where}: "hidden" must be an array of positive integers, got ${JSON.stringify(hidden)}`);
  hidden.forEach((h, i) => checkPositiveInt(`${where}: "hidden[${i}]"`, h));
  const mask = config.mask ?? 'alternating';
  if (mask !== 'alternating' && mask !== 'half') throw new Error(`${where}: "mask" must be 'alternating' or 'half', got ${JSON.stringify(mask)}`);
  const batchNorm = config.batchNorm ?? false;
  if (typeof batchNorm !== 'boolean') throw new Error(`${where}: "batchNorm" must be a boolean, got ${JSON.stringify(batchNorm)}`);
  const activation = config.activation ?? 'relu';
  if (!ACTIVATIONS.includes(activation)) throw new Error(`${where}: "activation" must be one of ${ACTIVATIONS.join(', ')}, got ${JSON.stringify(activation)}`);
  const seed = config.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0) throw new Error(`${where}: "seed" must be a non-negative integer, got ${String(seed)}`);
  return { dim: config.dim, couplings, hidden: [...hidden], mask, batchNorm, activation, seed };
}

function buildFlowLayers(c: ResolvedRealNvpConfig): tfl.layers.Layer[] {
  const layers: tfl.layers.Layer[] = [];
  for (let i = 0; i < c.couplings; i++) {
    layers.push(
      new AffineCoupling({ mask: c.mask, invertMask: i % 2 === 1, hidden: c.hidden, activation: c.activation, seed: deriveSeed(c.seed, 100, i) }),
    );
    if (c.batchNorm && i < c.couplings - 1) layers.push(new FlowBatchNorm({}));
  }
  return layers;
}

/** Options of {@link RealNVP.sample}. */
export type RealNvpSampleOptions = VectorFlowSampleOptions;

/**
 * Real NVP on vectors `[batch, dim]`: `z = f(x)` through the couplings (and batch norms), `z ~ N(0, I)`, so
 * `log p(x) = log N(f(x); 0, I) + log|det ∂f/∂x|`: @gm/layers' `TransformedDistribution` of a `Chain` of the couplings.
 * A bijector itself (`forward`: data → base, `inverse`: base →
 * data).
 *
 * @example
 * ```ts
 * const flow = new RealNVP({ dim: 2, couplings: 8, hidden: [64, 64], seed: 1 });
 * await flow.fit(points, { epochs: 50, batchSize: 256, learningRate: 1e-3, clipNorm: 100 });
 * const lp = flow.logProb(points);                   // [N] nats
 * const xs = flow.sample(1000, { temperature: 0.8 }); // [1000, 2]
 * await flow.save(memoryStore());
 * ```
 */
export class RealNVP extends VectorFlow<ResolvedRealNvpConfig> {
  readonly kind = REALNVP_CHECKPOINT_KIND;
  protected readonly label = 'RealNVP';
  declare readonly flows: readonly (AffineCoupling | FlowBatchNorm)[];

  /** A fresh (identity) flow with seeded weights; the second argument is internal (used by {@link RealNVP.load}). */
  constructor(config: RealNvpConfig, model?: tfl.LayersModel) {
    const resolved = resolveRealNvpConfig(config);
    super(resolved, chainParts(resolved.dim, () => buildFlowLayers(resolved), 'realnvp', model));
  }

  describe(): string {
    const c = this.config;
    return `Real NVP, ${c.dim}-D, ${c.couplings} ${c.mask} affine couplings (MLP ${c.hidden.join('-')})${c.batchNorm ? ' with batch norm' : ''}, N(0, I) base`;
  }

  /** Loads a flow saved by {@link RealNVP.save}; another kind, or weights that disagree with the config, is an error. */
  static async load(store: CheckpointStore): Promise<RealNVP> {
    registerGmLayers();
    const reader = await readCheckpoint<RealNvpConfig>(store, REALNVP_CHECKPOINT_KIND);
    const where = store.label;
    const config: ResolvedRealNvpConfig = resolvedConfigOf(reader, resolveRealNvpConfig);
    return buildFromParts(reader, ['flow'], ({ flow }) => {
      checkStoredChain(where, flow, config.couplings + (config.batchNorm ? config.couplings - 1 : 0), config.dim);
      RealNVP.checkStoredParts(where, config, { flow });
      return new RealNVP(config, flow);
    });
  }
}
