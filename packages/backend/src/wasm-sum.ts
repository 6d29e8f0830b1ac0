/**
 * `Sum` over leading axes on wasm (bias gradients: dy [batch, units] summed over the batch) by gm's SIMD kernel.
 * tfjs-wasm's Sum first transposes the input so the reduced axes come last, then adds each output's values in
 * order; gm's kernel adds the same values in the same order straight from the untransposed input. Other
 * reductions go to the stock kernel.
 */
import { getKernel, registerKernel, unregisterKernel, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { gmKernelsFor, type WasmBackendHeap } from './gm-kernels';

let stock: KernelConfig | undefined;
let override: KernelConfig | undefined;

/**
 * Number of leading axes `axis` names when it is exactly 0, 1, …, k−1 in that order (k < rank), else 0. In another
 * order tfjs adds the values in another order, so those go to the stock kernel to keep results bit-identical.
 */
function leadingAxes(axis: number | number[], rank: number): number {
  const axes = util.parseAxisParam(axis, [...Array(rank).fill(1)] as number[]);
  if (axes.length === 0 || axes.length >= rank) return 0;
  return axes.every((a, i) => a === i) ? axes.length : 0;
}

const sum: KernelFunc = (args) => {
  const { backend, inputs, attrs } = args;
  const x = inputs.x as TensorInfo;
  const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
  const heap = backend as unknown as WasmBackendHeap;
  const kernels = gmKernelsFor(heap);
  const k = x.dtype === 'float32' && kernels !== undefined ? leadingAxes(axis, x.shape.length) : 0;
  if (k === 0 || kernels === undefined) return (stock as KernelConfig).kernelFunc(args);
  const rows = util.sizeFromShape(x.shape.slice(0, k));
  const kept = x.shape.slice(k);
  const out = heap.makeOutput(keepDims ? [...Array(k).fill(1), ...kept] : kept, 'float32');
  const cols = util.sizeFromShape(kept);
  if (cols > 0) kernels.gm_sum_leading(rows, cols, heap.getMemoryOffset(x.dataId), heap.getMemoryOffset(out.dataId));
  return out;
};

/** Registers the leading-axes Sum on wasm (idempotent). Returns false when the wasm backend is not loaded. */
export function installWasmSum(): boolean {
  const current = getKernel('Sum', 'wasm');
  if (current === undefined) return false;
  if (current === override) return true;
  stock = current;
  override = { ...current, kernelFunc: sum };
  unregisterKernel('Sum', 'wasm');
  registerKernel(override);
  return true;
}

/** Restores tfjs-wasm's Sum. */
export function uninstallWasmSum(): void {
  if (stock !== undefined && getKernel('Sum', 'wasm') === override) {
    unregisterKernel('Sum', 'wasm');
    registerKernel(stock);
  }
  override = undefined;
}
