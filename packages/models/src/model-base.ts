/**
 * What every built-in model shares: the bookkeeping of the `GenerativeModel` contract — epochs trained, the
 * optimizer kept across `fit` calls, training through the one trainer, checkpoints written and read through a
 * store (with the optimizer state riding along), and refusing to work once disposed. A model class supplies its
 * networks, its loss, its evaluation and what its checkpoint holds.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  GmError,
  type CheckpointStore,
  type EvaluateOptions,
  type FitResult,
  type GenerativeModel,
  type InputConvention,
  type LossTerms,
  type Metric,
  type StepContext,
  type TrainingBatch,
  type TrainingData,
} from '@gm/core';
import { epochsFromManifest, writeCheckpoint, type CheckpointReader, type SaveOptions } from './io/checkpoint';
import { checkTopology } from './io/topology';
import { OPTIMIZER_BIN, OPTIMIZER_JSON, OptimizerSlot } from './train/optimizer';
import { fit, type TrainerDefaults, type TrainerOptions } from './train/trainer';

/** What a model's checkpoint holds besides the epochs and the optimizer. */
export interface CheckpointContent {
  config: unknown;
  parts: Record<string, tfl.LayersModel>;
  extra?: Record<string, unknown>;
}

export abstract class ModelBase implements GenerativeModel {
  abstract readonly kind: string;
  abstract readonly inputShape: readonly number[];
  abstract readonly inputConvention: InputConvention;
  abstract readonly codingsSize: number;
  /** Epochs trained so far (restored on load); `fit` continues from here. */
  epochsTrained = 0;
  /** The optimizer kept across `fit` calls (its state is saved with checkpoints written during training). */
  readonly optimizerSlot = new OptimizerSlot();
  private disposedFlag = false;

  abstract describe(): string;
  abstract trainableVariables(): tf.Variable[];
  /** State restored with the weights but not trained (batch-norm running statistics), where a model has some. */
  stateVariables?(): tf.Variable[];
  abstract loss(batch: TrainingBatch, context: StepContext): tf.Scalar | LossTerms;
  abstract evaluate(x: tf.Tensor, options?: EvaluateOptions): Metric[];
  /** The defaults `fit` uses (batch size, seed, learning rate, its name in errors). */
  protected abstract fitDefaults(): TrainerDefaults;

  /** The defaults `fit` uses when the options leave them out — e.g. the gradient clipping a flow on images needs. */
  trainingDefaults(): Readonly<TrainerDefaults> {
    return this.fitDefaults();
  }
  /** The config, tfjs parts and extra state a checkpoint stores. */
  protected abstract checkpointContent(): CheckpointContent;
  /** Frees the model's own tensors (the base frees the optimizer). */
  protected abstract disposeModel(): void;

  /** Throws a clear error once the model is disposed. */
  protected live(where: string): void {
    if (this.disposedFlag) throw new GmError('DISPOSED', `${this.constructor.name}.${where}`, 'this model has been disposed');
  }

  /** Whether `dispose` has been called. */
  get isDisposed(): boolean {
    return this.disposedFlag;
  }

  /**
   * Trains on `data` through gm's trainer: a tensor in the model's input convention, `{ x, labels }`, an image
   * dataset, or an iterable of batches. See `FitOptions` for schedules, clipping, validation, early stopping,
   * checkpoints and aborting.
   */
  async fit(data: TrainingData, options: TrainerOptions): Promise<FitResult> {
    this.live('fit');
    this.beforeFit(data, options);
    return fit(this, data, options, this.fitDefaults());
  }

  /** Checks a model wants before training (input shapes, kernels); the default checks nothing. */
  protected beforeFit(_data: TrainingData, _options: TrainerOptions): void {}

  /** Writes a checkpoint to `store` (atomically replacing what was there), with `options.files` alongside. */
  async save(store: CheckpointStore, options: SaveOptions = {}): Promise<void> {
    this.live('save');
    const c = this.checkpointContent();
    await writeCheckpoint(store, { kind: this.kind, config: c.config, extra: { ...c.extra, epochsTrained: this.epochsTrained } }, c.parts, options.files);
  }

  /** After a load (load functions call it): the epochs trained, and the optimizer state for the next `fit` (when the checkpoint has one). */
  async restoreTrainingState(reader: CheckpointReader<unknown>): Promise<void> {
    this.epochsTrained = epochsFromManifest(reader.manifest);
    const json = await reader.file(OPTIMIZER_JSON);
    const bin = await reader.file(OPTIMIZER_BIN);
    if (json !== undefined && bin !== undefined) {
      this.optimizerSlot.setPending(
        new Map([
          [OPTIMIZER_JSON, json],
          [OPTIMIZER_BIN, bin],
        ]),
      );
    }
  }

  /**
   * Load functions call this before building the model from loaded parts: every stored network must be what the
   * checkpoint's config builds afresh (an untrained twin), so the config a model reports and rebuilds from is the
   * network it runs. Throws a GmError naming the part's model.json and the first layer that differs.
   */
  static checkStoredParts(this: new (config: never) => ModelBase, label: string, config: unknown, parts: Record<string, tfl.LayersModel>): void {
    const twin = new this(config as never);
    try {
      const built = twin.checkpointContent().parts;
      for (const [name, stored] of Object.entries(parts)) {
        const fresh = built[name];
        if (fresh === undefined) throw new GmError('CORRUPT', `${label}/${name}`, `a part the checkpoint's config does not build (it builds ${Object.keys(built).join(', ')})`);
        checkTopology(`${label}/${name}/model.json`, stored, fresh);
      }
    } finally {
      twin.dispose();
    }
  }

  /** Frees the weights and the optimizer state. */
  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    this.optimizerSlot.dispose();
    this.disposeModel();
  }
}

/**
 * How every load builds a model from a checkpoint: loads the parts `names`, lets `build` check them against the
 * config and construct the model (it throws on any disagreement), then restores the training state. A refusal at
 * any step disposes what was already loaded or built, so a refused checkpoint leaves no tensors behind.
 */
export async function buildFromParts<M extends ModelBase, N extends string>(
  reader: CheckpointReader<unknown>,
  names: readonly N[],
  build: (parts: Record<N, tfl.LayersModel>) => M,
): Promise<M> {
  const parts = {} as Record<N, tfl.LayersModel>;
  let model: M | undefined;
  try {
    for (const name of names) parts[name] = await reader.part(name);
    model = build(parts);
    await model.restoreTrainingState(reader);
    return model;
  } catch (error) {
    if (model !== undefined) model.dispose();
    else Object.values<tfl.LayersModel>(parts).forEach((p) => p.dispose());
    throw error;
  }
}
