/** What the log-density ops share: the sum over an event's axes and the Gaussian normaliser. */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';

/** log 2π: the Gaussian log-density of each dimension carries −½ log 2π. */
export const LOG_2PI = Math.log(2 * Math.PI);

/** Sums the trailing `eventRank` axes of `t` (none for 0): per-dimension log-densities → one per event. */
export function sumEvent(t: Tensor, eventRank: number): Tensor {
  if (eventRank === 0) return t;
  return tf.sum(t, Array.from({ length: eventRank }, (_, i) => t.rank - eventRank + i));
}
