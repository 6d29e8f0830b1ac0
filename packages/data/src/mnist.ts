/** MNIST from the four standard IDX files: from a folder, or downloaded, verified and cached. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDataset, type ImageDataset } from './dataset.js';
import { DataError } from './errors.js';
import { defaultCacheDir, ensureCached, fileExists, type DownloadOptions } from './files.js';
import { gunzipIfNamed, parseIdxImages, parseIdxLabels } from './idx.js';

/** The four standard MNIST file names. */
export const MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
} as const;

export type MnistFileName = (typeof MNIST_FILES)[keyof typeof MNIST_FILES];

/** The sha256 of the official MNIST files (the same bytes on every well-known mirror). */
export const MNIST_SHA256: Readonly<Record<MnistFileName, string>> = {
  'train-images-idx3-ubyte.gz': '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
  'train-labels-idx1-ubyte.gz': '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
  't10k-images-idx3-ubyte.gz': '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
  't10k-labels-idx1-ubyte.gz': 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
};

/** The mirror TensorFlow uses for the official files. */
export const DEFAULT_MNIST_MIRROR = 'https://storage.googleapis.com/cvdf-datasets/mnist/';

/** MNIST's train and test sets, 28×28×1 HWC. */
export interface MnistSplits {
  train: ImageDataset;
  test: ImageDataset;
}

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
}

const ROWS = 28;
const COLS = 28;

/** The names a file may have on disk: as published, gunzipped, or with the dot some unzip tools produce. */
function candidates(name: MnistFileName): string[] {
  const plain = name.slice(0, -3);
  return [name, plain, plain.replace(/-(idx\d)/, '.$1')];
}

async function findInDir(dir: string, name: MnistFileName): Promise<string> {
  for (const c of candidates(name)) {
    const p = join(dir, c);
    if (await fileExists(p)) return p;
  }
  throw new DataError('MISSING_FILE', join(dir, name), `MNIST file not found: expected one of ${candidates(name).join(', ')} in ${dir}`);
}

/** Parses one image file and its label file into a checked 28×28 dataset. */
export function mnistFromIdx(imageBytes: Uint8Array, labelBytes: Uint8Array, imageFile: string, labelFile: string): ImageDataset {
  const { images, count, rows, cols } = parseIdxImages(gunzipIfNamed(imageBytes, imageFile), imageFile);
  if (rows !== ROWS || cols !== COLS) {
    throw new DataError('BAD_DIMENSIONS', imageFile, `unexpected image dimensions: expected ${ROWS}×${COLS}, got ${rows}×${cols}`);
  }
  const labels = parseIdxLabels(gunzipIfNamed(labelBytes, labelFile), labelFile);
  if (labels.length !== count) {
    throw new DataError(
      'COUNT_MISMATCH',
      `${imageFile} + ${labelFile}`,
      `image/label count mismatch: expected ${count} labels (one per image), got ${labels.length}`,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! > 9) throw new DataError('BAD_LABEL', labelFile, `label ${i} is ${labels[i]}, expected a digit 0..9`);
  }
  return makeDataset({ images, labels, shape: [ROWS, COLS, 1], layout: 'HWC', count }, imageFile);
}

async function loadPair(imagePath: string, labelPath: string): Promise<ImageDataset> {
  const [imageBytes, labelBytes] = await Promise.all([readFile(imagePath), readFile(labelPath)]);
  return mnistFromIdx(imageBytes, labelBytes, imagePath, labelPath);
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
      paths[name] = (await ensureCached(name, mirror, cacheDir, hash, options)).path;
    }
  }
  const [train, test] = await Promise.all([
    loadPair(paths[MNIST_FILES.trainImages], paths[MNIST_FILES.trainLabels]),
    loadPair(paths[MNIST_FILES.testImages], paths[MNIST_FILES.testLabels]),
  ]);
  return { train, test };
}
