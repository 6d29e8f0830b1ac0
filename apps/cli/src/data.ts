/**
 * Where the CLI's images come from (`--data`, and the `<in>` of `gm compress`), turned into what each model reads
 * (its input convention: @gm/data's `pixelsToInput`). Every dataset comes from @gm/data's registry (`loadDataset`);
 * folders of PNG/JPEG pictures are read by @gm/data's `loadImageFolder` (sharp).
 */
import { existsSync, statSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import type { InputConvention } from '@gm/core';
import { DataError, gunzipIdxIfNamed, isGzip, makeDataset, parseIdx, pixelsToInput, subset, type ImageDataset } from '@gm/data';
import { datasetEntry, loadBundledMnist, loadDataset, loadImageFolder, parseDatasetSpec, readRegularFile } from '@gm/data/node';
import { CliError } from './errors';
import type { DataSpec } from './spec';

/** Train and test images, each image `shape` = [height, width, channels] (HWC), bytes 0..255. */
export interface LoadedData {
  name: string;
  train: ImageDataset;
  test: ImageDataset;
  shape: [number, number, number];
}

function checkDir(flag: string, dir: string): void {
  if (!existsSync(dir)) throw new CliError(`${flag}: folder ${dir} not found`);
  if (!statSync(dir).isDirectory()) throw new CliError(`${flag}: ${dir} is not a folder`);
}

function firstN(ds: ImageDataset, n: number | undefined): ImageDataset {
  if (n === undefined || n >= ds.count) return ds;
  return subset(ds, Int32Array.from({ length: n }, (_, i) => i));
}

/** A data error as a one-line CLI error naming the flag (the message already names the file). */
function asCliError(flag: string, error: unknown): unknown {
  return error instanceof DataError ? new CliError(`${flag}: ${error.message}`) : error;
}

/**
 * Loads a dataset of @gm/data's registry (HWC layout), optionally keeping only the first `trainLimit` / `testLimit`
 * images of each split.
 */
export async function loadData(spec: DataSpec, limits: { train?: number; test?: number } = {}, flag = '--data'): Promise<LoadedData> {
  if (datasetEntry(spec.kind)?.argument === 'folder' && spec.arg !== undefined) checkDir(flag, spec.arg);
  let loaded;
  try {
    loaded = await loadDataset(spec);
  } catch (error) {
    throw asCliError(flag, error);
  }
  return { name: loaded.title, train: firstN(loaded.train, limits.train), test: firstN(loaded.test, limits.test), shape: loaded.shape };
}

function hwc(ds: ImageDataset): [number, number, number] {
  const [a, b, c] = ds.shape;
  return ds.layout === 'HWC' ? [a, b, c] : [b, c, a];
}

/** Pixels of `images` (bytes) as a float tensor `[count, ...inputShape]` in the model's input convention. */
export function toModelInput(images: Uint8Array, count: number, inputShape: readonly number[], convention: InputConvention): tf.Tensor {
  return tf.tensor(pixelsToInput(images, convention), [count, ...inputShape], 'float32');
}

/** A dataset of images in HWC layout from raw pieces. */
export function datasetOf(images: Uint8Array, count: number, shape: [number, number, number], labels?: Uint8Array): ImageDataset {
  return makeDataset({ images, labels: labels ?? new Uint8Array(count), shape, layout: 'HWC', count }, 'gm');
}

/**
 * The `<in>` of `gm compress`:
 * - `mnist-bundled[:test|train|all]` (default test: the 2,000 bundled test digits);
 * - any other `--data` spec with its split: `mnist:<dir>[:test|train]`, `images:<dir>[?…][:test|train]`, … (default test);
 * - an IDX image file (`t10k-images-idx3-ubyte`, optionally gzipped), recognised by its contents;
 * - a folder of PNG/JPEG pictures (all of them, in name order; see {@link readPictureFolder}).
 */
export async function loadImagesInput(input: string): Promise<{ images: ImageDataset; shape: [number, number, number]; description: string }> {
  const split = (rest: string): [string, 'train' | 'test' | 'all'] => {
    const m = /^(.*):(train|test|all)$/.exec(rest);
    return m === null ? [rest, 'test'] : [m[1] as string, m[2] as 'train' | 'test' | 'all'];
  };
  if (input === 'mnist-bundled' || input.startsWith('mnist-bundled:')) {
    const which = input === 'mnist-bundled' ? 'test' : input.slice('mnist-bundled:'.length);
    if (which !== 'train' && which !== 'test' && which !== 'all') {
      throw new CliError(`<in>: expected mnist-bundled, mnist-bundled:test, mnist-bundled:train or mnist-bundled:all, got "${input}"`);
    }
    const b = loadBundledMnist();
    const ds = b[which];
    return { images: ds, shape: hwc(ds), description: `bundled MNIST ${which} (${ds.count} digits)` };
  }
  const kind = input.split(':')[0]!;
  if (input.startsWith(`${kind}:`) && datasetEntry(kind) !== undefined) {
    const [spec, which] = split(input);
    if (which === 'all') throw new CliError(`<in>: ${kind}:… takes :train or :test, got "${input}"`);
    let parsed;
    try {
      parsed = parseDatasetSpec(spec);
    } catch (error) {
      throw asCliError('<in>', error);
    }
    const data = await loadData(parsed, {}, '<in>');
    const ds = data[which];
    return { images: ds, shape: data.shape, description: `${data.name}, ${which} split (${ds.count} images)` };
  }
  if (!existsSync(input)) {
    throw new CliError(`<in>: ${input} not found (expected mnist-bundled[:test|train|all], a --data spec such as mnist:<dir>[:test|train], an IDX image file or a folder of PNG/JPEG pictures)`);
  }
  if (statSync(input).isDirectory()) return await readPictureFolder(input);
  let bytes: Uint8Array;
  try {
    // A regular file only (a FIFO or /dev/zero would be read forever), within @gm/data's caps; gzip inflated to
    // no more than its IDX header declares.
    const raw = await readRegularFile(input);
    bytes = isGzip(raw) ? gunzipIdxIfNamed(raw, input.endsWith('.gz') ? input : `${input}.gz`) : raw;
  } catch (error) {
    throw new CliError(`<in>: ${(error as Error).message}`);
  }
  let idx;
  try {
    idx = parseIdx(bytes, input);
  } catch (error) {
    throw new CliError(`<in>: ${input} is not an IDX file (${(error as Error).message.replace(`${input}: `, '')})`);
  }
  const [count, rows, cols, channels = 1] = idx.dims;
  if (idx.dtype !== 'uint8' || (idx.dims.length !== 3 && idx.dims.length !== 4) || count === undefined || rows === undefined || cols === undefined) {
    throw new CliError(`<in>: ${input} holds ${idx.dtype} values of dimensions [${idx.dims.join(', ')}]; expected uint8 images [count, rows, cols] or [count, rows, cols, channels]`);
  }
  const shape: [number, number, number] = [rows, cols, channels];
  return { images: datasetOf(idx.data as Uint8Array, count, shape), shape, description: `IDX file ${input} (${count} images, ${rows}×${cols}${channels === 1 ? '' : `×${channels}`})` };
}

/**
 * Reads every PNG/JPEG picture of a folder with @gm/data's `loadImageFolder`, in name order: gray (one channel)
 * when every picture is gray, else RGB (three channels, alpha dropped); pictures of another size than the first are
 * scaled and centre-cropped to it.
 */
export async function readPictureFolder(dir: string): Promise<{ images: ImageDataset; shape: [number, number, number]; description: string }> {
  let images: ImageDataset;
  try {
    const { files: _files, ...pictures } = await loadImageFolder(dir);
    images = pictures;
  } catch (error) {
    throw asCliError('<in>', error);
  }
  const [h, w, c] = images.shape;
  return { images, shape: [h, w, c], description: `${images.count} PNG/JPEG pictures from ${dir} (${w}×${h}${c === 1 ? ', gray' : ', RGB'})` };
}
