/**
 * `Sum` over leading axes on wasm (bias gradients: dy [batch, units] summed over the batch) by gm's SIMD kernel.
 * tfjs-wasm's Sum first transposes the input so the reduced axes come last, then adds each output's values in
 * order; gm's kernel adds the same values in the same order straight from the untransposed input. Other
 * reductions go to the stock kernel.
 */
import { util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { gmKernelsFor, type WasmBackendHeap } from './gm-kernels';
import { wasmKernelOverride } from './kernel-override';

/**
 * Number of leading axes `axis` names when it is exactly 0, 1, …, k−1 in that order (k < rank), else 0. In another
 * order tfjs adds the values in another order, so those go to the stock kernel to keep results bit-identical.
 */
function leadingAxes(axis: number | number[], rank: number): number {
  const axes = util.parseAxisParam(axis, [...Array(rank).fill(1)] as number[]);
  if (axes.length === 0 || axes.length >= rank) return 0;
  return axes.every((a, i) => a === i) ? axes.length : 0;
}

const sum = (stock: KernelConfig): KernelFunc => (args) => {
  const { backend, inputs, attrs } = args;
  const x = inputs.x as TensorInfo;
  const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
  const heap = backend as unknown as WasmBackendHeap;
  const kernels = gmKernelsFor(heap);
  const k = x.dtype === 'float32' && kernels !== undefined ? leadingAxes(axis, x.shape.length) : 0;
  if (k === 0 || kernels === undefined) return stock.kernelFunc(args);
  const rows = util.sizeFromShape(x.shape.slice(0, k));
  const kept = x.shape.slice(k);
  const out = heap.makeOutput(keepDims ? [...Array(k).fill(1), ...kept] : kept, 'float32');
  const cols = util.sizeFromShape(kept);
  if (cols > 0) kernels.gm_sum_leading(rows, cols, heap.getMemoryOffset(x.dataId), heap.getMemoryOffset(out.dataId));
  return out;
};

const override = wasmKernelOverride('Sum', (stock) => sum(stock as KernelConfig));

/** Registers the leading-axes Sum on wasm (idempotent). Returns false when the wasm backend is not loaded. */
export const installWasmSum = (): boolean => override.install();

/** Restores tfjs-wasm's Sum. */
export const uninstallWasmSum = (): void => override.uninstall();
