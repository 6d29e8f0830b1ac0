/**
 * Identity — and Cast to the dtype a tensor already has — for the tfjs wasm backend, sharing the input's buffer
 * instead of copying it.
 *
 * Stock tfjs-wasm 4.22 copies the whole tensor for every Identity; backprop runs dozens of them per training step
 * (~3 ms of a reference VAE step). Its Cast copies too when the dtype does not change, which every ReLU's gradient
 * does (dy · cast(step(x), 'float32')): 30 copies of up to 6.4 MB per Real NVP step. Tensors are immutable and
 * `Variable.assign` swaps buffers rather than writing into them, so sharing is safe — it is what tfjs's cpu and webgl
 * backends and the wasm Reshape kernel already do (the cpu backend's Cast shares whenever nothing is lost).
 */
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { wasmKernelOverride } from './kernel-override';

interface RefCountingBackend {
  incRef(dataId: object): void;
}

function share(x: TensorInfo, backend: unknown): TensorInfo {
  (backend as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

const identity = wasmKernelOverride('Identity', (stock): KernelFunc => ({ inputs, backend }) => {
  const x = inputs.x as TensorInfo;
  if (x.dtype === 'string' && stock !== undefined) return stock.kernelFunc({ inputs, backend, attrs: {} }) as TensorInfo;
  return share(x, backend);
});

const cast = wasmKernelOverride('Cast', (stock): KernelFunc => (args) => {
  const x = args.inputs.x as TensorInfo;
  const { dtype } = args.attrs as NamedAttrMap & { dtype: TensorInfo['dtype'] };
  if (dtype === x.dtype && x.dtype !== 'string' && x.dtype !== 'complex64') return share(x, args.backend);
  if (stock === undefined) throw new Error(`Cast on wasm: no stock kernel for ${x.dtype} → ${dtype}`);
  return stock.kernelFunc(args) as TensorInfo;
});

/** Registers the sharing Identity and same-dtype Cast on wasm (idempotent). Returns false when the wasm backend is not loaded. */
export const installSharingWasmIdentity = (): boolean => [identity.install(), cast.install()].every(Boolean);

/** Restores tfjs-wasm's copying Identity and Cast. */
export const uninstallSharingWasmIdentity = (): void => {
  identity.uninstall();
  cast.uninstall();
};
