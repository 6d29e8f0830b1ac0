/**
 * Pixel preprocessing for generative models on plain typed arrays: scaling, static and dynamic binarization, uniform
 * dequantization, and {@link pixelsToInput}, which turns pixel bytes into what a model of a given input convention
 * reads. (The logit transform of flows is a bijector: `Logit` in @gm/layers.)
 */
import { GmError, toRng, type InputConvention, type Rng } from '@gm/core';

/** Bytes 0..255 → floats in [0, 1] (v / 255). */
export function scaleToUnit(pixels: Uint8Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i]! / 255;
  return out;
}

/** Static binarization: 1 where `pixel / 255 > threshold`, else 0 — the same every time. */
export function binarizeStatic(pixels: Uint8Array, threshold = 0.5): Uint8Array {
  if (!(threshold >= 0 && threshold < 1)) throw new RangeError(`binarizeStatic: threshold must be in [0, 1), got ${threshold}`);
  const out = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i]! / 255 > threshold ? 1 : 0;
  return out;
}

/**
 * Dynamic binarization: each pixel independently becomes 1 with probability `pixel / 255` (a Bernoulli draw), as
 * in the VAE/IWAE literature; draw a fresh sample each epoch by passing a fresh seed or a running generator.
 */
export function binarizeDynamic(pixels: Uint8Array, seed: number | Rng): Uint8Array {
  const rng = toRng(seed);
  const out = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = rng() * 255 < pixels[i]! ? 1 : 0;
  return out;
}

/**
 * Uniform dequantization: `(pixel + u) / levels` with `u ~ U[0, 1)`, giving continuous values in [0, 1) whose
 * density lower-bounds the discrete model's likelihood.
 */
export function dequantizeUniform(pixels: Uint8Array, seed: number | Rng, levels = 256): Float32Array {
  const rng = toRng(seed);
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = (pixels[i]! + rng()) / levels;
  return out;
}

/** Bytes 0..levels−1 → bin centres 2v/(levels − 1) − 1 ∈ [−1, 1] (the discretized likelihoods' convention). */
export function toBinCentres(pixels: Uint8Array, levels = 256): Float32Array {
  const out = new Float32Array(pixels.length);
  const scale = 2 / (levels - 1);
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i]! * scale - 1;
  return out;
}

/**
 * Pixel bytes as a model of input convention `convention` reads them: `'binary'` → 0/1 (static binarization at
 * 127.5), `'bin-centres'` → 2v/255 − 1, `'pixels'` → v, `'unit'` → v/255. `'continuous'` models do not read images.
 *
 * @example
 * ```ts
 * pixelsToInput(Uint8Array.of(0, 128, 255), 'binary'); // Float32Array [0, 1, 1]
 * ```
 */
export function pixelsToInput(pixels: Uint8Array, convention: InputConvention): Float32Array {
  switch (convention) {
    case 'binary':
      return Float32Array.from(binarizeStatic(pixels));
    case 'bin-centres':
      return toBinCentres(pixels);
    case 'pixels':
      return Float32Array.from(pixels);
    case 'unit':
      return scaleToUnit(pixels);
    default:
      throw new GmError('BAD_ARGUMENT', 'pixelsToInput: convention', "one of 'binary', 'bin-centres', 'pixels', 'unit' (a 'continuous' model does not read images)", convention);
  }
}

/**
 * Values in a model's input convention back to display intensities in [0, 1] (the inverse of
 * {@link pixelsToInput} up to binarization): `'bin-centres'` (v + 1)/2, `'pixels'` v/255, `'binary'`/`'unit'` as they
 * are (a model's means are probabilities or intensities already).
 *
 * @example
 * ```ts
 * inputToUnit(Float32Array.of(-1, 0, 1), 'bin-centres'); // Float32Array [0, 0.5, 1]
 * ```
 */
export function inputToUnit(values: Float32Array, convention: InputConvention): Float32Array {
  if (convention === 'bin-centres') return values.map((v) => (v + 1) / 2);
  if (convention === 'pixels') return values.map((v) => v / 255);
  return values;
}
