/** Batched evaluation helpers of the autoencoder family (training itself is gm's trainer). */
import * as tf from '@tensorflow/tfjs-core';
import { GmError } from '@gm/core';

/** Checks that `tensors` share their first dimension (> 0) and returns it. */
export function exampleCount(tensors: tf.Tensor[], names: string[], where: string): number {
  const n = tensors[0]?.shape[0];
  if (n === undefined || n === 0) throw new GmError('BAD_SHAPE', where, `${names[0]} must hold at least one example`);
  tensors.forEach((t, i) => {
    if (t.shape[0] !== n) throw new GmError('BAD_SHAPE', where, `${names[i]} has ${t.shape[0]} examples, expected ${n} (as many as ${names[0]})`);
  });
  return n;
}

/** Mean of `loss` over `data` evaluated in batches (example-weighted), without gradients. */
export function batchedMean(data: tf.Tensor[], batchSize: number, loss: (batch: tf.Tensor[]) => tf.Scalar): number {
  const n = data[0]?.shape[0] ?? 0;
  let total = 0;
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const value = tf.tidy(() => loss(data.map((t) => tf.slice(t, [start], [size]))));
    total += (value.dataSync()[0] as number) * size;
    value.dispose();
  }
  return total / n;
}
