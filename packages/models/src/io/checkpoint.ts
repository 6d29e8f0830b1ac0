/**
 * A gm checkpoint: a small set of files in a {@link CheckpointStore} — the manifest (the model's kind, its config,
 * its parts and state that is not a tfjs weight), each tfjs part as `<part>/model.json` + `<part>/weights.bin`, and
 * whatever else rides along in the same atomic write (the optimizer's state, a CLI's history):
 *
 *   gm-checkpoint.json   { format, version: 2, kind, config, parts: [...], files: { path: { bytes, sha256 } }, extra,
 *                          digest }
 *   <part>/model.json, <part>/weights.bin
 *   optimizer.json, optimizer.bin (when saved by the trainer)
 *
 * The whole set is written at once (`store.write`), so a reader sees the old checkpoint or the new one, never a mix.
 * Every file's length and SHA-256 are in the manifest, and `digest` is the SHA-256 of the manifest itself (its other
 * fields, keys sorted): one digest covers the topology, the weights, the config and whatever rode along, so an edited
 * or swapped file is refused by name. (Version 1 checkpoints, with a plain file list, still load; their weights are
 * checked by model.json's own SHA-256.)
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { GmError, sha256Hex, type CheckpointStore } from '@gm/core';
import { layersModelFiles, loadLayersModelFrom } from './artifacts';

export const CHECKPOINT_JSON = 'gm-checkpoint.json';
export const CHECKPOINT_FORMAT = 'gm-checkpoint';
export const CHECKPOINT_VERSION = 2;
/** Manifest versions this library reads. */
const READABLE_VERSIONS = [1, 2];

/** A file's length and SHA-256 (hex), as the manifest records them. */
export interface FileDigest {
  bytes: number;
  sha256: string;
}

export interface CheckpointManifest<C = unknown> {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  /** Which model class wrote it, e.g. "vae" or "stacked-autoencoder". */
  kind: string;
  /** Everything needed to rebuild the architecture. */
  config: C;
  /** Names of the tfjs LayersModel parts, each saved in a sub-folder of that name. */
  parts: string[];
  /** Every file of the checkpoint but the manifest, with its length and SHA-256 (version 1: the paths only). */
  files?: Record<string, FileDigest> | string[];
  /** Model-specific state that is not a tfjs weight (e.g. MADE mask seeds, training epoch). */
  extra?: Record<string, unknown>;
  /** SHA-256 of the manifest's other fields (version 2). */
  digest?: string;
}

/** JSON with object keys sorted at every level: the same value always gives the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The digest of a manifest: SHA-256 of its canonical JSON without the digest field. */
function manifestDigest(manifest: CheckpointManifest<unknown>): string {
  const { digest: _digest, ...rest } = manifest;
  return sha256Hex(canonicalJson(rest));
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
  const digests: Record<string, FileDigest> = {};
  for (const [p, b] of files) digests[p] = { bytes: b.byteLength, sha256: sha256Hex(b) };
  const full: CheckpointManifest<C> = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    ...manifest,
    parts: Object.keys(parts),
    files: digests,
  };
  full.digest = manifestDigest(full);
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
      // Keep the store's reason (e.g. "HTTP 404"), without repeating the path when the store named the same one.
      const reason = error.message.startsWith(`${where}: `) ? error.message.slice(where.length + 2) : error.message;
      const why = reason === '' ? '' : ` (${reason})`;
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
  if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest)) throw new GmError('CORRUPT', where, 'expected a JSON object');
  if (manifest.format !== CHECKPOINT_FORMAT) throw new GmError('CORRUPT', `${where}: field "format"`, `"${CHECKPOINT_FORMAT}"`, manifest.format);
  if (!READABLE_VERSIONS.includes(manifest.version)) {
    throw new GmError('UNSUPPORTED_VERSION', where, `version ${String(manifest.version)} is not supported (this @gm/models reads versions ${READABLE_VERSIONS.join(' and ')})`);
  }
  const digests = manifest.version >= 2 ? checkedDigests(where, manifest) : undefined;
  const kinds = expectedKind === undefined ? undefined : typeof expectedKind === 'string' ? [expectedKind] : expectedKind;
  if (kinds !== undefined && !kinds.includes(manifest.kind)) {
    throw new GmError('WRONG_KIND', where, `this checkpoint holds a "${manifest.kind}", expected a "${kinds.join('" or "')}"`);
  }
  if (!Array.isArray(manifest.parts)) throw new GmError('CORRUPT', `${where}: field "parts"`, 'an array of part names', manifest.parts);
  const listed = digests !== undefined ? new Set(Object.keys(digests)) : Array.isArray(manifest.files) ? new Set(manifest.files) : undefined;
  // Every read of a listed file is checked against the manifest: the topology and weights of each part included.
  const verified: CheckpointStore =
    digests === undefined
      ? store
      : {
          label: store.label,
          async read(path) {
            const want = Object.hasOwn(digests, path) ? digests[path] : undefined;
            if (want === undefined) throw new GmError('CORRUPT', `${store.label}/${path}`, `not listed in ${CHECKPOINT_JSON}`);
            const got = await store.read(path);
            if (got.byteLength !== want.bytes) {
              throw new GmError('CORRUPT', `${store.label}/${path}`, `expected ${want.bytes} bytes (${CHECKPOINT_JSON}), found ${got.byteLength}: truncated, edited or replaced`);
            }
            const sha = sha256Hex(got);
            if (sha !== want.sha256) {
              throw new GmError('CHECKSUM_MISMATCH', `${store.label}/${path}`, `sha256 ${sha} does not match ${CHECKPOINT_JSON}'s ${want.sha256}: edited or replaced`);
            }
            return got;
          },
        };
  return {
    store: verified,
    manifest,
    async part(name) {
      if (!manifest.parts.includes(name)) {
        throw new GmError('CORRUPT', where, `the "${manifest.kind}" checkpoint has no "${name}" part (parts: ${manifest.parts.join(', ')})`);
      }
      return loadLayersModelFrom(verified, name);
    },
    async file(path) {
      if (listed !== undefined && !listed.has(path)) return undefined;
      try {
        return await verified.read(path);
      } catch (error) {
        if (error instanceof GmError && error.code === 'NOT_FOUND') {
          if (digests !== undefined) throw new GmError('CORRUPT', `${store.label}/${path}`, `listed in ${CHECKPOINT_JSON} but missing`);
          return undefined;
        }
        throw error;
      }
    },
  };
}

/** A version-2 manifest's file digests, after checking the manifest's own digest. */
function checkedDigests(where: string, manifest: CheckpointManifest<unknown>): Record<string, FileDigest> {
  if (typeof manifest.digest !== 'string') throw new GmError('CORRUPT', `${where}: field "digest"`, 'the SHA-256 of the manifest', manifest.digest);
  const files = manifest.files;
  if (files === undefined || files === null || typeof files !== 'object' || Array.isArray(files)) {
    throw new GmError('CORRUPT', `${where}: field "files"`, 'an object of { bytes, sha256 } per file', files);
  }
  for (const [path, d] of Object.entries(files)) {
    if (d === null || typeof d !== 'object' || !Number.isInteger(d.bytes) || d.bytes < 0 || typeof d.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(d.sha256)) {
      throw new GmError('CORRUPT', `${where}: field "files"."${path}"`, '{ bytes, sha256 }', d);
    }
  }
  const digest = manifestDigest(manifest);
  if (digest !== manifest.digest) {
    throw new GmError('CHECKSUM_MISMATCH', where, `the manifest's digest ${manifest.digest} does not match its content (${digest}): it was edited`);
  }
  return files;
}

/** Reads an `epochsTrained` from a manifest's extra (0 when absent or invalid). */
export function epochsFromManifest(manifest: CheckpointManifest<unknown>): number {
  const e = manifest.extra?.['epochsTrained'];
  return typeof e === 'number' && Number.isInteger(e) && e >= 0 ? e : 0;
}

/**
 * The checkpoint's config through the model's own validation (`resolve`, which throws on a bad field): a config a
 * model would refuse is a CORRUPT checkpoint, named by its store.
 */
export function resolvedConfigOf<C, R>(reader: CheckpointReader<C>, resolve: (config: C) => R): R {
  try {
    return resolve(reader.manifest.config);
  } catch (error) {
    throw new GmError('CORRUPT', reader.store.label, `the checkpoint's config is invalid: ${(error as Error).message}`);
  }
}
