/** Commander parsers and flag choices, without loading TensorFlow.js (main.ts answers --help and flag errors at once). */
import { InvalidArgumentError } from 'commander';
import type { OptimizerName } from '@gm/models';

/** Commander parser for a positive integer flag, with an error that names the flag's value and what was expected. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

/** Commander parser for `--workers`: a positive integer, or `auto` (calibrate). */
export function workersOption(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer or "auto", got "${value}"`);
  return n;
}

/** Commander parser for a non-negative integer flag (seeds). */
export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

export const BACKEND_CHOICES = ['node', 'wasm', 'cpu'] as const;

/** `gm train --optimizer` choices (@gm/models' optimizer names; adam is gm's fused Adam). */
export const OPTIMIZER_CHOICES = ['adam', 'sgd', 'momentum', 'nesterov', 'rmsprop', 'adadelta'] as const satisfies readonly OptimizerName[];
export type OptimizerChoice = (typeof OPTIMIZER_CHOICES)[number];

/** `gm train --activation` choices: the hidden activations every dense model family here accepts. */
export const HIDDEN_ACTIVATIONS = ['selu', 'relu', 'elu', 'tanh', 'softplus'] as const;
export type HiddenActivation = (typeof HIDDEN_ACTIVATIONS)[number];

/** Commander parser for a positive finite number (learning rates, noise levels). */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}

/** Commander parser for a number strictly between 0 and 1 (rates, target activations). */
export function unitInterval(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n >= 1) throw new InvalidArgumentError(`expected a number between 0 and 1 (exclusive), got "${value}"`);
  return n;
}

/** Commander parser for a comma-separated list of positive integers ("500,200"). */
export function intList(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const ns = parts.map(Number);
  if (parts.some((s) => s === '') || ns.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new InvalidArgumentError(`expected comma-separated positive integers such as 100 or 500,200, got "${value}"`);
  }
  return ns;
}

/** `--hidden`: widths as {@link intList}, or `none` for no hidden layer (e.g. Chollet's 784-32 autoencoder). */
export function widthList(value: string): number[] {
  return value.trim() === 'none' ? [] : intList(value);
}

/** Commander parser for a comma-separated list of positive numbers ("1.5,0.05"). */
export function numberList(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const ns = parts.map(Number);
  if (parts.some((s) => s === '') || ns.some((n) => !Number.isFinite(n) || n <= 0)) {
    throw new InvalidArgumentError(`expected comma-separated positive numbers such as 1.5 or 1.5,0.05, got "${value}"`);
  }
  return ns;
}

/** Commander parser for a comma-separated list of class labels ("0,1,2,3,4"): non-negative integers, no repeats. */
export function labelList(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const ns = parts.map(Number);
  if (parts.some((s) => s === '') || ns.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new InvalidArgumentError(`expected comma-separated class labels (non-negative integers) such as 0,1,2,3,4, got "${value}"`);
  }
  if (new Set(ns).size !== ns.length) throw new InvalidArgumentError(`expected each label once, got "${value}"`);
  return ns;
}

/** Commander parser for four comma-separated image indices ("0,1,2,3"): the corners of an interpolation grid. */
export function fourIndices(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const ns = parts.map(Number);
  if (parts.length !== 4 || parts.some((s) => s === '') || ns.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new InvalidArgumentError(`expected four comma-separated test-image indices (top-left, top-right, bottom-left, bottom-right) such as 0,1,2,3, got "${value}"`);
  }
  return ns;
}
