/**
 * Identity for the tfjs wasm backend that shares the input's buffer instead of copying it.
 *
 * Stock tfjs-wasm 4.22 copies the whole tensor for every Identity; backprop runs dozens of them per training step
 * (~3 ms of a reference VAE step). Tensors are immutable and `Variable.assign` swaps buffers rather than writing
 * into them, so sharing is safe — it is what tfjs's cpu and webgl backends and the wasm Reshape kernel already do.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { wasmKernelOverride } from './kernel-override';

interface RefCountingBackend {
  incRef(dataId: object): void;
}

const identity = wasmKernelOverride('Identity', (stock): KernelFunc => ({ inputs, backend }) => {
  const x = inputs.x as TensorInfo;
  if (x.dtype === 'string' && stock !== undefined) return stock.kernelFunc({ inputs, backend, attrs: {} }) as TensorInfo;
  (backend as unknown as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
});

/** Registers the sharing Identity on wasm (idempotent). Returns false when the wasm backend is not loaded. */
export const installSharingWasmIdentity = (): boolean => identity.install();

/** Restores tfjs-wasm's copying Identity. */
export const uninstallSharingWasmIdentity = (): void => identity.uninstall();
