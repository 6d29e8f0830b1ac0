/**
 * @gm/models — deep generative models on TensorFlow.js, browser-safe: the autoencoder family, VAEs, MADE, IAF-VAE
 * and Real NVP on one trainer and one checkpoint format over stores (memory, URL, IndexedDB, picked files, zip,
 * downloads). Node folders: `@gm/models/node`. See README.md.
 */
export { MODEL_JSON, WEIGHTS_BIN, storeIO, artifactsFromStore, artifactsToFiles } from './io/artifacts';
export {
  writeCheckpoint,
  readCheckpoint,
  CHECKPOINT_JSON,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type CheckpointManifest,
  type CheckpointReader,
  type SaveOptions,
  type ExtraFiles,
  type FileDigest,
} from './io/checkpoint';
export { memoryStore, urlStore, filesStore, zipStore, zipCheckpoint, downloadStore, indexedDbStore, readAll } from './io/stores';
export { fit, l2Penalty, TrainingDivergedError, optimizerSlotOf, type TrainerHost, type TrainerDefaults, type TrainerOptions, type CustomStep, type CustomStepOptimizer } from './train/trainer';
export { constantRate, linearWarmup, exponentialDecay, cosineDecay } from './train/schedules';
export { createModelReplica, dataParallelReplicas, modelReplica, modelReplicaConfig, prepareDataParallel, type ModelReplica, type ModelReplicaConfig } from './train/replica';
export {
  OptimizerSlot,
  OPTIMIZERS,
  DEFAULT_LEARNING_RATES,
  SGD_MOMENTUM,
  disposeOptimizer,
  tfjsAdam,
  optimizerFactory,
  optimizerStateFiles,
  adamStateFiles,
  readAdamStateFiles,
  restoreOptimizerState,
  type OptimizerFactory,
  type OptimizerName,
  type OptimizerStateFiles,
} from './train/optimizer';
export { ModelBase, type CheckpointContent } from './model-base';
export { loadModel, MODEL_LOADERS } from './registry';
export type {
  BatchLogs,
  EpochLogs,
  FitCallbacks,
  EarlyStopping,
  FitOptions,
  FitResult,
  GenerativeModel,
  Metric,
  CheckpointStore,
  Trainable,
  TrainingBatch,
  TrainingData,
} from '@gm/core';
export * from './vae';
export * from './autoencoders';
export * from './made';
export * from './iaf';
export * from './realnvp';
export * from './nsf';
export * from './glow';
export * from './maf';
export { VectorFlow, chainParts, checkStoredChain, type VectorFlowParts, type VectorFlowSampleOptions } from './realnvp/vector-flow';
