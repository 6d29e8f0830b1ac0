/**
 * Real NVP for vectors (Dinh et al., 2017): a stack of affine couplings with alternating masks, optionally with flow
 * batch norm between them, over a standard-Normal base.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ACTIVATIONS, AffineCoupling, Chain, FlowBatchNorm, registerGmLayers, TransformedDistribution, type Activation } from '@gm/layers';
import { checkPositiveInt, checkPositiveNumber, deriveSeed, formatShape, GmError, type Bijector, type BijectorOptions, type CheckpointStore, type EvaluateOptions, type InputConvention, type Metric, type TrainingBatch, type TrainingData } from '@gm/core';
import { StandardNormal, randomStandardNormal } from '@gm/metrics';
import { readCheckpoint } from '../io/checkpoint';
import { buildFromParts, ModelBase, type CheckpointContent } from '../model-base';
import type { TrainerDefaults } from '../train/trainer';
import { batchedMean, chainLayers, chainModel, checkTensor } from './shared';

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
export interface RealNvpSampleOptions {
  /** Standard deviation of the base draws (default 1; < 1 gives "cooler", more typical samples). */
  temperature?: number;
  /** Seed of the base draws (default: the config's seed). */
  seed?: number;
}

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
export class RealNVP extends ModelBase implements Bijector {
  readonly kind = REALNVP_CHECKPOINT_KIND;
  readonly inputConvention: InputConvention = 'continuous';
  readonly codingsSize = 0;
  /** The validated configuration, defaults filled in. */
  readonly config: ResolvedRealNvpConfig;
  /** The flow layers as one tfjs model (what checkpoints store). */
  readonly model: tfl.LayersModel;
  /** The flow steps in data → base order. */
  readonly flows: readonly (AffineCoupling | FlowBatchNorm)[];
  /** The flow as a distribution: the base pushed through the chain of steps. */
  readonly distribution: TransformedDistribution;
  /** The base distribution N(0, I) over `[dim]`. */
  readonly base: StandardNormal;

  /** A fresh (identity) flow with seeded weights; the second argument is internal (used by {@link RealNVP.load}). */
  constructor(config: RealNvpConfig, model?: tfl.LayersModel) {
    super();
    registerGmLayers();
    this.config = resolveRealNvpConfig(config);
    this.model = model ?? chainModel([this.config.dim], buildFlowLayers(this.config), 'realnvp');
    this.flows = chainLayers(this.model) as (AffineCoupling | FlowBatchNorm)[];
    this.base = new StandardNormal([this.config.dim]);
    this.distribution = new TransformedDistribution(this.base, new Chain(this.flows));
  }

  get inputShape(): readonly number[] {
    return [this.config.dim];
  }

  describe(): string {
    const c = this.config;
    return `Real NVP, ${c.dim}-D, ${c.couplings} ${c.mask} affine couplings (MLP ${c.hidden.join('-')})${c.batchNorm ? ' with batch norm' : ''}, N(0, I) base`;
  }

  private checkX(where: string, x: unknown, name = 'x'): asserts x is tf.Tensor {
    this.live(where);
    checkTensor(`RealNVP.${where}`, name, x);
    if (x.rank !== 2 || x.shape[1] !== this.config.dim || x.shape[0] === 0) {
      throw new GmError('BAD_SHAPE', `RealNVP.${where}`, `${name} has shape ${formatShape(x.shape)}, expected [batch, ${this.config.dim}] with batch ≥ 1`);
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

  /** log p(x) per example, `[batch]`, in nats (`training`: batch statistics in batch norms). */
  logProb(x: tf.Tensor, training = false): tf.Tensor {
    this.checkX('logProb', x);
    return this.distribution.logProb(x, { training });
  }

  /** Mean −log p(x) over `x` in nats, batched to bound memory. */
  nll(x: tf.Tensor, batchSize = 1024): number {
    this.checkX('nll', x);
    checkPositiveInt(`RealNVP.nll: "batchSize"`, batchSize);
    return -batchedMean(x, batchSize, (xb) => this.logProb(xb));
  }

  /** `n` samples `[n, dim]`: z ~ N(0, temperature²·I), x = f⁻¹(z). Seeded calls are reproducible. */
  sample(n: number, options: RealNvpSampleOptions = {}): tf.Tensor {
    this.live('sample');
    checkPositiveInt(`RealNVP.sample: "n"`, n);
    const temperature = options.temperature ?? 1;
    checkPositiveNumber(`RealNVP.sample: "temperature"`, temperature);
    const seed = options.seed ?? this.config.seed;
    return tf.tidy(() => {
      const z = tf.mul(randomStandardNormal([n, this.config.dim], deriveSeed(seed, 7)), temperature);
      return this.inverse(z).x;
    });
  }

  /** The trainable variables (what `fit` optimises). */
  trainableVariables(): tf.Variable[] {
    return this.model.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /** Batch-norm running statistics (state that is not trained). */
  override stateVariables(): tf.Variable[] {
    const trainable = new Set(this.trainableVariables().map((v) => v.id));
    return this.model.weights.map((w) => w.read() as tf.Variable).filter((v) => !trainable.has(v.id));
  }

  /** The training loss: the mean −log p(x) in nats, batch norms on batch statistics. */
  loss(batch: TrainingBatch): tf.Scalar {
    return tf.tidy(() => tf.neg(tf.mean(this.logProb(batch.x, true))) as tf.Scalar);
  }

  /** Validation: the mean −log p(x) with running statistics. */
  validationLoss(batch: TrainingBatch): tf.Scalar {
    return tf.tidy(() => tf.neg(tf.mean(this.logProb(batch.x))) as tf.Scalar);
  }

  protected fitDefaults(): TrainerDefaults {
    return { where: 'RealNVP.fit', batchSize: 128, seed: this.config.seed, learningRate: 1e-3 };
  }

  protected override beforeFit(data: TrainingData): void {
    if (data instanceof tf.Tensor) this.checkX('fit', data, 'data');
  }

  /** The mean negative log-likelihood in nats. */
  evaluate(x: tf.Tensor, options: EvaluateOptions = {}): Metric[] {
    return [{ name: 'nll', value: this.nll(x, options.batchSize ?? 1024), unit: 'nats' }];
  }

  protected checkpointContent(): CheckpointContent {
    return { config: { ...this.config, hidden: [...this.config.hidden] }, parts: { flow: this.model } };
  }

  /** Loads a flow saved by {@link RealNVP.save}; another kind, or weights that disagree with the config, is an error. */
  static async load(store: CheckpointStore): Promise<RealNVP> {
    registerGmLayers();
    const reader = await readCheckpoint<RealNvpConfig>(store, REALNVP_CHECKPOINT_KIND);
    const where = store.label;
    let config: ResolvedRealNvpConfig;
    try {
      config = resolveRealNvpConfig(reader.manifest.config);
    } catch (error) {
      throw new GmError('CORRUPT', where, `the checkpoint's config is invalid: ${(error as Error).message}`);
    }
    return buildFromParts(reader, ['flow'], ({ flow }) => {
      const layers = chainLayers(flow);
      const expected = config.couplings + (config.batchNorm ? config.couplings - 1 : 0);
      const shape = flow.inputs[0]?.shape ?? [];
      if (layers.length !== expected || shape.length !== 2 || shape[1] !== config.dim) {
        throw new GmError('CORRUPT', where, `the flow part has ${layers.length} layers on input ${formatShape(shape)}, but the config implies ${expected} on [null, ${config.dim}]`);
      }
      RealNVP.checkStoredParts(where, config, { flow });
      return new RealNVP(config, flow);
    });
  }

  protected disposeModel(): void {
    this.model.dispose();
  }
}
