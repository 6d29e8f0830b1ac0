/**
 * The one training loop of gm. Every built-in model's `fit` runs it, and a user's model does too by implementing
 * `Trainable` (its variables and a loss on a batch): `await fit(myModel, data, { epochs: 10 })`.
 *
 * Per epoch it draws the batches (seeded order), takes one optimizer step per batch (learning-rate schedule,
 * optional global-norm clipping), reports progress and gives the event loop a turn after every batch (a page stays
 * responsive, a CLI can be interrupted). After each epoch it checks the loss, the validation loss and the weights for
 * NaN/∞ (restoring the last good epoch and throwing `TrainingDivergedError`), validates, stops early when asked,
 * and writes a checkpoint — weights and optimizer state in one atomic write, never non-finite weights — so that
 * training resumed from it equals training without interruption. An `AbortSignal` stops after the current batch
 * with the model back at its last finished epoch.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  checkNonNegativeInt,
  checkObject,
  checkPositiveInt,
  checkPositiveNumber,
  deriveSeed,
  GmError,
  yieldToEventLoop,
  type CheckpointStore,
  type SaveOptions,
  type EpochLogs,
  type FitOptions,
  type FitResult,
  type InputConvention,
  type LearningRateSchedule,
  type LossTerms,
  type StepContext,
  type Trainable,
  type TrainingBatch,
  type TrainingData,
} from '@gm/core';
import { batchSource, wholeData } from './data-source';
import { DEFAULT_LEARNING_RATES, OptimizerSlot, optimizerFactory, optimizerStateFiles, restoreOptimizerState, setLearningRate, type OptimizerStateFiles } from './optimizer';

/** What the trainer uses besides `Trainable`, where the model has it. */
export interface TrainerHost extends Trainable {
  /** Epochs trained so far; the trainer continues from here and advances it. */
  epochsTrained?: number;
  readonly inputShape?: readonly number[];
  readonly inputConvention?: InputConvention;
  /** Needed for `checkpoint`. */
  save?(store: CheckpointStore, options?: SaveOptions): Promise<void>;
  /** The model's optimizer across `fit` calls (built-in models have one; others get one kept for them). */
  readonly optimizerSlot?: OptimizerSlot;
}

/** Defaults a model gives its `fit`. */
export interface TrainerDefaults {
  /** Name in errors, e.g. `VAE.fit`. */
  where: string;
  batchSize: number;
  seed: number;
  learningRate: number;
  /** The model's gradient-norm clip when the caller sets none (default: no clipping). */
  clipNorm?: number;
}

/**
 * A replacement for the gradient step (e.g. a data-parallel step on several threads): it trains on the batch and
 * returns its mean loss. The trainer then does not touch an optimizer; its state reaches checkpoints only through
 * a {@link CustomStepOptimizer}.
 */
export type CustomStep = (batch: TrainingBatch, context: StepContext) => number | Promise<number>;

/**
 * The optimizer a custom step keeps (e.g. a data-parallel trainer's Adam, spread over its threads), as checkpoint
 * files (`optimizer.json` + `optimizer.bin`, the format of {@link optimizerStateFiles}): checkpoints, roll-backs and
 * resumes then keep its state as they keep the built-in step's.
 */
export interface CustomStepOptimizer {
  /** The global gradient norm the step clips the batch's gradient to, when it clips as fit's `clipNorm` does. */
  readonly clipNorm?: number;
  stateFiles(variables: readonly tf.Variable[]): OptimizerStateFiles | Promise<OptimizerStateFiles>;
  restore(files: OptimizerStateFiles, variables: readonly tf.Variable[], label: string): void | Promise<void>;
}

export interface TrainerOptions extends FitOptions {
  customStep?: CustomStep;
  /** The custom step's optimizer state, kept in checkpoints and snapshots (needs `customStep`). */
  customOptimizer?: CustomStepOptimizer;
  /** Skip an epoch's last batch when it is smaller than `batchSize` (steps that need full batches). */
  dropRemainder?: boolean;
}

/** Thrown when a loss or a weight becomes NaN or infinite; the model holds the weights of the last finished epoch. */
export class TrainingDivergedError extends GmError {
  override name = 'TrainingDivergedError';
  constructor(
    readonly epoch: number,
    readonly batch: number | null,
    readonly loss: number,
    readonly restoredEpoch: number,
    what = 'loss',
  ) {
    super(
      'DIVERGED',
      'training diverged',
      `${what} ${loss} at epoch ${epoch}${batch === null ? '' : `, batch ${batch}`}; ` +
        (restoredEpoch > 0 ? `weights restored to the end of epoch ${restoredEpoch}` : 'weights restored to their values before training') +
        ' (try a lower learning rate or gradient clipping)',
    );
  }
}

const slots = new WeakMap<object, OptimizerSlot>();

/** The optimizer slot of a model: its own, or one the trainer keeps for it. */
export function optimizerSlotOf(model: TrainerHost): OptimizerSlot {
  if (model.optimizerSlot !== undefined) return model.optimizerSlot;
  let slot = slots.get(model);
  if (slot === undefined) {
    slot = new OptimizerSlot();
    slots.set(model, slot);
  }
  return slot;
}

/**
 * Σ‖W‖² over the weights of rank ≥ 2 (dense kernels, convolution filters; not biases or per-unit scales): the L2
 * regulariser of `FitOptions.l2`, Keras's `kernel_regularizer=l2(λ)` summed over the layers.
 */
export function l2Penalty(variables: readonly tf.Variable[]): tf.Scalar {
  return tf.tidy(() => {
    const kernels = variables.filter((v) => v.rank >= 2);
    return kernels.length === 0 ? tf.scalar(0) : (tf.addN(kernels.map((v) => tf.sum(tf.square(v)))) as tf.Scalar);
  });
}

function asSchedule(lr: number | LearningRateSchedule, where: string): LearningRateSchedule {
  if (typeof lr === 'function') return lr;
  checkPositiveNumber(`${where}: learningRate`, lr);
  return () => lr;
}

function lossTerms(out: tf.Scalar | LossTerms): LossTerms {
  return out instanceof tf.Tensor ? { objective: out, reported: out } : out;
}

/** Inputs must be `[batch ≥ 1, ...inputShape]` when the model says its shape. */
function checkInputShape(model: TrainerHost, x: tf.Tensor, where: string): void {
  const want = model.inputShape;
  if (want === undefined) return;
  if (x.rank !== want.length + 1 || want.some((d, i) => x.shape[i + 1] !== d) || x.shape[0] === 0) {
    throw new GmError('BAD_SHAPE', where, `has shape [${x.shape.join(', ')}], expected [batch, ${want.join(', ')}] with batch ≥ 1`);
  }
}

/** A snapshot of weights (+ state) and optimizer state: the last good epoch, or the best one. */
interface Snapshot {
  epoch: number;
  weights: tf.Tensor[];
  optimizer: OptimizerStateFiles | undefined;
}

/** The optimizer state fit keeps in snapshots and checkpoints: the built-in step's optimizer, or a custom step's. */
interface OptimizerKeeper {
  files(): Promise<OptimizerStateFiles | undefined>;
  restore(files: OptimizerStateFiles, label: string): Promise<void>;
}

async function takeSnapshot(epoch: number, variables: tf.Variable[], keeper: OptimizerKeeper): Promise<Snapshot> {
  return { epoch, weights: variables.map((v) => tf.clone(v)), optimizer: await keeper.files() };
}

async function restoreSnapshot(s: Snapshot, variables: tf.Variable[], keeper: OptimizerKeeper): Promise<void> {
  variables.forEach((v, i) => v.assign(s.weights[i] as tf.Tensor));
  if (s.optimizer !== undefined) await keeper.restore(s.optimizer, 'snapshot');
}

function allFinite(variables: tf.Variable[]): boolean {
  if (variables.length === 0) return true;
  const ok = tf.tidy(() => tf.all(tf.stack(variables.map((v) => tf.all(tf.isFinite(v))))));
  const value = ok.dataSync()[0] === 1;
  ok.dispose();
  return value;
}

/** Mean validation loss over `data` (batches of `batchSize`, no gradients). */
function validationLoss(model: TrainerHost, whole: TrainingBatch, batchSize: number, epoch: number, seed: number): number {
  const n = whole.x.shape[0] as number;
  let total = 0;
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const value = tf.tidy(() => {
      const batch: TrainingBatch = {
        x: size === n ? whole.x : tf.slice(whole.x, start, size),
        ...(whole.labels === undefined ? {} : { labels: size === n ? whole.labels : tf.slice(whole.labels, start, size) }),
      };
      const ctx = { epoch, seed };
      return model.validationLoss !== undefined ? model.validationLoss(batch, ctx) : lossTerms(model.loss(batch, { ...ctx, batch: 0, batches: 1 })).reported;
    });
    total += (value.dataSync()[0] as number) * size;
    value.dispose();
  }
  return total / n;
}

/**
 * Trains `model` on `data`. See the module comment; options and results are `FitOptions` / `FitResult` of
 * @gm/core.
 *
 * @example
 * ```ts
 * const result = await fit(model, x, { epochs: 20, batchSize: 128, learningRate: cosineDecay(1e-3, { decaySteps: 5000 }) });
 * ```
 */
export async function fit(model: TrainerHost, data: TrainingData, options: TrainerOptions, defaults: Partial<TrainerDefaults> = {}): Promise<FitResult> {
  const where = defaults.where ?? 'fit';
  checkObject(`${where}: options`, options);
  const epochs = options.epochs;
  checkNonNegativeInt(`${where}: epochs`, epochs);
  const batchSize = options.batchSize ?? defaults.batchSize ?? 100;
  checkPositiveInt(`${where}: batchSize`, batchSize);
  const namedRate = typeof options.optimizer === 'string' ? DEFAULT_LEARNING_RATES[options.optimizer] : undefined;
  const schedule = asSchedule(options.learningRate ?? namedRate ?? defaults.learningRate ?? 1e-3, where);
  const clipNorm = options.clipNorm ?? defaults.clipNorm;
  if (options.clipNorm !== undefined) checkPositiveNumber(`${where}: clipNorm`, options.clipNorm);
  const l2 = options.l2 ?? 0;
  if (options.l2 !== undefined && !(typeof l2 === 'number' && Number.isFinite(l2) && l2 >= 0)) throw new GmError('BAD_ARGUMENT', `${where}: l2`, 'a finite number ≥ 0', options.l2);
  const seed = options.seed ?? defaults.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new GmError('BAD_ARGUMENT', `${where}: seed`, 'a finite number', seed);
  if (options.earlyStopping !== undefined && options.validationData === undefined) {
    throw new GmError('BAD_ARGUMENT', `${where}: earlyStopping`, 'needs validationData to watch');
  }
  const checkpoint = options.checkpoint;
  if (checkpoint !== undefined) {
    if (model.save === undefined) throw new GmError('UNSUPPORTED', `${where}: checkpoint`, 'a model with save(store)');
    if (checkpoint.store?.write === undefined) throw new GmError('BAD_ARGUMENT', `${where}: checkpoint.store`, 'a writable store (memoryStore, fileStore, indexedDbStore)');
    if (checkpoint.everyEpochs !== undefined) checkPositiveInt(`${where}: checkpoint.everyEpochs`, checkpoint.everyEpochs);
  }
  const customStep = options.customStep;
  if (customStep !== undefined && l2 > 0) throw new GmError('UNSUPPORTED', `${where}: l2`, 'the built-in gradient step (a customStep computes its own loss)', l2);
  if (customStep !== undefined && clipNorm !== undefined && options.customOptimizer?.clipNorm !== clipNorm) {
    throw new GmError(
      'UNSUPPORTED',
      `${where}: clipNorm${options.clipNorm === undefined ? " (this model's default)" : ''}`,
      'the built-in gradient step (a customStep does not clip unless its customOptimizer clips at this norm)',
      clipNorm,
    );
  }
  if (options.customOptimizer?.clipNorm !== undefined && options.customOptimizer.clipNorm !== clipNorm) {
    throw new GmError('BAD_ARGUMENT', `${where}: customOptimizer.clipNorm`, `fit's clipNorm (${clipNorm ?? 'none'}): the step must clip as fit would`, options.customOptimizer.clipNorm);
  }
  const factory = customStep === undefined ? optimizerFactory(options.optimizer, where) : undefined;
  const customOptimizer = options.customOptimizer;
  if (customOptimizer !== undefined && customStep === undefined) throw new GmError('BAD_ARGUMENT', `${where}: customOptimizer`, 'a customStep whose optimizer it is');

  const validation = options.validationData === undefined ? undefined : wholeData(options.validationData, model, `${where}: validationData`);
  if (options.validationData !== undefined && validation === undefined) {
    throw new GmError('BAD_ARGUMENT', `${where}: validationData`, 'a tf.Tensor, { x, labels } or an ImageDataset', options.validationData);
  }
  if (validation !== undefined) checkInputShape(model, validation.batch.x, `${where}: validationData`);
  if (data instanceof tf.Tensor) checkInputShape(model, data, `${where}: data`);
  const source = batchSource(data, model, { batchSize, shuffle: options.shuffle ?? true, seed, where, dropRemainder: options.dropRemainder ?? false });
  const first = (model.epochsTrained ?? 0) + 1;
  const history: EpochLogs[] = [];
  let stopReason: FitResult['stopReason'] = 'completed';
  let lastGood: Snapshot | undefined;
  let best: (Snapshot & { loss: number }) | undefined;
  let sinceBest = 0;
  let lastSaved = first - 1;
  let optimizer: tf.Optimizer | undefined;
  let trainable: tf.Variable[] = [];
  let everything: tf.Variable[] = [];
  const keeper: OptimizerKeeper = {
    files: async () => (optimizer !== undefined ? optimizerStateFiles(optimizer, trainable) : customOptimizer?.stateFiles(trainable)),
    restore: async (files, label) => {
      if (optimizer !== undefined) await restoreOptimizerState(optimizer, trainable, files, label);
      else await customOptimizer?.restore(files, trainable, label);
    },
  };
  const setup = async (probe: TrainingBatch, ctx: StepContext): Promise<void> => {
    trainable = model.trainableVariables();
    if (trainable.length === 0) {
      // Layers that build their weights on first use: one forward pass, then the variables exist.
      tf.tidy(() => void lossTerms(model.loss(probe, ctx)));
      trainable = model.trainableVariables();
    }
    if (trainable.length === 0 && customStep === undefined) throw new GmError('BAD_ARGUMENT', where, 'a model with trainable variables (trainableVariables() returned none)');
    everything = [...trainable, ...(model.stateVariables?.() ?? [])];
    if (factory !== undefined) optimizer = optimizerSlotOf(model).get(factory, schedule(0, first), trainable);
    // A resumed checkpoint's optimizer state, for whichever optimizer trains.
    const pending = factory !== undefined || customOptimizer !== undefined ? optimizerSlotOf(model).takePending() : undefined;
    if (pending !== undefined) await keeper.restore(pending, 'checkpoint');
    lastGood = await takeSnapshot(first - 1, everything, keeper);
  };
  const writeCheckpoint = async (): Promise<void> => {
    if (checkpoint === undefined || model.save === undefined) return;
    const files = new Map((await keeper.files()) ?? []);
    for (const [path, bytes] of checkpoint.files?.(model.epochsTrained ?? 0) ?? []) {
      if (files.has(path)) throw new GmError('BAD_ARGUMENT', `${where}: checkpoint.files`, `paths other than the optimizer's (${path})`);
      files.set(path, bytes);
    }
    await model.save(checkpoint.store, files.size === 0 ? {} : { files });
    lastSaved = model.epochsTrained ?? lastSaved;
  };
  const rollBack = async (): Promise<number> => {
    const s = lastGood as Snapshot;
    await restoreSnapshot(s, everything, keeper);
    if (model.epochsTrained !== undefined) model.epochsTrained = s.epoch;
    return s.epoch;
  };

  let step = 0;
  try {
    for (let epoch = first; epoch < first + epochs; epoch++) {
      const t0 = performance.now();
      let total = 0;
      let count = 0;
      let b = 0;
      let aborted = false;
      for await (const batch of source.epoch(epoch)) {
        const ctx: StepContext = { epoch, batch: b, batches: source.batches, seed: deriveSeed(seed, epoch, 2, b) };
        let loss: number;
        let objective: number;
        try {
          if (lastGood === undefined) await setup(batch, ctx);
          const globalStep = Number.isFinite(source.batches) ? (epoch - 1) * source.batches + b : step;
          const learningRate = schedule(globalStep, epoch);
          if (customStep !== undefined) {
            loss = objective = await customStep(batch, ctx);
          } else {
            const opt = optimizer as tf.Optimizer;
            setLearningRate(opt, learningRate);
            let reported: tf.Scalar | undefined;
            const { value, grads } = tf.variableGrads(() => {
              const terms = lossTerms(model.loss(batch, ctx));
              if (l2 > 0) {
                // The penalty is part of what is minimised, not of the loss reported (Keras reports both; gm the model's).
                reported = tf.keep(terms.reported);
                return tf.add(terms.objective, tf.mul(l2, l2Penalty(trainable))) as tf.Scalar;
              }
              if (terms.reported !== terms.objective) reported = tf.keep(terms.reported);
              return terms.objective;
            }, trainable);
            objective = value.dataSync()[0] as number;
            loss = reported === undefined ? objective : (reported.dataSync()[0] as number);
            tf.tidy(() => {
              let applied: tf.NamedTensorMap = grads;
              if (clipNorm !== undefined) {
                const names = Object.keys(grads);
                const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n] as tf.Tensor)))));
                const factor = tf.div(clipNorm, tf.maximum(norm, clipNorm));
                applied = Object.fromEntries(names.map((n) => [n, tf.mul(grads[n] as tf.Tensor, factor)]));
              }
              opt.applyGradients(applied);
            });
            tf.dispose([value, ...Object.values(grads), ...(reported === undefined ? [] : [reported])]);
          }
          if (!Number.isFinite(loss) || !Number.isFinite(objective)) throw new TrainingDivergedError(epoch, b, Number.isFinite(loss) ? objective : loss, await rollBack());
          total += loss * batch.size;
          count += batch.size;
          await options.onBatchEnd?.({ epoch, batch: b, batches: source.batches, loss, size: batch.size, learningRate });
        } finally {
          if (batch.owned) tf.dispose([batch.x, ...(batch.labels === undefined ? [] : [batch.labels])]);
        }
        b++;
        step++;
        await yieldToEventLoop();
        if (options.signal?.aborted === true) {
          aborted = true;
          break;
        }
      }
      if (aborted) {
        stopReason = 'aborted';
        const restored = await rollBack();
        if (checkpoint !== undefined && restored > lastSaved) await writeCheckpoint();
        break;
      }
      if (!allFinite(everything)) throw new TrainingDivergedError(epoch, null, Number.NaN, await rollBack(), 'a weight');
      const seconds = (performance.now() - t0) / 1000;
      const logs: EpochLogs = { epoch, loss: count > 0 ? total / count : Number.NaN, seconds, examplesPerSecond: count / seconds };
      if (validation !== undefined) {
        logs.valLoss = validationLoss(model, validation.batch, Math.max(batchSize, 100), epoch, deriveSeed(seed, 0, 3));
        if (!Number.isFinite(logs.valLoss)) throw new TrainingDivergedError(epoch, null, logs.valLoss, await rollBack(), 'validation loss');
      }
      history.push(logs);
      if (model.epochsTrained !== undefined) model.epochsTrained = epoch;
      tf.dispose((lastGood as Snapshot).weights);
      lastGood = await takeSnapshot(epoch, everything, keeper);

      let stop = (await options.onEpochEnd?.(logs)) === 'stop';
      if (stop) stopReason = 'callback';
      if (options.earlyStopping !== undefined && logs.valLoss !== undefined) {
        const minDelta = options.earlyStopping.minDelta ?? 0;
        if (best === undefined || logs.valLoss < best.loss - minDelta) {
          if (best !== undefined) tf.dispose(best.weights);
          best = { ...(await takeSnapshot(epoch, everything, keeper)), loss: logs.valLoss };
          sinceBest = 0;
        } else if (++sinceBest >= options.earlyStopping.patience) {
          stop = true;
          stopReason = 'early-stopping';
        }
      }
      const last = stop || epoch === first + epochs - 1;
      if (checkpoint !== undefined && (last || (epoch - first + 1) % (checkpoint.everyEpochs ?? 1) === 0)) {
        if (!(last && best !== undefined && (options.earlyStopping?.restoreBest ?? true))) await writeCheckpoint();
      }
      if (stop) break;
    }
    let bestEpoch = lastGood?.epoch ?? first - 1;
    if (best !== undefined && (options.earlyStopping?.restoreBest ?? true) && stopReason !== 'aborted') {
      await restoreSnapshot(best, everything, keeper);
      bestEpoch = best.epoch;
      if (checkpoint !== undefined) await writeCheckpoint();
    }
    return { history, stopReason, bestEpoch };
  } finally {
    if (lastGood !== undefined) tf.dispose(lastGood.weights);
    if (best !== undefined) tf.dispose(best.weights);
    source.dispose();
    if (validation?.owned === true) tf.dispose([validation.batch.x, ...(validation.batch.labels === undefined ? [] : [validation.batch.labels])]);
  }
}
