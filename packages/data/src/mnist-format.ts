/** The MNIST format: the four standard IDX files, their official hashes, and parsing a pair into a dataset. */
import { makeDataset, type ImageDataset } from './dataset.js';
import { DataError } from './errors.js';
import { gunzipIdxWithin } from './gzip.js';
import { parseIdxImages, parseIdxLabels } from './idx.js';
import { DEFAULT_MAX_FILE_BYTES, limitFrom, type Limit } from './limits.js';

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

/**
 * The sizes in bytes of the official MNIST files (gzipped, as published): a download of one of them is cut off
 * as soon as it runs past its size.
 */
export const MNIST_FILE_BYTES: Readonly<Record<MnistFileName, number>> = {
  'train-images-idx3-ubyte.gz': 9_912_422,
  'train-labels-idx1-ubyte.gz': 28_881,
  't10k-images-idx3-ubyte.gz': 1_648_877,
  't10k-labels-idx1-ubyte.gz': 4_542,
};

/** The mirror TensorFlow uses for the official files. */
export const DEFAULT_MNIST_MIRROR = 'https://storage.googleapis.com/cvdf-datasets/mnist/';

/** MNIST's train and test sets, 28×28×1 HWC. */
export interface MnistSplits {
  train: ImageDataset;
  test: ImageDataset;
}

const ROWS = 28;
const COLS = 28;

/**
 * Parses one image file and its label file (gzipped when their names end in `.gz`) into a checked 28×28 dataset.
 * Each file may inflate to what its IDX header declares and no more, and no header may declare more than
 * `options.maxBytes` (default {@link DEFAULT_MAX_FILE_BYTES}, 256 MiB).
 */
export function mnistFromIdx(
  imageBytes: Uint8Array,
  labelBytes: Uint8Array,
  imageFile: string,
  labelFile: string,
  options: { maxBytes?: number } = {},
): ImageDataset {
  const limit = limitFrom('mnistFromIdx', 'maxBytes', options.maxBytes, DEFAULT_MAX_FILE_BYTES);
  return mnistFromIdxWithin(imageBytes, labelBytes, imageFile, labelFile, limit);
}

/** {@link mnistFromIdx} with a {@link Limit} whose note names the caller's option. */
export function mnistFromIdxWithin(
  imageBytes: Uint8Array,
  labelBytes: Uint8Array,
  imageFile: string,
  labelFile: string,
  limit: Limit,
): ImageDataset {
  const { images, count, rows, cols } = parseIdxImages(gunzipIdxWithin(imageBytes, imageFile, limit), imageFile);
  if (rows !== ROWS || cols !== COLS) {
    throw new DataError('BAD_DIMENSIONS', imageFile, `unexpected image dimensions: expected ${ROWS}×${COLS}, got ${rows}×${cols}`);
  }
  const labels = parseIdxLabels(gunzipIdxWithin(labelBytes, labelFile, limit), labelFile);
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

