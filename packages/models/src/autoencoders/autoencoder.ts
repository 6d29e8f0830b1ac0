/**
 * The dense autoencoder family: one core class, {@link Autoencoder}, builds, trains, evaluates, saves and loads
 * every variant; the variants ({@link StackedAutoencoder}, {@link TiedAutoencoder}, {@link DenoisingAutoencoder},
 * {@link SparseAutoencoder}, {@link LinearAutoencoder}) only choose defaults, check their defining feature, and give
 * their checkpoints their own kind so loading the wrong one is a clear error.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { GmError, normalNoise, uniformNoise, type CheckpointStore, type EvaluateOptions, type InputConvention, type Metric, type StepContext, type TrainingBatch, type TrainingData } from '@gm/core';
import { DenseTranspose, registerGmLayers, type Activation } from '@gm/layers';
import { readCheckpoint, type CheckpointReader } from '../io/checkpoint';
import { buildFromParts, ModelBase, type CheckpointContent } from '../model-base';
import type { TrainerDefaults, TrainerOptions } from '../train/trainer';
import { resolveAutoencoderConfig, type AutoencoderConfig, type ResolvedAutoencoderConfig } from './config';
import { contractivePenalty, type DenseStep } from './contractive';
import { activityL1Penalty, reconstructionLoss, roundedAccuracy, sparsityPenalty } from './losses';
import { batchedMean } from './minibatch';

type Layer = tfl.layers.Layer;

/** Name of the single tfjs part of an autoencoder checkpoint (input → reconstruction, one graph). */
export const AUTOENCODER_PART = 'autoencoder';

/**
 * Options of {@link Autoencoder.fit}: the trainer's. Defaults: batch size 32, Adam, learning rate 1e-3 (a named
 * optimizer's own default otherwise, e.g. 1e-2 for `'sgd'`); the validation loss is on clean inputs, penalty included.
 */
export type AutoencoderFitOptions = TrainerOptions;

/** Options of a forward pass. */
export interface ForwardOptions {
  /** Training mode: the input noise of a denoising autoencoder is applied (default false: deterministic). */
  training?: boolean;
  /** Seed of the input noise in training mode (unseeded when absent). */
  seed?: number;
}

/** Figures of {@link Autoencoder.evaluate}, each a mean over the examples. */
export interface AutoencoderEvaluation {
  /** Training objective on clean inputs: reconstruction loss plus the penalties (if any). */
  loss: number;
  reconstructionLoss: number;
  /** Sparsity, L1-activity and contractive penalties (0 without), averaged over batches of `batchSize`. */
  penalty: number;
  /** Fraction of features where round(reconstruction) = round(input). */
  roundedAccuracy: number;
}

/** What a variant decides: its checkpoint kind, its name in errors, and how it checks and completes a config. */
export interface AutoencoderVariant {
  kind: string;
  name: string;
  prepare(config: AutoencoderConfig, where: string): AutoencoderConfig;
}

/** A class of the family (for `load` and {@link loadAutoencoder}). */
export interface AutoencoderClass<T extends Autoencoder> {
  new (config: AutoencoderConfig, restored?: tfl.LayersModel): T;
  readonly variant: AutoencoderVariant;
  load(store: CheckpointStore): Promise<T>;
}

/** Kernel initialiser suited to an activation: LeCun normal for SELU (self-normalising), Glorot uniform otherwise. */
export function kernelInitializer(activation: Activation, seed: number | null, offset: number) {
  const args = seed === null ? {} : { seed: seed + offset };
  return activation === 'selu' ? tfl.initializers.leCunNormal(args) : tfl.initializers.glorotUniform(args);
}

/** Checks that `x` is a float tensor `[batch, width]`. */
export function checkBatch(x: unknown, width: number, where: string): tf.Tensor2D {
  if (!(x instanceof tf.Tensor)) throw new GmError('BAD_ARGUMENT', where, `a tf.Tensor of shape [batch, ${width}]`, x === null ? null : typeof x);
  if (x.rank !== 2 || x.shape[1] !== width) {
    throw new GmError('BAD_SHAPE', where, `expected shape [batch, ${width}], got [${x.shape.join(', ')}]`);
  }
  return x as tf.Tensor2D;
}

/** Looks up a layer of a loaded model by name, with an error that names the checkpoint part. */
export function layerOf(model: tfl.LayersModel, name: string, where: string): Layer {
  try {
    return model.getLayer(name);
  } catch {
    throw new GmError('CORRUPT', where, `the saved model has no layer "${name}" (not written by this model class?)`);
  }
}

function outputWidth(layer: Layer): number | undefined {
  const shape = layer.outputShape as (number | null)[];
  return shape[shape.length - 1] ?? undefined;
}

/**
 * A dense autoencoder: encoder `inputDim → hidden[0] → … → codings`, a mirrored decoder, trained to reconstruct its
 * inputs with binary cross-entropy or mean squared error. Options make it tied (DenseTranspose decoder sharing the
 * encoder kernels), denoising (Gaussian noise and/or dropout on the inputs, in training only) or sparse (KL penalty
 * on the mean activations of the codings). Use the named variants for the usual cases; this class allows any
 * combination (checkpoint kind "autoencoder").
 *
 * @example
 * ```ts
 * const ae = new StackedAutoencoder({ inputDim: 784, hidden: [100, 30], seed: 42 });
 * await ae.fit(xTrain, { epochs: 5, batchSize: 64, validationData: xValid, onEpochEnd: (l) => console.log(l) });
 * const codings = ae.encode(xValid);         // [n, 30]
 * const images = ae.reconstruct(xValid);     // [n, 784]
 * await ae.save(store);
 * const again = await StackedAutoencoder.load(store);
 * ```
 */
export class Autoencoder extends ModelBase {
  static readonly variant: AutoencoderVariant = {
    kind: 'autoencoder',
    name: 'Autoencoder',
    prepare: (config) => config,
  };

  /** Checkpoint kind of this model's class. */
  readonly kind: string;
  readonly inputConvention: InputConvention = 'unit';
  /** The configuration with every default filled in. */
  readonly config: ResolvedAutoencoderConfig;
  /** The whole network, input → reconstruction: one tfjs graph (what a checkpoint stores). */
  readonly model: tfl.LayersModel;
  /** Encoder layers, input side first; the last one outputs the codings. */
  readonly encoderLayers: Layer[];
  /** Decoder layers, codings side first; the last one outputs the reconstruction. */
  readonly decoderLayers: Layer[];
  private readonly name: string;

  /**
   * @param config architecture and objective (checked; errors name the field).
   * @param restored internal: a loaded model to adopt instead of building fresh layers.
   */
  constructor(config: AutoencoderConfig, restored?: tfl.LayersModel) {
    super();
    const variant = (new.target as unknown as AutoencoderClass<Autoencoder>).variant;
    this.kind = variant.kind;
    this.name = variant.name;
    const where = `${variant.name}: config`;
    this.config = resolveAutoencoderConfig(variant.prepare(config, where), where);
    if (restored === undefined) {
      [this.model, this.encoderLayers, this.decoderLayers] = this.buildFresh();
    } else {
      [this.model, this.encoderLayers, this.decoderLayers] = this.adopt(restored);
    }
  }

  private buildFresh(): [tfl.LayersModel, Layer[], Layer[]] {
    const c = this.config;
    const depth = c.hidden.length;
    const input = tfl.input({ shape: [c.inputDim], name: 'input' });
    const encoder: Layer[] = c.hidden.map((units, i) => {
      const activation = i === depth - 1 ? c.codingActivation : c.activation;
      return tfl.layers.dense({ units, activation, name: `encoder_${i}`, kernelInitializer: kernelInitializer(activation, c.seed, i) });
    });
    let h = input;
    for (const layer of encoder) h = layer.apply(h) as SymbolicTensor;
    const decoder: Layer[] = [];
    for (let j = 0; j < depth; j++) {
      const i = depth - 1 - j; // the encoder layer this decoder layer mirrors
      const units = i === 0 ? c.inputDim : (c.hidden[i - 1] as number);
      const activation = i === 0 ? c.outputActivation : c.activation;
      const name = `decoder_${j}`;
      const layer = c.tied
        ? new DenseTranspose({ tiedTo: encoder[i] as Layer, activation, name })
        : tfl.layers.dense({ units, activation, name, kernelInitializer: kernelInitializer(activation, c.seed, 100 + j) });
      h = layer.apply(h) as SymbolicTensor;
      decoder.push(layer);
    }
    return [tfl.model({ inputs: input, outputs: h, name: this.kind.replace(/-/g, '_') }), encoder, decoder];
  }

  private adopt(model: tfl.LayersModel): [tfl.LayersModel, Layer[], Layer[]] {
    const c = this.config;
    const depth = c.hidden.length;
    const where = `${this.name}: checkpoint part "${AUTOENCODER_PART}"`;
    const encoder = c.hidden.map((units, i) => {
      const layer = layerOf(model, `encoder_${i}`, where);
      if (outputWidth(layer) !== units) {
        throw new Error(`${where}: layer encoder_${i} has width ${outputWidth(layer)}, config.hidden[${i}] says ${units}`);
      }
      return layer;
    });
    const decoder: Layer[] = [];
    for (let j = 0; j < depth; j++) {
      const i = depth - 1 - j;
      const layer = layerOf(model, `decoder_${j}`, where);
      const units = i === 0 ? c.inputDim : (c.hidden[i - 1] as number);
      if (outputWidth(layer) !== units) {
        throw new Error(`${where}: layer decoder_${j} has width ${outputWidth(layer)}, expected ${units}`);
      }
      if (c.tied && !(layer instanceof DenseTranspose && layer.tiedLayer === encoder[i])) {
        throw new Error(`${where}: layer decoder_${j} must be a DenseTranspose tied to encoder_${i}`);
      }
      decoder.push(layer);
    }
    return [model, encoder, decoder];
  }

  /** Width of the codings. */
  get codingsSize(): number {
    return this.config.hidden[this.config.hidden.length - 1] as number;
  }

  get inputShape(): readonly number[] {
    return [this.config.inputDim];
  }

  describe(): string {
    const c = this.config;
    const extras = [
      c.tied ? 'tied weights' : '',
      c.noise === null ? '' : `input noise (Gaussian σ ${c.noise.gaussianStddev}, dropout ${c.noise.dropoutRate})`,
      c.sparsity === null ? '' : `sparsity target ${c.sparsity.target}, weight ${c.sparsity.weight}`,
      c.activityL1 > 0 ? `L1 activity ${c.activityL1}` : '',
      c.contractive > 0 ? `contractive ${c.contractive}` : '',
    ].filter((e) => e !== '');
    return `${this.kind}, ${[c.inputDim, ...c.hidden].join('-')}, ${c.activation}/${c.codingActivation}/${c.outputActivation}, ${c.loss}${extras.length > 0 ? `, ${extras.join(', ')}` : ''}`;
  }

  /** The variables training updates (for a tied model each shared kernel appears once). */
  trainableVariables(): tf.Variable[] {
    return this.model.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /**
   * The training-time corruption of a denoising autoencoder: `x + N(0, σ²)` then inverted dropout (zero each
   * feature with probability `rate`, scale survivors by 1/(1 − rate)). Returns `x` unchanged (a clone) without noise.
   */
  corrupt(x: tf.Tensor, seed?: number): tf.Tensor {
    const noise = this.config.noise;
    return tf.tidy(() => {
      let y = tf.clone(x);
      if (noise === null) return y;
      const seedA = seed === undefined ? undefined : seed;
      const seedB = seed === undefined ? undefined : seed + 7919;
      // Each example's noise its own stream (@gm/core): a data-parallel shard corrupts as one thread does.
      if (noise.gaussianStddev > 0) y = tf.add(y, tf.mul(tf.tensor(normalNoise(x.shape, seedA, 0), x.shape, 'float32'), noise.gaussianStddev));
      if (noise.dropoutRate > 0) {
        const keep = tf.cast(tf.greaterEqual(tf.tensor(uniformNoise(x.shape, seedB, 0), x.shape, 'float32'), noise.dropoutRate), 'float32');
        y = tf.mul(y, tf.div(keep, 1 - noise.dropoutRate));
      }
      return y;
    });
  }

  private run(layers: Layer[], x: tf.Tensor, training: boolean): tf.Tensor {
    let h = x;
    for (const layer of layers) h = layer.apply(h, { training }) as tf.Tensor;
    return h;
  }

  /** The encoder's input (corrupted in training mode), the codings and the reconstruction; unchecked, untidied. */
  private pass(x: tf.Tensor, options: ForwardOptions): { input: tf.Tensor; codings: tf.Tensor; reconstruction: tf.Tensor } {
    const training = options.training ?? false;
    const input = training && this.config.noise !== null ? this.corrupt(x, options.seed) : x;
    const codings = this.run(this.encoderLayers, input, training);
    return { input, codings, reconstruction: this.run(this.decoderLayers, codings, training) };
  }

  /** Codings and reconstruction of `x`; in training mode the inputs are corrupted first (denoising). */
  forward(x: tf.Tensor, options: ForwardOptions = {}): { codings: tf.Tensor; reconstruction: tf.Tensor } {
    checkBatch(x, this.config.inputDim, `${this.name}.forward: x`);
    return tf.tidy(() => {
      const { codings, reconstruction } = this.pass(x, options);
      return { codings, reconstruction };
    });
  }

  /** Codings `[batch, codingsSize]` of inputs `[batch, inputDim]` (inference: no noise). */
  encode(x: tf.Tensor): tf.Tensor2D {
    checkBatch(x, this.config.inputDim, `${this.name}.encode: x`);
    return tf.tidy(() => this.run(this.encoderLayers, x, false)) as tf.Tensor2D;
  }

  /** Reconstructions `[batch, inputDim]` of codings `[batch, codingsSize]`. */
  decode(codings: tf.Tensor): tf.Tensor2D {
    checkBatch(codings, this.codingsSize, `${this.name}.decode: codings`);
    return tf.tidy(() => this.run(this.decoderLayers, codings, false)) as tf.Tensor2D;
  }

  /** `decode(encode(x))` (inference: no noise, deterministic). */
  reconstruct(x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => this.forward(x).reconstruction) as tf.Tensor2D;
  }

  /**
   * The training objective of a batch: reconstruction loss of the clean `x` plus the penalties on the codings (KL
   * sparsity, L1 activity) and on the encoder (contractive, at the encoder's input — the corrupted one in training).
   */
  lossTerms(x: tf.Tensor, options: ForwardOptions = {}): { loss: tf.Scalar; reconstruction: tf.Scalar; penalty: tf.Scalar } {
    return tf.tidy(() => {
      const c = this.config;
      const { input, codings, reconstruction } = this.pass(x, options);
      const rec = reconstructionLoss(c.loss, x, reconstruction);
      const penalties: tf.Scalar[] = [];
      if (c.sparsity !== null) penalties.push(sparsityPenalty(codings, c.sparsity.target, c.sparsity.weight));
      if (c.activityL1 > 0) penalties.push(activityL1Penalty(codings, c.activityL1));
      if (c.contractive > 0) penalties.push(contractivePenalty(input as tf.Tensor2D, this.encoderSteps(), c.contractive));
      const penalty = penalties.length === 0 ? tf.scalar(0) : (tf.addN(penalties) as tf.Scalar);
      return { loss: tf.add(rec, penalty) as tf.Scalar, reconstruction: rec, penalty };
    });
  }

  /** The encoder's dense layers as the contractive penalty reads them (kernels and biases are the live variables). */
  encoderSteps(): DenseStep[] {
    const c = this.config;
    return this.encoderLayers.map((layer, i) => {
      const [kernel, bias] = layer.trainableWeights.map((w) => w.read());
      return {
        kernel: kernel as tf.Tensor2D,
        bias: (bias ?? null) as tf.Tensor1D | null,
        activation: i === c.hidden.length - 1 ? c.codingActivation : c.activation,
      };
    });
  }

  /** The training loss of a batch: reconstruction of the clean inputs from corrupted ones (denoising) + penalty. */
  loss(batch: TrainingBatch, ctx: StepContext): tf.Scalar {
    return this.lossTerms(batch.x, { training: true, seed: ctx.seed }).loss;
  }

  /** Validation: the objective on clean inputs. */
  validationLoss(batch: TrainingBatch): tf.Scalar {
    return this.lossTerms(batch.x).loss;
  }

  protected fitDefaults(): TrainerDefaults {
    return { where: `${this.name}.fit`, batchSize: 32, seed: this.config.seed ?? 0, learningRate: 1e-3 };
  }

  protected override beforeFit(data: TrainingData): void {
    if (data instanceof tf.Tensor) checkBatch(data, this.config.inputDim, `${this.name}.fit: x`);
  }


  /** Test figures: loss, reconstruction loss, sparsity penalty and rounded accuracy (inference mode). */
  evaluate(x: tf.Tensor, options: EvaluateOptions = {}): Metric[] {
    const e = this.reconstructionMetrics(x, options.batchSize === undefined ? {} : { batchSize: options.batchSize });
    const unit = this.config.loss === 'binaryCrossentropy' ? 'mean BCE' : 'mean squared error';
    return [
      { name: 'loss', value: e.loss, unit },
      { name: 'reconstructionLoss', value: e.reconstructionLoss, unit },
      { name: 'penalty', value: e.penalty, unit: 'penalty (sparsity, L1 activity, contractive)' },
      { name: 'roundedAccuracy', value: e.roundedAccuracy, unit: 'fraction' },
    ];
  }

  /** Loss terms and rounded accuracy on `x` (inference mode), computed in batches. */
  reconstructionMetrics(x: tf.Tensor, options: { batchSize?: number } = {}): AutoencoderEvaluation {
    checkBatch(x, this.config.inputDim, `${this.name}.reconstructionMetrics: x`);
    const batchSize = options.batchSize ?? 256;
    const sums = { loss: 0, reconstructionLoss: 0, penalty: 0, roundedAccuracy: 0 };
    const n = x.shape[0];
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const values = tf.tidy(() => {
        const xb = tf.slice(x, [start], [size]);
        const terms = this.lossTerms(xb);
        const acc = roundedAccuracy(xb, this.forward(xb).reconstruction);
        return tf.stack([terms.loss, terms.reconstruction, terms.penalty, acc]);
      });
      const [a, b, c, d] = values.dataSync();
      values.dispose();
      sums.loss += (a as number) * size;
      sums.reconstructionLoss += (b as number) * size;
      sums.penalty += (c as number) * size;
      sums.roundedAccuracy += (d as number) * size;
    }
    return {
      loss: sums.loss / n,
      reconstructionLoss: sums.reconstructionLoss / n,
      penalty: sums.penalty / n,
      roundedAccuracy: sums.roundedAccuracy / n,
    };
  }

  /** Mean activation of each coding unit over `x` (inference mode). */
  meanCodingActivations(x: tf.Tensor, options: { batchSize?: number } = {}): Float32Array {
    checkBatch(x, this.config.inputDim, `${this.name}.meanCodingActivations: x`);
    const batchSize = options.batchSize ?? 256;
    const sum = new Float64Array(this.codingsSize);
    const n = x.shape[0];
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const s = tf.tidy(() => tf.sum(this.encode(tf.slice(x, [start], [size])), 0));
      s.dataSync().forEach((v, j) => (sum[j] = (sum[j] as number) + v));
      s.dispose();
    }
    return Float32Array.from(sum, (v) => v / n);
  }

  /** Mean training objective on `x` without gradients (clean inputs). */
  meanLoss(x: tf.Tensor, batchSize = 256): number {
    checkBatch(x, this.config.inputDim, `${this.name}.meanLoss: x`);
    return batchedMean([x], batchSize, ([xb]) => this.lossTerms(xb as tf.Tensor).loss);
  }

  protected checkpointContent(): CheckpointContent {
    return { config: this.config, parts: { [AUTOENCODER_PART]: this.model } };
  }

  /**
   * Loads a checkpoint written by `save` of the same class (a different kind is an error naming both kinds).
   * Registers gm's layers first (DenseTranspose); tied decoders are tied to the loaded encoder kernels again.
   */
  static async load<T extends Autoencoder>(this: AutoencoderClass<T>, store: CheckpointStore): Promise<T> {
    const reader = await readCheckpoint<AutoencoderConfig>(store, this.variant.kind);
    return restoreAutoencoder(this, reader);
  }

  protected disposeModel(): void {
    this.model.dispose();
  }
}

/** Builds an instance of `cls` around the tfjs part of a checkpoint being read. */
export async function restoreAutoencoder<T extends Autoencoder>(cls: AutoencoderClass<T>, reader: CheckpointReader<AutoencoderConfig>): Promise<T> {
  registerGmLayers();
  return buildFromParts(reader, [AUTOENCODER_PART], (parts) => {
    (cls as unknown as typeof Autoencoder).checkStoredParts(reader.store.label, reader.manifest.config, parts);
    return new cls(reader.manifest.config, parts[AUTOENCODER_PART]);
  });
}

/** The penalties and corruptions a variant may not set (absent, null or — for the weights — 0 pass). */
type Extra = 'noise' | 'sparsity' | 'activityL1' | 'contractive';
const EXTRAS: readonly Extra[] = ['noise', 'sparsity', 'activityL1', 'contractive'];

function reject(config: AutoencoderConfig, where: string, fields: readonly Extra[], use: string): void {
  for (const f of fields) {
    const v = config[f];
    if (v !== undefined && v !== null && v !== 0) throw new Error(`${where}.${f} is not used by this model (${use})`);
  }
}

function asObject(config: AutoencoderConfig, where: string): AutoencoderConfig {
  if (typeof config !== 'object' || config === null) throw new Error(`${where} must be an object with "inputDim" and "hidden"`);
  return config;
}

const COMBINE = 'use Autoencoder to combine tied weights, noise and sparsity';

/** The classic stacked autoencoder (e.g. 784-100-30, SELU, sigmoid output, binary cross-entropy): untied, no noise. */
export class StackedAutoencoder extends Autoencoder {
  static override readonly variant: AutoencoderVariant = {
    kind: 'stacked-autoencoder',
    name: 'StackedAutoencoder',
    prepare(config, where) {
      asObject(config, where);
      if (config.tied === true) throw new Error(`${where}.tied must be false (use TiedAutoencoder for tied weights)`);
      reject(config, where, EXTRAS, COMBINE);
      return config;
    },
  };
}

/**
 * A tied autoencoder: each decoder layer is a {@link DenseTranspose} using the mirrored encoder layer's kernel
 * transposed (one kernel variable, shared; the decoder layers own only their biases) — half the weights.
 */
export class TiedAutoencoder extends Autoencoder {
  static override readonly variant: AutoencoderVariant = {
    kind: 'tied-autoencoder',
    name: 'TiedAutoencoder',
    prepare(config, where) {
      asObject(config, where);
      if (config.tied === false) throw new Error(`${where}.tied must be true or absent for a TiedAutoencoder`);
      reject(config, where, EXTRAS, COMBINE);
      return { ...config, tied: true };
    },
  };
}

/**
 * A denoising autoencoder: Gaussian noise and/or dropout corrupt the inputs during training only; it learns to
 * reconstruct the clean inputs. Inference (`encode`, `reconstruct`, …) is deterministic.
 */
export class DenoisingAutoencoder extends Autoencoder {
  static override readonly variant: AutoencoderVariant = {
    kind: 'denoising-autoencoder',
    name: 'DenoisingAutoencoder',
    prepare(config, where) {
      asObject(config, where);
      const noise = config.noise;
      if (noise === undefined || noise === null || typeof noise !== 'object') {
        throw new Error(`${where}.noise must be an object { gaussianStddev?, dropoutRate? } for a DenoisingAutoencoder`);
      }
      if (!((noise.gaussianStddev ?? 0) > 0) && !((noise.dropoutRate ?? 0) > 0)) {
        throw new Error(`${where}.noise must set gaussianStddev > 0 or dropoutRate > 0; got ${JSON.stringify(noise)}`);
      }
      reject(config, where, ['sparsity', 'activityL1', 'contractive'], COMBINE);
      return config;
    },
  };
}

/**
 * A sparse autoencoder: sigmoid codings and the penalty `weight · Σ_j KL(target ‖ q̂_j)` on the batch-mean
 * activation q̂_j of each coding unit, pushing most codings toward inactivity — or, with `activityL1` instead of
 * `sparsity`, an L1 penalty on the codings themselves (Géron's first sparse autoencoder).
 */
export class SparseAutoencoder extends Autoencoder {
  static override readonly variant: AutoencoderVariant = {
    kind: 'sparse-autoencoder',
    name: 'SparseAutoencoder',
    prepare(config, where) {
      asObject(config, where);
      const l1 = (config.activityL1 ?? 0) > 0;
      if ((config.sparsity === undefined || config.sparsity === null) && !l1) {
        throw new Error(`${where}.sparsity must be an object { target, weight } (the KL penalty), or activityL1 > 0 (the L1 penalty), for a SparseAutoencoder`);
      }
      reject(config, where, ['noise', 'contractive'], COMBINE);
      return { ...config, codingActivation: config.codingActivation ?? 'sigmoid' };
    },
  };
}

/**
 * A contractive autoencoder (Rifai et al. 2011): the reconstruction loss plus `λ · ‖∂h/∂x‖²_F`, the squared
 * Frobenius norm of the encoder's Jacobian, so the codings change little when the input moves slightly (they
 * follow the data's manifold, not every direction). `contractive` (λ) defaults to 1e-3.
 *
 * @example
 * ```ts
 * const cae = new ContractiveAutoencoder({ inputDim: 784, hidden: [100, 30], contractive: 1e-3, seed: 1 });
 * await cae.fit(xTrain, { epochs: 5 });
 * ```
 */
export class ContractiveAutoencoder extends Autoencoder {
  static override readonly variant: AutoencoderVariant = {
    kind: 'contractive-autoencoder',
    name: 'ContractiveAutoencoder',
    prepare(config, where) {
      asObject(config, where);
      if (config.tied === true) throw new Error(`${where}.tied must be false for a ContractiveAutoencoder (${COMBINE})`);
      reject(config, where, ['noise', 'sparsity', 'activityL1'], COMBINE);
      const contractive = config.contractive ?? 1e-3;
      if (!(typeof contractive === 'number' && contractive > 0)) {
        throw new Error(`${where}.contractive must be a positive number (the penalty's weight λ) for a ContractiveAutoencoder; got ${JSON.stringify(config.contractive)}`);
      }
      return { ...config, contractive };
    },
  };
}

/**
 * A linear autoencoder trained with mean squared error: its codings span the same subspace as the top principal
 * components of the data (it performs PCA, up to an invertible linear map of the codings).
 */
export class LinearAutoencoder extends Autoencoder {
  static override readonly variant: AutoencoderVariant = {
    kind: 'linear-autoencoder',
    name: 'LinearAutoencoder',
    prepare(config, where) {
      asObject(config, where);
      reject(config, where, EXTRAS, COMBINE);
      const out: AutoencoderConfig = {
        ...config,
        activation: config.activation ?? 'linear',
        codingActivation: config.codingActivation ?? 'linear',
        outputActivation: config.outputActivation ?? 'linear',
        loss: config.loss ?? 'meanSquaredError',
      };
      for (const f of ['activation', 'codingActivation', 'outputActivation'] as const) {
        if (out[f] !== 'linear') throw new Error(`${where}.${f} must be 'linear' for a LinearAutoencoder; got ${JSON.stringify(out[f])}`);
      }
      return out;
    },
  };
}

/** Every class of the family, by checkpoint kind. */
export const AUTOENCODER_CLASSES: readonly AutoencoderClass<Autoencoder>[] = [
  Autoencoder,
  StackedAutoencoder,
  TiedAutoencoder,
  DenoisingAutoencoder,
  SparseAutoencoder,
  LinearAutoencoder,
  ContractiveAutoencoder,
];

/** Loads any autoencoder checkpoint as an instance of the class that saved it (by the manifest's kind). */
export async function loadAutoencoder(store: CheckpointStore): Promise<Autoencoder> {
  const reader = await readCheckpoint<AutoencoderConfig>(store, AUTOENCODER_CLASSES.map((c) => c.variant.kind));
  const cls = AUTOENCODER_CLASSES.find((c) => c.variant.kind === reader.manifest.kind) as AutoencoderClass<Autoencoder>;
  return restoreAutoencoder(cls, reader);
}
