/**
 * Any gm model as a data-parallel replica (@gm/core's `Replica`, satisfied by shape so that @gm/models keeps
 * importing no backend): the model's own training loss — what `fit` minimises — on the replica's shard, its random
 * draws (posterior noise, dequantization, input corruption, MADE's mask) seeded by the step's seed (the trainer's,
 * which `gm train` sets to one thread's; else derived from the replica's seed and the step), each example's noise
 * from its own stream at its place in the whole batch — so the threads draw, example for example, one thread's noise
 * and take the step one thread takes. A worker rebuilds the model from its checkpoint files through the
 * registry (rank 0's weights are copied to it before the first step), so every family `loadModel` knows can train on
 * several threads. (The VAE keeps its own replica, ../vae/replica.ts, which also honours β.)
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // a worker is a fresh realm: the layers and the gradient functions
import { GmError, withExampleOffset, type Replica, type ReplicaSource, type StepContext, type TrainingBatch } from '@gm/core';
import { memoryStore } from '../io/stores';
import type { ModelBase } from '../model-base';
import { loadModel } from '../registry';
import { replicaStepSeed } from './replica-seed';
import { vaeReplica, vaeReplicaConfig } from '../vae/replica';
import { VAE } from '../vae/vae';

/** A data-parallel replica holding a model. */
export interface ModelReplica extends Replica {
  readonly model: ModelBase;
}

/** The plain (structured-clonable) config a worker rebuilds a replica from. */
export interface ModelReplicaConfig {
  /** The model's checkpoint files (what `model.save(memoryStore())` writes). */
  checkpoint: Map<string, Uint8Array>;
  /** Seed of the replicas' random draws. */
  seed: number;
}

/** Models whose state {@link prepareDataParallel} found settled (replicas built from them stay equal). */
const prepared = new WeakSet<ModelBase>();

/**
 * Refuses a model with state that is not trained unless {@link prepareDataParallel} found that state settled: state
 * initialised on each replica (ActNorm from its own shard) or moving every step (batch-norm running statistics)
 * would differ between threads.
 */
function checkReplicable(model: ModelBase): void {
  const state = model.stateVariables?.() ?? [];
  if (state.length > 0 && !prepared.has(model)) {
    throw new GmError(
      'UNSUPPORTED',
      `${model.kind}: data-parallel training`,
      `the model keeps ${state.length} variable(s) of state that is not trained (ActNorm's initialisation, a fixed permutation, batch-norm running statistics): call prepareDataParallel(model, firstBatch, context) first, which initialises it on this thread and refuses state that would drift apart between threads`,
    );
  }
}

const sameValues = (a: tf.Tensor, b: tf.Tensor): boolean => tf.tidy(() => tf.all(tf.equal(a, b)).dataSync()[0] === 1);

/**
 * Readies a model that keeps state for data-parallel training, on this thread, before its replicas are built: runs its
 * training loss on `batch` with `context` — the run's first batch and step, so a data-dependent initialisation (Glow's
 * ActNorm) is the one a one-thread run makes — and then once more, and refuses the model if that second call changed
 * any state: such state (batch-norm running statistics) moves every step, and each thread's would drift apart. A
 * refused model is left as it was. State that stays put once initialised (ActNorm's flag, an invertible 1×1
 * convolution's permutation and signs, MADE's degrees) is then the same in every replica, since workers rebuild the
 * model from this one's checkpoint. Models without state need nothing (it returns at once).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { Glow, dataParallelReplicas, prepareDataParallel } from '@gm/models';
 *
 * const glow = new Glow({ inputShape: [8, 8, 1], scales: 1, stepsPerScale: 2, filters: 8, seed: 1 });
 * const first = tf.floor(tf.randomUniform([16, 8, 8, 1], 0, 256));
 * prepareDataParallel(glow, { x: first }, { epoch: 1, batch: 1, batches: 100, seed: 1 });
 * const { source, local } = await dataParallelReplicas(glow, 1, import.meta.resolve('@gm/models'));
 * ```
 */
export function prepareDataParallel(model: ModelBase, batch: TrainingBatch, context: StepContext): void {
  const state = model.stateVariables?.() ?? [];
  if (state.length === 0) return;
  const everything = [...model.trainableVariables(), ...state];
  const before = everything.map((v) => tf.clone(v));
  const trainingLoss = (): void => tf.tidy(() => void model.loss(batch, context));
  let settled: tf.Tensor[] = [];
  try {
    trainingLoss(); // initialises what initialises from data, as one thread's first step does
    settled = state.map((v) => tf.clone(v));
    trainingLoss();
    const moving = state.filter((v, i) => !sameValues(v, settled[i] as tf.Tensor));
    if (moving.length > 0) {
      everything.forEach((v, i) => v.assign(before[i] as tf.Tensor));
      throw new GmError(
        'UNSUPPORTED',
        `${model.kind}: data-parallel training`,
        `refused: ${moving.length} variable(s) of state that is not trained change at every training step (batch-norm running statistics: ${moving.map((v) => v.name).join(', ')}), and each thread's would drift apart; train it on one thread`,
      );
    }
    prepared.add(model);
  } finally {
    tf.dispose([...before, ...settled]);
  }
}

/** Wraps an existing model (rank 0 holds the caller's). */
export function modelReplica(model: ModelBase, seed: number): ModelReplica {
  checkReplicable(model);
  return {
    model,
    variables: model.trainableVariables(),
    inputs: [{ name: 'x', exampleShape: [...model.inputShape] }],
    loss(inputs, context) {
      const ctx: StepContext = { epoch: 1, batch: context.step, batches: Number.POSITIVE_INFINITY, seed: replicaStepSeed(seed, context) };
      // This shard's examples take their places in the whole batch's noise: the step one thread takes.
      return withExampleOffset(context.rows[0], () =>
        tf.tidy(() => {
          const loss = model.loss({ x: inputs.x as tf.Tensor }, ctx);
          return loss instanceof tf.Tensor ? loss : loss.objective;
        }),
      );
    },
    dispose() {
      model.dispose();
    },
  };
}

/** The config a worker rebuilds `model` from: its checkpoint in memory. */
export async function modelReplicaConfig(model: ModelBase, seed: number): Promise<ModelReplicaConfig> {
  checkReplicable(model);
  const store = memoryStore(undefined, 'data-parallel replica');
  await model.save(store);
  return { checkpoint: new Map(store.files), seed };
}

/**
 * Builds a replica from its config: what a data-parallel worker imports.
 *
 * @example
 * ```ts
 * import { createDataParallelTrainer } from '@gm/backend/data-parallel';
 * import { MADE, modelReplica, modelReplicaConfig } from '@gm/models';
 *
 * const made = new MADE({ inputSize: 784, hidden: [500, 500] });
 * const trainer = await createDataParallelTrainer({
 *   replica: { module: import.meta.resolve('@gm/models'), exportName: 'createModelReplica', config: await modelReplicaConfig(made, 0) },
 *   localReplica: modelReplica(made, 0),
 *   batchSize: 100,
 *   optimizer: { name: 'adam', learningRate: 1e-3 },
 * });
 * ```
 */
export async function createModelReplica(config: ModelReplicaConfig): Promise<ModelReplica> {
  if (!(config?.checkpoint instanceof Map)) throw new GmError('BAD_ARGUMENT', 'createModelReplica: config.checkpoint', 'a Map of checkpoint files (modelReplicaConfig)', config?.checkpoint);
  const model = (await loadModel(memoryStore(config.checkpoint, 'data-parallel replica'))) as ModelBase;
  prepared.add(model); // the checkpoint of a model modelReplicaConfig accepted: its state is settled
  return modelReplica(model, config.seed);
}

/**
 * Both sides of training `model` data-parallel: how workers rebuild it (`source`, from `modelsModule`, the URL of
 * @gm/models a worker imports — e.g. `import.meta.resolve('@gm/models')`) and rank 0's replica wrapping the model
 * itself (`local`). The VAE's own replica (β, IWAE) for a VAE, the generic one for every other model.
 */
export async function dataParallelReplicas(model: ModelBase, seed: number, modelsModule: string): Promise<{ source: ReplicaSource; local: Replica }> {
  if (model instanceof VAE) return { source: { module: modelsModule, exportName: 'createVaeReplica', config: vaeReplicaConfig(model, seed) }, local: vaeReplica(model, seed) };
  return { source: { module: modelsModule, exportName: 'createModelReplica', config: await modelReplicaConfig(model, seed) }, local: modelReplica(model, seed) };
}
