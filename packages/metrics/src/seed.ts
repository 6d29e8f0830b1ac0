/** Seeded standard-normal tensors, generated in JS by @gm/core's noise so they are the same on every backend. */
import * as tf from '@tensorflow/tfjs-core';
import { normalNoise } from '@gm/core';

/**
 * Standard normal draws as a float32 tensor (@gm/core's `normalNoise`: mulberry32 through Marsaglia's polar method,
 * faster than tf.randomNormal, which also draws in JS). Seeded → reproducible on every backend; without a seed,
 * seeded from Math.random. With `exampleAxis`, each example along that axis draws from its own stream keyed by its
 * index in the step's whole batch, so a data-parallel replica's shard draws what one thread draws for those examples.
 */
export function randomStandardNormal(shape: number[], seed?: number, exampleAxis?: number): tf.Tensor {
  return tf.tensor(normalNoise(shape, seed, exampleAxis), shape, 'float32');
}
