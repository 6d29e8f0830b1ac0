/**
 * The epoch plumbing the VAE, IAF-VAE and MADE share: batches gathered from a row order, and runFitLoop with the
 * model's epoch counter kept up to date. (The autoencoder family has its own in autoencoders/minibatch.ts, Real NVP
 * in realnvp/shared.ts.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { runFitLoop, type EarlyStopping, type FitCallbacks, type FitLoopOptions, type FitResult } from './fit-loop';

/** 0, 1, …, n − 1: the row order without shuffling. */
export function identityOrder(n: number): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => i);
}

/**
 * Consecutive batches of `batchSize` rows of `data` in `order` (the last may be smaller). Each batch tensor is freed
 * when the consumer asks for the next one or stops early.
 */
export function* gatherBatches(
  data: tf.Tensor,
  order: Uint32Array,
  batchSize: number,
): Generator<{ index: number; rows: Uint32Array; xb: tf.Tensor }> {
  const batches = Math.ceil(order.length / batchSize);
  for (let index = 0; index < batches; index++) {
    const rows = order.subarray(index * batchSize, Math.min((index + 1) * batchSize, order.length));
    const xb = tf.tidy(() => tf.gather(data, tf.tensor1d(Int32Array.from(rows), 'int32')));
    try {
      yield { index, rows, xb };
    } finally {
      xb.dispose();
    }
  }
}

/** {@link runFitLoop} from the model's next epoch, advancing `model.epochsTrained` after each epoch. */
export function runModelFitLoop(
  model: { epochsTrained: number },
  options: FitCallbacks & { epochs: number; earlyStopping?: EarlyStopping | undefined },
  loop: Pick<FitLoopOptions, 'variables' | 'batchesPerEpoch' | 'trainEpoch' | 'validate'>,
): FitResult {
  return runFitLoop({
    ...loop,
    epochs: options.epochs,
    initialEpoch: model.epochsTrained + 1,
    earlyStopping: options.earlyStopping,
    onBatchEnd: options.onBatchEnd,
    onEpochEnd: (logs) => {
      model.epochsTrained = logs.epoch;
      return options.onEpochEnd?.(logs);
    },
  });
}
