/**
 * @gm/models/node — checkpoints in Node folders: `fileStore(dir)` for every model's `save`/`load`, and
 * `fileSystemIO(dir)` to save and load a plain tfjs model to a folder on any backend (tfjs's own `file://` handler
 * exists only with tfjs-node).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { storeIO } from './io/artifacts';
import { fileStore, type FileStoreOptions, type FileStoreStage } from './io/file-store';

export { fileStore, type FileStoreOptions, type FileStoreStage };

/**
 * A tfjs IOHandler for a folder (created if missing): `model.json` + `weights.bin`, written atomically, the
 * weights' length and SHA-256 checked on load.
 *
 * @example
 * ```ts
 * await model.save(fileSystemIO('checkpoints/encoder'));
 * const again = await tf.loadLayersModel(fileSystemIO('checkpoints/encoder'));
 * ```
 */
export function fileSystemIO(dir: string): tf.io.IOHandler {
  return storeIO(fileStore(dir));
}
