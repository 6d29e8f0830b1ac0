/**
 * `gm codings`: what an autoencoder's codings look like (Géron, ch. 17) — each test image beside its codings drawn
 * as a small grey image, and histograms of the coding activations (every value, and each unit's mean over the test
 * images), the sparse autoencoder's picture: with a sparsity penalty most activations sit near 0 and the unit means
 * near the target.
 */
import { PNG } from 'pngjs';
import { inputToUnit, type ImageDataset } from '@gm/data';
import { CliError } from './errors';
import { codingsOf, inputOf } from './pictures';
import { gridPng } from './png';
import type { GenerativeModel } from './registry';

type Shape = readonly [number, number, number];

/** A histogram: `counts[b]` values fell in [edges[b], edges[b + 1]) (the last bin includes its right edge). */
export interface Histogram {
  edges: number[];
  counts: number[];
}

/** `bins` equal-width bins from the smallest to the largest value (one bin of width 0 when they are all equal). */
export function histogram(values: ArrayLike<number>, bins: number): Histogram {
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`histogram: bins must be a positive integer, got ${bins}`);
  if (values.length === 0) throw new Error('histogram: no values');
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) throw new Error(`histogram: value ${i} is ${v}`);
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const b = width === 0 ? 0 : Math.min(bins - 1, Math.floor(((values[i] as number) - lo) / width));
    counts[b] = (counts[b] as number) + 1;
  }
  return { edges: Array.from({ length: bins + 1 }, (_, b) => (b === bins ? hi : lo + b * width)), counts };
}

/** Each unit's mean over the examples of `codings` (`n × L`, row-major). */
export function unitMeans(codings: Float32Array, L: number): Float64Array {
  const n = codings.length / L;
  const means = new Float64Array(L);
  for (let i = 0; i < codings.length; i++) means[i % L] = (means[i % L] as number) + (codings[i] as number) / n;
  return means;
}

/** The codings of one example as a `shape` tile: a near-square grid of L cells, each a block of grey in [0, 1]. */
function codingTile(z: Float32Array, lo: number, hi: number, shape: Shape): Float32Array {
  const [h, w, c] = shape;
  const L = z.length;
  const cols = Math.ceil(Math.sqrt(L));
  const rows = Math.ceil(L / cols);
  const cell = Math.max(1, Math.floor(Math.min(h / rows, w / cols)));
  const top = Math.floor((h - rows * cell) / 2);
  const left = Math.floor((w - cols * cell) / 2);
  const tile = new Float32Array(h * w * c);
  for (let j = 0; j < L; j++) {
    const v = hi > lo ? ((z[j] as number) - lo) / (hi - lo) : 0.5;
    const r0 = top + Math.floor(j / cols) * cell;
    const c0 = left + (j % cols) * cell;
    for (let y = r0; y < Math.min(h, r0 + cell); y++) for (let x = c0; x < Math.min(w, c0 + cell); x++) for (let k = 0; k < c; k++) tile[(y * w + x) * c + k] = v;
  }
  return tile;
}

/**
 * The first `n` test images, each followed by its codings as a grey tile (one cell per coding unit, black at the
 * smallest value shown, white at the largest), `perRow` pairs per row.
 */
export function codingsPicture(model: GenerativeModel, ds: ImageDataset, shape: Shape, n: number, perRow = 5): { png: PNG; range: [number, number] } {
  const count = Math.min(n, ds.count);
  const L = model.codingsSize;
  if (L === 0) throw new CliError(`gm codings: a "${model.kind}" has no codings (autoencoders and VAEs do)`);
  const z = codingsOf(model, ds, count);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of z) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const x = inputOf(model, ds, 0, count);
  const images = inputToUnit(x.dataSync() as Float32Array, model.inputConvention);
  x.dispose();
  const size = shape[0] * shape[1] * shape[2];
  const rows = Math.ceil(count / perRow);
  const out = new Float32Array(rows * perRow * 2 * size);
  for (let i = 0; i < count; i++) {
    out.set(images.subarray(i * size, (i + 1) * size), 2 * i * size);
    out.set(codingTile(z.subarray(i * L, (i + 1) * L), lo, hi, shape), (2 * i + 1) * size);
  }
  return { png: gridPng(out, rows * perRow * 2, shape, perRow * 2), range: [lo, hi] };
}

/** Two bar charts side by side (`left`, `right`), each bar's height its count over the chart's largest. */
export function histogramsPng(left: Histogram, right: Histogram): PNG {
  const panelW = 240;
  const panelH = 140;
  const pad = 10;
  const png = new PNG({ width: 2 * panelW + 3 * pad, height: panelH + 2 * pad });
  png.data.fill(255);
  const draw = (hist: Histogram, x0: number): void => {
    const max = Math.max(...hist.counts, 1);
    const barW = panelW / hist.counts.length;
    hist.counts.forEach((count, b) => {
      const height = Math.round((count / max) * panelH);
      for (let x = Math.floor(x0 + b * barW); x < Math.floor(x0 + (b + 1) * barW) - 1; x++) {
        for (let y = pad + panelH - height; y < pad + panelH; y++) {
          const at = (y * png.width + x) * 4;
          png.data[at] = 70;
          png.data[at + 1] = 110;
          png.data[at + 2] = 170;
        }
      }
    });
    for (let x = x0; x < x0 + panelW; x++) {
      const at = ((pad + panelH) * png.width + x) * 4; // the axis
      png.data[at] = png.data[at + 1] = png.data[at + 2] = 0;
    }
  };
  draw(left, pad);
  draw(right, 2 * pad + panelW);
  return png;
}

/** The histograms of every coding value and of each unit's mean, over the first `n` test images. */
export function activationHistograms(model: GenerativeModel, ds: ImageDataset, n: number, bins = 20): { all: Histogram; means: Histogram; meanActivation: number; images: number } {
  const count = Math.min(n, ds.count);
  const L = model.codingsSize;
  if (L === 0) throw new CliError(`gm codings: a "${model.kind}" has no codings (autoencoders and VAEs do)`);
  const z = codingsOf(model, ds, count);
  const means = unitMeans(z, L);
  return { all: histogram(z, bins), means: histogram(means, bins), meanActivation: means.reduce((a, b) => a + b, 0) / L, images: count };
}

/** A histogram as text lines: `[lo, hi)  count  ████`. */
export function histogramLines(h: Histogram, width = 40): string[] {
  const max = Math.max(...h.counts, 1);
  return h.counts.map((count, b) => `  [${(h.edges[b] as number).toFixed(3)}, ${(h.edges[b + 1] as number).toFixed(3)}${b === h.counts.length - 1 ? ']' : ')'} ${String(count).padStart(8)}  ${'█'.repeat(Math.round((count / max) * width))}`);
}
