/**
 * MNIST and Fashion-MNIST from their four standard IDX files (Node): from a folder, or downloaded, verified and
 * cached. Both go through one loader; only the hashes, sizes, mirror, cache folder and class names differ.
 */
import { join } from 'node:path';
import type { ImageDataset } from './dataset.js';
import { DataError } from './errors.js';
import { defaultCacheDir, ensureCached, readRegularFileWithin, statRegularFile, type DownloadOptions } from './files.js';
import { DEFAULT_MAX_FILE_BYTES, limitFrom, type Limit } from './limits.js';
import {
  DEFAULT_FASHION_MNIST_MIRROR,
  DEFAULT_MNIST_MIRROR,
  FASHION_MNIST_FILE_BYTES,
  FASHION_MNIST_LABELS,
  FASHION_MNIST_SHA256,
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
  /**
   * Base URL the four file names are appended to (default {@link DEFAULT_MNIST_MIRROR}; for
   * {@link loadFashionMnist}, {@link DEFAULT_FASHION_MNIST_MIRROR}).
   */
  mirror?: string;
  /** Cache folder (default `$XDG_CACHE_HOME/gm/mnist` or `~/.cache/gm/mnist`; `…/gm/fashion-mnist` for Fashion-MNIST). */
  cacheDir?: string;
  /**
   * sha256 per file name, overriding the official ones ({@link MNIST_SHA256}, {@link FASHION_MNIST_SHA256}) — for a
   * mirror of other files in the same format, or for tests that serve their own files. With a hash of your own the
   * official file size no longer caps the download; `maxDownloadBytes` does.
   */
  hashes?: Partial<Record<MnistFileName, string>>;
  /**
   * The most bytes one file may have, on disk and inflated (default {@link DEFAULT_MAX_FILE_BYTES}, 256 MiB; MNIST's
   * largest file has 47 MB). Each file also may not inflate past what its IDX header declares.
   */
  maxFileBytes?: number;
}

/** Options of {@link loadFashionMnist}: the same as MNIST's. */
export type LoadFashionMnistOptions = LoadMnistOptions;

/** What tells one dataset in MNIST's format and file names from another. */
interface MnistStyle {
  /** For messages: `MNIST`, `Fashion-MNIST`. */
  title: string;
  /** The function, for messages. */
  where: string;
  sha256: Readonly<Record<MnistFileName, string>>;
  fileBytes: Readonly<Record<MnistFileName, number>>;
  mirror: string;
  /** Sub-folder of the default cache. */
  cacheName: string;
  labelNames?: readonly string[];
}

const MNIST: MnistStyle = {
  title: 'MNIST',
  where: 'loadMnist',
  sha256: MNIST_SHA256,
  fileBytes: MNIST_FILE_BYTES,
  mirror: DEFAULT_MNIST_MIRROR,
  cacheName: 'mnist',
};

const FASHION_MNIST: MnistStyle = {
  title: 'Fashion-MNIST',
  where: 'loadFashionMnist',
  sha256: FASHION_MNIST_SHA256,
  fileBytes: FASHION_MNIST_FILE_BYTES,
  mirror: DEFAULT_FASHION_MNIST_MIRROR,
  cacheName: 'fashion-mnist',
  labelNames: FASHION_MNIST_LABELS,
};

/** The names a file may have on disk: as published, gunzipped, or with the dot some unzip tools produce. */
function candidates(name: MnistFileName): string[] {
  const plain = name.slice(0, -3);
  return [name, plain, plain.replace(/-(idx\d)/, '.$1')];
}

async function findInDir(dir: string, name: MnistFileName, style: MnistStyle): Promise<string> {
  for (const c of candidates(name)) {
    const p = join(dir, c);
    // A FIFO or device under one of the names is refused, not skipped.
    if ((await statRegularFile(p)) !== undefined) return p;
  }
  throw new DataError(
    'MISSING_FILE',
    join(dir, name),
    `${style.title} file not found: expected one of ${candidates(name).join(', ')} in ${dir}`,
  );
}

async function loadPair(imagePath: string, labelPath: string, limit: Limit, style: MnistStyle): Promise<ImageDataset> {
  const [imageBytes, labelBytes] = await Promise.all([readRegularFileWithin(imagePath, limit), readRegularFileWithin(labelPath, limit)]);
  const ds = mnistFromIdxWithin(imageBytes, labelBytes, imagePath, labelPath, limit);
  return style.labelNames === undefined ? ds : { ...ds, labelNames: style.labelNames };
}

/** The one loader of the MNIST-format datasets. */
async function loadMnistStyle(options: LoadMnistOptions, style: MnistStyle): Promise<MnistSplits> {
  const { dir, download } = options;
  if (dir === undefined && !download) {
    throw new DataError('BAD_ARGUMENT', style.where, 'expected { dir } or { download: true }');
  }
  const limit = limitFrom(style.where, 'maxFileBytes', options.maxFileBytes, DEFAULT_MAX_FILE_BYTES);
  const paths = {} as Record<MnistFileName, string>;
  const names = Object.values(MNIST_FILES);
  if (dir !== undefined) {
    for (const name of names) paths[name] = await findInDir(dir, name, style);
  } else {
    const cacheDir = options.cacheDir ?? defaultCacheDir(style.cacheName);
    const mirror = options.mirror ?? style.mirror;
    // One file at a time: gentle on the mirror, and an error stops before the next download starts.
    for (const name of names) {
      const hash = options.hashes?.[name] ?? style.sha256[name];
      // The official files' sizes are known: a mirror sending more is cut off there.
      const expectedBytes = hash.toLowerCase() === style.sha256[name] ? style.fileBytes[name] : undefined;
      paths[name] = (await ensureCached(name, mirror, cacheDir, hash, { ...options, expectedBytes })).path;
    }
  }
  const [train, test] = await Promise.all([
    loadPair(paths[MNIST_FILES.trainImages], paths[MNIST_FILES.trainLabels], limit, style),
    loadPair(paths[MNIST_FILES.testImages], paths[MNIST_FILES.testLabels], limit, style),
  ]);
  return { train, test };
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
  return loadMnistStyle(options, MNIST);
}

/**
 * Loads Fashion-MNIST (60,000 train + 10,000 test 28×28 gray pictures of clothing in 10 classes,
 * {@link FASHION_MNIST_LABELS}; `labelNames` is set). Same files, format, options and checks as {@link loadMnist};
 * downloads come from {@link DEFAULT_FASHION_MNIST_MIRROR} and are checked against {@link FASHION_MNIST_SHA256}.
 *
 * @example
 * ```ts
 * const { train } = await loadFashionMnist({ dir: '/data/fashion-mnist' });
 * train.labelNames?.[train.labels[0]!]; // e.g. 'Ankle boot'
 * const cached = await loadFashionMnist({ download: true }); // ~/.cache/gm/fashion-mnist
 * ```
 */
export async function loadFashionMnist(options: LoadFashionMnistOptions): Promise<MnistSplits> {
  return loadMnistStyle(options, FASHION_MNIST);
}
