/**
 * Pieces both Real NVP models share: argument checks, a seeded permutation, one optimisation step with optional
 * global-norm gradient clipping, and the epoch loop over `runFitLoop`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OptimizerFactory } from '../train/optimizer';
import * as tfl from '@tensorflow/tfjs-layers';
import { checkPositiveInt, checkPositiveNumber, deriveSeed, formatShape, GmError, permutation } from '@gm/core';
import { runFitLoop, type EarlyStopping, type FitCallbacks, type FitResult } from '../train/fit-loop';

/** Options of `fit` on both Real NVP models. */
export interface RealNvpFitOptions extends FitCallbacks {
  /** Epochs to train (continuing from the epochs already trained). */
  epochs: number;
  /** Examples per step (default 128 for vectors, 64 for images); the last batch of an epoch may be smaller. */
  batchSize?: number;
  /** Adam learning rate (default 1e-3). A new rate starts a new optimizer; the same rate keeps Adam's state. */
  learningRate?: number;
  /**
   * Builds the optimizer for a learning rate (default `tf.train.adam`). On wasm pass `gmAdam` from @gm/backend: the
   * same Adam, bit for bit, in one fused kernel per variable. A new factory or rate starts a new optimizer.
   */
  optimizer?: OptimizerFactory;
  /** Rescale the gradients so that their global L2 norm is at most this (default: no clipping). */
  clipNorm?: number;
  /** Validation examples; their mean loss is reported as `valLoss` after each epoch. */
  validationData?: tf.Tensor;
  /** Stop when the validation loss stops improving (needs `validationData`). */
  earlyStopping?: EarlyStopping;
  /** Seed of the batch order (and, for images, the dequantization noise). Default: the config's seed. */
  seed?: number;
  /** Shuffle the examples every epoch (default true). */
  shuffle?: boolean;
}

export const fmt = formatShape;

export function checkPosInt(where: string, name: string, v: unknown): asserts v is number {
  checkPositiveInt(`${where}: "${name}"`, v);
}

export function checkPositive(where: string, name: string, v: unknown): asserts v is number {
  checkPositiveNumber(`${where}: "${name}"`, v);
}

export function checkTensor(where: string, name: string, t: unknown): asserts t is tf.Tensor {
  if (!(t instanceof tf.Tensor)) throw new GmError('BAD_ARGUMENT', `${where}: "${name}"`, 'a tf.Tensor', t === null ? null : typeof t);
}

/** A functional LayersModel that applies `layers` in order to an input of `shape` (builds them; saves them). */
export function chainModel(shape: number[], layers: tfl.layers.Layer[], name: string): tfl.LayersModel {
  const input = tfl.input({ shape });
  let h: tfl.SymbolicTensor = input;
  for (const layer of layers) h = layer.apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: h, name });
}

/** The layers of a chain model, without its input layer. */
export function chainLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  return model.layers.filter((l) => l.getClassName() !== 'InputLayer');
}

/**
 * One optimisation step on `loss()` over `variables`; with `clipNorm` the gradients are rescaled so that their global
 * norm is at most `clipNorm`. Returns the loss value.
 */
export function optimizationStep(optimizer: tf.Optimizer, loss: () => tf.Scalar, variables: tf.Variable[], clipNorm?: number): number {
  if (clipNorm === undefined) {
    const cost = optimizer.minimize(loss, true, variables) as tf.Scalar;
    const value = cost.dataSync()[0] as number;
    cost.dispose();
    return value;
  }
  const { value, grads } = tf.variableGrads(loss, variables);
  const v = value.dataSync()[0] as number;
  tf.tidy(() => {
    const names = Object.keys(grads);
    const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n] as tf.Tensor)))));
    const factor = tf.div(clipNorm, tf.maximum(norm, clipNorm));
    const clipped: tf.NamedTensorMap = {};
    for (const n of names) clipped[n] = tf.mul(grads[n] as tf.Tensor, factor);
    optimizer.applyGradients(clipped);
  });
  value.dispose();
  tf.dispose(grads);
  return v;
}

/** What a model hands to {@link fitFlow}. */
export interface FlowFitSpec {
  where: string;
  data: tf.Tensor;
  options: RealNvpFitOptions;
  defaultBatchSize: number;
  configSeed: number;
  /** What the optimizer updates. */
  trainable: tf.Variable[];
  /** Everything snapshotted by the NaN guard and early stopping (trainable + running statistics). */
  state: tf.Variable[];
  optimizer: (lr: number) => tf.Optimizer;
  initialEpoch: number;
  /** Mean loss of a batch (a scalar the optimizer minimises); `stepSeed` seeds its noise. */
  batchLoss(xb: tf.Tensor, stepSeed: number): tf.Scalar;
  /** Mean loss over validation data (number). */
  validationLoss?(x: tf.Tensor, seed: number): number;
  onEpoch(epoch: number): void;
}

/** The shared training loop of the Real NVP models (Adam, seeded batches, NaN guard through `runFitLoop`). */
export function fitFlow(spec: FlowFitSpec): FitResult {
  const { where, data, options } = spec;
  if (options === null || typeof options !== 'object') throw new Error(`${where}: options must be an object with "epochs"`);
  const batchSize = options.batchSize ?? spec.defaultBatchSize;
  checkPosInt(where, 'batchSize', batchSize);
  const lr = options.learningRate ?? 1e-3;
  checkPositive(where, 'learningRate', lr);
  if (options.clipNorm !== undefined) checkPositive(where, 'clipNorm', options.clipNorm);
  const seed = options.seed ?? spec.configSeed;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new Error(`${where}: "seed" must be a finite number, got ${String(seed)}`);
  const validation = options.validationData;
  if (options.earlyStopping !== undefined && validation === undefined) throw new Error(`${where}: "earlyStopping" needs "validationData" to watch`);
  const optimizer = spec.optimizer(lr);
  const N = data.shape[0] as number;
  const batches = Math.ceil(N / batchSize);
  const shuffle = options.shuffle ?? true;
  const clipNorm = options.clipNorm;

  function* trainEpoch(epoch: number): Generator<{ loss: number; size: number }> {
    const order = shuffle ? permutation(N, deriveSeed(seed, epoch, 1)) : Uint32Array.from({ length: N }, (_, i) => i);
    for (let b = 0; b < batches; b++) {
      const rows = order.subarray(b * batchSize, Math.min((b + 1) * batchSize, N));
      const stepSeed = deriveSeed(seed, epoch, 2, b);
      const xb = tf.tidy(() => tf.gather(data, tf.tensor1d(Int32Array.from(rows), 'int32')));
      try {
        const loss = optimizationStep(optimizer, () => spec.batchLoss(xb, stepSeed), spec.trainable, clipNorm);
        yield { loss, size: rows.length };
      } finally {
        xb.dispose();
      }
    }
  }
  const validate =
    validation === undefined || spec.validationLoss === undefined
      ? undefined
      : (epoch: number): number => (spec.validationLoss as (x: tf.Tensor, s: number) => number)(validation, deriveSeed(seed, epoch, 3));
  return runFitLoop({
    epochs: options.epochs,
    initialEpoch: spec.initialEpoch,
    variables: spec.state,
    batchesPerEpoch: batches,
    trainEpoch,
    validate,
    earlyStopping: options.earlyStopping,
    onBatchEnd: options.onBatchEnd,
    onEpochEnd: (logs) => {
      spec.onEpoch(logs.epoch);
      return options.onEpochEnd?.(logs);
    },
  });
}

/** Mean of `perExample(xb)` (a `[b]` tensor) over `x` in batches of `batchSize`. */
export function batchedMean(x: tf.Tensor, batchSize: number, perExample: (xb: tf.Tensor, batch: number) => tf.Tensor): number {
  const N = x.shape[0] as number;
  let total = 0;
  for (let start = 0, b = 0; start < N; start += batchSize, b++) {
    const size = Math.min(batchSize, N - start);
    const sum = tf.tidy(() => tf.sum(perExample(size === N ? x : tf.slice(x, start, size), b)));
    total += sum.dataSync()[0] as number;
    sum.dispose();
  }
  return total / N;
}
