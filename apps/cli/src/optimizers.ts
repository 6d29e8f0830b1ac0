/**
 * `gm train --optimizer/--momentum/--lr`: the optimizer a run trains with, and its learning rate when `--lr` is not
 * given. Adam is gm's fused Adam (@gm/backend); the others are @gm/models' named optimizers, whose default rates
 * (`DEFAULT_LEARNING_RATES`) they share with the library.
 */
import * as tf from '@tensorflow/tfjs-core';
import { gmAdam } from '@gm/backend';
import { DEFAULT_LEARNING_RATES, type OptimizerFactory, type OptimizerName } from '@gm/models';
import { CliError } from './errors';
import type { OptimizerChoice } from './options';


/** Adam's rate when `--lr` is absent (the others: @gm/models' `DEFAULT_LEARNING_RATES`). */
export const ADAM_LEARNING_RATE = 1e-3;

/** What a run trains with, as recorded in the checkpoint's sidecar (so `--resume` continues with the same). */
export interface OptimizerRecord {
  optimizer: OptimizerChoice;
  /** `momentum` / `nesterov` with a momentum other than the library's 0.9. */
  momentum?: number;
}

/** The learning rate of `--lr`, or the optimizer's default. */
export function learningRateOf(optimizer: OptimizerChoice, lr: number | undefined): number {
  return lr ?? (optimizer === 'adam' ? ADAM_LEARNING_RATE : (DEFAULT_LEARNING_RATES[optimizer] as number));
}

/** The optimizer for the trainer: a factory (gm's Adam, or momentum SGD with `--momentum`) or a library name. */
export function optimizerOf(record: OptimizerRecord): OptimizerName | OptimizerFactory {
  if (record.momentum !== undefined) {
    if (record.optimizer !== 'momentum' && record.optimizer !== 'nesterov') {
      throw new CliError(`--momentum: the momentum of --optimizer momentum or nesterov; this run uses ${record.optimizer}`);
    }
    if (!(record.momentum > 0 && record.momentum < 1)) throw new CliError(`--momentum: expected a number in (0, 1), got ${record.momentum}`);
    const { momentum } = record;
    const nesterov = record.optimizer === 'nesterov';
    return (lr) => tf.train.momentum(lr, momentum, nesterov);
  }
  return record.optimizer === 'adam' ? gmAdam : record.optimizer;
}

/**
 * The optimizer of a run: the flags', or on `--resume` the checkpoint's (a different one is refused, since its
 * state in the checkpoint belongs to the optimizer that wrote it).
 */
export function chooseOptimizer(flags: { optimizer?: OptimizerChoice; momentum?: number }, recorded: OptimizerRecord | undefined): OptimizerRecord {
  const chosen: OptimizerRecord = {
    optimizer: flags.optimizer ?? recorded?.optimizer ?? 'adam',
    ...((flags.momentum ?? recorded?.momentum) === undefined ? {} : { momentum: (flags.momentum ?? recorded?.momentum) as number }),
  };
  if (recorded !== undefined && (chosen.optimizer !== recorded.optimizer || chosen.momentum !== recorded.momentum)) {
    const was = `${recorded.optimizer}${recorded.momentum === undefined ? '' : ` (momentum ${recorded.momentum})`}`;
    throw new CliError(`--optimizer: the checkpoint was trained with ${was} and holds its state; resume with the same (drop --optimizer/--momentum), or start a new run`);
  }
  return chosen;
}
