/** Pieces both Real NVP models share: argument checks, the chain of flow layers as one tfjs model, batched means. */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { GmError } from '@gm/core';
import type { TrainerOptions } from '../train/trainer';

/** Options of `fit` on both Real NVP models: the trainer's (`clipNorm` is the usual guard for flows). */
export type RealNvpFitOptions = TrainerOptions;

export function checkTensor(where: string, name: string, t: unknown): asserts t is tf.Tensor {
  if (!(t instanceof tf.Tensor)) throw new GmError('BAD_ARGUMENT', `${where}: "${name}"`, 'a tf.Tensor', t === null ? null : typeof t);
}

/** A functional LayersModel that applies `layers` in order to an input of `shape` (builds them; saves them). */
export function chainModel(shape: number[], layers: tfl.layers.Layer[], name: string): tfl.LayersModel {
  const input = tfl.input({ shape });
  let h: tfl.SymbolicTensor = input;
  for (const layer of layers) h = layer.apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: h, name });
}

/** The layers of a chain model, without its input layer. */
export function chainLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  return model.layers.filter((l) => l.getClassName() !== 'InputLayer');
}

/** Mean of `perExample(xb)` (a `[b]` tensor) over `x` in batches of `batchSize`. */
export function batchedMean(x: tf.Tensor, batchSize: number, perExample: (xb: tf.Tensor, batch: number) => tf.Tensor): number {
  const N = x.shape[0] as number;
  let total = 0;
  for (let start = 0, b = 0; start < N; start += batchSize, b++) {
    const size = Math.min(batchSize, N - start);
    const sum = tf.tidy(() => tf.sum(perExample(size === N ? x : tf.slice(x, start, size), b)));
    total += sum.dataSync()[0] as number;
    sum.dispose();
  }
  return total / N;
}
