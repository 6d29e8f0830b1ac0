/**
 * @gm/data/node — what needs Node: files (atomic writes, IDX and NPY files), verified downloads with a cache, MNIST,
 * Fashion-MNIST and CIFAR-10 from folders, archives or mirrors, folders of PNG/JPEG pictures (with the optional peer
 * dependency sharp), tar extraction, the 10,000 real digits bundled through npm, and the registry of datasets by name.
 */
export {
  atomicWriteFile,
  DEFAULT_DOWNLOAD_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_DOWNLOAD_BYTES,
  defaultCacheDir,
  downloadVerified,
  ensureCached,
  readIdxFile,
  readRegularFile,
  removeStalePartials,
  sha256File,
  writeIdxFile,
  type CachedFile,
  type DownloadOptions,
  type ReadIdxFileOptions,
  type VerifiedDownloadOptions,
} from './files.js';
export { loadFashionMnist, loadMnist, type LoadFashionMnistOptions, type LoadMnistOptions } from './mnist.js';
export { loadNpy, readNpyFile, type LoadNpyOptions } from './npy-file.js';
export {
  loadImageFolder,
  type ImageFit,
  type ImageFolderDataset,
  type ImageFolderLabels,
  type LoadImageFolderOptions,
} from './image-folder.js';
export { DEFAULT_MAX_DATASET_BYTES, DEFAULT_MAX_IMAGE_FILE_BYTES, DEFAULT_MAX_IMAGE_PIXELS } from './limits.js';
export {
  DATASETS,
  OWN_DATA_SPLIT_SEED,
  OWN_DATA_TEST_FRACTION,
  datasetEntry,
  describeDatasets,
  formatDatasetSpec,
  loadDataset,
  parseDatasetSpec,
  type DatasetEntry,
  type DatasetName,
  type DatasetOption,
  type DatasetSpec,
  type DatasetSplits,
  type LoadedDataset,
} from './datasets.js';
export {
  BUNDLED_MNIST_COUNT,
  BUNDLED_MNIST_SPLIT_SEED,
  BUNDLED_MNIST_TRAIN_COUNT,
  bundledMnistDigitsDir,
  loadBundledMnist,
  type BundledMnist,
} from './bundled.js';
export { loadCifar10, type LoadCifar10Options } from './cifar.js';
export { DEFAULT_MAX_ARCHIVE_BYTES, extractTarSafely, readTarEntries, unsafeTarPath, type TarLimits } from './tarball.js';
