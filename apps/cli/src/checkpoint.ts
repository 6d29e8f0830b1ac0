/**
 * Checkpoints as the CLI uses them: the library's checkpoint folder (its manifest records the model kind) plus a
 * small `gm-cli.json` beside it with what the CLI knows and the library does not store — the image shape (an MLP
 * sees flat vectors), the data it was trained on, the epochs trained and the loss history.
 */
import { existsSync, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpointManifest } from '@gm/models';
import { CliError } from './errors';
import { entryForKind, loadGenericAutoencoder, type CliModel, type ModelEntry } from './registry';

export const CLI_SIDECAR = 'gm-cli.json';

export interface TrainingRecord {
  epoch: number;
  loss: number;
  valLoss?: number;
  seconds: number;
}

export interface Sidecar {
  format: 'gm-cli';
  version: 1;
  model: string;
  kind: string;
  imageShape: [number, number, number];
  data: string;
  epochsTrained: number;
  history: TrainingRecord[];
}

export interface LoadedCheckpoint {
  model: CliModel;
  imageShape: [number, number, number];
  sidecar: Sidecar | null;
}

/** The image shape of a flat input of `size` values when the checkpoint has no sidecar: MNIST or CIFAR sizes. */
function guessShape(inputShape: number[]): [number, number, number] | null {
  if (inputShape.length === 3) return inputShape as [number, number, number];
  const size = inputShape.reduce((a, b) => a * b, 1);
  if (size === 784) return [28, 28, 1];
  if (size === 3072) return [32, 32, 3];
  const side = Math.round(Math.sqrt(size));
  return side * side === size ? [side, side, 1] : null;
}

function readSidecar(dir: string): Sidecar | null {
  const file = join(dir, CLI_SIDECAR);
  if (!existsSync(file)) return null;
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as Sidecar;
    if (s.format !== 'gm-cli' || !Array.isArray(s.imageShape) || s.imageShape.length !== 3) throw new Error('unexpected fields');
    return s;
  } catch (error) {
    throw new CliError(`${file}: not a valid gm-cli.json (${(error as Error).message}); delete it or the whole checkpoint`);
  }
}

/**
 * Loads the checkpoint in `dir` as the model its manifest names. `flag` names the option in errors; `expected`
 * (an entry) makes a checkpoint of another kind an error (e.g. resuming `gm train vae` from an autoencoder).
 */
export async function loadCheckpoint(dir: string, flag: string, expected?: ModelEntry): Promise<LoadedCheckpoint> {
  if (!existsSync(dir)) throw new CliError(`${flag}: checkpoint folder ${dir} not found`);
  if (!statSync(dir).isDirectory()) throw new CliError(`${flag}: ${dir} is not a folder (expected a checkpoint folder written by gm train)`);
  let kind: string;
  try {
    kind = (await readCheckpointManifest(dir)).kind;
  } catch (error) {
    throw new CliError(`${flag}: ${(error as Error).message}`);
  }
  const entry = entryForKind(kind);
  if (expected !== undefined && !expected.kinds.includes(kind)) {
    throw new CliError(`${flag}: ${dir} holds a "${kind}" checkpoint, but this command needs a "${expected.kinds.join('" or "')}" (model ${expected.name})`);
  }
  if (entry === undefined && kind !== 'autoencoder') {
    throw new CliError(`${flag}: ${dir} holds a "${kind}" checkpoint, which the gm CLI cannot use (it knows: vae, the autoencoders)`);
  }
  const sidecar = readSidecar(dir);
  let model: CliModel;
  try {
    model = entry === undefined ? await loadGenericAutoencoder(dir) : await entry.load(dir);
  } catch (error) {
    throw new CliError(`${flag}: cannot load the "${kind}" checkpoint in ${dir}: ${(error as Error).message}`);
  }
  const imageShape = sidecar?.imageShape ?? guessShape(model.inputShape);
  if (imageShape === null) {
    model.dispose();
    throw new CliError(`${flag}: ${dir} has no ${CLI_SIDECAR} and its input size ${model.inputShape.join('×')} is not an image size gm recognises`);
  }
  if (sidecar !== null && model.kind !== 'vae') model.epochsTrained = sidecar.epochsTrained;
  return { model, imageShape, sidecar };
}

/** Saves the model and then its sidecar (written to a temporary name and renamed: never half-written). */
export async function saveCheckpoint(model: CliModel, dir: string, info: Omit<Sidecar, 'format' | 'version' | 'kind' | 'model' | 'epochsTrained'>): Promise<void> {
  await model.save(dir);
  const sidecar: Sidecar = { format: 'gm-cli', version: 1, model: model.entry.name, kind: model.kind, epochsTrained: model.epochsTrained, ...info };
  const file = join(dir, CLI_SIDECAR);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(sidecar, null, 2)}\n`);
  renameSync(tmp, file);
}

/** Checks that a model and a dataset agree on the image shape; an error names both. */
export function checkShapes(imageShape: readonly number[], dataShape: readonly number[], what: string): void {
  if (imageShape.length !== dataShape.length || imageShape.some((d, i) => d !== dataShape[i])) {
    throw new CliError(`${what} has images of ${dataShape.join('×')} (h×w×c), but the model was trained on ${imageShape.join('×')}`);
  }
}
