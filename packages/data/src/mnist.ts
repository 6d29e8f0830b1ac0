/** MNIST from the four standard IDX files (Node): from a folder, or downloaded, verified and cached. */
import { join } from 'node:path';
import type { ImageDataset } from './dataset.js';
import { DataError } from './errors.js';
import { defaultCacheDir, ensureCached, readRegularFileWithin, statRegularFile, type DownloadOptions } from './files.js';
import { DEFAULT_MAX_FILE_BYTES, limitFrom, type Limit } from './limits.js';
import {
  DEFAULT_MNIST_MIRROR,
  MNIST_FILE_BYTES,
  MNIST_FILES,
  MNIST_SHA256,
  mnistFromIdxWithin,
  type MnistFileName,
  type MnistSplits,
} from './mnist-format.js';

export interface LoadMnistOptions extends DownloadOptions {
  /** Read the four files from this folder (gzipped or not; `train-images.idx3-ubyte`-style names too). */
  dir?: string;
  /** Download missing files from `mirror` into `cacheDir`, verify their sha256, and reuse them next time. */
  download?: boolean;
  /** Base URL the four file names are appended to (default {@link DEFAULT_MNIST_MIRROR}). */
  mirror?: string;
  /** Cache folder (default `$XDG_CACHE_HOME/gm/mnist` or `~/.cache/gm/mnist`). */
  cacheDir?: string;
  /**
   * sha256 per file name, overriding {@link MNIST_SHA256} — for a mirror of other files in the same format
   * (Fashion-MNIST) or for tests that serve their own files.
   */
  hashes?: Partial<Record<MnistFileName, string>>;
  /**
   * The most bytes one file may have, on disk and inflated (default {@link DEFAULT_MAX_FILE_BYTES}, 256 MiB; MNIST's
   * largest file has 47 MB). Each file also may not inflate past what its IDX header declares.
   */
  maxFileBytes?: number;
}

/** The names a file may have on disk: as published, gunzipped, or with the dot some unzip tools produce. */
function candidates(name: MnistFileName): string[] {
  const plain = name.slice(0, -3);
  return [name, plain, plain.replace(/-(idx\d)/, '.$1')];
}

async function findInDir(dir: string, name: MnistFileName): Promise<string> {
  for (const c of candidates(name)) {
    const p = join(dir, c);
    // A FIFO or device under one of the names is refused, not skipped.
    if ((await statRegularFile(p)) !== undefined) return p;
  }
  throw new DataError('MISSING_FILE', join(dir, name), `MNIST file not found: expected one of ${candidates(name).join(', ')} in ${dir}`);
}

async function loadPair(imagePath: string, labelPath: string, limit: Limit): Promise<ImageDataset> {
  const [imageBytes, labelBytes] = await Promise.all([readRegularFileWithin(imagePath, limit), readRegularFileWithin(labelPath, limit)]);
  return mnistFromIdxWithin(imageBytes, labelBytes, imagePath, labelPath, limit);
}

/**
 * Loads MNIST (60,000 train + 10,000 test digits).
 *
 * @example
 * ```ts
 * // From files you already have:
 * const { train, test } = await loadMnist({ dir: '/data/mnist' });
 * // Or downloaded once, verified against the official sha256, then read from the cache:
 * const mnist = await loadMnist({ download: true, cacheDir: '.cache/mnist' });
 * ```
 */
export async function loadMnist(options: LoadMnistOptions): Promise<MnistSplits> {
  const { dir, download } = options;
  if (dir === undefined && !download) {
    throw new DataError('BAD_ARGUMENT', 'loadMnist', 'expected { dir } or { download: true }');
  }
  const limit = limitFrom('loadMnist', 'maxFileBytes', options.maxFileBytes, DEFAULT_MAX_FILE_BYTES);
  const paths = {} as Record<MnistFileName, string>;
  const names = Object.values(MNIST_FILES);
  if (dir !== undefined) {
    for (const name of names) paths[name] = await findInDir(dir, name);
  } else {
    const cacheDir = options.cacheDir ?? defaultCacheDir('mnist');
    const mirror = options.mirror ?? DEFAULT_MNIST_MIRROR;
    // One file at a time: gentle on the mirror, and an error stops before the next download starts.
    for (const name of names) {
      const hash = options.hashes?.[name] ?? MNIST_SHA256[name];
      // The official files' sizes are known: a mirror sending more is cut off there.
      const expectedBytes = hash.toLowerCase() === MNIST_SHA256[name] ? MNIST_FILE_BYTES[name] : undefined;
      paths[name] = (await ensureCached(name, mirror, cacheDir, hash, { ...options, expectedBytes })).path;
    }
  }
  const [train, test] = await Promise.all([
    loadPair(paths[MNIST_FILES.trainImages], paths[MNIST_FILES.trainLabels], limit),
    loadPair(paths[MNIST_FILES.testImages], paths[MNIST_FILES.testLabels], limit),
  ]);
  return { train, test };
}
