/**
 * The tensors a gradient keeps for the backward pass share their buffers without an Identity kernel or a tape node.
 *
 * tfjs-core 4.22 keeps each input or output a kernel's gradient needs as `keep(clone(t))`, and `clone` dispatches an
 * Identity kernel and records a tape node for it: an IAF-VAE training step dispatches ~160 Identity kernels and
 * backprop filters ~160 more tape nodes, all engine bookkeeping in JavaScript. While one tape records (gradient depth
 * 1) the backward pass itself is not recorded, so nothing ever differentiates through those nodes; the kept tensor
 * only needs its own reference to the buffer, which the backend's `incRef` gives — the sharing every backend's
 * Identity does (gm's on wasm), without the dispatch. Under nested gradients (`tf.grad` of `tf.grad`) the outer tape
 * does differentiate through the kept tensors, so there the stock clone runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';

/** The parts of tfjs-core's Engine this reads (its `saveTensorsForBackwardMode` is private in the typings). */
interface EngineInternals {
  state: { gradientDepth: number; tensorInfo: WeakMap<object, { backend: unknown }> };
  backend: unknown;
  saveTensorsForBackwardMode(tensors: Tensor[]): Tensor[];
  makeTensorFromDataId(dataId: object, shape: number[], dtype: Tensor['dtype'], backend?: unknown): Tensor;
  keep<T extends Tensor>(t: T): T;
  clone(t: Tensor): Tensor;
}

function saveSharing(this: EngineInternals, tensors: Tensor[]): Tensor[] {
  if (this.state.gradientDepth !== 1) return tensors.map((t) => this.keep(this.clone(t)));
  const backend = this.backend as { incRef?: (dataId: object) => void };
  return tensors.map((t) => {
    const owner = this.state.tensorInfo.get(t.dataId)?.backend;
    if (owner !== backend || typeof backend.incRef !== 'function' || t.dtype === 'string' || t.dtype === 'complex64') return this.keep(this.clone(t));
    backend.incRef(t.dataId);
    return this.keep(this.makeTensorFromDataId(t.dataId, [...t.shape], t.dtype, backend));
  });
}

const engine = (): EngineInternals => tf.engine() as unknown as EngineInternals;

/** Keeps gradients' saved tensors by sharing (idempotent; any backend with `incRef`, so all of tfjs's). */
export function installSharedSavedTensors(): void {
  engine().saveTensorsForBackwardMode = saveSharing;
}

/** Restores tfjs-core's clone per saved tensor. */
export function uninstallSharedSavedTensors(): void {
  delete (engine() as Partial<EngineInternals>).saveTensorsForBackwardMode;
}

/** Whether saved tensors are kept by sharing. */
export const isSharedSavedTensorsInstalled = (): boolean => engine().saveTensorsForBackwardMode === saveSharing;
