/**
 * @gm/data — image datasets for gm, browser-safe: the IDX, NPY and CIFAR-10 binary parsers and writers, dataset
 * helpers, preprocessing (binarization, dequantization, model input conventions), seeded toy datasets and seeded
 * batches of tfjs tensors. Files, downloads, gzip, tar archives, picture folders, the dataset registry and the 10,000
 * bundled digits are in `@gm/data/node`. See README.md.
 */
export { DataError, type DataErrorCode } from './errors.js';
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
  idxDeclaredSize,
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
export { datasetFromNpy, parseNpy, writeNpy, type NpyArray, type NpyDatasetOptions, type NpyDtype } from './npy.js';
export { gunzipIdxIfNamed, gunzipIfNamed, gzipIfNamed, type GunzipOptions } from './gzip.js';
export { DEFAULT_MAX_FILE_BYTES } from './limits.js';
export {
  MNIST_FILES,
  MNIST_FILE_BYTES,
  MNIST_SHA256,
  DEFAULT_MNIST_MIRROR,
  DEFAULT_FASHION_MNIST_MIRROR,
  FASHION_MNIST_FILE_BYTES,
  FASHION_MNIST_LABELS,
  FASHION_MNIST_SHA256,
  mnistFromIdx,
  type MnistFileName,
  type MnistSplits,
} from './mnist-format.js';
export {
  CIFAR10_ARCHIVE,
  CIFAR10_ARCHIVE_BYTES,
  CIFAR10_BATCH_BYTES,
  CIFAR10_FOLDER,
  CIFAR10_LABELS,
  CIFAR10_SHA256,
  CIFAR10_TEST_FILE,
  CIFAR10_TRAIN_FILES,
  DEFAULT_CIFAR10_MIRROR,
  parseCifar10Batch,
  writeCifar10Batch,
  type Cifar10Splits,
} from './cifar-format.js';
export {
  binarizeDynamic,
  binarizeStatic,
  dequantizeUniform,
  inputToUnit,
  pixelsToInput,
  scaleToUnit,
  toBinCentres,
} from './preprocess.js';
export { checkerboard, gaussianMixture, gaussianMixtureMeans, rings, twoMoons, type PointDataset, type ToyOptions } from './toy.js';
export { shuffleDataset, trainValidationSplit } from './split.js';
export {
  batchIterator,
  numBatches,
  type Batch,
  type BatchOptions,
  type PixelTransform,
} from './batches.js';
