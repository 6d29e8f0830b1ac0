/**
 * The pictures the CLI draws from a model: sample grids, reconstructions next to their originals, interpolations
 * between codings, and the latent map (codings coloured by label; UMAP or t-SNE for more than two dimensions).
 */
import * as tf from '@tensorflow/tfjs-core';
import { UMAP } from 'umap-js';
import { mulberry32 } from '@gm/core';
import { inputToUnit, type ImageDataset } from '@gm/data';
import type { PNG } from 'pngjs';
import { toModelInput } from './data';
import { gridPng, scatterPicture } from './png';
import { tsneEmbedding } from './tsne';
import { CliError } from './errors';
import type { GenerativeModel } from './registry';

/** The model's encoder and decoder, or a CliError saying this model has no codings. */
export function need(model: GenerativeModel, command: string): { encode: (x: tf.Tensor) => tf.Tensor; decode: (z: tf.Tensor) => tf.Tensor; reconstruct: (x: tf.Tensor) => tf.Tensor } {
  if (model.encode === undefined || model.decode === undefined || model.reconstruct === undefined || model.codingsSize === 0) {
    throw new CliError(`--model: a "${model.kind}" has no codings (no encoder); gm ${command} needs a vae, an iaf-vae or an autoencoder`);
  }
  const m = model as Required<Pick<GenerativeModel, 'encode' | 'decode' | 'reconstruct'>>;
  return { encode: (x) => m.encode(x), decode: (z) => m.decode(z), reconstruct: (x) => m.reconstruct(x) };
}

type Shape = readonly [number, number, number];

function pixelsOf(model: GenerativeModel, t: tf.Tensor): Float32Array {
  return inputToUnit(t.dataSync() as Float32Array, model.inputConvention);
}

/** Images `[start, start + n)` of a dataset as model input. */
export function inputOf(model: GenerativeModel, ds: ImageDataset, start: number, n: number): tf.Tensor {
  const size = ds.images.length / ds.count;
  return toModelInput(ds.images.subarray(start * size, (start + n) * size), n, model.inputShape, model.inputConvention);
}

/**
 * `n` samples from the model, ⌈√n⌉ per row (`options.temperature` for flows). A class-conditional model samples
 * `options.label`, or without one a row per class in turn (`labels` says which).
 */
export function samplesPicture(model: GenerativeModel, shape: Shape, n: number, seed: number, options: { label?: number; temperature?: number } = {}): { png: PNG; labels?: number[] } {
  if (model.sample === undefined) throw new Error(`a "${model.kind}" has no prior to sample from`);
  const cols = Math.ceil(Math.sqrt(n));
  const classes = model.classes ?? 0;
  const labels = classes === 0 ? undefined : Array.from({ length: n }, (_, i) => options.label ?? Math.floor(i / cols) % classes);
  const s = model.sample(n, { seed, ...(labels === undefined ? {} : { label: labels }), ...(options.temperature === undefined ? {} : { temperature: options.temperature }) });
  try {
    return { png: gridPng(pixelsOf(model, s), n, shape, cols), ...(labels === undefined ? {} : { labels }) };
  } finally {
    s.dispose();
  }
}

/** The first `n` images (n a multiple of `cols`) in rows of `cols`, each row followed by its reconstructions. */
export function reconstructionPicture(model: GenerativeModel, ds: ImageDataset, shape: Shape, n: number, cols = 10): { png: PNG; meanSquaredError: number } {
  const count = Math.min(n, ds.count);
  const x = inputOf(model, ds, 0, count);
  const r = need(model, 'reconstruct').reconstruct(x);
  const a = pixelsOf(model, x);
  const b = pixelsOf(model, r);
  tf.dispose([x, r]);
  const size = shape[0] * shape[1] * shape[2];
  const rows = Math.ceil(count / cols);
  const out = new Float32Array(2 * rows * cols * size).fill(model.inputConvention === 'bin-centres' ? 0.5 : 0);
  let se = 0;
  for (let i = 0; i < count; i++) {
    const row = Math.floor(i / cols);
    const col = i % cols;
    out.set(a.subarray(i * size, (i + 1) * size), (2 * row * cols + col) * size);
    out.set(b.subarray(i * size, (i + 1) * size), ((2 * row + 1) * cols + col) * size);
  }
  for (let i = 0; i < a.length; i++) se += ((a[i] as number) - (b[i] as number)) ** 2;
  return { png: gridPng(out, 2 * rows * cols, shape, cols), meanSquaredError: se / a.length };
}

/**
 * `rows` interpolations of `steps` images each: row r walks the straight line between the codings of test image r
 * and the next test image with another label, decoding each point (ends included).
 */
export function interpolationPicture(model: GenerativeModel, ds: ImageDataset, shape: Shape, rows: number, steps: number): { png: PNG; pairs: [number, number][] } {
  const { encode, decode } = need(model, 'interpolate');
  const pairs: [number, number][] = [];
  for (let i = 0; pairs.length < rows && i < ds.count; i++) {
    let j = i + 1;
    while (j < ds.count && ds.labels[j] === ds.labels[i]) j++;
    if (j >= ds.count) break;
    pairs.push([i, j]);
  }
  const size = shape[0] * shape[1] * shape[2];
  const out = new Float32Array(pairs.length * steps * size);
  pairs.forEach(([i, j], r) => {
    const img = tf.tidy(() => {
      const x = tf.concat([inputOf(model, ds, i, 1), inputOf(model, ds, j, 1)], 0);
      const z = encode(x);
      const [za, zb] = tf.split(z, 2, 0) as [tf.Tensor, tf.Tensor];
      const t = tf.reshape(tf.linspace(0, 1, steps), [steps, 1]);
      return decode(tf.add(tf.mul(tf.sub(1, t), za), tf.mul(t, zb)));
    });
    out.set(pixelsOf(model, img), r * steps * size);
    img.dispose();
  });
  return { png: gridPng(out, pairs.length * steps, shape, steps), pairs };
}

/** Codings `[n, codingsSize]` of the first `n` images, computed in batches. */
export function codingsOf(model: GenerativeModel, ds: ImageDataset, n: number): Float32Array {
  const { encode } = need(model, 'latent-map');
  const out = new Float32Array(n * model.codingsSize);
  for (let start = 0; start < n; start += 500) {
    const m = Math.min(500, n - start);
    const z = tf.tidy(() => encode(inputOf(model, ds, start, m)));
    out.set(z.dataSync() as Float32Array, start * model.codingsSize);
    z.dispose();
  }
  return out;
}

export type LatentMapMethod = 'direct' | 'umap' | 'tsne';

export interface LatentMap {
  png: PNG;
  points: number;
  method: LatentMapMethod;
  codingsSize: number;
  /** Thumbnails drawn over the dots (0 without `thumbnails`). */
  thumbnails: number;
  /** t-SNE: the perplexity used. */
  perplexity?: number;
}

export interface LatentMapOptions {
  /** How the codings become 2-D (default: direct for a 2-D latent, else UMAP). */
  method?: LatentMapMethod;
  /** Draw the images at their embedded points, over the dots. */
  thumbnails?: boolean;
  /** t-SNE perplexity (default 30). */
  perplexity?: number;
  /** Progress of UMAP's epochs or t-SNE's iterations. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * The codings of the first `n` images of `ds`, as a scatter coloured by label: directly when the codings are 2-D,
 * else their 2-D UMAP (umap-js) or t-SNE (DruidJS) embedding, both seeded: the same model, images and seed draw the
 * same map. With `thumbnails`, the images themselves sit at their points (Géron's t-SNE picture).
 */
export function latentMapPicture(model: GenerativeModel, ds: ImageDataset, shape: Shape, n: number, seed: number, options: LatentMapOptions = {}): LatentMap {
  const count = Math.min(n, ds.count);
  const L = model.codingsSize;
  const method = options.method ?? (L === 2 ? 'direct' : 'umap');
  if (method === 'direct' && L !== 2) throw new CliError(`--method direct: the codings are ${L}-D and direct plots only a 2-D latent; use --method umap or --method tsne`);
  if (options.perplexity !== undefined && method !== 'tsne') throw new CliError(`--perplexity: only t-SNE has a perplexity, this map is ${method}; add --method tsne`);
  const z = codingsOf(model, ds, count);
  let points: ArrayLike<number> & Iterable<number>;
  let perplexity: number | undefined;
  if (method === 'direct') {
    points = z;
  } else if (method === 'tsne') {
    const t = tsneEmbedding(z, count, L, { seed, ...(options.perplexity === undefined ? {} : { perplexity: options.perplexity }), ...(options.onProgress === undefined ? {} : { onIteration: options.onProgress }) });
    points = t.points;
    perplexity = t.perplexity;
  } else {
    const rows: number[][] = Array.from({ length: count }, (_, i) => Array.from(z.subarray(i * L, (i + 1) * L)));
    const umap = new UMAP({ nComponents: 2, nNeighbors: 15, minDist: 0.1, random: mulberry32(seed) });
    const epochs = umap.initializeFit(rows);
    for (let e = 0; e < epochs; e++) {
      umap.step();
      if (options.onProgress !== undefined && (e % 10 === 0 || e === epochs - 1)) options.onProgress(e + 1, epochs);
    }
    points = umap.getEmbedding().flat();
  }
  const labels = ds.labels.subarray(0, count);
  const legend = new Map<number, { pixels: Float32Array; h: number; w: number }>();
  if (shape[2] === 1) {
    const size = shape[0] * shape[1];
    for (let i = 0; i < count; i++) {
      const label = labels[i] as number;
      if (!legend.has(label)) legend.set(label, { pixels: Float32Array.from(ds.images.subarray(i * size, (i + 1) * size), (v) => v / 255), h: shape[0], w: shape[1] });
    }
  }
  const size = shape[0] * shape[1] * shape[2];
  const thumbnails = options.thumbnails === true ? { pixels: Float32Array.from(ds.images.subarray(0, count * size), (v) => v / 255), shape } : undefined;
  const picture = scatterPicture(Array.from(points), labels, { legendImages: legend, ...(thumbnails === undefined ? {} : { size: 800, thumbnails }) });
  return { png: picture.png, points: count, method, codingsSize: L, thumbnails: picture.thumbnails, ...(perplexity === undefined ? {} : { perplexity }) };
}
