/**
 * The training loop every gm model's `fit` runs: epochs of caller-supplied steps, per-batch and per-epoch progress
 * callbacks, optional validation with early stopping (restoring the best weights), and a NaN guard that stops with a
 * clear error and puts back the weights of the last finished epoch. Models supply the steps (custom losses:
 * tfjs-layers ignores `model.addLoss`); this loop owns the bookkeeping so each model does not rewrite it.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface BatchLogs {
  epoch: number;
  /** 0-based index of the batch within the epoch. */
  batch: number;
  batches: number;
  /** Mean loss over the batch. */
  loss: number;
  size: number;
}

export interface EpochLogs {
  epoch: number;
  /** Example-weighted mean training loss over the epoch. */
  loss: number;
  /** Validation loss, when the model was given validation data. */
  valLoss?: number;
  seconds: number;
  examplesPerSecond: number;
}

export interface FitCallbacks {
  onBatchEnd?(logs: BatchLogs): void;
  /** Return `'stop'` to end training after this epoch. */
  onEpochEnd?(logs: EpochLogs): void | 'stop';
}

export interface EarlyStopping {
  /** Epochs without a validation improvement of at least `minDelta` before stopping. */
  patience: number;
  minDelta?: number;
  /** Put back the weights of the best validation epoch at the end (default true). */
  restoreBest?: boolean;
}

export interface FitLoopOptions extends FitCallbacks {
  epochs: number;
  /** First epoch number (default 1; > 1 when resuming). */
  initialEpoch?: number;
  /** The trainable variables: snapshotted for the NaN guard and early stopping. */
  variables: tf.Variable[];
  /** Batches per epoch, for progress reporting. */
  batchesPerEpoch: number;
  /** Runs the epoch's optimisation steps, yielding each batch's mean loss and size. */
  trainEpoch(epoch: number): Iterable<{ loss: number; size: number }>;
  /** Validation loss after an epoch (lower is better). */
  validate?(epoch: number): number;
  earlyStopping?: EarlyStopping;
}

export interface FitResult {
  history: EpochLogs[];
  /** Why training ended. */
  stopReason: 'completed' | 'early-stopping' | 'callback';
  /** Epoch whose weights the model holds at the end. */
  bestEpoch?: number;
}

/** Thrown when a loss becomes NaN or infinite; the model holds the weights of the last finished epoch. */
export class TrainingDivergedError extends Error {
  constructor(
    readonly epoch: number,
    readonly batch: number,
    readonly loss: number,
    readonly restoredEpoch: number,
  ) {
    super(
      `training diverged: loss ${loss} at epoch ${epoch}, batch ${batch}; ` +
        (restoredEpoch > 0 ? `weights restored to the end of epoch ${restoredEpoch}` : 'weights restored to their initial values') +
        ' (try a lower learning rate or gradient clipping)',
    );
    this.name = 'TrainingDivergedError';
  }
}

function snapshot(variables: tf.Variable[]): tf.Tensor[] {
  return variables.map((v) => tf.clone(v));
}

function restore(variables: tf.Variable[], saved: tf.Tensor[]): void {
  variables.forEach((v, i) => v.assign(saved[i] as tf.Tensor));
}

export function runFitLoop(options: FitLoopOptions): FitResult {
  const { epochs, variables } = options;
  if (!Number.isInteger(epochs) || epochs < 0) throw new Error(`fit: "epochs" must be a non-negative integer, got ${epochs}`);
  const first = options.initialEpoch ?? 1;
  const history: EpochLogs[] = [];
  let lastGood = snapshot(variables);
  let lastGoodEpoch = first - 1;
  let best: { epoch: number; loss: number; weights: tf.Tensor[] } | undefined;
  let sinceBest = 0;
  let stopReason: FitResult['stopReason'] = 'completed';
  try {
    for (let epoch = first; epoch < first + epochs; epoch++) {
      const t0 = performance.now();
      let total = 0;
      let count = 0;
      let batch = 0;
      for (const { loss, size } of options.trainEpoch(epoch)) {
        if (!Number.isFinite(loss)) {
          restore(variables, lastGood);
          throw new TrainingDivergedError(epoch, batch, loss, lastGoodEpoch);
        }
        total += loss * size;
        count += size;
        options.onBatchEnd?.({ epoch, batch, batches: options.batchesPerEpoch, loss, size });
        batch++;
      }
      const seconds = (performance.now() - t0) / 1000;
      const logs: EpochLogs = { epoch, loss: count > 0 ? total / count : NaN, seconds, examplesPerSecond: count / seconds };
      if (options.validate !== undefined) logs.valLoss = options.validate(epoch);
      history.push(logs);
      tf.dispose(lastGood);
      lastGood = snapshot(variables);
      lastGoodEpoch = epoch;

      let stop = options.onEpochEnd?.(logs) === 'stop';
      if (stop) stopReason = 'callback';
      if (options.earlyStopping !== undefined && logs.valLoss !== undefined) {
        const minDelta = options.earlyStopping.minDelta ?? 0;
        if (best === undefined || logs.valLoss < best.loss - minDelta) {
          if (best !== undefined) tf.dispose(best.weights);
          best = { epoch, loss: logs.valLoss, weights: snapshot(variables) };
          sinceBest = 0;
        } else if (++sinceBest >= options.earlyStopping.patience) {
          stop = true;
          stopReason = 'early-stopping';
        }
      }
      if (stop) break;
    }
    let bestEpoch: number | undefined = history.at(-1)?.epoch;
    if (best !== undefined && (options.earlyStopping?.restoreBest ?? true)) {
      restore(variables, best.weights);
      bestEpoch = best.epoch;
    }
    return { history, stopReason, bestEpoch };
  } finally {
    tf.dispose(lastGood);
    if (best !== undefined) tf.dispose(best.weights);
  }
}
