/**
 * Two more pictures of Géron's ch. 17: a grid interpolated bilinearly between the codings of four images
 * (`gm interpolate --grid`), and reconstructions of noisy inputs (`gm reconstruct --noise σ`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '@gm/core';
import type { InputConvention } from '@gm/core';
import { inputToUnit, type ImageDataset } from '@gm/data';
import type { PNG } from 'pngjs';
import { CliError } from './errors';
import { inputOf, need } from './pictures';
import { gridPng } from './png';
import type { GenerativeModel } from './registry';

type Shape = readonly [number, number, number];

/**
 * `steps × steps` codings (row-major, `L` values each) interpolated bilinearly between four corner codings
 * `corners` = [top-left, top-right, bottom-left, bottom-right] (`4 × L` values): the point in row r, column c is
 * (1 − u)(1 − v)·TL + u(1 − v)·TR + (1 − u)v·BL + uv·BR with u = c / (steps − 1), v = r / (steps − 1).
 */
export function bilinearCodings(corners: ArrayLike<number>, L: number, steps: number): Float32Array {
  if (corners.length !== 4 * L) throw new Error(`bilinearCodings: expected 4 × ${L} corner values, got ${corners.length}`);
  if (!Number.isInteger(steps) || steps < 2) throw new Error(`bilinearCodings: steps must be an integer ≥ 2, got ${steps}`);
  const out = new Float32Array(steps * steps * L);
  for (let r = 0; r < steps; r++) {
    const v = r / (steps - 1);
    for (let c = 0; c < steps; c++) {
      const u = c / (steps - 1);
      const w = [(1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v] as const;
      for (let k = 0; k < L; k++) {
        let z = 0;
        for (let q = 0; q < 4; q++) z += (w[q] as number) * (corners[q * L + k] as number);
        out[(r * steps + c) * L + k] = z;
      }
    }
  }
  return out;
}

/** The first test images of four different labels (or, with fewer labels, the first four images). */
export function defaultCorners(ds: ImageDataset): number[] {
  if (ds.count < 4) throw new CliError(`--data: the grid needs four test images, the test split has ${ds.count}`);
  const seen = new Set<number>();
  const picked: number[] = [];
  for (let i = 0; i < ds.count && picked.length < 4; i++) {
    const label = ds.labels[i] as number;
    if (seen.has(label)) continue;
    seen.add(label);
    picked.push(i);
  }
  return picked.length === 4 ? picked : [0, 1, 2, 3];
}

/**
 * A `steps × steps` grid of decoded codings, bilinear between the codings (a VAE's posterior means) of four test
 * images at the corners: `corners` = [top-left, top-right, bottom-left, bottom-right] test-image indices.
 */
export function interpolationGridPicture(model: GenerativeModel, ds: ImageDataset, shape: Shape, steps: number, corners: readonly number[] = defaultCorners(ds)): { png: PNG; corners: number[]; labels: number[] } {
  const { encode, decode } = need(model, 'interpolate');
  if (corners.length !== 4) throw new CliError(`--corners: expected four test-image indices, got ${corners.length}`);
  const bad = corners.find((i) => i >= ds.count);
  if (bad !== undefined) throw new CliError(`--corners: test image ${bad} does not exist (the test split has ${ds.count}: 0..${ds.count - 1})`);
  const L = model.codingsSize;
  const z = tf.tidy(() => encode(tf.concat(corners.map((i) => inputOf(model, ds, i, 1)), 0)));
  const zs = bilinearCodings(z.dataSync() as Float32Array, L, steps);
  z.dispose();
  const size = shape[0] * shape[1] * shape[2];
  const out = new Float32Array(steps * steps * size);
  for (let start = 0; start < steps * steps; start += 500) {
    const m = Math.min(500, steps * steps - start);
    const img = tf.tidy(() => decode(tf.tensor2d(zs.subarray(start * L, (start + m) * L), [m, L])));
    out.set(inputToUnit(img.dataSync() as Float32Array, model.inputConvention), start * size);
    img.dispose();
  }
  return { png: gridPng(out, steps * steps, shape, steps), corners: [...corners], labels: corners.map((i) => ds.labels[i] as number) };
}

/** Display intensities in [0, 1] back to the model's input convention (the inverse of `toDisplay`). */
export function fromDisplay(values: Float32Array, convention: InputConvention): Float32Array {
  if (convention === 'bin-centres') return values.map((v) => 2 * v - 1);
  if (convention === 'pixels') return values.map((v) => 255 * v);
  return values;
}

/** `values` (intensities in [0, 1]) plus N(0, σ²) noise, clipped to [0, 1]; seeded (Box–Muller on mulberry32). */
export function addGaussianNoise(values: Float32Array, sigma: number, seed: number): Float32Array {
  const rng = mulberry32(seed);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i += 2) {
    const u1 = 1 - rng(); // (0, 1]: log is finite
    const u2 = rng();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = Math.min(1, Math.max(0, (values[i] as number) + sigma * r * Math.cos(2 * Math.PI * u2)));
    if (i + 1 < values.length) out[i + 1] = Math.min(1, Math.max(0, (values[i + 1] as number) + sigma * r * Math.sin(2 * Math.PI * u2)));
  }
  return out;
}

/**
 * The first `n` test images with Gaussian noise of standard deviation `sigma` added to their intensities in [0, 1]
 * (clipped), in rows of `cols`: for each row of images, the noisy inputs, their reconstructions, then the clean
 * originals. Reports the mean squared error (in [0, 1] units) of the reconstructions and of the noisy inputs against
 * the clean images.
 */
export function noisyReconstructionPicture(model: GenerativeModel, ds: ImageDataset, shape: Shape, n: number, sigma: number, seed: number, cols = 10): { png: PNG; meanSquaredError: number; noisyMeanSquaredError: number } {
  const { reconstruct } = need(model, 'reconstruct');
  const count = Math.min(n, ds.count);
  const x = inputOf(model, ds, 0, count);
  const clean = inputToUnit(x.dataSync() as Float32Array, model.inputConvention);
  x.dispose();
  const noisy = addGaussianNoise(clean, sigma, seed);
  const r = tf.tidy(() => reconstruct(tf.tensor(fromDisplay(noisy, model.inputConvention), [count, ...model.inputShape], 'float32')));
  const rec = inputToUnit(r.dataSync() as Float32Array, model.inputConvention);
  r.dispose();
  const size = shape[0] * shape[1] * shape[2];
  const rows = Math.ceil(count / cols);
  const out = new Float32Array(3 * rows * cols * size).fill(model.inputConvention === 'bin-centres' ? 0.5 : 0);
  let se = 0;
  let noisySe = 0;
  for (let i = 0; i < count; i++) {
    const row = Math.floor(i / cols);
    const col = i % cols;
    out.set(noisy.subarray(i * size, (i + 1) * size), (3 * row * cols + col) * size);
    out.set(rec.subarray(i * size, (i + 1) * size), ((3 * row + 1) * cols + col) * size);
    out.set(clean.subarray(i * size, (i + 1) * size), ((3 * row + 2) * cols + col) * size);
  }
  for (let k = 0; k < clean.length; k++) {
    se += ((rec[k] as number) - (clean[k] as number)) ** 2;
    noisySe += ((noisy[k] as number) - (clean[k] as number)) ** 2;
  }
  return { png: gridPng(out, 3 * rows * cols, shape, cols), meanSquaredError: se / clean.length, noisyMeanSquaredError: noisySe / clean.length };
}
