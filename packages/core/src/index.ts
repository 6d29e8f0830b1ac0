/**
 * @gm/core — gm's ground floor: one seeded PRNG, one permutation, one seed derivation, per-example noise, argument checks and GmError,
 * bytes and checksums, and the contracts every gm package shares. Browser-safe; imports no other gm package.
 * See README.md.
 */
export { mulberry32, toRng, randomInt, randomNormal, permutation, type Rng } from './random.js';
export { deriveSeed, SeedStream } from './seeds.js';
export { normalNoise, uniformNoise, withExampleOffset, exampleOffset } from './noise.js';
export {
  GmError,
  describeValue,
  formatShape,
  checkObject,
  checkFiniteNumber,
  checkPositiveNumber,
  checkNonNegativeNumber,
  checkInteger,
  checkPositiveInt,
  checkNonNegativeInt,
  checkIntInRange,
  checkBoolean,
  checkOneOf,
  checkPositiveIntArray,
  type GmErrorCode,
} from './errors.js';
export { concatBytes, crc32, sha256, sha256Hasher, sha256Hex, toHex } from './bytes.js';
export { yieldToEventLoop } from './event-loop.js';
export type { Distribution, SampleWithLogProb, LatentVariableModel } from './contracts/distribution.js';
export type { Bijector, BijectorOptions } from './contracts/bijector.js';
export type { Codec, Message } from './contracts/codec.js';
export type { ImageDataset, ImageLayout, InputConvention } from './contracts/dataset.js';
export type {
  PortableActivation,
  PortableCombination,
  PortableOp,
  PortableNetwork,
  ObservationSpec,
  GaussianLatentCoding,
  AutoregressiveCoding,
  CodingModel,
} from './contracts/portable.js';
export type { Replica, ReplicaInput, ReplicaStepContext, ReplicaSource } from './contracts/replica.js';
export type { AdamState } from './contracts/adam-state.js';
export type {
  TrainingBatch,
  StepContext,
  LossTerms,
  Trainable,
  TrainingData,
  LearningRateSchedule,
  OptimizerFactory,
  OptimizerName,
  EarlyStopping,
  BatchLogs,
  EpochLogs,
  FitCallbacks,
  CheckpointPolicy,
  FitOptions,
  FitResult,
  CheckpointStore,
  SaveOptions,
} from './contracts/training.js';
export type { GenerativeModel, Metric, EvaluateOptions } from './contracts/model.js';
