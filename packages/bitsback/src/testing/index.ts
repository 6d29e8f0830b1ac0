/**
 * `@gm/bitsback/testing`: synthetic coding models with exact bounds and the coder's benchmarks — for tests, demos and
 * the bench harness, kept out of the main entry.
 */
export {
  linearBernoulliModel,
  linearLogisticModel,
  randomMadeModel,
  type SyntheticLatentModel,
  type SyntheticAutoregressiveModel,
  type SyntheticOptions,
} from './synthetic';
export { benchRans, benchCompression, benchTable, type RansBenchOptions, type RansBenchResult, type CompressionBenchResult } from './bench';
