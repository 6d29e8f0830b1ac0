/**
 * Test support for the kernels that gather rows (Concat, Slice, SplitV): they copy rows in gm's wasm kernel
 * (`gm_copy_rows`) when gm's kernels are bound — as initBackend binds them — and in JavaScript otherwise (and for
 * bool tensors). Their tests run once per path; both must equal the stock kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { expect } from 'vitest';
import { gmKernelsFor, prepareGmKernels, releaseGmKernels } from './gm-kernels';

export const ROW_COPY_PATHS = [
  ['rows copied in JavaScript', false],
  ['rows copied by gm_copy_rows', true],
] as const;

/** The wasm backend with gm's kernels bound (or released), then `install()`s the override under test. */
export async function setUpRowCopies(bound: boolean, install: () => boolean): Promise<void> {
  await tf.setBackend('wasm');
  await tf.ready();
  if (bound) expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
  else releaseGmKernels(tf.backend());
  expect(gmKernelsFor(tf.backend()) !== undefined).toBe(bound);
  expect(install()).toBe(true);
}
