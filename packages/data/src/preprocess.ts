/**
 * Pixel preprocessing for generative models: scaling, static and dynamic binarization, uniform dequantization,
 * and the logit transform with its log-determinant (so a flow trained on logits can report bits/dim in pixel
 * space). Array versions work on plain typed arrays; {@link logitTransformTensor} is the tfjs version.
 */
import { add, log, log1p, mul, neg, scalar, sub, sum, tidy, type Tensor, type Tensor1D } from '@tensorflow/tfjs-core';
import { DataError } from './errors.js';
import { toRng, type Rng } from './random.js';

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

/** Real NVP's α for MNIST/CIFAR (Dinh et al. use 0.05). */
export const DEFAULT_LOGIT_ALPHA = 0.05;

function checkAlpha(alpha: number): void {
  if (!(alpha >= 0 && alpha < 0.5)) throw new RangeError(`logit transform: alpha must be in [0, 0.5), got ${alpha}`);
}

/** The logit transform's output and the log-determinant of its Jacobian, one per sample. */
export interface LogitResult {
  y: Float32Array;
  /** Σ log |dy/dx| over each sample's `dims` values. */
  logDet: Float64Array;
}

/**
 * The logit transform `y = logit(α + (1 − 2α)·x)` of values `x` in [0, 1], and per sample
 * `log|det J| = Σ [log(1 − 2α) − log p − log(1 − p)]` with `p = α + (1 − 2α)x`. `x` holds consecutive samples of
 * `dims` values each. α > 0 keeps the logit finite at 0 and 1.
 */
export function logitTransform(x: Float32Array, dims: number, alpha = DEFAULT_LOGIT_ALPHA): LogitResult {
  checkAlpha(alpha);
  if (!Number.isInteger(dims) || dims <= 0 || x.length % dims !== 0) {
    throw new DataError('BAD_DIMENSIONS', 'logitTransform', `expected a positive dims dividing ${x.length}, got ${dims}`);
  }
  const n = x.length / dims;
  const y = new Float32Array(x.length);
  const logDet = new Float64Array(n);
  const scale = 1 - 2 * alpha;
  const logScale = Math.log(scale);
  for (let s = 0; s < n; s++) {
    let acc = 0;
    for (let i = s * dims; i < (s + 1) * dims; i++) {
      const p = alpha + scale * x[i]!;
      y[i] = Math.log(p) - Math.log1p(-p);
      acc += logScale - Math.log(p) - Math.log1p(-p);
    }
    logDet[s] = acc;
  }
  return { y, logDet };
}

/** The inverse of {@link logitTransform}: `x = (sigmoid(y) − α) / (1 − 2α)`. */
export function logitInverse(y: Float32Array, alpha = DEFAULT_LOGIT_ALPHA): Float32Array {
  checkAlpha(alpha);
  const out = new Float32Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = (1 / (1 + Math.exp(-y[i]!)) - alpha) / (1 - 2 * alpha);
  return out;
}

/**
 * The logit transform on a tensor whose first axis is the batch: returns `y` (same shape) and `logDet` (shape
 * `[batch]`, summed over the other axes). Differentiable; the caller owns and disposes both results.
 */
export function logitTransformTensor(x: Tensor, alpha = DEFAULT_LOGIT_ALPHA): { y: Tensor; logDet: Tensor1D } {
  checkAlpha(alpha);
  if (x.rank < 2) throw new DataError('BAD_DIMENSIONS', 'logitTransformTensor', `expected rank ≥ 2 [batch, …], got rank ${x.rank}`);
  return tidy(() => {
    const p = add(scalar(alpha), mul(scalar(1 - 2 * alpha), x));
    const logP = log(p);
    const log1mP = log1p(neg(p));
    const y = sub(logP, log1mP);
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i + 1);
    const perElement = sub(sub(scalar(Math.log(1 - 2 * alpha)), logP), log1mP);
    return { y, logDet: sum(perElement, axes) as Tensor1D };
  });
}

/**
 * Bits per dimension in pixel space for a model of logit-space values: with `x = (pixel + u) / levels` and
 * `y = logit(α + (1 − 2α)x)`, `log p(pixel + u) = log p(y) + logDet − dims·log(levels)`, so
 * `bits/dim = −(logProbY + logDet − dims·ln levels) / (dims·ln 2)`.
 */
export function bitsPerDimFromLogit(logProbY: number, logDet: number, dims: number, levels = 256): number {
  return -(logProbY + logDet - dims * Math.log(levels)) / (dims * Math.LN2);
}
