/**
 * What every flow model on vectors `[batch, dim]` shares (Real NVP, neural spline flows): a chain of tfjs flow
 * layers (one tfjs model: what checkpoints store) under a standard-Normal base, as @gm/layers'
 * `TransformedDistribution`; log p, NLL, temperature sampling, the trainer's loss, evaluation and the checkpoint.
 * A subclass gives its config, its layers, its name and its loader.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Chain, registerGmLayers, TransformedDistribution } from '@gm/layers';
import { checkPositiveInt, checkPositiveNumber, deriveSeed, formatShape, GmError, type Bijector, type BijectorOptions, type EvaluateOptions, type InputConvention, type Metric, type TrainingBatch, type TrainingData } from '@gm/core';
import { StandardNormal, randomStandardNormal } from '@gm/metrics';
import { ModelBase, type CheckpointContent } from '../model-base';
import type { TrainerDefaults } from '../train/trainer';
import { batchedMean, chainLayers, chainModel, checkTensor } from './shared';

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

export abstract class VectorFlow<C extends { dim: number; seed: number }> extends ModelBase implements Bijector {
  readonly inputConvention: InputConvention = 'continuous';
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

  /** `parts`: the tfjs model checkpoints store and the steps (bijectors) it holds, in data → base order. */
  protected constructor(config: C, parts: VectorFlowParts) {
    super();
    registerGmLayers();
    this.config = config;
    this.model = parts.model;
    this.flows = parts.flows;
    this.base = new StandardNormal([config.dim]);
    this.distribution = new TransformedDistribution(this.base, new Chain(this.flows));
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

  /** `n` samples `[n, dim]`: z ~ N(0, temperature²·I), x = f⁻¹(z). Seeded calls are reproducible. */
  sample(n: number, options: VectorFlowSampleOptions = {}): tf.Tensor {
    this.live('sample');
    checkPositiveInt(`${this.label}.sample: "n"`, n);
    const temperature = options.temperature ?? 1;
    checkPositiveNumber(`${this.label}.sample: "temperature"`, temperature);
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

  /** State that is not trained (batch-norm running statistics, ActNorm's flag, 1×1 permutations, MADE masks). */
  override stateVariables(): tf.Variable[] {
    const trainable = new Set(this.trainableVariables().map((v) => v.id));
    return this.model.weights.map((w) => w.read() as tf.Variable).filter((v) => !trainable.has(v.id));
  }

  /** The training loss: the mean −log p(x) in nats, in training mode. */
  loss(batch: TrainingBatch): tf.Scalar {
    return tf.tidy(() => tf.neg(tf.mean(this.logProb(batch.x, true))) as tf.Scalar);
  }

  /** Validation: the mean −log p(x) in inference mode. */
  validationLoss(batch: TrainingBatch): tf.Scalar {
    return tf.tidy(() => tf.neg(tf.mean(this.logProb(batch.x))) as tf.Scalar);
  }

  protected fitDefaults(): TrainerDefaults {
    return { where: `${this.label}.fit`, batchSize: 128, seed: this.config.seed, learningRate: 1e-3 };
  }

  protected override beforeFit(data: TrainingData): void {
    if (data instanceof tf.Tensor) this.checkX('fit', data, 'data');
  }

  /** The mean negative log-likelihood in nats. */
  evaluate(x: tf.Tensor, options: EvaluateOptions = {}): Metric[] {
    return [{ name: 'nll', value: this.nll(x, options.batchSize ?? 1024), unit: 'nats' }];
  }

  protected checkpointContent(): CheckpointContent {
    return { config: structuredClone(this.config), parts: { flow: this.model } };
  }

  protected disposeModel(): void {
    this.model.dispose();
  }
}

/** The load-time check every vector flow makes of its stored part: the layer count and the input width. */
export function checkStoredChain(where: string, flow: tfl.LayersModel, expectedLayers: number, dim: number): void {
  const layers = chainLayers(flow);
  const shape = flow.inputs[0]?.shape ?? [];
  if (layers.length !== expectedLayers || shape.length !== 2 || shape[1] !== dim) {
    throw new GmError('CORRUPT', where, `the flow part has ${layers.length} layers on input ${formatShape(shape)}, but the config implies ${expectedLayers} on [null, ${dim}]`);
  }
}
