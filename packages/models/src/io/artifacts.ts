/**
 * tfjs models as files in a {@link CheckpointStore}: the standard `model.json` + `weights.bin` pair, with the
 * weights' byte length and SHA-256 recorded in model.json and checked on load, so a truncated or corrupted weights
 * file is an error that names it instead of a model with garbage weights. `storeIO` makes any store a tfjs
 * IOHandler, so a plain tfjs model saves and loads through it too (files in Node, IndexedDB, memory, a URL).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { concatBytes, GmError, sha256Hex, type CheckpointStore } from '@gm/core';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

interface GmModelJson {
  modelTopology: unknown;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  userDefinedMetadata?: Record<string, unknown>;
  gm: { weightsBytes: number; weightsSha256: string };
}

const join = (prefix: string, name: string): string => (prefix === '' ? name : `${prefix}/${name}`);

function weightBytes(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  return concatBytes((Array.isArray(data) ? data : [data]).map((p) => new Uint8Array(p)));
}

/** A tfjs model's artifacts as the two files of a folder `prefix` ('' for the store's root). */
export function artifactsToFiles(artifacts: tf.io.ModelArtifacts, prefix: string, label: string): Map<string, Uint8Array> {
  if (artifacts.modelTopology instanceof ArrayBuffer) {
    throw new GmError('UNSUPPORTED', join(label, prefix), 'binary model topologies are not supported, expected a JSON topology');
  }
  const weights = weightBytes(artifacts.weightData);
  checkFiniteWeights(artifacts.weightSpecs ?? [], weights, join(label, prefix), 'refusing to save a model with non-finite weights (it diverged)');
  const json: GmModelJson = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
    userDefinedMetadata: artifacts.userDefinedMetadata,
    gm: { weightsBytes: weights.byteLength, weightsSha256: sha256Hex(weights) },
  };
  return new Map([
    [join(prefix, WEIGHTS_BIN), weights],
    [join(prefix, MODEL_JSON), new TextEncoder().encode(JSON.stringify(json))],
  ]);
}

/**
 * Throws unless every float32 weight is finite: a model that diverged must not replace a checkpoint, and a stored
 * NaN would only come back as garbage samples and bloated files.
 */
function checkFiniteWeights(specs: readonly tf.io.WeightsManifestEntry[], data: Uint8Array, where: string, what: string): void {
  let offset = 0;
  for (const spec of specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = n * (spec.dtype === 'float32' || spec.dtype === 'int32' ? 4 : spec.dtype === 'bool' ? 1 : 4);
    if (spec.dtype === 'float32' && spec.quantization === undefined && offset + bytes <= data.byteLength) {
      const values = new Float32Array(data.slice(offset, offset + bytes).buffer);
      for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(values[i]!)) {
          throw new GmError('CORRUPT', where, `weight "${spec.name}" holds ${values[i]} at index ${i}: ${what}`);
        }
      }
    }
    offset += bytes;
  }
}

/** Reads and verifies the artifacts of folder `prefix` of `store`; errors name the file. */
export async function artifactsFromStore(store: CheckpointStore, prefix: string): Promise<tf.io.ModelArtifacts> {
  const jsonPath = join(prefix, MODEL_JSON);
  const where = `${store.label}/${jsonPath}`;
  const text = new TextDecoder().decode(await store.read(jsonPath));
  let json: GmModelJson;
  try {
    json = JSON.parse(text) as GmModelJson;
  } catch {
    throw new GmError('CORRUPT', where, 'not valid JSON (truncated or not a model.json)');
  }
  const manifest = json?.weightsManifest?.[0];
  if (json?.modelTopology === undefined || manifest === undefined || !Array.isArray(manifest.weights)) {
    throw new GmError('CORRUPT', where, 'expected fields "modelTopology" and "weightsManifest[0].weights"');
  }
  const weightsPath = join(prefix, WEIGHTS_BIN);
  const weights = await store.read(weightsPath);
  if (json.gm !== undefined) {
    const wWhere = `${store.label}/${weightsPath}`;
    if (weights.byteLength !== json.gm.weightsBytes) {
      throw new GmError('CORRUPT', wWhere, `expected ${json.gm.weightsBytes} bytes, found ${weights.byteLength} (truncated or replaced)`);
    }
    const digest = sha256Hex(weights);
    if (digest !== json.gm.weightsSha256) {
      throw new GmError('CHECKSUM_MISMATCH', wWhere, `sha256 ${digest} does not match model.json's ${json.gm.weightsSha256} (corrupted)`);
    }
  }
  checkFiniteWeights(manifest.weights, weights, `${store.label}/${weightsPath}`, 'the model had diverged (non-finite weights); retrain, or load an earlier checkpoint');
  return {
    modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
    weightSpecs: manifest.weights,
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    userDefinedMetadata: json.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
  };
}

/** A model's files under `prefix`, as `model.save` produces them (no store write). */
export async function layersModelFiles(model: tfl.LayersModel, prefix: string, label: string): Promise<Map<string, Uint8Array>> {
  let files: Map<string, Uint8Array> | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      files = artifactsToFiles(artifacts, prefix, label);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  return files as Map<string, Uint8Array>;
}

/** Loads the tfjs model in folder `prefix` of `store` (gm's custom layers must be registered first). */
export async function loadLayersModelFrom(store: CheckpointStore, prefix: string): Promise<tfl.LayersModel> {
  const artifacts = await artifactsFromStore(store, prefix);
  return tfl.loadLayersModel(tf.io.fromMemory(artifacts));
}

/**
 * A tfjs IOHandler over a store: `model.save(storeIO(store))` replaces the store's content with the model's two
 * files; `tf.loadLayersModel(storeIO(store))` reads and verifies them.
 *
 * @example
 * ```ts
 * const store = memoryStore();
 * await model.save(storeIO(store));
 * const again = await tf.loadLayersModel(storeIO(store));
 * ```
 */
export function storeIO(store: CheckpointStore): tf.io.IOHandler {
  return {
    async save(artifacts) {
      if (store.write === undefined) throw new GmError('UNSUPPORTED', store.label, 'this store is read-only');
      await store.write(artifactsToFiles(artifacts, '', store.label));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    load: () => artifactsFromStore(store, ''),
  };
}
