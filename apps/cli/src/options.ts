import { InvalidArgumentError } from 'commander';

/** Commander parser for a positive integer flag, with an error that names the flag's value and what was expected. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

/** Commander parser for a non-negative integer flag (seeds). */
export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

export const BACKEND_CHOICES = ['node', 'wasm', 'cpu'] as const;
