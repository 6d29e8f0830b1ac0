/**
 * The trainer's view of training data: every accepted form — a tensor, `{ x, labels }`, an image dataset, an
 * iterable or a function of the epoch — as epochs of batches, in a seeded order where the trainer owns the order.
 */
import * as tf from '@tensorflow/tfjs-core';
import { deriveSeed, GmError, permutation, type ImageDataset, type InputConvention, type TrainingBatch, type TrainingData } from '@gm/core';
import { pixelsToInput, toNHWC } from '@gm/data';

/** One batch with its size; `owned` tensors are freed by the trainer after the step. */
export interface SourceBatch extends TrainingBatch {
  size: number;
  owned: boolean;
}

export interface BatchSource {
  /** Batches per epoch (NaN when the data is an iterable of unknown length). */
  readonly batches: number;
  /** Examples per epoch (NaN when unknown). */
  readonly examples: number;
  epoch(epoch: number): AsyncIterable<SourceBatch>;
  dispose(): void;
}

/** What converting images needs to know about the model. */
export interface InputSpec {
  inputShape?: readonly number[];
  inputConvention?: InputConvention;
}

const isTensor = (v: unknown): v is tf.Tensor => v instanceof tf.Tensor;

export function isImageDataset(v: unknown): v is ImageDataset {
  const d = v as ImageDataset;
  return typeof v === 'object' && v !== null && d.images instanceof Uint8Array && d.labels instanceof Uint8Array && Array.isArray(d.shape) && typeof d.count === 'number';
}

const isBatchObject = (v: unknown): v is TrainingBatch => typeof v === 'object' && v !== null && isTensor((v as TrainingBatch).x);

/** An image dataset as the model's input tensor (and int32 labels), converted by its input convention. */
export function datasetTensors(ds: ImageDataset, spec: InputSpec, where: string): { x: tf.Tensor; labels: tf.Tensor } {
  if (spec.inputConvention === undefined || spec.inputShape === undefined) {
    throw new GmError('BAD_ARGUMENT', where, 'image datasets need a model with inputShape and inputConvention; pass a tensor of inputs instead');
  }
  const hwc = toNHWC(ds);
  const size = spec.inputShape.reduce((a, b) => a * b, 1);
  const perImage = hwc.shape[0] * hwc.shape[1] * hwc.shape[2];
  if (size !== perImage) {
    throw new GmError('BAD_SHAPE', where, `the images are ${hwc.shape.join('×')} = ${perImage} values, the model reads [${spec.inputShape.join(', ')}] = ${size}`);
  }
  const values = pixelsToInput(hwc.images, spec.inputConvention);
  return { x: tf.tensor(values, [hwc.count, ...spec.inputShape], 'float32'), labels: tf.tensor1d(Int32Array.from(hwc.labels), 'int32') };
}

/** A whole dataset as one batch object (tensor, pair or images), or undefined for iterables. */
export function wholeData(data: unknown, spec: InputSpec, where: string): { batch: TrainingBatch; owned: boolean } | undefined {
  if (isTensor(data)) return { batch: { x: data }, owned: false };
  if (isImageDataset(data)) return { batch: datasetTensors(data, spec, where), owned: true };
  if (isBatchObject(data)) {
    const n = data.x.shape[0];
    if (data.labels !== undefined && data.labels.shape[0] !== n) {
      throw new GmError('BAD_SHAPE', `${where}: labels`, `${n} labels (one per example of x), got ${data.labels.shape[0]}`);
    }
    return { batch: data, owned: false };
  }
  return undefined;
}

function tensorSource(whole: TrainingBatch, owned: boolean, batchSize: number, shuffle: boolean, seed: number, where: string, dropRemainder: boolean): BatchSource {
  const n = whole.x.shape[0] as number;
  if (!(n >= 1)) throw new GmError('BAD_SHAPE', `${where}: data`, 'at least one example', whole.x.shape);
  const batches = dropRemainder ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
  if (batches === 0) throw new GmError('BAD_SHAPE', `${where}: data`, `at least one full batch of ${batchSize} examples`, n);
  return {
    batches,
    examples: n,
    async *epoch(epoch) {
      const order = shuffle ? permutation(n, deriveSeed(seed, epoch, 1)) : undefined;
      for (let b = 0; b < batches; b++) {
        const start = b * batchSize;
        const size = Math.min(batchSize, n - start);
        const batch = tf.tidy(() => {
          if (order === undefined) {
            return { x: tf.slice(whole.x, start, size), labels: whole.labels === undefined ? undefined : tf.slice(whole.labels, start, size) };
          }
          const rows = tf.tensor1d(Int32Array.from(order.subarray(start, start + size)), 'int32');
          return { x: tf.gather(whole.x, rows), labels: whole.labels === undefined ? undefined : tf.gather(whole.labels, rows) };
        });
        yield { x: batch.x, ...(batch.labels === undefined ? {} : { labels: batch.labels }), size, owned: true };
      }
    },
    dispose() {
      if (owned) tf.dispose([whole.x, ...(whole.labels === undefined ? [] : [whole.labels])]);
    },
  };
}

/** Normalises an item of an iterable: `{ x, labels }`, or @gm/data's `Batch`. */
function iterableBatch(item: unknown, where: string): SourceBatch {
  if (!isBatchObject(item)) throw new GmError('BAD_ARGUMENT', `${where}: data`, 'an iterable of batches { x: tf.Tensor, labels?: tf.Tensor }', item);
  return { x: item.x, ...(item.labels === undefined ? {} : { labels: item.labels }), size: item.x.shape[0] as number, owned: false };
}

/** The trainer's batches for any accepted form of data. */
export function batchSource(data: TrainingData, spec: InputSpec, o: { batchSize: number; shuffle: boolean; seed: number; where: string; dropRemainder?: boolean }): BatchSource {
  const whole = wholeData(data, spec, `${o.where}: data`);
  if (whole !== undefined) return tensorSource(whole.batch, whole.owned, o.batchSize, o.shuffle, o.seed, o.where, o.dropRemainder ?? false);
  const single = typeof data === 'function' ? undefined : (data as Iterable<TrainingBatch> | AsyncIterable<TrainingBatch>);
  if (single !== undefined && typeof (single as Iterable<unknown>)[Symbol.iterator] !== 'function' && typeof (single as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
    throw new GmError('BAD_ARGUMENT', `${o.where}: data`, 'a tf.Tensor, { x, labels }, an ImageDataset, an iterable of batches or a function epoch => iterable', data);
  }
  let used = false;
  return {
    batches: Number.NaN,
    examples: Number.NaN,
    async *epoch(epoch) {
      const it = single ?? (data as (e: number) => Iterable<TrainingBatch> | AsyncIterable<TrainingBatch>)(epoch);
      let count = 0;
      for await (const item of it as AsyncIterable<unknown>) {
        count++;
        yield iterableBatch(item, o.where);
      }
      if (count === 0) {
        throw new GmError(
          'BAD_ARGUMENT',
          `${o.where}: data`,
          used && single !== undefined
            ? `the iterable was used up by epoch ${epoch - 1}: pass a function (epoch) => batchIterator(...) to train several epochs`
            : 'an iterable that yields at least one batch',
        );
      }
      used = true;
    },
    dispose() {},
  };
}
