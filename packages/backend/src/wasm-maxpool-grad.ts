/**
 * `MaxPoolGrad` for the tfjs wasm backend that routes each window's gradient to the window's maximum.
 *
 * tfjs-backend-wasm 4.22's kernel starts its running maximum at `std::numeric_limits<float>::min()` — the smallest
 * positive float, not the lowest — so in a window whose values are all ≤ 0 no value replaces it and the window's
 * gradient goes to offset 0 (the tensor's first element) instead of the window's maximum. After SELU, ELU, tanh or a
 * linear layer such windows are common, so a network with max-pooling trained on stock wasm gets wrong gradients
 * silently. It also gives ties to the last maximum where every other backend gives them to the first. This kernel
 * computes what tfjs-backend-cpu does — the first maximum of each window in row-major order (padding excluded),
 * gradients of overlapping windows summed in float64 in the same order — reading the inputs from the wasm heap in
 * place. Plain JavaScript: it needs neither gm's native kernels nor SIMD.
 */
import { backend_util, util, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { wasmKernelOverride } from './kernel-override';

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: TensorInfo['dtype']): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

interface MaxPoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * dx of a 2-D max-pooling (NHWC) from its input `x` and the gradient `dy` of its output: each output position's
 * gradient is added to the first maximum of its window (a window with no finite maximum, e.g. all NaN, passes none).
 */
export function maxPoolGradInto(x: Float32Array, dy: Float32Array, dx: Float32Array, info: backend_util.Conv2DInfo): void {
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, strideHeight, strideWidth } = info;
  const fh = info.effectiveFilterHeight;
  const fw = info.effectiveFilterWidth;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Overlapping windows add several terms to one pixel: sum them in float64 as the cpu backend does.
  const overlap = strideHeight < fh || strideWidth < fw;
  const acc = overlap ? new Float64Array(dx.length) : dx;
  if (!overlap) dx.fill(0);
  const rowX = inWidth * C;
  const rowY = outWidth * C;
  for (let b = 0; b < batchSize; b++) {
    const xb = b * inHeight * rowX;
    const yb = b * outHeight * rowY;
    for (let oy = 0; oy < outHeight; oy++) {
      const r0 = oy * strideHeight - top;
      const rMin = Math.max(0, r0);
      const rMax = Math.min(inHeight, r0 + fh);
      for (let ox = 0; ox < outWidth; ox++) {
        const c0 = ox * strideWidth - left;
        const cMin = Math.max(0, c0);
        const cMax = Math.min(inWidth, c0 + fw);
        const yo = yb + oy * rowY + ox * C;
        for (let ch = 0; ch < C; ch++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let r = rMin; r < rMax; r++) {
            const row = xb + r * rowX + ch;
            for (let c = cMin; c < cMax; c++) {
              const v = x[row + c * C] as number;
              if (v > best) {
                best = v;
                at = row + c * C;
              }
            }
          }
          if (at >= 0) acc[at] = (acc[at] as number) + (dy[yo + ch] as number);
        }
      }
    }
  }
  if (overlap) dx.set(acc);
}

const maxPoolGrad = wasmKernelOverride('MaxPoolGrad', (stock): KernelFunc => (args) => {
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  if (input.dtype !== 'float32' || input.shape.length !== 4) {
    if (stock === undefined) throw new Error('MaxPoolGrad on wasm: gm\'s kernel handles float32 NHWC inputs only');
    return stock.kernelFunc(args) as TensorInfo;
  }
  const attrs = args.attrs as NamedAttrMap & MaxPoolGradAttrs;
  const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const backend = args.backend as unknown as WasmHeapBackend;
  const out = backend.makeOutput([...input.shape], 'float32');
  if (util.sizeFromShape(input.shape) === 0) return out;
  // Views after makeOutput: allocating may grow the heap and detach earlier ones.
  maxPoolGradInto(backend.typedArrayFromHeap(input) as Float32Array, backend.typedArrayFromHeap(dy) as Float32Array, backend.typedArrayFromHeap(out) as Float32Array, info);
  return out;
});

/** Registers gm's MaxPoolGrad on wasm (idempotent). Returns false when the wasm backend is not loaded. */
export const installWasmMaxPoolGrad = (): boolean => maxPoolGrad.install();

/** Restores tfjs-wasm's own MaxPoolGrad (wrong for windows whose values are all ≤ 0). */
export const uninstallWasmMaxPoolGrad = (): void => maxPoolGrad.uninstall();
