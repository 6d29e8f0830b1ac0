/**
 * `gm train <model> --workers N`: any model trained data-parallel on N threads (this one + N − 1 worker_threads) with
 * @gm/backend/data-parallel — the VAE through its own replica (β, IWAE), every other family through @gm/models'
 * generic one (its own training loss; workers rebuild it from its checkpoint). It plugs into @gm/models' trainer as a
 * custom step: the trainer draws the batches (seeded order, full batches only: every step takes exactly `--batch`
 * examples, split across the threads), keeps the callbacks, validation, NaN guard and checkpoints; the step runs on
 * every core. Models with state (Glow's ActNorm) initialise it on this thread from the run's first batch before the
 * workers start. `--workers auto` times a few steps of a throwaway copy of the model on one thread and on two, and
 * trains on two only when that is clearly faster.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { gmAdam } from '@gm/backend';
import { createDataParallelTrainer, type DataParallelTrainer, type Replica, type ReplicaSource } from '@gm/backend/data-parallel';
import type { AdamState, StepContext, TrainingBatch } from '@gm/core';
import { adamStateFiles, createModelReplica, createVaeReplica, dataParallelReplicas, loadModel, memoryStore, optimizerStateFiles, prepareDataParallel, readAdamStateFiles, type CustomStep, type CustomStepOptimizer, type ModelBase } from '@gm/models';
import { CliError } from './errors';

/** How workers rebuild `model` and rank 0's replica of it. */
const replicasOf = (model: ModelBase, seed: number) => dataParallelReplicas(model, seed, import.meta.resolve('@gm/models'));

export interface DataParallelStep {
  step: CustomStep;
  /** The threads' Adam, gathered into checkpoints (the files one thread's Adam writes) and set from them on resume. */
  optimizer: CustomStepOptimizer;
  dispose(): Promise<void>;
}

/**
 * The data-parallel step. Its threads start at the run's first step, from that batch: a model with state (Glow's
 * ActNorm) first initialises it on this thread as one thread's first step would (@gm/models' prepareDataParallel, which
 * refuses state that moves every step), and the workers then rebuild the initialised model. Restoring a snapshot (a
 * roll-back, the best epoch) stops the threads: the next step starts them again from the restored weights.
 */
export async function dataParallelStep(model: ModelBase, o: { batchSize: number; learningRate: number; seed: number; examples: number; clipNorm?: number }, workers: number): Promise<DataParallelStep> {
  const batch = o.batchSize;
  if (batch < workers) throw new CliError(`--workers ${workers} needs --batch ≥ ${workers} (one example per thread at least); got ${batch}`);
  if (o.examples < batch) throw new CliError(`--workers trains on full batches: needs at least --batch (${batch}) training images; got ${o.examples}`);
  let trainer: DataParallelTrainer | undefined;
  // Adam's state for threads not started yet: a resumed checkpoint's or a restored snapshot's.
  let pendingState: AdamState | undefined;
  const start = async (first: TrainingBatch, context: StepContext): Promise<DataParallelTrainer> => {
    prepareDataParallel(model, first, context);
    const { source, local } = await replicasOf(model, o.seed);
    const started = await createDataParallelTrainer({
      replica: source,
      localReplica: local,
      replicas: workers,
      batchSize: batch,
      // The model's gradient clipping (the flows on pixels) as fit's: scaled by the whole batch gradient's norm.
      optimizer: { name: 'adam', learningRate: o.learningRate, ...(o.clipNorm === undefined ? {} : { clipNorm: o.clipNorm }) },
    });
    if (pendingState !== undefined) started.setOptimizerState(pendingState);
    pendingState = undefined;
    trainer = started;
    return started;
  };
  return {
    step: async (b, ctx) => {
      const running = trainer ?? (await start(b, ctx));
      const step = (ctx.epoch - 1) * ctx.batches + ctx.batch;
      running.inputView(step, 'x').set(b.x.dataSync() as Float32Array);
      // fit's seed for this step (also a resumed run's): every thread draws its examples' share of one thread's noise.
      return running.step(step, ctx.seed);
    },
    optimizer: {
      ...(o.clipNorm === undefined ? {} : { clipNorm: o.clipNorm }),
      stateFiles: async (variables) => {
        if (trainer !== undefined) return adamStateFiles(trainer.optimizerState(), variables);
        if (pendingState !== undefined) return adamStateFiles(pendingState, variables);
        const fresh = gmAdam(o.learningRate); // before the first step: a fresh Adam's state, as one thread writes it
        try {
          return await optimizerStateFiles(fresh, variables);
        } finally {
          fresh.dispose();
        }
      },
      restore: async (files, variables, label) => {
        pendingState = readAdamStateFiles(files, variables, label);
        const stopping = trainer;
        trainer = undefined;
        await stopping?.dispose();
      },
    },
    dispose: async () => {
      await trainer?.dispose();
      trainer = undefined;
    },
  };
}

/** A copy of `model` through its checkpoint (same architecture and weights; the caller disposes it). */
async function copyOf(model: ModelBase): Promise<ModelBase> {
  const store = memoryStore(undefined, 'workers calibration');
  await model.save(store);
  return (await loadModel(store)) as ModelBase;
}

/** What `--workers auto` measured and chose. */
export interface WorkersCalibration {
  workers: number;
  /** Median ms per step on one thread and on two (absent when it did not measure). */
  oneThreadMs?: number;
  twoThreadsMs?: number;
  reason: string;
}

/** Two threads must beat one by this factor to be chosen: worth the threads, robust to a noisy measurement. */
const PAYS = 0.85;

/**
 * Warm-up and timing of each side of the calibration, by time as well as by steps: V8 compiles a fresh step (and every
 * worker its own) over its first tens of milliseconds, and a few steps of a small model would time that instead.
 */
const WARM_UP = { steps: 2, ms: 600 };
const TIMED = { steps: 4, ms: 600 };

/** The median ms of `step` after warming it up (both by {@link WARM_UP} and {@link TIMED}'s rules). */
function medianStepMs(step: (i: number) => void): number {
  let i = 0;
  const start = performance.now();
  while (i < WARM_UP.steps || performance.now() - start < WARM_UP.ms) step(i++);
  const times: number[] = [];
  const timed = performance.now();
  while (times.length < TIMED.steps || performance.now() - timed < TIMED.ms) {
    const t0 = performance.now();
    step(i++);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

/**
 * `--workers auto`: 2 threads when the machine has two cores and a throwaway copy of the model (same architecture,
 * fresh weights) trains a `batch` clearly faster on two threads than on one — the median step after a warm-up, each
 * side ≥ 0.6 s of warm-up and ≥ 0.6 s timed, gm's Adam — else 1. The model itself is not touched.
 */
export async function calibrateWorkers(model: ModelBase, batch: tf.Tensor, o: { learningRate: number; seed: number; cores: number; clipNorm?: number }): Promise<WorkersCalibration> {
  if (o.cores < 2) return { workers: 1, reason: `this machine has ${o.cores} core` };
  const rows = batch.shape[0] as number;
  if (rows < 2) return { workers: 1, reason: 'a batch of one example cannot be split' };
  let source: ReplicaSource;
  try {
    // A throwaway copy, readied as a run's first step readies the model (ActNorm initialised from this batch).
    const copy = await copyOf(model);
    try {
      prepareDataParallel(copy, { x: batch }, { epoch: 1, batch: 1, batches: 1, seed: o.seed });
      ({ source } = await replicasOf(copy, o.seed));
    } finally {
      copy.dispose();
    }
  } catch (error) {
    return { workers: 1, reason: (error as Error).message }; // e.g. a model whose state moves every step
  }
  const build = async (): Promise<Replica> => (source.exportName === 'createVaeReplica' ? createVaeReplica(source.config as never) : createModelReplica(source.config as never));
  // One thread: the replica's loss and gm's Adam, as the trainer's own step runs them.
  const single = await build();
  const optimizer = gmAdam(o.learningRate);
  let oneThreadMs: number;
  try {
    // returnCost false: nothing to free.
    oneThreadMs = medianStepMs((step) => optimizer.minimize(() => single.loss({ x: batch }, { step, rows: [0, rows] }), false, single.variables));
  } finally {
    optimizer.dispose();
    single.dispose();
  }
  // Two threads: the data-parallel trainer on another throwaway copy.
  const copy = await build();
  const trainer = await createDataParallelTrainer({
    replica: source,
    localReplica: copy,
    replicas: 2,
    batchSize: rows,
    optimizer: { name: 'adam', learningRate: o.learningRate, ...(o.clipNorm === undefined ? {} : { clipNorm: o.clipNorm }) },
  });
  const values = batch.dataSync() as Float32Array;
  let twoThreadsMs: number;
  try {
    twoThreadsMs = medianStepMs((step) => {
      trainer.inputView(step, 'x').set(values);
      trainer.step(step);
    });
  } finally {
    await trainer.dispose();
    copy.dispose();
  }
  const pays = twoThreadsMs < PAYS * oneThreadMs;
  return {
    workers: pays ? 2 : 1,
    oneThreadMs,
    twoThreadsMs,
    reason: `a step took ${oneThreadMs.toFixed(1)} ms on one thread, ${twoThreadsMs.toFixed(1)} ms on two${pays ? '' : ` (not below ${PAYS} of one thread's)`}`,
  };
}
