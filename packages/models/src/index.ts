/**
 * @gm/models — deep generative models on TensorFlow.js. See README.md.
 */
export { fileSystemIO, atomicWrite, MODEL_JSON, WEIGHTS_BIN } from './io/fs-handler';
export {
  saveCheckpoint,
  readCheckpointManifest,
  loadCheckpointPart,
  CHECKPOINT_JSON,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type CheckpointManifest,
} from './io/checkpoint';
export {
  runFitLoop,
  TrainingDivergedError,
  type BatchLogs,
  type EpochLogs,
  type FitCallbacks,
  type EarlyStopping,
  type FitLoopOptions,
  type FitResult,
} from './train/fit-loop';
export { OptimizerSlot, tfjsAdam, type OptimizerFactory } from './train/optimizer';
export * from './vae';
export * from './autoencoders';
export * from './made';
export * from './iaf';
export * from './realnvp';
