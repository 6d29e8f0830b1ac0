/**
 * A gm checkpoint: one folder holding a model's kind, its config, and each of its tfjs parts (encoder, decoder, …)
 * as model.json + weights.bin written by {@link fileSystemIO}.
 *
 *   <dir>/gm-checkpoint.json   { format, kind, version, config, parts: [...], extra }
 *   <dir>/<part>/model.json, <dir>/<part>/weights.bin
 *
 * Saving builds the whole checkpoint in a sibling temporary folder and swaps it in with renames, so an interrupted
 * save leaves the previous checkpoint (or nothing), never a mix of old and new parts.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { atomicWrite, fileSystemIO } from './fs-handler';

export const CHECKPOINT_JSON = 'gm-checkpoint.json';
export const CHECKPOINT_FORMAT = 'gm-checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface CheckpointManifest<C = unknown> {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  /** Which model class wrote it, e.g. "vae" or "stacked-autoencoder". */
  kind: string;
  /** Everything needed to rebuild the architecture. */
  config: C;
  /** Names of the tfjs LayersModel parts, each saved in a sub-folder of that name. */
  parts: string[];
  /** Model-specific state that is not a tfjs weight (e.g. MADE mask seeds, training epoch). */
  extra?: Record<string, unknown>;
}

/** Saves the named tfjs models and the manifest into `dir`, replacing any previous checkpoint there. */
export async function saveCheckpoint<C>(
  dir: string,
  manifest: Omit<CheckpointManifest<C>, 'format' | 'version' | 'parts'>,
  parts: Record<string, tfl.LayersModel>,
): Promise<void> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const target = path.resolve(dir);
  const staging = `${target}.saving-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await fs.mkdir(staging, { recursive: true });
    for (const [name, model] of Object.entries(parts)) {
      if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`checkpoint part name "${name}" must be [A-Za-z0-9_-]+`);
      await model.save(fileSystemIO(path.join(staging, name)));
    }
    const full: CheckpointManifest<C> = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      ...manifest,
      parts: Object.keys(parts),
    };
    await atomicWrite(path.join(staging, CHECKPOINT_JSON), JSON.stringify(full, null, 2));
    const old = `${target}.old-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const hadOld = await fs.stat(target).then(() => true, () => false);
    await fs.mkdir(path.dirname(target), { recursive: true });
    if (hadOld) await fs.rename(target, old);
    await fs.rename(staging, target);
    if (hadOld) await fs.rm(old, { recursive: true, force: true });
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/** Reads and validates a checkpoint's manifest; `expectedKind` makes loading the wrong model type a clear error. */
export async function readCheckpointManifest<C>(dir: string, expectedKind?: string): Promise<CheckpointManifest<C>> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const file = path.join(dir, CHECKPOINT_JSON);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new Error(`${file}: not found — ${dir} is not a gm checkpoint folder`);
  }
  let manifest: CheckpointManifest<C>;
  try {
    manifest = JSON.parse(text) as CheckpointManifest<C>;
  } catch {
    throw new Error(`${file}: not valid JSON`);
  }
  if (manifest.format !== CHECKPOINT_FORMAT) throw new Error(`${file}: field "format" must be "${CHECKPOINT_FORMAT}"`);
  if (manifest.version !== CHECKPOINT_VERSION) {
    throw new Error(`${file}: version ${String(manifest.version)} is not supported (expected ${CHECKPOINT_VERSION})`);
  }
  if (expectedKind !== undefined && manifest.kind !== expectedKind) {
    throw new Error(`${file}: this checkpoint holds a "${manifest.kind}", expected a "${expectedKind}"`);
  }
  if (!Array.isArray(manifest.parts)) throw new Error(`${file}: field "parts" must be an array of part names`);
  return manifest;
}

/** Loads one part of a checkpoint as a LayersModel (custom gm layers must be registered first). */
export async function loadCheckpointPart(dir: string, part: string): Promise<tfl.LayersModel> {
  const path = await import('node:path');
  return tfl.loadLayersModel(fileSystemIO(path.join(dir, part)));
}
