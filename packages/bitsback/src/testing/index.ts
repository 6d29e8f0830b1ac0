/**
 * `@gm/bitsback/testing`: synthetic coding models with exact bounds, the coder's benchmarks, and tools for attacking
 * the .gmz reader (an independent layout reader/writer that re-seals crafted files, and a seeded fuzzer) — for tests,
 * demos and the bench harness, kept out of the main entry.
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
export {
  readGmzLayout,
  writeGmzLayout,
  cloneGmzLayout,
  headerFieldBytes,
  chunkBody,
  leb128,
  resealSha,
  type GmzLayout,
  type GmzLayoutHeader,
  type GmzLayoutChunk,
  type GmzLayoutRawChunk,
} from './gmz-craft';
export {
  fuzzGmz,
  gmzFuzzCorpus,
  gmzFuzzCase,
  runGmzFuzzCase,
  gmzFuzzTally,
  gmzFuzzSummary,
  type GmzFuzzOptions,
  type GmzFuzzReport,
  type GmzFuzzResult,
  type GmzFuzzCase,
  type GmzFuzzCorpus,
  type GmzFuzzFile,
  type GmzFuzzFamily,
  type GmzFuzzMutation,
  type GmzFuzzPath,
  type GmzFuzzOutcome,
} from './gmz-fuzz';
