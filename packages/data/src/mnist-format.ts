/**
 * The MNIST format: the four standard IDX files, the official hashes of MNIST and of Fashion-MNIST (the same format
 * and file names), and parsing a pair into a dataset.
 */
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

/**
 * The sha256 of the official Fashion-MNIST files (Zalando Research), which have MNIST's four file names and IDX
 * format. Source: TensorFlow Datasets' checksums file for `fashion_mnist`,
 * https://github.com/tensorflow/datasets/blob/master/tensorflow_datasets/url_checksums/fashion_mnist.txt (URL, size
 * and sha256 of each file at {@link DEFAULT_FASHION_MNIST_MIRROR}); Zalando's README,
 * https://github.com/zalandoresearch/fashion-mnist#get-the-data, lists the same URLs with the files' MD5s.
 */
export const FASHION_MNIST_SHA256: Readonly<Record<MnistFileName, string>> = {
  'train-images-idx3-ubyte.gz': '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84',
  'train-labels-idx1-ubyte.gz': 'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845',
  't10k-images-idx3-ubyte.gz': '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073',
  't10k-labels-idx1-ubyte.gz': '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5',
};

/** The sizes in bytes of the official Fashion-MNIST files (same source as {@link FASHION_MNIST_SHA256}). */
export const FASHION_MNIST_FILE_BYTES: Readonly<Record<MnistFileName, number>> = {
  'train-images-idx3-ubyte.gz': 26_421_880,
  'train-labels-idx1-ubyte.gz': 29_515,
  't10k-images-idx3-ubyte.gz': 4_422_102,
  't10k-labels-idx1-ubyte.gz': 5_148,
};

/**
 * The official Fashion-MNIST download location named in Zalando's README (plain HTTP only; every file is checked
 * against {@link FASHION_MNIST_SHA256} before it is kept).
 */
export const DEFAULT_FASHION_MNIST_MIRROR = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

/** Fashion-MNIST's ten classes, by label. */
export const FASHION_MNIST_LABELS: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** MNIST's (or Fashion-MNIST's) train and test sets, 28×28×1 HWC. */
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

