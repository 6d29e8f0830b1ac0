/**
 * Checkpoints as the CLI uses them: the library's checkpoint folder (its manifest records the model kind) with a
 * small `gm-cli.json` inside, written in the same atomic write, holding what the CLI knows and the library does not
 * store — the image shape (an MLP sees flat vectors), the data it was trained on and the loss history.
 */
import { existsSync, statSync } from 'node:fs';
import { loadModel, readCheckpoint, type CheckpointStore, type GenerativeModel, type SaveOptions } from '@gm/models';
import { fileStore } from '@gm/models/node';
import { CliError } from './errors';
import { OPTIMIZER_CHOICES } from './options';
import type { OptimizerRecord } from './optimizers';
import { entryForKind, type ModelEntry } from './registry';

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
  /** The optimizer `gm train` used (absent in checkpoints written before it was a choice: Adam). */
  training?: OptimizerRecord;
}

export interface LoadedCheckpoint {
  model: GenerativeModel;
  imageShape: [number, number, number];
  sidecar: Sidecar | null;
}

/** The image shape of a flat input of `size` values when the checkpoint has no sidecar: MNIST or CIFAR sizes. */
function guessShape(inputShape: readonly number[]): [number, number, number] | null {
  if (inputShape.length === 3) return inputShape as [number, number, number];
  const size = inputShape.reduce((a, b) => a * b, 1);
  if (size === 784) return [28, 28, 1];
  if (size === 3072) return [32, 32, 3];
  const side = Math.round(Math.sqrt(size));
  return side * side === size ? [side, side, 1] : null;
}

async function readSidecar(store: CheckpointStore, dir: string, flag: string): Promise<Sidecar | null> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await (await readCheckpoint(store)).file(CLI_SIDECAR);
  } catch (error) {
    throw new CliError(`${flag}: ${(error as Error).message}`);
  }
  if (bytes === undefined) return null;
  try {
    const s = JSON.parse(new TextDecoder().decode(bytes)) as Sidecar;
    if (s === null || typeof s !== 'object' || s.format !== 'gm-cli') throw new Error('expected { "format": "gm-cli", … }');
    const shape = s.imageShape as unknown;
    if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0 && d <= 65536)) {
      throw new Error(`"imageShape" must be [height, width, channels] of positive integers, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(s.history)) throw new Error('"history" must be an array');
    const t = s.training as unknown;
    if (t !== undefined) {
      const r = t as OptimizerRecord;
      if (t === null || typeof t !== 'object' || !(OPTIMIZER_CHOICES as readonly string[]).includes(r.optimizer) || (r.momentum !== undefined && typeof r.momentum !== 'number')) {
        throw new Error(`"training" must be { "optimizer": one of ${OPTIMIZER_CHOICES.join(', ')}, "momentum"?: number }, got ${JSON.stringify(t)}`);
      }
    }
    return s;
  } catch (error) {
    throw new CliError(`${dir}/${CLI_SIDECAR}: not a valid gm-cli.json (${(error as Error).message}); delete it or the whole checkpoint`);
  }
}

/** The sidecar's image shape must be the model's input (an MLP's flat size, or a conv model's exact shape). */
function checkImageShape(dir: string, imageShape: readonly number[], inputShape: readonly number[]): void {
  const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
  const fits = inputShape.length === 3 ? inputShape.every((d, i) => d === imageShape[i]) : size(imageShape) === size(inputShape);
  if (!fits) {
    throw new CliError(`${dir}/${CLI_SIDECAR}: "imageShape" ${imageShape.join('×')} does not fit the model's input ${inputShape.join('×')}; delete the sidecar or the whole checkpoint`);
  }
}

/**
 * Loads the checkpoint in `dir` as the model its manifest names. `flag` names the option in errors; `expected`
 * (an entry) makes a checkpoint of another kind an error (e.g. resuming `gm train vae` from an autoencoder).
 */
export async function loadCheckpoint(dir: string, flag: string, expected?: ModelEntry): Promise<LoadedCheckpoint> {
  if (!existsSync(dir)) throw new CliError(`${flag}: checkpoint folder ${dir} not found`);
  if (!statSync(dir).isDirectory()) throw new CliError(`${flag}: ${dir} is not a folder (expected a checkpoint folder written by gm train)`);
  const store = fileStore(dir);
  let kind: string;
  try {
    kind = (await readCheckpoint(store)).manifest.kind;
  } catch (error) {
    throw new CliError(`${flag}: ${(error as Error).message}`);
  }
  if (expected !== undefined && !expected.kinds.includes(kind)) {
    throw new CliError(`${flag}: ${dir} holds a "${kind}" checkpoint, but this command needs a "${expected.kinds.join('" or "')}" (model ${expected.name})`);
  }
  if (entryForKind(kind) === undefined && kind !== 'autoencoder') {
    throw new CliError(`${flag}: ${dir} holds a "${kind}" checkpoint, which the gm CLI cannot use (it knows: vae, the autoencoders)`);
  }
  const sidecar = await readSidecar(store, dir, flag);
  let model: GenerativeModel;
  try {
    model = await loadModel(store);
  } catch (error) {
    throw new CliError(`${flag}: cannot load the "${kind}" checkpoint in ${dir}: ${(error as Error).message}`);
  }
  if (sidecar !== null) {
    try {
      checkImageShape(dir, sidecar.imageShape, model.inputShape);
    } catch (error) {
      model.dispose();
      throw error;
    }
  }
  const imageShape = sidecar?.imageShape ?? guessShape(model.inputShape);
  if (imageShape === null) {
    model.dispose();
    throw new CliError(`${flag}: ${dir} has no ${CLI_SIDECAR} and its input size ${model.inputShape.join('×')} is not an image size gm recognises`);
  }
  return { model, imageShape, sidecar };
}

/** What the CLI writes beside a model: its sidecar, as an extra file of the model's own atomic write. */
export function sidecarFiles(model: GenerativeModel, entryName: string, info: Omit<Sidecar, 'format' | 'version' | 'kind' | 'model' | 'epochsTrained'>): NonNullable<SaveOptions['files']> {
  const sidecar: Sidecar = { format: 'gm-cli', version: 1, model: entryName, kind: model.kind, epochsTrained: model.epochsTrained, ...info };
  return new Map([[CLI_SIDECAR, new TextEncoder().encode(`${JSON.stringify(sidecar, null, 2)}\n`)]]);
}

/** Saves the model and its sidecar to `dir` in one atomic write. */
export async function saveCheckpoint(model: GenerativeModel, entryName: string, dir: string, info: Omit<Sidecar, 'format' | 'version' | 'kind' | 'model' | 'epochsTrained'>): Promise<void> {
  await model.save(fileStore(dir), { files: sidecarFiles(model, entryName, info) });
}

/** Checks that a model and a dataset agree on the image shape; an error names both. */
export function checkShapes(imageShape: readonly number[], dataShape: readonly number[], what: string): void {
  if (imageShape.length !== dataShape.length || imageShape.some((d, i) => d !== dataShape[i])) {
    throw new CliError(`${what} has images of ${dataShape.join('×')} (h×w×c), but the model was trained on ${imageShape.join('×')}`);
  }
}
