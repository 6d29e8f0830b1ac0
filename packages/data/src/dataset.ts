import { DataError } from './errors.js';

import type { ImageDataset } from '@gm/core';

export type { ImageDataset, ImageLayout } from '@gm/core';

/** Bytes per image. */
export function imageSize(ds: Pick<ImageDataset, 'shape'>): number {
  return ds.shape[0] * ds.shape[1] * ds.shape[2];
}

/** Builds a dataset after checking that images, labels, shape and count agree. */
export function makeDataset(fields: ImageDataset, source = 'dataset'): ImageDataset {
  const { images, labels, shape, count } = fields;
  if (shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new DataError('BAD_DIMENSIONS', source, `expected a shape of 3 positive integers, got [${shape.join(', ')}]`);
  }
  if (images.length !== count * imageSize(fields)) {
    throw new DataError(
      'COUNT_MISMATCH',
      source,
      `expected ${count} images of ${shape.join('×')} = ${count * imageSize(fields)} bytes, got ${images.length}`,
    );
  }
  if (labels.length !== count) {
    throw new DataError('COUNT_MISMATCH', source, `expected ${count} labels (one per image), got ${labels.length}`);
  }
  return { ...fields, shape: [shape[0], shape[1], shape[2]] };
}

/** A new dataset of the images at `indices`, in that order (copies the bytes). */
export function subset(ds: ImageDataset, indices: ArrayLike<number>): ImageDataset {
  const size = imageSize(ds);
  const n = indices.length;
  const images = new Uint8Array(n * size);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const j = indices[i]!;
    if (!Number.isInteger(j) || j < 0 || j >= ds.count) {
      throw new RangeError(`subset: index ${j} at position ${i} is outside 0..${ds.count - 1}`);
    }
    images.set(ds.images.subarray(j * size, (j + 1) * size), i * size);
    labels[i] = ds.labels[j]!;
  }
  return { ...ds, images, labels, count: n };
}

/** Concatenates datasets of the same shape and layout. */
export function concatDatasets(parts: readonly ImageDataset[], source = 'concatDatasets'): ImageDataset {
  const first = parts[0];
  if (first === undefined) throw new DataError('BAD_ARGUMENT', source, 'expected at least one dataset');
  const count = parts.reduce((s, p) => s + p.count, 0);
  const size = imageSize(first);
  const images = new Uint8Array(count * size);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    if (p.layout !== first.layout || p.shape.some((d, i) => d !== first.shape[i])) {
      throw new DataError(
        'BAD_DIMENSIONS',
        source,
        `expected every part to be ${first.layout} ${first.shape.join('×')}, got ${p.layout} ${p.shape.join('×')}`,
      );
    }
    images.set(p.images, at * size);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { ...first, images, labels, count };
}

/**
 * The same images reordered to HWC (height, width, channels) — what tfjs convolutions expect per image (NHWC for
 * a batch). Datasets already in HWC are returned as they are.
 */
export function toNHWC(ds: ImageDataset): ImageDataset {
  if (ds.layout === 'HWC') return ds;
  const [c, h, w] = ds.shape;
  const size = c * h * w;
  const hw = h * w;
  const out = new Uint8Array(ds.images.length);
  for (let n = 0; n < ds.count; n++) {
    const base = n * size;
    for (let ch = 0; ch < c; ch++) {
      const src = base + ch * hw;
      for (let p = 0; p < hw; p++) out[base + p * c + ch] = ds.images[src + p]!;
    }
  }
  return { ...ds, images: out, shape: [h, w, c], layout: 'HWC' };
}

/** The inverse of {@link toNHWC}: channels first. */
export function toNCHW(ds: ImageDataset): ImageDataset {
  if (ds.layout === 'CHW') return ds;
  const [h, w, c] = ds.shape;
  const size = c * h * w;
  const hw = h * w;
  const out = new Uint8Array(ds.images.length);
  for (let n = 0; n < ds.count; n++) {
    const base = n * size;
    for (let ch = 0; ch < c; ch++) {
      const dst = base + ch * hw;
      for (let p = 0; p < hw; p++) out[dst + p] = ds.images[base + p * c + ch]!;
    }
  }
  return { ...ds, images: out, shape: [c, h, w], layout: 'CHW' };
}
