/** `--data` values, parsed without loading TensorFlow.js (so flag errors and --help stay fast). */
import { InvalidArgumentError } from 'commander';

/** A `--data` value: the bundled digits, full MNIST from a folder, or CIFAR-10 from a folder. */
export type DataSpec = { kind: 'mnist-bundled' } | { kind: 'mnist'; dir: string } | { kind: 'cifar'; dir: string };

export const DATA_HELP = 'mnist-bundled (10,000 digits shipped with gm), mnist:<dir> (the four IDX files) or cifar:<dir> (CIFAR-10 binary batches)';

/** Parses a `--data` value; commander turns the thrown error into "option '--data <spec>' argument … is invalid". */
export function parseDataSpec(value: string): DataSpec {
  if (value === 'mnist-bundled') return { kind: 'mnist-bundled' };
  const m = /^(mnist|cifar):(.+)$/.exec(value);
  if (m !== null) return { kind: m[1] as 'mnist' | 'cifar', dir: m[2] as string };
  throw new InvalidArgumentError(`expected ${DATA_HELP}, got "${value}"`);
}

export function describeSpec(spec: DataSpec): string {
  return spec.kind === 'mnist-bundled' ? 'mnist-bundled' : `${spec.kind}:${spec.dir}`;
}

