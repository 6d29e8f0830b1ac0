/**
 * @gm/data — MNIST and CIFAR-10 for gm: IDX and CIFAR binary parsers, verified downloads with a cache, 10,000
 * bundled real digits, preprocessing and seeded batches. See README.md.
 */
export { DataError, type DataErrorCode } from './errors.js';
export { mulberry32, permutation, randomInt, randomNormal, toRng, type Rng } from './random.js';
export {
  concatDatasets,
  imageSize,
  makeDataset,
  subset,
  toNCHW,
  toNHWC,
  type ImageDataset,
  type ImageLayout,
} from './dataset.js';
export {
  IDX_DTYPES,
  gunzipIfNamed,
  gzipIfNamed,
  isGzip,
  parseIdx,
  parseIdxImages,
  parseIdxLabels,
  writeIdx,
  writeIdxImages,
  writeIdxLabels,
  type IdxArray,
  type IdxData,
  type IdxDtype,
  type IdxImages,
} from './idx.js';
export {
  atomicWriteFile,
  defaultCacheDir,
  downloadVerified,
  ensureCached,
  readIdxFile,
  removeStalePartials,
  sha256,
  sha256File,
  writeIdxFile,
  type CachedFile,
  type DownloadOptions,
} from './files.js';
export {
  DEFAULT_MNIST_MIRROR,
  MNIST_FILES,
  MNIST_SHA256,
  loadMnist,
  mnistFromIdx,
  type LoadMnistOptions,
  type MnistFileName,
  type MnistSplits,
} from './mnist.js';
export {
  BUNDLED_MNIST_COUNT,
  BUNDLED_MNIST_SPLIT_SEED,
  BUNDLED_MNIST_TRAIN_COUNT,
  bundledMnistDigitsDir,
  loadBundledMnist,
  type BundledMnist,
} from './bundled.js';
export {
  CIFAR10_ARCHIVE,
  CIFAR10_FOLDER,
  CIFAR10_LABELS,
  CIFAR10_SHA256,
  CIFAR10_TEST_FILE,
  CIFAR10_TRAIN_FILES,
  DEFAULT_CIFAR10_MIRROR,
  loadCifar10,
  parseCifar10Batch,
  writeCifar10Batch,
  type Cifar10Splits,
  type LoadCifar10Options,
} from './cifar.js';
export { extractTarSafely, readTarEntries, unsafeTarPath } from './tarball.js';
export {
  DEFAULT_LOGIT_ALPHA,
  binarizeDynamic,
  binarizeStatic,
  bitsPerDimFromLogit,
  dequantizeUniform,
  logitInverse,
  logitTransform,
  logitTransformTensor,
  scaleToUnit,
  type LogitResult,
} from './preprocess.js';
export { gaussianMixture, gaussianMixtureMeans, rings, twoMoons, type PointDataset } from './toy.js';
export {
  batchIterator,
  deriveSeed,
  numBatches,
  shuffleDataset,
  trainValidationSplit,
  type Batch,
  type BatchOptions,
  type PixelTransform,
} from './batches.js';
