/** Seeded 2-D toy datasets for flows: two moons, concentric rings, a ring of Gaussians, a checkerboard. */
import { randomInt, randomNormal, toRng, type Rng } from '@gm/core';

/** `count` points as interleaved (x, y) pairs, with the component/class each was drawn from. */
export interface PointDataset {
  points: Float32Array;
  labels: Uint8Array;
  count: number;
}

/** Options of the toy 2-D sets. */
export interface ToyOptions {
  /** Seed or generator (default 0). */
  seed?: number | Rng;
  /** Std of Gaussian noise added to each coordinate. */
  noise?: number;
}

function checkCount(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${what}: count must be a non-negative integer, got ${n}`);
}

/**
 * Two interleaved half circles (as scikit-learn's `make_moons`, with uniformly random angles): label 0 lies on
 * the unit circle's upper half, label 1 on the lower half centred at (1, 0.5).
 */
export function twoMoons(count: number, options: ToyOptions = {}): PointDataset {
  checkCount(count, 'twoMoons');
  const rng = toRng(options.seed ?? 0);
  const noise = options.noise ?? 0.05;
  const points = new Float32Array(2 * count);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % 2;
    const t = Math.PI * rng();
    const x = label === 0 ? Math.cos(t) : 1 - Math.cos(t);
    const y = label === 0 ? Math.sin(t) : 0.5 - Math.sin(t);
    points[2 * i] = x + noise * randomNormal(rng);
    points[2 * i + 1] = y + noise * randomNormal(rng);
    labels[i] = label;
  }
  return { points, labels, count };
}

/** Concentric circles of radii `radii` (default 1, 2, 3), points spread evenly over rings, angles uniform. */
export function rings(count: number, options: ToyOptions & { radii?: readonly number[] } = {}): PointDataset {
  checkCount(count, 'rings');
  const rng = toRng(options.seed ?? 0);
  const noise = options.noise ?? 0.05;
  const radii = options.radii ?? [1, 2, 3];
  const points = new Float32Array(2 * count);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % radii.length;
    const r = radii[label]!;
    const t = 2 * Math.PI * rng();
    points[2 * i] = r * Math.cos(t) + noise * randomNormal(rng);
    points[2 * i + 1] = r * Math.sin(t) + noise * randomNormal(rng);
    labels[i] = label;
  }
  return { points, labels, count };
}

/** Means of {@link gaussianMixture}'s components: evenly spaced on a circle of `radius`. */
export function gaussianMixtureMeans(components = 8, radius = 2): Array<[number, number]> {
  return Array.from({ length: components }, (_, k) => {
    const t = (2 * Math.PI * k) / components;
    return [radius * Math.cos(t), radius * Math.sin(t)];
  });
}

/** An equal-weight mixture of isotropic Gaussians (std `std`, default 0.1) centred on {@link gaussianMixtureMeans}. */
export function gaussianMixture(
  count: number,
  options: { seed?: number | Rng; components?: number; radius?: number; std?: number } = {},
): PointDataset {
  checkCount(count, 'gaussianMixture');
  const rng = toRng(options.seed ?? 0);
  const means = gaussianMixtureMeans(options.components ?? 8, options.radius ?? 2);
  if (means.length < 1 || means.length > 256) throw new RangeError(`gaussianMixture: components must be 1..256, got ${means.length}`);
  const std = options.std ?? 0.1;
  const points = new Float32Array(2 * count);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const k = randomInt(rng, means.length);
    const [mx, my] = means[k]!;
    points[2 * i] = mx + std * randomNormal(rng);
    points[2 * i + 1] = my + std * randomNormal(rng);
    labels[i] = k;
  }
  return { points, labels, count };
}

/**
 * The checkerboard of the flow literature (e.g. FFJORD, neural spline flows): points uniform on the dark squares of
 * a 4 × 4 board over [−2, 2]² — squares (i, j) with i + j even, i and j counted from the lower left. Label = square
 * index (4i + j). A hard target: a density with sharp edges and eight separate pieces.
 */
export function checkerboard(count: number, options: { seed?: number | Rng } = {}): PointDataset {
  checkCount(count, 'checkerboard');
  const rng = toRng(options.seed ?? 0);
  const points = new Float32Array(2 * count);
  const labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const i = randomInt(rng, 4);
    const j = 2 * randomInt(rng, 2) + (i % 2); // i + j even
    points[2 * n] = -2 + j + rng();
    points[2 * n + 1] = -2 + i + rng();
    labels[n] = 4 * i + j;
  }
  return { points, labels, count };
}
