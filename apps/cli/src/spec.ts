/**
 * `--data` values, parsed without loading TensorFlow.js (so flag errors and --help stay fast). The names, their
 * arguments and options, and the help text all come from @gm/data's one dataset registry (`DATASETS`).
 */
import { InvalidArgumentError } from 'commander';
import { datasetEntry, describeDatasets, formatDatasetSpec, parseDatasetSpec, type DatasetSpec } from '@gm/data/node';

/** A `--data` value: a parsed registry spec, e.g. `{ kind: 'images', arg: 'photos', options: { size: '32x32' } }`. */
export type DataSpec = DatasetSpec;

/** Every `--data` spec, listed from the registry. */
export const DATA_HELP = describeDatasets();

/** Parses a `--data` value; commander turns the thrown error into "option '--data <spec>' argument … is invalid". */
export function parseDataSpec(value: string): DataSpec {
  if (datasetEntry(value.split(':')[0]!) === undefined) throw new InvalidArgumentError(`expected ${DATA_HELP}, got "${value}"`);
  try {
    return parseDatasetSpec(value);
  } catch (error) {
    // "<spec>: <what was expected>" from the registry; commander already quotes the value.
    const message = (error as Error).message;
    throw new InvalidArgumentError(message.startsWith(`${value}: `) ? message.slice(value.length + 2) : message);
  }
}

export function describeSpec(spec: DataSpec): string {
  return formatDatasetSpec(spec);
}
