/**
 * The training contract: what a model must offer to be trained by @gm/models' trainer (its variables and a loss on
 * a batch), and the options and results of training. Every built-in model trains through the same trainer, and a
 * user's model does too by implementing {@link Trainable}.
 */
import type { Optimizer, Scalar, Tensor, Variable } from '@tensorflow/tfjs-core';
import type { ImageDataset } from './dataset.js';

/** One batch handed to a loss. The trainer owns (and frees) its tensors. */
export interface TrainingBatch {
  /** Inputs `[b, ...inputShape]` in the model's input convention. */
  x: Tensor;
  /** Class labels `[b]` (int32), when the data has them. */
  labels?: Tensor;
}

/** Where a step is, and the seed its random draws (posterior noise, dropout, dequantization) should use. */
export interface StepContext {
  /** 1-based epoch. */
  epoch: number;
  /** 0-based batch within the epoch. */
  batch: number;
  /** Batches in this epoch. */
  batches: number;
  /** This step's seed, derived from the run's seed, the epoch and the batch. */
  seed: number;
}

/** A loss whose optimised value differs from the one to report (e.g. a KL warm-up's β-weighted ELBO vs −ELBO). */
export interface LossTerms {
  /** What the optimizer minimises (differentiable). */
  objective: Scalar;
  /** What the logs report. */
  reported: Scalar;
}

/** What the trainer needs from a model. */
export interface Trainable {
  /** The variables the optimizer updates, in a fixed order (optimizer state is saved in this order). */
  trainableVariables(): Variable[];
  /** State that is not trained but must be restored with the weights (batch-norm running statistics). */
  stateVariables?(): Variable[];
  /** Mean loss over the batch (called inside the optimizer's gradient scope). */
  loss(batch: TrainingBatch, context: StepContext): Scalar | LossTerms;
  /** Mean validation loss over a batch (default: the loss's reported value). Called without gradients. */
  validationLoss?(batch: TrainingBatch, context: { epoch: number; seed: number }): Scalar;
}

/**
 * Data the trainer accepts: a tensor of inputs, inputs with labels (`{ x, labels }`), a dataset of images (converted
 * by the model's input convention), or batches from an iterable — e.g. @gm/data's `batchIterator`, whose tensors stay
 * the iterable's. An iterable is read once; for several epochs pass a function of the epoch that returns a fresh one.
 */
export type TrainingData =
  | Tensor
  | TrainingBatch
  | ImageDataset
  | Iterable<TrainingBatch>
  | AsyncIterable<TrainingBatch>
  | ((epoch: number) => Iterable<TrainingBatch> | AsyncIterable<TrainingBatch>);

/** A learning rate per optimisation step (0-based) and epoch (1-based). */
export type LearningRateSchedule = (step: number, epoch: number) => number;

/** Builds an optimizer for a learning rate (e.g. `gmAdam` of @gm/backend, or `lr => tf.train.sgd(lr)`). */
export type OptimizerFactory = (learningRate: number) => Optimizer;

/**
 * Optimizers by name: `sgd` plain, `momentum` and `nesterov` SGD with momentum 0.9 (Nesterov's look-ahead form for
 * the latter), and `adam`, `rmsprop`, `adadelta` with the usual constants (Keras's).
 */
export type OptimizerName = 'adam' | 'sgd' | 'momentum' | 'nesterov' | 'rmsprop' | 'adadelta';

export interface EarlyStopping {
  /** Epochs without a validation improvement of at least `minDelta` before stopping. */
  patience: number;
  minDelta?: number;
  /** Put back the weights of the best validation epoch at the end (default true). */
  restoreBest?: boolean;
}

export interface BatchLogs {
  epoch: number;
  /** 0-based batch within the epoch. */
  batch: number;
  /** Batches per epoch (NaN when the data is an iterable of unknown length). */
  batches: number;
  /** Mean (reported) loss over the batch. */
  loss: number;
  size: number;
  learningRate: number;
}

export interface EpochLogs {
  epoch: number;
  /** Example-weighted mean training loss over the epoch. */
  loss: number;
  /** Validation loss, when validation data was given. */
  valLoss?: number;
  seconds: number;
  examplesPerSecond: number;
}

export interface FitCallbacks {
  onBatchEnd?(logs: BatchLogs): void | Promise<void>;
  /** Return `'stop'` to end training after this epoch. */
  onEpochEnd?(logs: EpochLogs): void | 'stop' | Promise<void | 'stop'>;
}

/** Where and how often the trainer writes checkpoints (weights and optimizer state, atomically). */
export interface CheckpointPolicy {
  /** Where the checkpoint goes (replaced each time). */
  store: CheckpointStore;
  /** Every this many epochs (default 1); the last epoch is always written. */
  everyEpochs?: number;
  /**
   * Files that ride along in each checkpoint's atomic write, made afresh for the epoch being saved (a CLI's history,
   * notes): path → bytes. The model's own files and the optimizer's take precedence over none of these paths — a
   * clash is an error.
   */
  files?: (epoch: number) => ReadonlyMap<string, Uint8Array>;
}

export interface FitOptions extends FitCallbacks {
  /** Epochs to train, continuing from the epochs already trained. */
  epochs: number;
  /** Examples per step (default: the model's). The last batch of an epoch may be smaller. */
  batchSize?: number;
  /** A rate or a schedule (default 1e-3). */
  learningRate?: number | LearningRateSchedule;
  /** Optimizer by name or factory (default Adam). The model keeps it across `fit` calls (its moments too). */
  optimizer?: OptimizerName | OptimizerFactory;
  /** Rescale gradients so that their global L2 norm is at most this. */
  clipNorm?: number;
  /**
   * L2 weight regularisation: `l2 · Σ‖W‖²` over the weights of rank ≥ 2 (kernels, filters; not biases) is added to
   * the objective the optimizer minimises (Keras's `kernel_regularizer=l2(l2)` on every layer). The reported loss
   * stays the model's own. Default 0.
   */
  l2?: number;
  /** Seed of the batch order and every step's noise (default: the model's seed). */
  seed?: number;
  /** Shuffle the examples every epoch (default true; iterables are taken as they come). */
  shuffle?: boolean;
  /** Data whose mean loss is reported as `valLoss` after each epoch. */
  validationData?: Tensor | TrainingBatch | ImageDataset;
  /** Stop when the validation loss stops improving (needs `validationData`). */
  earlyStopping?: EarlyStopping;
  /** Write a checkpoint (weights + optimizer state) during training. */
  checkpoint?: CheckpointPolicy;
  /** Stop after the current batch; the model keeps the weights of the last finished epoch. */
  signal?: AbortSignal;
}

export interface FitResult {
  history: EpochLogs[];
  /** Why training ended. */
  stopReason: 'completed' | 'early-stopping' | 'callback' | 'aborted';
  /** Epoch whose weights the model holds at the end (0: the weights it started with). */
  bestEpoch: number;
}

/** Options of every model's `save`. */
export interface SaveOptions {
  /** More files written in the same atomic write (the trainer's optimizer state, an app's own records). */
  files?: ReadonlyMap<string, Uint8Array>;
}

/**
 * Where a checkpoint lives: a folder (Node, `fileStore` of `@gm/models/node`), a URL (read-only), IndexedDB, a
 * picked folder, memory, or downloads. A checkpoint is a small set of files addressed by relative path.
 */
export interface CheckpointStore {
  /** How messages name it (a path, URL or database key). */
  readonly label: string;
  /** One file's bytes; rejects with a GmError (code `NOT_FOUND`) naming the file when it is absent. */
  read(path: string): Promise<Uint8Array>;
  /** Replaces the whole checkpoint with `files`, atomically where the medium allows; absent for read-only stores. */
  write?(files: ReadonlyMap<string, Uint8Array>): Promise<void>;
}
