/**
 * Learning-rate schedules: functions of the optimisation step (0-based, counted over all epochs so a resumed run
 * continues the schedule where it stopped) and the epoch, to pass as `learningRate` to any `fit`.
 */
import { checkNonNegativeInt, checkNonNegativeNumber, checkPositiveInt, checkPositiveNumber, type LearningRateSchedule } from '@gm/core';

/** The same rate at every step. */
export function constantRate(learningRate: number): LearningRateSchedule {
  checkPositiveNumber('constantRate: learningRate', learningRate);
  return () => learningRate;
}

/**
 * A linear warm-up from `learningRate / warmupSteps` to `learningRate` over the first `warmupSteps` steps, then
 * `after` (default: constant `learningRate`), which sees steps counted from the end of the warm-up.
 *
 * @example
 * ```ts
 * linearWarmup(1e-3, 500, cosineDecay(1e-3, { decaySteps: 10_000 }))
 * ```
 */
export function linearWarmup(learningRate: number, warmupSteps: number, after?: LearningRateSchedule): LearningRateSchedule {
  checkPositiveNumber('linearWarmup: learningRate', learningRate);
  checkNonNegativeInt('linearWarmup: warmupSteps', warmupSteps);
  return (step, epoch) => (step < warmupSteps ? (learningRate * (step + 1)) / warmupSteps : after === undefined ? learningRate : after(step - warmupSteps, epoch));
}

/** `learningRate · decayRate^(step / decaySteps)` (with `staircase`, the exponent is floored). */
export function exponentialDecay(learningRate: number, options: { decaySteps: number; decayRate: number; staircase?: boolean }): LearningRateSchedule {
  checkPositiveNumber('exponentialDecay: learningRate', learningRate);
  checkPositiveInt('exponentialDecay: decaySteps', options.decaySteps);
  checkPositiveNumber('exponentialDecay: decayRate', options.decayRate);
  return (step) => {
    const p = step / options.decaySteps;
    return learningRate * options.decayRate ** (options.staircase === true ? Math.floor(p) : p);
  };
}

/** Cosine decay from `learningRate` to `alpha · learningRate` over `decaySteps`, then constant (SGDR without restarts). */
export function cosineDecay(learningRate: number, options: { decaySteps: number; alpha?: number }): LearningRateSchedule {
  checkPositiveNumber('cosineDecay: learningRate', learningRate);
  checkPositiveInt('cosineDecay: decaySteps', options.decaySteps);
  const alpha = options.alpha ?? 0;
  checkNonNegativeNumber('cosineDecay: alpha', alpha);
  return (step) => {
    const t = Math.min(step, options.decaySteps) / options.decaySteps;
    return learningRate * (alpha + (1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * t)));
  };
}
