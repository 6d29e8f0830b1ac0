/**
 * Reusing a pretrained encoder under a classifier (unsupervised pretraining): the encoder's layers are copied from
 * an autoencoder, a softmax head goes on top, and the encoder can be frozen (only the head trains) and later
 * unfrozen to fine-tune everything.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { GmError, type CheckpointStore, type FitResult, type StepContext, type Trainable, type TrainingBatch } from '@gm/core';
import type { Activation } from '@gm/layers';
import { readCheckpoint, writeCheckpoint, type SaveOptions } from '../io/checkpoint';
import { OptimizerSlot } from '../train/optimizer';
import { fit as train, type TrainerOptions } from '../train/trainer';
import { checkBatch, kernelInitializer, layerOf, type Autoencoder } from './autoencoder';
import { checkActivation, checkPositiveInt, checkSeed, checkWidths } from './config';
import { sparseSoftmaxCrossentropy } from './losses';
import { exampleCount } from './minibatch';

type Layer = tfl.layers.Layer;

export const ENCODER_CLASSIFIER_KIND = 'encoder-classifier';
const PART = 'classifier';

/** Architecture of an {@link EncoderClassifier}. */
export interface EncoderClassifierConfig {
  inputDim: number;
  /** Encoder widths (as an autoencoder's `hidden`). */
  encoderHidden: number[];
  /** Activation of the encoder's hidden layers (default 'selu'). */
  activation?: Activation;
  /** Activation of the encoder's last layer (default: `activation`). */
  codingActivation?: Activation;
  /** Number of classes. */
  numClasses: number;
  /** Widths of hidden head layers between the codings and the logits (default none). */
  headHidden?: number[];
  /** Activation of the hidden head layers (default 'selu'). */
  headActivation?: Activation;
  /** Seed of the weight initialisation and default seed of training. */
  seed?: number | null;
}

export interface ResolvedEncoderClassifierConfig {
  inputDim: number;
  encoderHidden: number[];
  activation: Activation;
  codingActivation: Activation;
  numClasses: number;
  headHidden: number[];
  headActivation: Activation;
  seed: number | null;
}

/** Options of {@link EncoderClassifier.fit}: the trainer's, with validation data as inputs and labels. */
export interface ClassifierFitOptions extends Omit<TrainerOptions, 'validationData'> {
  /** Validation inputs and labels. */
  validationData?: [tf.Tensor, tf.Tensor | ArrayLike<number>];
}

function resolveConfig(config: EncoderClassifierConfig, where: string): ResolvedEncoderClassifierConfig {
  if (typeof config !== 'object' || config === null) throw new Error(`${where} must be an object`);
  const activation = checkActivation(config.activation, 'selu', `${where}.activation`);
  return {
    inputDim: checkPositiveInt(config.inputDim, `${where}.inputDim`),
    encoderHidden: checkWidths(config.encoderHidden, `${where}.encoderHidden`),
    activation,
    codingActivation: checkActivation(config.codingActivation, activation, `${where}.codingActivation`),
    numClasses: (() => {
      const k = checkPositiveInt(config.numClasses, `${where}.numClasses`);
      if (k < 2) throw new Error(`${where}.numClasses must be at least 2; got ${k}`);
      return k;
    })(),
    headHidden: checkWidths(config.headHidden ?? [], `${where}.headHidden`, true),
    headActivation: checkActivation(config.headActivation, 'selu', `${where}.headActivation`),
    seed: checkSeed(config.seed, `${where}.seed`),
  };
}

/** Labels as an int32 tensor `[n]` in [0, numClasses), checked. The caller disposes it when `owned`. */
function labelTensor(labels: tf.Tensor | ArrayLike<number>, n: number, numClasses: number, where: string): { t: tf.Tensor1D; owned: boolean } {
  const values = labels instanceof tf.Tensor ? labels.dataSync() : Array.from(labels);
  if (labels instanceof tf.Tensor && labels.rank !== 1) throw new Error(`${where} must be a 1-D tensor of class indices; got shape [${labels.shape}]`);
  if (values.length !== n) throw new Error(`${where} has ${values.length} labels, expected ${n} (one per example)`);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      throw new Error(`${where}[${i}] must be an integer class index in [0, ${numClasses}); got ${v}`);
    }
  }
  if (labels instanceof tf.Tensor && labels.dtype === 'int32') return { t: labels as tf.Tensor1D, owned: false };
  return { t: tf.tensor1d(Array.from(values), 'int32'), owned: true };
}

/**
 * A classifier `encoder → [head layers] → logits`, whose encoder can come pretrained from an autoencoder
 * ({@link EncoderClassifier.fromAutoencoder}) or start random (`new EncoderClassifier(config)`, the baseline).
 *
 * @example
 * ```ts
 * const clf = EncoderClassifier.fromAutoencoder(ae, { numClasses: 10, seed: 1 }); // encoder frozen
 * clf.fit(xLabelled, labels, { epochs: 10 });        // trains the head only
 * clf.setEncoderTrainable(true);
 * clf.fit(xLabelled, labels, { epochs: 5, learningRate: 1e-4 }); // fine-tunes everything
 * clf.evaluate(xTest, testLabels).accuracy;
 * ```
 */
export class EncoderClassifier implements Trainable {
  static readonly kind = ENCODER_CLASSIFIER_KIND;
  /** The optimizer kept across `fit` calls. */
  readonly optimizerSlot = new OptimizerSlot();
  epochsTrained = 0;
  readonly config: ResolvedEncoderClassifierConfig;
  /** input → logits (what a checkpoint stores). */
  readonly model: tfl.LayersModel;
  readonly encoderLayers: Layer[];
  readonly headLayers: Layer[];

  /** @param restored internal: a loaded model to adopt. */
  constructor(config: EncoderClassifierConfig, restored?: tfl.LayersModel) {
    this.config = resolveConfig(config, 'EncoderClassifier: config');
    const c = this.config;
    const depth = c.encoderHidden.length;
    if (restored === undefined) {
      const input = tfl.input({ shape: [c.inputDim], name: 'input' });
      this.encoderLayers = c.encoderHidden.map((units, i) => {
        const activation = i === depth - 1 ? c.codingActivation : c.activation;
        return tfl.layers.dense({ units, activation, name: `encoder_${i}`, kernelInitializer: kernelInitializer(activation, c.seed, i) });
      });
      this.headLayers = [
        ...c.headHidden.map((units, i) =>
          tfl.layers.dense({
            units,
            activation: c.headActivation,
            name: `head_${i}`,
            kernelInitializer: kernelInitializer(c.headActivation, c.seed, 200 + i),
          }),
        ),
        tfl.layers.dense({ units: c.numClasses, name: 'logits', kernelInitializer: kernelInitializer('linear', c.seed, 299) }),
      ];
      let h = input;
      for (const layer of [...this.encoderLayers, ...this.headLayers]) h = layer.apply(h) as SymbolicTensor;
      this.model = tfl.model({ inputs: input, outputs: h, name: 'encoder_classifier' });
    } else {
      const where = `EncoderClassifier: checkpoint part "${PART}"`;
      this.model = restored;
      this.encoderLayers = c.encoderHidden.map((_, i) => layerOf(restored, `encoder_${i}`, where));
      this.headLayers = [...c.headHidden.map((_, i) => layerOf(restored, `head_${i}`, where)), layerOf(restored, 'logits', where)];
    }
  }

  /**
   * A classifier whose encoder copies the weights of `autoencoder`'s encoder (the autoencoder is not changed by
   * later training). The encoder starts frozen unless `freezeEncoder` is false.
   */
  static fromAutoencoder(
    autoencoder: Autoencoder,
    options: { numClasses: number; headHidden?: number[]; headActivation?: Activation; seed?: number | null; freezeEncoder?: boolean },
  ): EncoderClassifier {
    const a = autoencoder.config;
    const clf = new EncoderClassifier({
      inputDim: a.inputDim,
      encoderHidden: a.hidden,
      activation: a.activation,
      codingActivation: a.codingActivation,
      numClasses: options.numClasses,
      headHidden: options.headHidden,
      headActivation: options.headActivation,
      seed: options.seed,
    });
    clf.encoderLayers.forEach((layer, i) => layer.setWeights((autoencoder.encoderLayers[i] as Layer).getWeights()));
    clf.setEncoderTrainable(!(options.freezeEncoder ?? true));
    return clf;
  }

  /** Freezes (false) or unfreezes (true) the encoder; `fit` trains only trainable layers. */
  setEncoderTrainable(trainable: boolean): void {
    if (typeof trainable !== 'boolean') throw new Error(`EncoderClassifier.setEncoderTrainable: expected a boolean; got ${JSON.stringify(trainable)}`);
    for (const layer of this.encoderLayers) layer.trainable = trainable;
  }

  /** Whether the encoder is trainable (false while frozen). */
  get encoderTrainable(): boolean {
    return this.encoderLayers.every((l) => l.trainable);
  }

  /** The variables `fit` updates now. */
  trainableVariables(): tf.Variable[] {
    return [...this.encoderLayers, ...this.headLayers].flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
  }

  private run(layers: Layer[], x: tf.Tensor): tf.Tensor {
    let h = x;
    for (const layer of layers) h = layer.apply(h) as tf.Tensor;
    return h;
  }

  /** Class logits `[batch, numClasses]`. */
  logits(x: tf.Tensor): tf.Tensor2D {
    checkBatch(x, this.config.inputDim, 'EncoderClassifier.logits: x');
    return tf.tidy(() => this.run([...this.encoderLayers, ...this.headLayers], x)) as tf.Tensor2D;
  }

  /** Class probabilities `[batch, numClasses]`. */
  predict(x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => tf.softmax(this.logits(x))) as tf.Tensor2D;
  }

  /** The encoder's codings of `x`. */
  encode(x: tf.Tensor): tf.Tensor2D {
    checkBatch(x, this.config.inputDim, 'EncoderClassifier.encode: x');
    return tf.tidy(() => this.run(this.encoderLayers, x)) as tf.Tensor2D;
  }

  /** Softmax cross-entropy of a batch of inputs and integer labels. */
  loss(batch: TrainingBatch, _ctx?: StepContext): tf.Scalar {
    if (batch.labels === undefined) throw new GmError('BAD_ARGUMENT', 'EncoderClassifier.loss', 'a batch with labels');
    return sparseSoftmaxCrossentropy(batch.labels, this.logits(batch.x));
  }

  /** Trains on inputs `x` and integer `labels` with softmax cross-entropy through gm's trainer. */
  async fit(x: tf.Tensor, labels: tf.Tensor | ArrayLike<number>, options: ClassifierFitOptions): Promise<FitResult> {
    const where = 'EncoderClassifier.fit';
    checkBatch(x, this.config.inputDim, `${where}: x`);
    const n = exampleCount([x], ['x'], where);
    const y = labelTensor(labels, n, this.config.numClasses, `${where}: labels`);
    let vy: { t: tf.Tensor1D; owned: boolean } | undefined;
    try {
      let validation: TrainingBatch | undefined;
      if (options.validationData !== undefined) {
        const [vx, vl] = options.validationData;
        checkBatch(vx, this.config.inputDim, `${where}: options.validationData[0]`);
        vy = labelTensor(vl, vx.shape[0] as number, this.config.numClasses, `${where}: options.validationData[1]`);
        validation = { x: vx, labels: vy.t };
      }
      return await train(
        this,
        { x, labels: y.t },
        { ...options, validationData: validation },
        { where, batchSize: 32, seed: this.config.seed ?? 0, learningRate: 1e-3 },
      );
    } finally {
      if (y.owned) y.t.dispose();
      if (vy?.owned) vy.t.dispose();
    }
  }

  /** Mean cross-entropy and accuracy on `x` with integer `labels`. */
  evaluate(x: tf.Tensor, labels: tf.Tensor | ArrayLike<number>, options: { batchSize?: number } = {}): { loss: number; accuracy: number } {
    checkBatch(x, this.config.inputDim, 'EncoderClassifier.evaluate: x');
    const n = x.shape[0] as number;
    const y = labelTensor(labels, n, this.config.numClasses, 'EncoderClassifier.evaluate: labels');
    const batchSize = options.batchSize ?? 256;
    let loss = 0;
    let correct = 0;
    try {
      for (let start = 0; start < n; start += batchSize) {
        const size = Math.min(batchSize, n - start);
        const v = tf.tidy(() => {
          const logits = this.logits(tf.slice(x, [start], [size]));
          const yb = tf.slice(y.t, [start], [size]);
          const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), yb), 'float32'));
          return tf.stack([sparseSoftmaxCrossentropy(yb, logits), hits]);
        });
        const [l, h] = v.dataSync();
        v.dispose();
        loss += (l as number) * size;
        correct += h as number;
      }
    } finally {
      if (y.owned) y.t.dispose();
    }
    return { loss: loss / n, accuracy: correct / n };
  }

  /** Saves a checkpoint (kind "encoder-classifier"; remembers whether the encoder is frozen). */
  async save(store: CheckpointStore, options: SaveOptions = {}): Promise<void> {
    await writeCheckpoint(
      store,
      { kind: ENCODER_CLASSIFIER_KIND, config: this.config, extra: { encoderTrainable: this.encoderTrainable, epochsTrained: this.epochsTrained } },
      { [PART]: this.model },
      options.files,
    );
  }

  /** Loads a checkpoint written by {@link EncoderClassifier.save}. */
  static async load(store: CheckpointStore): Promise<EncoderClassifier> {
    const reader = await readCheckpoint<EncoderClassifierConfig>(store, ENCODER_CLASSIFIER_KIND);
    const model = await reader.part(PART);
    try {
      const clf = new EncoderClassifier(reader.manifest.config, model);
      const trainable = reader.manifest.extra?.encoderTrainable;
      clf.setEncoderTrainable(typeof trainable === 'boolean' ? trainable : true);
      const epochs = reader.manifest.extra?.epochsTrained;
      clf.epochsTrained = typeof epochs === 'number' && Number.isInteger(epochs) && epochs >= 0 ? epochs : 0;
      return clf;
    } catch (error) {
      model.dispose();
      throw error;
    }
  }

  dispose(): void {
    this.optimizerSlot.dispose();
    this.model.dispose();
  }
}
