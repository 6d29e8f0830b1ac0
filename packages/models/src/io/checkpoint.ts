/**
 * A gm checkpoint: a small set of files in a {@link CheckpointStore} — the manifest (the model's kind, its config,
 * its parts and state that is not a tfjs weight), each tfjs part as `<part>/model.json` + `<part>/weights.bin`, and
 * whatever else rides along in the same atomic write (the optimizer's state, a CLI's history):
 *
 *   gm-checkpoint.json   { format, version, kind, config, parts: [...], files: [...], extra }
 *   <part>/model.json, <part>/weights.bin
 *   optimizer.json, optimizer.bin (when saved by the trainer)
 *
 * The whole set is written at once (`store.write`), so a reader sees the old checkpoint or the new one, never a mix.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { GmError, type CheckpointStore } from '@gm/core';
import { layersModelFiles, loadLayersModelFrom } from './artifacts';

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
  /** Every file of the checkpoint but the manifest (so a store can be copied whole). */
  files?: string[];
  /** Model-specific state that is not a tfjs weight (e.g. MADE mask seeds, training epoch). */
  extra?: Record<string, unknown>;
}

/** Files that ride along with a model's own (optimizer state, a CLI's sidecar): path → bytes. */
export type ExtraFiles = ReadonlyMap<string, Uint8Array>;

export type { SaveOptions } from '@gm/core';

/** Writes a checkpoint: the manifest, the named tfjs parts and `extraFiles`, replacing the store's content. */
export async function writeCheckpoint<C>(
  store: CheckpointStore,
  manifest: Omit<CheckpointManifest<C>, 'format' | 'version' | 'parts' | 'files'>,
  parts: Record<string, tfl.LayersModel>,
  extraFiles: ExtraFiles = new Map(),
): Promise<void> {
  if (store.write === undefined) throw new GmError('UNSUPPORTED', store.label, 'this store is read-only: save to a memoryStore, fileStore, indexedDbStore or downloadStore');
  const files = new Map<string, Uint8Array>();
  for (const [name, model] of Object.entries(parts)) {
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new GmError('BAD_ARGUMENT', `checkpoint part "${name}"`, 'a name of [A-Za-z0-9_-]+');
    for (const [p, b] of await layersModelFiles(model, name, store.label)) files.set(p, b);
  }
  for (const [p, b] of extraFiles) {
    if (p === CHECKPOINT_JSON || files.has(p)) throw new GmError('BAD_ARGUMENT', `checkpoint file "${p}"`, 'a path not used by the model itself');
    files.set(p, b);
  }
  const full: CheckpointManifest<C> = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    ...manifest,
    parts: Object.keys(parts),
    files: [...files.keys()],
  };
  files.set(CHECKPOINT_JSON, new TextEncoder().encode(JSON.stringify(full, null, 2)));
  await store.write(files);
}

/** A checkpoint being read. */
export interface CheckpointReader<C> {
  readonly store: CheckpointStore;
  readonly manifest: CheckpointManifest<C>;
  /** Loads one tfjs part (gm's custom layers must be registered first). */
  part(name: string): Promise<tfl.LayersModel>;
  /** One extra file's bytes, or undefined when the checkpoint has none of that name. */
  file(path: string): Promise<Uint8Array | undefined>;
}

/**
 * Reads and validates a checkpoint's manifest; `expectedKind` (one or several) makes loading the wrong model type a
 * clear error naming both kinds.
 */
export async function readCheckpoint<C>(store: CheckpointStore, expectedKind?: string | readonly string[]): Promise<CheckpointReader<C>> {
  const where = `${store.label}/${CHECKPOINT_JSON}`;
  let bytes: Uint8Array;
  try {
    bytes = await store.read(CHECKPOINT_JSON);
  } catch (error) {
    if (error instanceof GmError && error.code === 'NOT_FOUND') {
      const why = error.message.startsWith(`${where}: `) ? '' : ` (${error.message})`;
      throw new GmError('NOT_FOUND', where, `not found — ${store.label} is not a gm checkpoint folder${why}`);
    }
    throw error;
  }
  let manifest: CheckpointManifest<C>;
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes)) as CheckpointManifest<C>;
  } catch {
    throw new GmError('CORRUPT', where, 'not valid JSON');
  }
  if (manifest === null || typeof manifest !== 'object') throw new GmError('CORRUPT', where, 'expected a JSON object');
  if (manifest.format !== CHECKPOINT_FORMAT) throw new GmError('CORRUPT', `${where}: field "format"`, `"${CHECKPOINT_FORMAT}"`, manifest.format);
  if (manifest.version !== CHECKPOINT_VERSION) {
    throw new GmError('UNSUPPORTED_VERSION', where, `version ${String(manifest.version)} is not supported (expected ${CHECKPOINT_VERSION})`);
  }
  const kinds = expectedKind === undefined ? undefined : typeof expectedKind === 'string' ? [expectedKind] : expectedKind;
  if (kinds !== undefined && !kinds.includes(manifest.kind)) {
    throw new GmError('WRONG_KIND', where, `this checkpoint holds a "${manifest.kind}", expected a "${kinds.join('" or "')}"`);
  }
  if (!Array.isArray(manifest.parts)) throw new GmError('CORRUPT', `${where}: field "parts"`, 'an array of part names', manifest.parts);
  const listed = new Set(manifest.files ?? []);
  return {
    store,
    manifest,
    async part(name) {
      if (!manifest.parts.includes(name)) {
        throw new GmError('CORRUPT', where, `the "${manifest.kind}" checkpoint has no "${name}" part (parts: ${manifest.parts.join(', ')})`);
      }
      return loadLayersModelFrom(store, name);
    },
    async file(path) {
      if (manifest.files !== undefined && !listed.has(path)) return undefined;
      try {
        return await store.read(path);
      } catch (error) {
        if (error instanceof GmError && error.code === 'NOT_FOUND') return undefined;
        throw error;
      }
    },
  };
}

/** Reads an `epochsTrained` from a manifest's extra (0 when absent or invalid). */
export function epochsFromManifest(manifest: CheckpointManifest<unknown>): number {
  const e = manifest.extra?.['epochsTrained'];
  return typeof e === 'number' && Number.isInteger(e) && e >= 0 ? e : 0;
}
