/**
 * Slice for the tfjs wasm backend that reads its input in place.
 *
 * Stock tfjs-wasm 4.22's Slice copies the whole input out of the wasm heap (`readSync`) before taking the slice, so
 * every batch sliced from a dataset tensor copies the dataset: 60 ms of a 68 ms MLP-VAE training step on 6,000
 * digits (`fit` without shuffling, and every validation batch). This one copies only the slice, from a view of the
 * heap taken after the output is allocated (allocating may grow and move the heap).
 */
import { slice_util, util, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { wasmKernelOverride } from './kernel-override';

type Typed = Float32Array | Int32Array | Uint8Array;

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: TensorInfo['dtype']): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Typed;
}

/** Copies the slice `begin`/`size` of `x` (shape `shape`) into `out`: the innermost contiguous runs with `set`. */
function copySlice(x: Typed, shape: readonly number[], begin: readonly number[], size: readonly number[], out: Typed): void {
  const rank = shape.length;
  const strides = util.computeStrides(shape as number[]);
  // The run: the largest suffix of axes the slice covers whole, times the size along the axis before it.
  let inner = rank - 1;
  while (inner > 0 && begin[inner] === 0 && size[inner] === shape[inner]) inner--;
  const run = size.slice(inner).reduce((a, b) => a * b, 1);
  const outer = size.slice(0, inner);
  const count = outer.reduce((a, b) => a * b, 1);
  const index = new Array<number>(inner).fill(0);
  for (let r = 0; r < count; r++) {
    let offset = begin[inner]! * (inner < rank - 1 ? strides[inner]! : 1);
    for (let a = 0; a < inner; a++) offset += (begin[a]! + index[a]!) * strides[a]!;
    out.set(x.subarray(offset, offset + run), r * run);
    for (let a = inner - 1; a >= 0; a--) {
      if (++index[a]! < outer[a]!) break;
      index[a] = 0;
    }
  }
}

const slice = wasmKernelOverride('Slice', (stock): KernelFunc => (args) => {
  const x = args.inputs.x as TensorInfo;
  if (x.dtype === 'string' && stock !== undefined) return stock.kernelFunc(args) as TensorInfo;
  const attrs = args.attrs as NamedAttrMap & { begin: number | number[]; size?: number | number[] };
  const [begin, size] = slice_util.parseSliceParams(x, attrs.begin, attrs.size) as [number[], number[]];
  const backend = args.backend as unknown as WasmHeapBackend;
  const out = backend.makeOutput(size, x.dtype);
  if (util.sizeFromShape(size) === 0) return out;
  const input = backend.typedArrayFromHeap(x); // after makeOutput: a grown heap would detach an earlier view
  if (x.shape.length === 0) {
    backend.typedArrayFromHeap(out).set(input);
    return out;
  }
  copySlice(input, x.shape, begin, size, backend.typedArrayFromHeap(out));
  return out;
});

/** Registers the in-place Slice on wasm (idempotent). Returns false when the wasm backend is not loaded. */
export const installInPlaceWasmSlice = (): boolean => slice.install();

/** Restores tfjs-wasm's copying Slice. */
export const uninstallInPlaceWasmSlice = (): void => slice.uninstall();
