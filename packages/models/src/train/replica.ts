/**
 * Any gm model as a data-parallel replica (@gm/core's `Replica`, satisfied by shape so that @gm/models keeps
 * importing no backend): the model's own training loss — what `fit` minimises — on the replica's shard, its random
 * draws (posterior noise, dequantization, input corruption, MADE's mask) seeded by (seed, step, first row), so every
 * replica draws its own reproducible noise. A worker rebuilds the model from its checkpoint files through the
 * registry (rank 0's weights are copied to it before the first step), so every family `loadModel` knows can train on
 * several threads. (The VAE keeps its own replica, ../vae/replica.ts, which also honours β.)
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // a worker is a fresh realm: the layers and the gradient functions
import { deriveSeed, GmError, type Replica, type ReplicaSource, type StepContext } from '@gm/core';
import { memoryStore } from '../io/stores';
import type { ModelBase } from '../model-base';
import { loadModel } from '../registry';
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

/**
 * Refuses what data-parallel training would get wrong: state that is not trained (batch-norm running statistics,
 * ActNorm's initialisation) lives in each replica and would drift apart.
 */
function checkReplicable(model: ModelBase): void {
  const state = model.stateVariables?.() ?? [];
  if (state.length > 0) {
    throw new GmError(
      'UNSUPPORTED',
      `${model.kind}: data-parallel training`,
      `refused: the model keeps ${state.length} variable(s) of state that is not trained (batch-norm running statistics, ActNorm's initialisation), which would differ between threads; train it on one thread`,
    );
  }
}

/** Wraps an existing model (rank 0 holds the caller's). */
export function modelReplica(model: ModelBase, seed: number): ModelReplica {
  checkReplicable(model);
  return {
    model,
    variables: model.trainableVariables(),
    inputs: [{ name: 'x', exampleShape: [...model.inputShape] }],
    loss(inputs, { step, rows }) {
      const ctx: StepContext = { epoch: 1, batch: step, batches: Number.POSITIVE_INFINITY, seed: deriveSeed(seed, step, rows[0]) };
      return tf.tidy(() => {
        const loss = model.loss({ x: inputs.x as tf.Tensor }, ctx);
        return loss instanceof tf.Tensor ? loss : loss.objective;
      });
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
