/** CIFAR-10, binary version: 1 label byte + 3,072 pixel bytes (1,024 red, 1,024 green, 1,024 blue; CHW) per image. */
import { makeDataset, toNCHW, type ImageDataset } from './dataset.js';
import { DataError } from './errors.js';

/** Class names by label. */
export const CIFAR10_LABELS = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
] as const;

export const CIFAR10_TRAIN_FILES = [
  'data_batch_1.bin',
  'data_batch_2.bin',
  'data_batch_3.bin',
  'data_batch_4.bin',
  'data_batch_5.bin',
] as const;
export const CIFAR10_TEST_FILE = 'test_batch.bin';
/** The official archive's name and sha256. */
export const CIFAR10_ARCHIVE = 'cifar-10-binary.tar.gz';
export const CIFAR10_SHA256 = 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd';
/** The size in bytes of the official archive: a download is cut off as soon as it runs past it. */
export const CIFAR10_ARCHIVE_BYTES = 170_052_171;
/** The size in bytes of one official batch file: 10,000 images of 3,073 bytes (1 label + 3,072 pixels). */
export const CIFAR10_BATCH_BYTES = 30_730_000;
/** The folder inside the archive. */
export const CIFAR10_FOLDER = 'cifar-10-batches-bin';
export const DEFAULT_CIFAR10_MIRROR = 'https://www.cs.toronto.edu/~kriz/';

const H = 32;
const W = 32;
const C = 3;
const RECORD = 1 + C * H * W;

/**
 * Parses one CIFAR-10 binary batch file into a CHW dataset (the file's own order) with label names. Use
 * {@link toNHWC} for the HWC view tfjs expects.
 */
export function parseCifar10Batch(bytes: Uint8Array, file = '<CIFAR-10 buffer>'): ImageDataset {
  if (bytes.length === 0 || bytes.length % RECORD !== 0) {
    throw new DataError(
      'TRUNCATED',
      file,
      `truncated or malformed CIFAR-10 batch: expected a positive multiple of ${RECORD} bytes (1 label + ${C * H * W} pixels per image), got ${bytes.length}`,
    );
  }
  const count = bytes.length / RECORD;
  const images = new Uint8Array(count * (RECORD - 1));
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * RECORD;
    const label = bytes[at]!;
    if (label > 9) {
      throw new DataError('BAD_LABEL', file, `image ${i} (byte ${at}) has label ${label}, expected 0..9`);
    }
    labels[i] = label;
    images.set(bytes.subarray(at + 1, at + RECORD), i * (RECORD - 1));
  }
  return makeDataset({ images, labels, shape: [C, H, W], layout: 'CHW', count, labelNames: CIFAR10_LABELS }, file);
}

/** Serializes a 32×32×3 dataset (either layout) to the CIFAR-10 binary batch format. */
export function writeCifar10Batch(ds: ImageDataset): Uint8Array {
  const chw = ds.layout === 'CHW' ? ds : toNCHW(ds);
  if (chw.shape[0] !== C || chw.shape[1] !== H || chw.shape[2] !== W) {
    throw new DataError('BAD_DIMENSIONS', 'writeCifar10Batch', `expected 3×32×32 images, got ${ds.shape.join('×')} ${ds.layout}`);
  }
  const out = new Uint8Array(ds.count * RECORD);
  for (let i = 0; i < ds.count; i++) {
    out[i * RECORD] = chw.labels[i]!;
    out.set(chw.images.subarray(i * (RECORD - 1), (i + 1) * (RECORD - 1)), i * RECORD + 1);
  }
  return out;
}

/** CIFAR-10's train (50,000) and test (10,000) sets. */
export interface Cifar10Splits {
  train: ImageDataset;
  test: ImageDataset;
}

