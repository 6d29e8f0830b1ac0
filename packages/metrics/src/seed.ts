/** Seeded standard-normal tensors, generated in JS from @gm/core's one PRNG so they are the same on every backend. */
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '@gm/core';

/**
 * Standard normal draws as a float32 tensor, generated in JS (as tf.randomNormal also does) but faster:
 * @gm/core's mulberry32 uniforms through Marsaglia's polar method (two normals per accepted pair, no trigonometry). Seeded →
 * reproducible on every backend; without a seed, seeded from Math.random.
 */
export function randomStandardNormal(shape: number[], seed?: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const next = mulberry32(seed ?? Math.floor(Math.random() * 2 ** 32));
  const out = new Float32Array(size);
  let i = 0;
  while (i < size) {
    // u, v uniform in [−1, 1); accept points inside the unit disc (probability π/4), excluding the centre.
    const u = 2 * next() - 1;
    const v = 2 * next() - 1;
    const s = u * u + v * v;
    if (s >= 1 || s === 0) continue;
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    out[i++] = u * f;
    if (i < size) out[i++] = v * f;
  }
  return tf.tensor(out, shape, 'float32');
}
