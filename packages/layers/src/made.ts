/**
 * Degrees and masks of MADE (Germain et al., 2015, "MADE: Masked Autoencoder for Distribution Estimation").
 *
 * Degrees are 0-based here: input `d` has degree `deg(d) ∈ {0 … D−1}`, its position in the autoregressive order, and
 * output `d` may depend only on inputs of strictly smaller degree. A hidden unit of degree `k ∈ {0 … D−2}` may see
 * the inputs of degree ≤ k. Connections:
 * - into a hidden layer: `mask[i][j] = outDeg[j] ≥ inDeg[i]`;
 * - into the output layer (and the direct input→output connection): `mask[i][j] = outDeg[j] > inDeg[i]`.
 */
import { checkPositiveInt, mulberry32, permutation, randomInt } from '@gm/core';

/** An input ordering: one of the named orders, or the degrees themselves (a permutation of 0…D−1, where
 * `ordering[d]` is the position of input `d` in the autoregressive order). */
export type Ordering = 'natural' | 'reversed' | 'random' | readonly number[];

/** How hidden degrees are drawn: evenly cycling through the allowed range, or at random (seeded). */
export type HiddenDegreeMode = 'sequential' | 'random';

function isPermutation(values: readonly number[], size: number): boolean {
  if (values.length !== size) return false;
  const seen = new Uint8Array(size);
  for (const v of values) {
    if (!Number.isInteger(v) || v < 0 || v >= size || seen[v] === 1) return false;
    seen[v] = 1;
  }
  return true;
}

/**
 * Input degrees for `size` inputs under an ordering. `'random'` needs a seed (for reproducibility).
 * An explicit ordering must be a permutation of 0…size−1.
 */
export function inputDegrees(size: number, ordering: Ordering = 'natural', seed?: number): number[] {
  checkPositiveInt('inputDegrees: size', size);
  const natural = Array.from({ length: size }, (_, i) => i);
  if (ordering === 'natural') return natural;
  if (ordering === 'reversed') return natural.reverse();
  if (ordering === 'random') {
    if (seed === undefined) throw new Error("inputDegrees: ordering 'random' needs a seed");
    return Array.from(permutation(size, seed));
  }
  if (Array.isArray(ordering)) {
    if (!isPermutation(ordering, size)) {
      throw new Error(
        `inputDegrees: an explicit ordering must be a permutation of 0…${size - 1}; got [${ordering.join(', ')}]`,
      );
    }
    return [...ordering];
  }
  throw new Error(
    `inputDegrees: ordering must be 'natural', 'reversed', 'random' or an array of degrees; got ${JSON.stringify(ordering)}`,
  );
}

/**
 * Degrees of one hidden layer of `units` units that follows a layer whose smallest degree is `minDegree`, in a MADE
 * over `inputSize` inputs. Degrees lie in `[minDegree, inputSize − 2]`; when `units` is at least the size of that
 * range every degree is present (so no input is cut off from the outputs it may reach); otherwise they are spread as
 * evenly as possible ('sequential') or drawn without replacement ('random').
 */
export function hiddenDegrees(
  units: number,
  inputSize: number,
  minDegree = 0,
  mode: HiddenDegreeMode = 'sequential',
  seed?: number,
): number[] {
  checkPositiveInt('hiddenDegrees: units', units);
  checkPositiveInt('hiddenDegrees: inputSize', inputSize);
  if (inputSize < 2) throw new Error('hiddenDegrees: a MADE needs at least 2 inputs (inputSize ≥ 2)');
  const maxDegree = inputSize - 2;
  if (!Number.isInteger(minDegree) || minDegree < 0 || minDegree > maxDegree) {
    throw new Error(`hiddenDegrees: minDegree must be an integer in [0, ${maxDegree}]; got ${minDegree}`);
  }
  const range = maxDegree - minDegree + 1;
  if (mode === 'sequential') {
    if (units >= range) return Array.from({ length: units }, (_, k) => minDegree + (k % range));
    return Array.from({ length: units }, (_, k) => minDegree + Math.floor((k * range) / units));
  }
  if (mode !== 'random') throw new Error(`hiddenDegrees: mode must be 'sequential' or 'random'; got ${String(mode)}`);
  if (seed === undefined) throw new Error("hiddenDegrees: mode 'random' needs a seed");
  const rng = mulberry32(seed);
  const shuffled = (items: number[]): number[] => Array.from(permutation(items.length, rng), (k) => items[k] as number);
  const all = Array.from({ length: range }, (_, k) => minDegree + k);
  if (units < range) return shuffled(all).slice(0, units);
  // One of each degree, the rest uniform, then shuffled so units are not sorted by degree.
  const degrees = [...all];
  while (degrees.length < units) degrees.push(minDegree + randomInt(rng, range));
  return shuffled(degrees);
}

export interface MadeDegreesOptions {
  /** Number of inputs D (≥ 2). */
  inputSize: number;
  /** Units of each hidden layer. */
  hiddenSizes: readonly number[];
  /** Input ordering (default 'natural'). */
  ordering?: Ordering;
  /** Hidden degree assignment (default 'sequential'; 'random' is what mask resampling uses). */
  hiddenMode?: HiddenDegreeMode;
  /** Seed for a random ordering and random hidden degrees. */
  seed?: number;
}

/** Degrees of a whole MADE: `[input, hidden_1, …, hidden_L]`. */
export function madeDegrees(options: MadeDegreesOptions): number[][] {
  const { inputSize, hiddenSizes, ordering = 'natural', hiddenMode = 'sequential', seed } = options;
  const degrees: number[][] = [inputDegrees(inputSize, ordering, seed)];
  let min = 0;
  hiddenSizes.forEach((units, l) => {
    const layerSeed = seed === undefined ? undefined : seed + 1000003 * (l + 1);
    const d = hiddenDegrees(units, inputSize, min, hiddenMode, layerSeed);
    min = Math.min(...d);
    degrees.push(d);
  });
  return degrees;
}

/**
 * The connectivity mask between a layer with degrees `inDegrees` and one with `outDegrees`, row-major
 * `[inDegrees.length, outDegrees.length]` (the layout of a Dense kernel). `strict` (output and direct connections)
 * connects `out > in`; otherwise (hidden layers) `out ≥ in`.
 */
export function maskFromDegrees(inDegrees: readonly number[], outDegrees: readonly number[], strict: boolean): Float32Array {
  const rows = inDegrees.length;
  const cols = outDegrees.length;
  const mask = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const di = inDegrees[i] as number;
    for (let j = 0; j < cols; j++) {
      const dj = outDegrees[j] as number;
      mask[i * cols + j] = (strict ? dj > di : dj >= di) ? 1 : 0;
    }
  }
  return mask;
}

/** Output degrees of a MADE output layer with `paramsPerInput` outputs per input (e.g. 2 for a mean and a
 * log-scale): the input degrees repeated, output block `k` holding parameter `k` of every input. */
export function outputDegrees(inputDegs: readonly number[], paramsPerInput = 1): number[] {
  checkPositiveInt('outputDegrees: paramsPerInput', paramsPerInput);
  const out: number[] = [];
  for (let k = 0; k < paramsPerInput; k++) out.push(...inputDegs);
  return out;
}
