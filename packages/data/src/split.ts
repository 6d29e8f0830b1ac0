/** Seeded shuffling and train/validation splits (no tfjs: usable where tensors are not loaded). */
import { permutation } from '@gm/core';
import { subset, type ImageDataset } from './dataset.js';
import { DataError } from './errors.js';

/** The dataset in a seeded random order (a copy). */
export function shuffleDataset(ds: ImageDataset, seed: number): ImageDataset {
  return subset(ds, permutation(ds.count, seed));
}

/**
 * Splits a dataset into train and validation parts after a seeded shuffle. Give `validationCount`, or
 * `validationFraction` (default 0.1, rounded to the nearest whole image).
 */
export function trainValidationSplit(
  ds: ImageDataset,
  options: { seed: number; validationFraction?: number; validationCount?: number },
): { train: ImageDataset; validation: ImageDataset } {
  const fraction = options.validationFraction ?? 0.1;
  const nVal = options.validationCount ?? Math.round(ds.count * fraction);
  if (!Number.isInteger(nVal) || nVal < 0 || nVal > ds.count || !(fraction >= 0 && fraction <= 1)) {
    throw new DataError(
      'BAD_ARGUMENT',
      'trainValidationSplit',
      `expected a validation size in 0..${ds.count} (fraction in [0, 1]), got ${options.validationCount ?? fraction}`,
    );
  }
  const perm = permutation(ds.count, options.seed);
  return { validation: subset(ds, perm.subarray(0, nVal)), train: subset(ds, perm.subarray(nVal)) };
}
