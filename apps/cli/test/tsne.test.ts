// t-SNE for gm latent-map --method tsne (DruidJS through src/tsne.ts) and the thumbnails of the scatter plot.
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@gm/core';
import { scatterPicture } from '../src/png';
import { tsneEmbedding } from '../src/tsne';

/** `perBlob` points around each of `k` centres 10·e_c in `dim` dimensions, unit Gaussian noise; labels 0..k−1. */
function blobs(perBlob: number, k: number, dim: number, seed: number): { data: Float64Array; labels: number[] } {
  const rng = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const n = perBlob * k;
  const data = new Float64Array(n * dim);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % k; // interleaved, so a wrong row stride would mix the blobs
    labels.push(c);
    for (let j = 0; j < dim; j++) data[i * dim + j] = (j === c ? 10 : 0) + gauss();
  }
  return { data, labels };
}

const dist = (p: Float64Array, i: number, j: number) => Math.hypot((p[2 * i] as number) - (p[2 * j] as number), (p[2 * i + 1] as number) - (p[2 * j + 1] as number));

/** Leave-one-out 1-nearest-neighbour label agreement of 2-D points. */
function nearestNeighbourAgreement(points: Float64Array, labels: number[]): number {
  let agree = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = -1;
    let bestD = Infinity;
    for (let j = 0; j < labels.length; j++) {
      if (j === i) continue;
      const d = dist(points, i, j);
      if (d < bestD) [best, bestD] = [j, d];
    }
    if (labels[best] === labels[i]) agree++;
  }
  return agree / labels.length;
}

/** The smallest distance between two cluster centroids over the largest mean distance of a cluster's points to its centroid. */
function separationRatio(points: Float64Array, labels: number[], k: number): number {
  const centroids = Array.from({ length: k }, (_, c) => {
    const idx = labels.flatMap((l, i) => (l === c ? [i] : []));
    return [idx.reduce((s, i) => s + (points[2 * i] as number), 0) / idx.length, idx.reduce((s, i) => s + (points[2 * i + 1] as number), 0) / idx.length] as const;
  });
  let within = 0;
  for (let c = 0; c < k; c++) {
    const idx = labels.flatMap((l, i) => (l === c ? [i] : []));
    const [cx, cy] = centroids[c]!;
    within = Math.max(within, idx.reduce((s, i) => s + Math.hypot((points[2 * i] as number) - cx, (points[2 * i + 1] as number) - cy), 0) / idx.length);
  }
  let between = Infinity;
  for (let a = 0; a < k; a++) for (let b = a + 1; b < k; b++) between = Math.min(between, Math.hypot(centroids[a]![0] - centroids[b]![0], centroids[a]![1] - centroids[b]![1]));
  return between / within;
}

describe('tsneEmbedding', () => {
  it('keeps three well-separated Gaussian blobs in 10-D separated in 2-D', () => {
    const { data, labels } = blobs(50, 3, 10, 1);
    const t = tsneEmbedding(data, 150, 10, { seed: 3 });
    expect(t.points).toHaveLength(300);
    expect(t.points.every(Number.isFinite)).toBe(true);
    const agreement = nearestNeighbourAgreement(t.points, labels);
    const ratio = separationRatio(t.points, labels, 3);
    console.log(`t-SNE of 3 blobs: 1-NN label agreement ${agreement.toFixed(3)}, between/within ratio ${ratio.toFixed(1)}`);
    expect(agreement).toBeGreaterThanOrEqual(0.95);
    expect(ratio).toBeGreaterThan(10);
  });

  it('is a real embedding, not a relabelling: random labels of the same points are not separated', () => {
    const { data } = blobs(50, 3, 10, 1);
    const t = tsneEmbedding(data, 150, 10, { seed: 3 });
    const rng = mulberry32(9);
    const shuffled = Array.from({ length: 150 }, () => Math.floor(rng() * 3));
    expect(nearestNeighbourAgreement(t.points, shuffled)).toBeLessThan(0.6);
    expect(separationRatio(t.points, shuffled, 3)).toBeLessThan(1);
  });

  it('is seeded: the same seed gives the same map, another seed another one', () => {
    const { data } = blobs(20, 3, 10, 2);
    const a = tsneEmbedding(data, 60, 10, { seed: 5, iterations: 200 });
    const b = tsneEmbedding(data, 60, 10, { seed: 5, iterations: 200 });
    const c = tsneEmbedding(data, 60, 10, { seed: 6, iterations: 200 });
    expect(Array.from(b.points)).toEqual(Array.from(a.points));
    expect(Array.from(c.points)).not.toEqual(Array.from(a.points));
  });

  it('caps the perplexity for few points, reports progress, and refuses fewer than five points', () => {
    const { data } = blobs(4, 3, 10, 2);
    const seen: number[] = [];
    const t = tsneEmbedding(data, 12, 10, { seed: 1, iterations: 120, onIteration: (done) => seen.push(done) });
    expect(t.perplexity).toBeCloseTo(11 / 3, 10);
    expect(t.iterations).toBe(120);
    expect(seen).toEqual([50, 100, 120]);
    expect(tsneEmbedding(data, 12, 10, { seed: 1, iterations: 10, perplexity: 2 }).perplexity).toBe(2);
    expect(() => tsneEmbedding(data.subarray(0, 40), 4, 10, { seed: 1 })).toThrow(/--n: t-SNE needs at least 5 points, got 4/);
    expect(() => tsneEmbedding(data, 13, 10, { seed: 1 })).toThrow(/expected 13 × 10 = 130 values, got 120/);
  });
});

describe('scatter thumbnails', () => {
  const image = (v: number) => new Float32Array(4 * 4).fill(v);
  it('draws an image at each point that does not overlap one already drawn', () => {
    // Points 0 and 2 land on the same spot; 1 and 3 are far away from everything.
    const points = [0, 0, 1, 1, 0, 0, 1, 0];
    const pixels = new Float32Array([...image(1), ...image(1), ...image(1), ...image(1)]);
    const { png, thumbnails } = scatterPicture(points, [0, 1, 2, 3], { size: 100, thumbnails: { pixels, shape: [4, 4, 1] } });
    expect(thumbnails).toBe(3);
    // Full ink draws black pixels: a 4 × 4 black square for each of the three thumbnails.
    let black = 0;
    for (let i = 0; i < png.data.length; i += 4) if (png.data[i] === 0 && png.data[i + 1] === 0 && png.data[i + 2] === 0) black++;
    expect(black).toBe(3 * 16);
    expect(scatterPicture(points, [0, 1, 2, 3], { size: 100 }).thumbnails).toBe(0);
  });
});
