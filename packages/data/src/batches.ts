/** A batch iterator that hands out tfjs tensors without leaking (seeded shuffles and splits: split.ts). */
import { cast, dispose, oneHot, tensor, tensor1d, tidy, type Tensor } from '@tensorflow/tfjs-core';
import { imageSize, type ImageDataset } from './dataset.js';
import { DataError } from './errors.js';
import { binarizeDynamic, binarizeStatic, dequantizeUniform, scaleToUnit } from './preprocess.js';
import { deriveSeed, mulberry32, permutation, type Rng } from '@gm/core';

/** How pixels become the `xs` tensor's floats. */
export type PixelTransform =
  | 'scale' // v / 255 in [0, 1]
  | 'binarize' // static threshold at 0.5
  | 'dynamic-binarize' // seeded Bernoulli(v / 255), fresh each epoch
  | 'dequantize' // (v + U[0,1)) / 256, fresh each epoch
  | 'raw' // the byte values as floats
  | ((pixels: Uint8Array, rng: Rng) => Float32Array | Uint8Array);

export interface BatchOptions {
  batchSize: number;
  /** Visit images in a seeded random order (default true). */
  shuffle?: boolean;
  /** Seed of the order and of random transforms (default 0). */
  seed?: number;
  /** Epoch number, mixed into the seed so each epoch gets a new order and new noise (default 0). */
  epoch?: number;
  /** Skip a last batch smaller than `batchSize` (default false). */
  dropRemainder?: boolean;
  /** Pixel transform (default `'scale'`). */
  transform?: PixelTransform;
  /** `xs` as `[b, h·w·c]` instead of `[b, …shape]` (default false). */
  flatten?: boolean;
  /** Labels as a float32 one-hot `[b, classes]` instead of int32 `[b]` (default false). */
  oneHot?: boolean;
  /** Number of classes for `oneHot` (default 10). */
  numClasses?: number;
}

/** One batch. Its tensors belong to the iterator and are disposed when the next batch is requested or the loop ends. */
export interface Batch {
  xs: Tensor;
  ys: Tensor;
  /** Images in this batch. */
  size: number;
  /** Which dataset images are in it, in order. */
  indices: Uint32Array;
}

/** How many batches one epoch yields. */
export function numBatches(count: number, batchSize: number, dropRemainder = false): number {
  return dropRemainder ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}

function applyTransform(pixels: Uint8Array, transform: PixelTransform, rng: Rng): Float32Array | Uint8Array {
  if (typeof transform === 'function') return transform(pixels, rng);
  switch (transform) {
    case 'scale':
      return scaleToUnit(pixels);
    case 'binarize':
      return binarizeStatic(pixels);
    case 'dynamic-binarize':
      return binarizeDynamic(pixels, rng);
    case 'dequantize':
      return dequantizeUniform(pixels, rng);
    case 'raw':
      return pixels;
  }
}

/**
 * Iterates over one epoch of `ds` in batches of tfjs tensors (`xs` float32, `ys` int32 labels or one-hot).
 * Tensors are owned by the iterator: each batch's tensors are disposed when the next batch is requested, and the
 * last ones when the loop ends — also on `break` or an exception — so a training loop leaks nothing. To keep a
 * batch beyond its iteration, `tf.clone` it.
 *
 * @example
 * ```ts
 * for (const { xs, ys } of batchIterator(train, { batchSize: 64, seed: 1, epoch, transform: 'dynamic-binarize', flatten: true })) {
 *   optimizer.minimize(() => loss(model, xs, ys));
 * }
 * ```
 */
export function* batchIterator(ds: ImageDataset, options: BatchOptions): Generator<Batch, void, undefined> {
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new DataError('BAD_ARGUMENT', 'batchIterator', `expected a positive integer batchSize, got ${batchSize}`);
  }
  const seed = options.seed ?? 0;
  const epoch = options.epoch ?? 0;
  const order =
    options.shuffle === false ? Uint32Array.from({ length: ds.count }, (_, i) => i) : permutation(ds.count, deriveSeed(seed, epoch, 1));
  const rng = mulberry32(deriveSeed(seed, epoch, 2));
  const transform = options.transform ?? 'scale';
  const size = imageSize(ds);
  const numClasses = options.numClasses ?? 10;
  const n = numBatches(ds.count, batchSize, options.dropRemainder ?? false);
  let current: Batch | undefined;
  try {
    for (let b = 0; b < n; b++) {
      if (current !== undefined) dispose([current.xs, current.ys]);
      current = undefined;
      const indices = order.slice(b * batchSize, Math.min((b + 1) * batchSize, ds.count));
      const m = indices.length;
      const pixels = new Uint8Array(m * size);
      const labels = new Int32Array(m);
      for (let i = 0; i < m; i++) {
        const j = indices[i]!;
        pixels.set(ds.images.subarray(j * size, (j + 1) * size), i * size);
        labels[i] = ds.labels[j]!;
      }
      const values = applyTransform(pixels, transform, rng);
      const floats = values instanceof Float32Array ? values : Float32Array.from(values);
      const shape = options.flatten ? [m, size] : [m, ...ds.shape];
      const xs = tensor(floats, shape, 'float32');
      const ys = options.oneHot ? tidy(() => cast(oneHot(tensor1d(labels, 'int32'), numClasses), 'float32')) : tensor1d(labels, 'int32');
      current = { xs, ys, size: m, indices };
      yield current;
    }
  } finally {
    if (current !== undefined) dispose([current.xs, current.ys]);
  }
}
