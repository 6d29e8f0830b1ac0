/**
 * Loads a VAE checkpoint written by `gm train` (or `VAE.save`) in the browser. `VAE.load` reads folders with
 * node:fs, so the page reads the same files itself — from a URL (fetch) or from a folder the user picks
 * (`<input webkitdirectory>`) — and applies the same checks: the manifest's format, version and kind, the
 * encoder and decoder parts, each part's weights length and sha256 recorded in its model.json, and the parts'
 * shapes against the config.
 *
 *   <dir>/gm-checkpoint.json, <dir>/encoder/{model.json,weights.bin}, <dir>/decoder/{model.json,weights.bin}
 */
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_JSON,
  CHECKPOINT_VERSION,
  MODEL_JSON,
  VAE,
  VAE_CHECKPOINT_KIND,
  WEIGHTS_BIN,
  resolveVaeConfig,
  type CheckpointManifest,
  type VaeConfig,
} from '@gm/models';

/** Reads one file of a checkpoint folder by its path relative to the folder (e.g. "encoder/model.json"). */
export interface CheckpointSource {
  /** How errors name the checkpoint (its URL or folder name). */
  readonly label: string;
  read(path: string): Promise<Uint8Array>;
}

/** A checkpoint folder served over HTTP; `base` is the folder's URL (a trailing slash is added). */
export function urlSource(base: string, fetchImpl: typeof fetch = fetch): CheckpointSource {
  const root = base.endsWith('/') ? base : `${base}/`;
  return {
    label: root,
    async read(path) {
      const url = new URL(path, new URL(root, globalThis.location?.href ?? undefined)).href;
      let response: Response;
      try {
        response = await fetchImpl(url);
      } catch (error) {
        throw new Error(`${url}: cannot fetch (${(error as Error).message})`);
      }
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`.trim());
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}

/**
 * A checkpoint folder picked with `<input type="file" webkitdirectory>`: each File's `webkitRelativePath` starts with
 * the folder's name, which is stripped (files may also be given with explicit relative paths).
 */
export function filesSource(files: ArrayLike<File> | Iterable<File>, paths?: string[]): CheckpointSource {
  const list = Array.from(files as Iterable<File>);
  const byPath = new Map<string, File>();
  let folder = '';
  list.forEach((file, i) => {
    const full = paths?.[i] ?? (file.webkitRelativePath || file.name);
    const parts = full.split('/');
    if (paths === undefined && parts.length > 1) {
      folder = parts[0] ?? '';
      parts.shift();
    }
    byPath.set(parts.join('/'), file);
  });
  // A folder that holds the checkpoint one level down (e.g. picked "out/" containing "vae/gm-checkpoint.json").
  if (!byPath.has(CHECKPOINT_JSON)) {
    const nested = [...byPath.keys()].filter((p) => p.endsWith(`/${CHECKPOINT_JSON}`));
    if (nested.length === 1) {
      const prefix = (nested[0] as string).slice(0, -CHECKPOINT_JSON.length);
      for (const [p, f] of [...byPath]) {
        byPath.delete(p);
        if (p.startsWith(prefix)) byPath.set(p.slice(prefix.length), f);
      }
      folder = `${folder}/${prefix.slice(0, -1)}`;
    }
  }
  return {
    label: folder === '' ? 'the chosen files' : `folder "${folder}"`,
    async read(path) {
      const file = byPath.get(path);
      if (file === undefined) throw new Error(`${path} is missing from ${folder === '' ? 'the chosen files' : `folder "${folder}"`}`);
      return new Uint8Array(await file.arrayBuffer());
    },
  };
}

function parseJson<T>(bytes: Uint8Array, where: string): T {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch {
    throw new Error(`${where}: not valid JSON`);
  }
}

async function sha256Hex(bytes: Uint8Array): Promise<string | undefined> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle === undefined) return undefined; // insecure origins have no WebCrypto: the length check still applies
  const digest = await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

interface GmModelJson {
  modelTopology?: unknown;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest?: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  gm?: { weightsBytes: number; weightsSha256: string };
}

/** A tfjs IOHandler for one part (`encoder` / `decoder`): model.json + weights.bin, verified like gm's fs handler. */
export function partIO(source: CheckpointSource, part: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const where = `${source.label} ${part}/${MODEL_JSON}`;
      const json = parseJson<GmModelJson>(await source.read(`${part}/${MODEL_JSON}`), where);
      const manifest = json.weightsManifest?.[0];
      if (json.modelTopology === undefined || manifest === undefined || !Array.isArray(manifest.weights)) {
        throw new Error(`${where}: expected fields "modelTopology" and "weightsManifest[0].weights"`);
      }
      const weightsWhere = `${source.label} ${part}/${WEIGHTS_BIN}`;
      const weights = await source.read(`${part}/${WEIGHTS_BIN}`);
      if (json.gm !== undefined) {
        if (weights.byteLength !== json.gm.weightsBytes) {
          throw new Error(`${weightsWhere}: expected ${json.gm.weightsBytes} bytes, found ${weights.byteLength} (truncated or replaced)`);
        }
        const digest = await sha256Hex(weights);
        if (digest !== undefined && digest !== json.gm.weightsSha256) {
          throw new Error(`${weightsWhere}: sha256 ${digest} does not match model.json's ${json.gm.weightsSha256} (corrupted)`);
        }
      }
      return {
        modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
        weightSpecs: manifest.weights,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? null,
      };
    },
  };
}

const fmt = (shape: readonly (number | null)[]): string => `[${shape.map((d) => (d === null ? 'null' : String(d))).join(', ')}]`;

export interface LoadedCheckpoint {
  vae: VAE;
  manifest: CheckpointManifest<VaeConfig>;
}

/** Reads, verifies and builds the VAE of a gm checkpoint. Errors name the checkpoint and what is wrong. */
export async function loadVaeCheckpoint(source: CheckpointSource): Promise<LoadedCheckpoint> {
  const where = `${source.label} ${CHECKPOINT_JSON}`;
  let bytes: Uint8Array;
  try {
    bytes = await source.read(CHECKPOINT_JSON);
  } catch (error) {
    throw new Error(`not a gm checkpoint: ${(error as Error).message}`);
  }
  const manifest = parseJson<CheckpointManifest<VaeConfig>>(bytes, where);
  if (manifest === null || typeof manifest !== 'object') throw new Error(`${where}: expected a JSON object`);
  if (manifest.format !== CHECKPOINT_FORMAT) throw new Error(`${where}: field "format" must be "${CHECKPOINT_FORMAT}"`);
  if (manifest.version !== CHECKPOINT_VERSION) {
    throw new Error(`${where}: version ${String(manifest.version)} is not supported (expected ${CHECKPOINT_VERSION})`);
  }
  if (manifest.kind !== VAE_CHECKPOINT_KIND) {
    throw new Error(`${where}: this checkpoint holds a "${String(manifest.kind)}"; the demo shows a "${VAE_CHECKPOINT_KIND}"`);
  }
  if (!Array.isArray(manifest.parts) || !manifest.parts.includes('encoder') || !manifest.parts.includes('decoder')) {
    throw new Error(`${where}: a VAE checkpoint needs "encoder" and "decoder" parts`);
  }
  let config: ReturnType<typeof resolveVaeConfig>;
  try {
    config = resolveVaeConfig(manifest.config);
  } catch (error) {
    throw new Error(`${where}: the checkpoint's config is invalid: ${(error as Error).message}`);
  }
  const pixels = config.inputShape.reduce((a, b) => a * b, 1);
  if (pixels !== 784 || config.likelihood === 'discretized-logistic-mixture' || (config.likelihood !== 'bernoulli' && config.numBins !== 256)) {
    throw new Error(
      `${where}: the demo shows 28×28 greyscale digits with a Bernoulli or 8-bit discretized-logistic VAE; this one has ` +
        `inputShape ${fmt(config.inputShape)} and likelihood "${config.likelihood}"`,
    );
  }
  const encoder = await tfl.loadLayersModel(partIO(source, 'encoder'));
  let decoder: tfl.LayersModel;
  try {
    decoder = await tfl.loadLayersModel(partIO(source, 'decoder'));
  } catch (error) {
    encoder.dispose();
    throw error;
  }
  const check = (what: string, got: readonly (number | null)[] | undefined, want: (number | null)[]): void => {
    const g = got ?? [];
    if (g.length !== want.length || g.some((d, i) => d !== want[i])) {
      encoder.dispose();
      decoder.dispose();
      throw new Error(`${source.label}: the ${what} has shape ${fmt(g)} but the config implies ${fmt(want)}`);
    }
  };
  check('encoder input', encoder.inputs[0]?.shape, [null, ...config.inputShape]);
  check('encoder output', encoder.outputs[0]?.shape, [null, 2 * config.latentDim]);
  check('decoder input', decoder.inputs[0]?.shape, [null, config.latentDim]);
  check('decoder output', decoder.outputs[0]?.shape, [null, ...config.inputShape, config.likelihood === 'bernoulli' ? 1 : 2]);
  // The VAE constructor's second argument takes loaded parts (what VAE.load does after reading the folder).
  const vae = new VAE(manifest.config, { encoder, decoder });
  const epochs = manifest.extra?.['epochsTrained'];
  vae.epochsTrained = typeof epochs === 'number' && Number.isInteger(epochs) && epochs >= 0 ? epochs : 0;
  return { vae, manifest };
}
