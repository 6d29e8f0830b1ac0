/** `.npy` files on disk (Node): read within a size cap, only regular files; an images + labels pair as a dataset. */
import type { ImageDataset } from './dataset.js';
import { readRegularFileWithin } from './files.js';
import { DEFAULT_MAX_FILE_BYTES, limitFrom, type Limit } from './limits.js';
import { datasetFromNpy, parseNpy, type NpyArray, type NpyDatasetOptions } from './npy.js';

async function readNpyWithin(path: string, limit: Limit): Promise<NpyArray> {
  return parseNpy(await readRegularFileWithin(path, limit), path);
}

/**
 * Reads a `.npy` file (uint8 or float32, C order; see {@link parseNpy}). Only a regular file of at most `maxBytes`
 * (default {@link DEFAULT_MAX_FILE_BYTES}, 256 MiB) is read; errors name the file.
 */
export async function readNpyFile(path: string, options: { maxBytes?: number } = {}): Promise<NpyArray> {
  return readNpyWithin(path, limitFrom(path, 'maxBytes', options.maxBytes, DEFAULT_MAX_FILE_BYTES));
}

/** Options of {@link loadNpy}. */
export interface LoadNpyOptions extends NpyDatasetOptions {
  /** The images: `(count, height, width)` or `(count, height, width, channels)`, uint8 or float32. */
  images: string;
  /** The labels, `(count,)` uint8 (or float32 whole numbers); without them every label is 0. */
  labels?: string;
  /** The most bytes each file may have (default {@link DEFAULT_MAX_FILE_BYTES}, 256 MiB). */
  maxFileBytes?: number;
}

/**
 * An HWC dataset from a `.npy` images file and, optionally, a `.npy` labels file (see {@link datasetFromNpy}).
 *
 * @example
 * ```ts
 * // np.save('x.npy', x.astype(np.uint8)); np.save('y.npy', y.astype(np.uint8))
 * const ds = await loadNpy({ images: 'x.npy', labels: 'y.npy' });
 * ```
 */
export async function loadNpy(options: LoadNpyOptions): Promise<ImageDataset> {
  const limit = limitFrom('loadNpy', 'maxFileBytes', options.maxFileBytes, DEFAULT_MAX_FILE_BYTES);
  const [images, labels] = await Promise.all([
    readNpyWithin(options.images, limit),
    options.labels === undefined ? undefined : readNpyWithin(options.labels, limit),
  ]);
  return datasetFromNpy(images, labels, options.labels === undefined ? { images: options.images } : { images: options.images, labels: options.labels }, options);
}
