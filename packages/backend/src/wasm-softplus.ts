/**
 * `Softplus` on wasm by gm's SIMD kernel: log(1 + eˣ) = max(x, 0) + log1p(e^−|x|) with vectorised Cephes exp/log
 * (~1–2 ulp). tfjs-wasm's own kernel calls scalar libm per element (~1.2–1.5 ms for a 128×784 batch of Bernoulli
 * logits on these machines; gm's ~0.3 ms).
 */
import { util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { gmKernelsFor, type WasmBackendHeap } from './gm-kernels';
import { wasmKernelOverride } from './kernel-override';

const softplus = (stock: KernelConfig): KernelFunc => (args) => {
  const x = args.inputs.x as TensorInfo;
  const heap = args.backend as unknown as WasmBackendHeap;
  const kernels = gmKernelsFor(heap);
  if (kernels === undefined || x.dtype !== 'float32') return stock.kernelFunc(args);
  const out = heap.makeOutput([...x.shape], 'float32');
  const n = util.sizeFromShape(x.shape);
  if (n > 0) kernels.gm_softplus(n, heap.getMemoryOffset(x.dataId), heap.getMemoryOffset(out.dataId));
  return out;
};

const override = wasmKernelOverride('Softplus', (stock) => softplus(stock as KernelConfig));

/** Registers gm's Softplus on wasm (idempotent). Returns false when the wasm backend is not loaded. */
export const installWasmSoftplus = (): boolean => override.install();

/** Restores tfjs-wasm's Softplus. */
export const uninstallWasmSoftplus = (): void => override.uninstall();
