/**
 * Where the CLI's images come from (`--data`, and the `<in>` of `gm compress`), turned into what each model reads
 * (its input convention: @gm/data's `pixelsToInput`).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import type { InputConvention } from '@gm/core';
import { gunzipIdxIfNamed, isGzip, makeDataset, parseIdx, pixelsToInput, subset, type ImageDataset } from '@gm/data';
import { loadBundledMnist, loadCifar10, loadMnist, readRegularFile } from '@gm/data/node';
import { CliError } from './errors';
import type { DataSpec } from './spec';

/** Caps on one input picture: its file, and each side (pngjs decodes width × height × 4 bytes). */
const MAX_PNG_BYTES = 64 * 1024 * 1024;
const MAX_PNG_SIDE = 8192;

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

/** Loads a dataset (HWC layout), optionally keeping only the first `trainLimit` / `testLimit` images of each split. */
export async function loadData(spec: DataSpec, limits: { train?: number; test?: number } = {}, flag = '--data'): Promise<LoadedData> {
  let train: ImageDataset;
  let test: ImageDataset;
  let name: string;
  if (spec.kind === 'mnist-bundled') {
    ({ train, test } = loadBundledMnist());
    name = 'bundled MNIST';
  } else if (spec.kind === 'mnist') {
    checkDir(flag, spec.dir);
    ({ train, test } = await loadMnist({ dir: spec.dir }));
    name = `MNIST from ${spec.dir}`;
  } else {
    checkDir(flag, spec.dir);
    ({ train, test } = await loadCifar10({ dir: spec.dir }));
    name = `CIFAR-10 from ${spec.dir}`;
  }
  train = firstN(train, limits.train);
  test = firstN(test, limits.test);
  return { name, train, test, shape: hwc(train) };
}

function hwc(ds: ImageDataset): [number, number, number] {
  const [a, b, c] = ds.shape;
  return ds.layout === 'HWC' ? [a, b, c] : [b, c, a];
}

/** Pixels of `images` (bytes) as a float tensor `[count, ...inputShape]` in the model's input convention. */
export function toModelInput(images: Uint8Array, count: number, inputShape: readonly number[], convention: InputConvention): tf.Tensor {
  return tf.tensor(pixelsToInput(images, convention), [count, ...inputShape], 'float32');
}

/** Model-convention values back to display intensities in [0, 1]. */
export function toDisplay(values: Float32Array, convention: InputConvention): Float32Array {
  if (convention === 'bin-centres') return values.map((v) => (v + 1) / 2);
  if (convention === 'pixels') return values.map((v) => v / 255);
  return values;
}

/** A dataset of images in HWC layout from raw pieces. */
export function datasetOf(images: Uint8Array, count: number, shape: [number, number, number], labels?: Uint8Array): ImageDataset {
  return makeDataset({ images, labels: labels ?? new Uint8Array(count), shape, layout: 'HWC', count }, 'gm');
}

/**
 * The `<in>` of `gm compress`:
 * - `mnist-bundled[:test|train|all]` (default test: the 2,000 bundled test digits);
 * - `mnist:<dir>[:test|train]`, `cifar:<dir>[:test|train]` (default test);
 * - an IDX image file (`t10k-images-idx3-ubyte`, optionally gzipped), recognised by its contents;
 * - a folder of PNG files (read in name order; all the same size).
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
  for (const kind of ['mnist', 'cifar'] as const) {
    if (input.startsWith(`${kind}:`)) {
      const [dir, which] = split(input.slice(kind.length + 1));
      if (which === 'all') throw new CliError(`<in>: ${kind}:<dir> takes :train or :test, got "${input}"`);
      const data = await loadData(kind === 'mnist' ? { kind, dir } : { kind, dir }, {}, '<in>');
      const ds = data[which];
      return { images: ds, shape: data.shape, description: `${data.name}, ${which} split (${ds.count} images)` };
    }
  }
  if (!existsSync(input)) {
    throw new CliError(`<in>: ${input} not found (expected mnist-bundled[:test|train|all], mnist:<dir>, cifar:<dir>, an IDX image file or a folder of PNGs)`);
  }
  if (statSync(input).isDirectory()) return await readPngFolder(input);
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

/** Reads every `*.png` of a folder (name order) as 8-bit gray (one channel) or RGB (three channels, alpha dropped). */
export async function readPngFolder(dir: string): Promise<{ images: ImageDataset; shape: [number, number, number]; description: string }> {
  const files = readdirSync(dir)
    .filter((f) => f.toLowerCase().endsWith('.png'))
    .sort();
  if (files.length === 0) throw new CliError(`<in>: the folder ${dir} holds no .png files`);
  let shape: [number, number, number] | undefined;
  const parts: Uint8Array[] = [];
  for (const f of files) {
    const file = join(dir, f);
    let png: PNG;
    let bytes: Uint8Array;
    try {
      bytes = await readRegularFile(file, { maxBytes: MAX_PNG_BYTES });
    } catch (error) {
      throw new CliError(`<in>: ${(error as Error).message}`);
    }
    // The size in the header, before pngjs allocates width × height × 4 bytes for it.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length >= 24 && (view.getUint32(16) > MAX_PNG_SIDE || view.getUint32(20) > MAX_PNG_SIDE)) {
      throw new CliError(`<in>: ${file} is ${view.getUint32(16)}×${view.getUint32(20)} pixels; gm reads pictures of at most ${MAX_PNG_SIDE}×${MAX_PNG_SIDE}`);
    }
    try {
      png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (error) {
      throw new CliError(`<in>: ${file} is not a readable PNG (${(error as Error).message})`);
    }
    // pngjs expands every PNG to RGBA 8-bit; gray images have R = G = B.
    let gray = true;
    for (let i = 0; i < png.width * png.height && gray; i++) {
      const r = png.data[4 * i];
      gray = r === png.data[4 * i + 1] && r === png.data[4 * i + 2];
    }
    const channels = gray ? 1 : 3;
    const here: [number, number, number] = [png.height, png.width, channels];
    if (shape === undefined) shape = here;
    else if (shape[0] !== here[0] || shape[1] !== here[1]) {
      throw new CliError(`<in>: ${file} is ${here[1]}×${here[0]}, but ${files[0]} is ${shape[1]}×${shape[0]}; every PNG must have the same size`);
    }
    const c = shape[2];
    const out = new Uint8Array(png.width * png.height * c);
    for (let i = 0; i < png.width * png.height; i++) for (let k = 0; k < c; k++) out[i * c + k] = png.data[4 * i + k] as number;
    parts.push(out);
  }
  const s = shape as [number, number, number];
  const size = s[0] * s[1] * s[2];
  const images = new Uint8Array(parts.length * size);
  parts.forEach((p, i) => images.set(p, i * size));
  return { images: datasetOf(images, parts.length, s), shape: s, description: `${parts.length} PNG files from ${dir} (${s[1]}×${s[0]})` };
}
