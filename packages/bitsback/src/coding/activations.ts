/**
 * The element-wise operations of portable networks in gm's deterministic arithmetic: activations computed in double
 * precision with gm's own exp/expm1/tanh (never the engine's Math.exp), then rounded to float32, so every machine
 * and browser gets the same bits; sums and products of two float32 values as the IEEE single operations. Whole-array
 * and per-value forms share one definition per function.
 */
import type { PortableActivation, PortableCombination } from '@gm/core';
import { exactExpm1, exactSigmoid, exactSoftplus, exactTanh } from '../exact/math';

const SELU_SCALE = 1.0507009873554805;
const SELU_ALPHA = 1.6732632423543772;

const ACTIVATIONS: Record<PortableActivation, (x: number) => number> = {
  linear: (x) => x,
  // NaN maps to 0 as tf.relu's max(x, 0) would not; inputs are finite (weights are checked), so it never arises.
  relu: (x) => (x > 0 ? x : 0),
  elu: (x) => (x > 0 ? x : exactExpm1(x)),
  selu: (x) => SELU_SCALE * (x > 0 ? x : SELU_ALPHA * exactExpm1(x)),
  tanh: exactTanh,
  sigmoid: exactSigmoid,
  softplus: exactSoftplus,
};

/** The activation `fn` of one value, rounded to float32. */
export function activationOf(fn: PortableActivation): (x: number) => number {
  const f = ACTIVATIONS[fn];
  return (x) => Math.fround(f(x));
}

/** Applies `fn` to every value of `v` in place (the Float32Array store rounds to float32). */
export function applyActivation(fn: PortableActivation, v: Float32Array): void {
  if (fn === 'linear') return;
  const f = ACTIVATIONS[fn];
  for (let i = 0; i < v.length; i++) v[i] = f(v[i]!);
}

/** `x·scale + shift` of one value, rounded to float32 (computed in double, rounded once). */
export function scaleShiftOf(x: number, scale: number, shift: number): number {
  return Math.fround(x * scale + shift);
}

const COMBINATIONS: Record<PortableCombination, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  mul: (a, b) => a * b,
};

/**
 * `a + b` or `a · b` of two float32 values, rounded to float32: exactly the IEEE single operation (the product is
 * exact in a double, and a double sum rounds to the same float32 as a float32 sum: 53 ≥ 2·24 + 2 bits).
 */
export function combineOf(fn: PortableCombination): (a: number, b: number) => number {
  const f = COMBINATIONS[fn];
  return (a, b) => Math.fround(f(a, b));
}
