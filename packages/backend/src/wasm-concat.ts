/**
 * Concat for the tfjs wasm backend that copies rows in gm's wasm kernel.
 *
 * Stock tfjs-wasm 4.22 copies each input's part of each output row with `subarray` + `set` (~100 ns a call whatever
 * its length), so joining channels — a Real NVP coupling's two halves of 2 channels over 64×14×14 pixels — took ~5 ms
 * for 0.2 MB. This one copies the same rows with gm's `gm_copy_rows` (4-byte dtypes, gm's kernels bound), else with
 * {@link copyRun} in JavaScript; strings, complex numbers and a single non-empty input go to the stock kernel.
 */
import { backend_util, util, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { copyRun, type Typed } from './copy-run';
import { gmKernelsFor, type WasmBackendHeap } from './gm-kernels';
import { wasmKernelOverride } from './kernel-override';

interface WasmHeapBackend extends WasmBackendHeap {
  typedArrayFromHeap(t: TensorInfo): Typed;
}

const concat = wasmKernelOverride('Concat', (stock): KernelFunc => (args) => {
  const inputs = args.inputs as unknown as TensorInfo[];
  const parts = inputs.filter((t) => util.sizeFromShape(t.shape) > 0);
  const dtype = inputs[0]?.dtype;
  if (stock !== undefined && (parts.length <= 1 || dtype === 'string' || dtype === 'complex64')) {
    return stock.kernelFunc(args) as TensorInfo;
  }
  const axis = util.parseAxisParam((args.attrs as NamedAttrMap).axis as number, inputs[0]!.shape)[0]!;
  backend_util.assertParamsConsistent(inputs.map((t) => t.shape), axis);
  const outShape = backend_util.computeOutShape(inputs.map((t) => t.shape), axis);
  const backend = args.backend as unknown as WasmHeapBackend;
  const out = backend.makeOutput(outShape, dtype!);
  const rows = util.sizeFromShape(parts[0]!.shape.slice(0, axis));
  const widths = parts.map((t) => util.sizeFromShape(t.shape.slice(axis)));
  const rowWidth = widths.reduce((a, b) => a + b, 0);
  let column = 0;
  const kernels = dtype === 'float32' || dtype === 'int32' ? gmKernelsFor(backend) : undefined;
  if (kernels !== undefined) {
    const target = backend.getMemoryOffset(out.dataId);
    parts.forEach((part, i) => {
      kernels.gm_copy_rows(rows, widths[i]!, backend.getMemoryOffset(part.dataId), widths[i]!, target + 4 * column, rowWidth);
      column += widths[i]!;
    });
    return out;
  }
  // Views after makeOutput: allocating may grow the heap and detach earlier ones.
  const target = backend.typedArrayFromHeap(out);
  parts.forEach((part, i) => {
    const source = backend.typedArrayFromHeap(part);
    const width = widths[i]!;
    for (let r = 0; r < rows; r++) copyRun(source, r * width, target, r * rowWidth + column, width);
    column += width;
  });
  return out;
});

/** Registers gm's Concat on wasm (idempotent). Returns false when the wasm backend is not loaded. */
export const installWasmConcat = (): boolean => concat.install();

/** Restores tfjs-wasm's Concat. */
export const uninstallWasmConcat = (): void => concat.uninstall();
