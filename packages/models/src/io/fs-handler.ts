/**
 * Save and load tfjs models to a folder on every backend. tfjs's own `file://` handler exists only with
 * tfjs-node, so gm writes the standard `model.json` + `weights.bin` pair itself:
 * - writes are atomic (temporary file, then rename), weights first, so a crash never leaves a model.json that
 *   points at half-written weights;
 * - model.json records the weights' byte length and sha256, and loading verifies both, so a truncated or corrupted
 *   weights file is an error that names the file instead of a model with garbage weights.
 * Node built-ins are imported lazily so browser bundles that never save to disk do not pull them in.
 */
import * as tf from '@tensorflow/tfjs-core';

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

async function node() {
  const [fs, path, crypto] = await Promise.all([import('node:fs/promises'), import('node:path'), import('node:crypto')]);
  return { fs, path, crypto };
}

/** Writes `data` to `file` atomically: a sibling temporary file, then rename. */
export async function atomicWrite(file: string, data: Uint8Array | string): Promise<void> {
  const { fs } = await node();
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, file);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
}

function joinWeights(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  const parts = Array.isArray(data) ? data : [data];
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  return out;
}

/**
 * An IOHandler that saves to / loads from `dir` (created if missing).
 *
 * @example
 * ```ts
 * await model.save(fileSystemIO('checkpoints/encoder'));
 * const again = await tf.loadLayersModel(fileSystemIO('checkpoints/encoder'));
 * ```
 */
export function fileSystemIO(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const { fs, path, crypto } = await node();
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error(`saving to ${dir}: binary model topologies are not supported, expected a JSON topology`);
      }
      await fs.mkdir(dir, { recursive: true });
      const weights = joinWeights(artifacts.weightData);
      await atomicWrite(path.join(dir, WEIGHTS_BIN), weights);
      const json: GmModelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
        userDefinedMetadata: artifacts.userDefinedMetadata,
        gm: { weightsBytes: weights.byteLength, weightsSha256: crypto.createHash('sha256').update(weights).digest('hex') },
      };
      await atomicWrite(path.join(dir, MODEL_JSON), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const { fs, path, crypto } = await node();
      const jsonFile = path.join(dir, MODEL_JSON);
      let text: string;
      try {
        text = await fs.readFile(jsonFile, 'utf8');
      } catch (error) {
        throw new Error(`${jsonFile}: cannot read the model (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
      }
      let json: GmModelJson;
      try {
        json = JSON.parse(text) as GmModelJson;
      } catch {
        throw new Error(`${jsonFile}: not valid JSON (truncated or not a model.json)`);
      }
      const manifest = json.weightsManifest?.[0];
      if (json.modelTopology === undefined || manifest === undefined || !Array.isArray(manifest.weights)) {
        throw new Error(`${jsonFile}: expected fields "modelTopology" and "weightsManifest[0].weights"`);
      }
      const weightsFile = path.join(dir, WEIGHTS_BIN);
      let weights: Uint8Array;
      try {
        weights = await fs.readFile(weightsFile);
      } catch (error) {
        throw new Error(`${weightsFile}: cannot read the weights (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
      }
      if (json.gm !== undefined) {
        if (weights.byteLength !== json.gm.weightsBytes) {
          throw new Error(`${weightsFile}: expected ${json.gm.weightsBytes} bytes, found ${weights.byteLength} (truncated or replaced)`);
        }
        const digest = crypto.createHash('sha256').update(weights).digest('hex');
        if (digest !== json.gm.weightsSha256) {
          throw new Error(`${weightsFile}: sha256 ${digest} does not match model.json's ${json.gm.weightsSha256} (corrupted)`);
        }
      }
      const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
      return {
        modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
        weightSpecs: manifest.weights,
        weightData,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        userDefinedMetadata: json.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
      };
    },
  };
}
