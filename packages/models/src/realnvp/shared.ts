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

/**
 * A functional LayersModel that applies `layers` in order to an input of `shape` (builds them; saves them). With a
 * `contextSize`, the model has a second input, the context, which every layer with a `contextSize` also reads.
 */
export function chainModel(shape: number[], layers: tfl.layers.Layer[], name: string, contextSize?: number): tfl.LayersModel {
  const input = tfl.input({ shape });
  const context = contextSize === undefined ? undefined : tfl.input({ shape: [contextSize] });
  let h: tfl.SymbolicTensor = input;
  for (const layer of layers) {
    const conditional = (layer as { contextSize?: number }).contextSize !== undefined;
    if (conditional && context === undefined) throw new Error(`chainModel: layer "${layer.name}" reads a context, but the model has none`);
    h = layer.apply(conditional ? [h, context as tfl.SymbolicTensor] : h) as tfl.SymbolicTensor;
  }
  return tfl.model({ inputs: context === undefined ? input : [input, context], outputs: h, name });
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
