/**
 * Minibatch training over in-memory tensors, shared by every model of the autoencoder family: seeded shuffling,
 * batch slicing, an optimiser step per batch on a custom loss (penalties included — tfjs-layers ignores
 * `model.addLoss`), and validation — all driven by the shared {@link runFitLoop} (callbacks, early stopping, NaN
 * guard).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OptimizerFactory } from '../train/optimizer';
import { runFitLoop, type EarlyStopping, type FitCallbacks, type FitResult } from '../train/fit-loop';
import { deriveSeed, permutation } from '@gm/core';

/** Optimisers `fit` can use. */
export type OptimizerName = 'adam' | 'sgd' | 'rmsprop';

export const OPTIMIZERS: readonly OptimizerName[] = ['adam', 'sgd', 'rmsprop'];

/** Options of every `fit` in the autoencoder family. */
export interface TrainOptions extends FitCallbacks {
  /** Number of epochs (passes over the data). */
  epochs: number;
  /** Examples per optimiser step (default 32). */
  batchSize?: number;
  /**
   * Optimiser (default 'adam'), by name or as a factory of a learning rate (e.g. `gmAdam` from @gm/backend: Adam
   * fused into one wasm kernel per variable). A fresh one is made for each `fit` call and disposed at its end.
   */
  optimizer?: OptimizerName | OptimizerFactory;
  /** Learning rate (default 1e-3 for adam and rmsprop, 1e-2 for sgd). */
  learningRate?: number;
  /** Seed of the shuffling and of training noise (default: the model's seed, else 0). */
  seed?: number;
  /** Shuffle the examples every epoch (default true). */
  shuffle?: boolean;
  /** Stop when the validation loss stops improving (needs validation data). */
  earlyStopping?: EarlyStopping;
  /** First epoch number (default 1), e.g. when resuming. */
  initialEpoch?: number;
}

function positiveInt(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(`${where} must be a positive integer; got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Checks `options` and fills in the defaults. */
export function resolveTrainOptions(options: TrainOptions, where: string, defaultSeed: number | null) {
  if (typeof options !== 'object' || options === null) throw new Error(`${where}: options must be an object with "epochs"`);
  const { epochs } = options;
  if (typeof epochs !== 'number' || !Number.isInteger(epochs) || epochs < 0) {
    throw new Error(`${where}: options.epochs must be a non-negative integer; got ${JSON.stringify(epochs)}`);
  }
  const batchSize = positiveInt(options.batchSize ?? 32, `${where}: options.batchSize`);
  const optimizer = options.optimizer ?? 'adam';
  if (typeof optimizer !== 'function' && !OPTIMIZERS.includes(optimizer)) {
    throw new Error(`${where}: options.optimizer must be one of ${OPTIMIZERS.join(', ')}; got ${JSON.stringify(optimizer)}`);
  }
  const learningRate = options.learningRate ?? (optimizer === 'sgd' ? 1e-2 : 1e-3);
  if (typeof learningRate !== 'number' || !(learningRate > 0) || !Number.isFinite(learningRate)) {
    throw new Error(`${where}: options.learningRate must be a positive number; got ${JSON.stringify(learningRate)}`);
  }
  const seed = options.seed ?? defaultSeed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`${where}: options.seed must be an integer; got ${JSON.stringify(seed)}`);
  return { epochs, batchSize, optimizer, learningRate, seed, shuffle: options.shuffle ?? true };
}

function makeOptimizer(name: OptimizerName | OptimizerFactory, learningRate: number): tf.Optimizer {
  if (typeof name === 'function') return name(learningRate);
  switch (name) {
    case 'adam':
      return tf.train.adam(learningRate);
    case 'sgd':
      return tf.train.sgd(learningRate);
    case 'rmsprop':
      return tf.train.rmsprop(learningRate);
  }
}

/** Checks that `tensors` share their first dimension (> 0) and returns it. */
export function exampleCount(tensors: tf.Tensor[], names: string[], where: string): number {
  const n = tensors[0]?.shape[0];
  if (n === undefined || n === 0) throw new Error(`${where}: ${names[0]} must hold at least one example`);
  tensors.forEach((t, i) => {
    if (t.shape[0] !== n) {
      throw new Error(`${where}: ${names[i]} has ${t.shape[0]} examples, expected ${n} (as many as ${names[0]})`);
    }
  });
  return n;
}

/** Mean of `loss` over `data` evaluated in batches (example-weighted), without gradients. */
export function batchedMean(
  data: tf.Tensor[],
  batchSize: number,
  loss: (batch: tf.Tensor[]) => tf.Scalar,
): number {
  const n = data[0]?.shape[0] ?? 0;
  let total = 0;
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const value = tf.tidy(() => {
      const batch = data.map((t) => tf.slice(t, [start], [size]));
      return loss(batch);
    });
    total += (value.dataSync()[0] as number) * size;
    value.dispose();
  }
  return total / n;
}

export interface MinibatchTraining {
  where: string;
  /** Training tensors sharing their first (example) dimension, e.g. [x] or [x, labels]. */
  data: tf.Tensor[];
  /** Validation tensors of the same kinds, if any. */
  validation?: tf.Tensor[];
  /** The variables the optimiser updates. */
  variables: tf.Variable[];
  /** Loss of one training batch; `seed` seeds its random draws (noise). */
  loss(batch: tf.Tensor[], seed: number): tf.Scalar;
  /** Loss of one validation batch (deterministic). */
  validationLoss?(batch: tf.Tensor[]): tf.Scalar;
  options: TrainOptions;
  defaultSeed: number | null;
}

/** Runs minibatch training through {@link runFitLoop}; leaks no tensors (the optimiser is disposed at the end). */
export function trainMinibatches(job: MinibatchTraining): FitResult {
  const opts = resolveTrainOptions(job.options, job.where, job.defaultSeed);
  const n = job.data[0]?.shape[0] ?? 0;
  if (job.variables.length === 0) throw new Error(`${job.where}: nothing to train (no trainable variables)`);
  const batches = Math.ceil(n / opts.batchSize);
  const optimizer = makeOptimizer(opts.optimizer, opts.learningRate);
  const validation = job.validation;
  const validationLoss = job.validationLoss;
  try {
    return runFitLoop({
      epochs: opts.epochs,
      initialEpoch: job.options.initialEpoch,
      variables: job.variables,
      batchesPerEpoch: batches,
      earlyStopping: job.options.earlyStopping,
      onBatchEnd: job.options.onBatchEnd,
      onEpochEnd: job.options.onEpochEnd,
      *trainEpoch(epoch) {
        const order = opts.shuffle ? permutation(n, deriveSeed(opts.seed, epoch, 1)) : Uint32Array.from({ length: n }, (_, i) => i);
        for (let b = 0; b < batches; b++) {
          const idx = order.subarray(b * opts.batchSize, Math.min((b + 1) * opts.batchSize, n));
          const loss = tf.tidy(() => {
            const indices = tf.tensor1d(Int32Array.from(idx), 'int32');
            const batch = job.data.map((t) => tf.gather(t, indices));
            return optimizer.minimize(() => job.loss(batch, deriveSeed(opts.seed, epoch, 2, b)), true, job.variables) as tf.Scalar;
          });
          const value = loss.dataSync()[0] as number;
          loss.dispose();
          yield { loss: value, size: idx.length };
        }
      },
      validate:
        validation !== undefined && validationLoss !== undefined
          ? () => batchedMean(validation, Math.max(opts.batchSize, 256), validationLoss)
          : undefined,
    });
  } finally {
    optimizer.dispose();
  }
}
