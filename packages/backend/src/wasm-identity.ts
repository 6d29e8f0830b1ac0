/**
 * Identity for the tfjs wasm backend that shares the input's buffer instead of copying it.
 *
 * Stock tfjs-wasm 4.22 copies the whole tensor for every Identity; backprop runs dozens of them per training step
 * (~3 ms of a reference VAE step). Tensors are immutable and `Variable.assign` swaps buffers rather than writing
 * into them, so sharing is safe — it is what tfjs's cpu and webgl backends and the wasm Reshape kernel already do.
 */
import { getKernel, registerKernel, unregisterKernel, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';

const WASM = 'wasm';
let stock: KernelConfig | undefined;
let override: KernelConfig | undefined;

interface RefCountingBackend {
  incRef(dataId: object): void;
}

const sharingIdentity: KernelFunc = ({ inputs, backend }) => {
  const x = inputs.x as TensorInfo;
  if (x.dtype === 'string') return (stock as KernelConfig).kernelFunc({ inputs, backend, attrs: {} }) as TensorInfo;
  (backend as unknown as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
};

/** Registers the sharing Identity on wasm (idempotent). Returns false when the wasm backend is not loaded. */
export function installSharingWasmIdentity(): boolean {
  const current = getKernel('Identity', WASM);
  if (current === undefined) return false;
  if (current === override) return true;
  stock = current;
  override = { ...current, kernelFunc: sharingIdentity };
  unregisterKernel('Identity', WASM);
  registerKernel(override);
  return true;
}

/** Restores tfjs-wasm's copying Identity. */
export function uninstallSharingWasmIdentity(): void {
  if (stock !== undefined && getKernel('Identity', WASM) === override) {
    unregisterKernel('Identity', WASM);
    registerKernel(stock);
  }
  override = undefined;
}
