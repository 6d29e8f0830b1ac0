/**
 * `Conv2DBackpropFilter` for the tfjs wasm backend, which tfjs-backend-wasm 4.22 lacks: without it no convolution can
 * be trained on wasm (`tf.grads` of `tf.conv2d` throws "kernel not registered"). gm's kernel (native/gm_kernels.c)
 * computes each filter tap as one GEMM over the shifted inputs, in chunks of output positions.
 */
import { backend_util, getKernel, registerKernel, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { gmKernelsFor, withScratch, type WasmBackendHeap } from './gm-kernels';

const KERNEL = 'Conv2DBackpropFilter';

interface Conv2DBackpropFilterAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

const conv2dBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const heap = backend as unknown as WasmBackendHeap;
  const kernels = gmKernelsFor(heap);
  if (kernels === undefined) {
    throw new Error(`${KERNEL} on wasm: gm's kernels are not bound to this backend (call initBackend() from @gm/backend)`);
  }
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
  if (dataFormat === 'NCHW') throw new Error(`${KERNEL} on wasm: only NHWC is supported (got dataFormat NCHW)`);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error(`${KERNEL} on wasm: x and dy must be float32`);
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const out = heap.makeOutput([...filterShape], 'float32');
  const scratchFloats = kernels.gm_conv2d_filter_grad_scratch_floats(info.inChannels, info.outChannels);
  withScratch(heap, scratchFloats * 4, (scratch) =>
    kernels.gm_conv2d_filter_grad(
      info.batchSize,
      info.inHeight,
      info.inWidth,
      info.inChannels,
      heap.getMemoryOffset(x.dataId),
      info.outHeight,
      info.outWidth,
      info.outChannels,
      heap.getMemoryOffset(dy.dataId),
      info.filterHeight,
      info.filterWidth,
      info.strideHeight,
      info.strideWidth,
      info.padInfo.top,
      info.padInfo.left,
      heap.getMemoryOffset(out.dataId),
      scratch,
    ),
  );
  return out;
};

/**
 * Registers gm's `Conv2DBackpropFilter` on wasm unless tfjs-wasm has one of its own. Returns whether a wasm
 * Conv2DBackpropFilter kernel is now registered.
 */
export function registerWasmConv2DBackpropFilter(): boolean {
  if (getKernel('Conv2D', 'wasm') === undefined) return false; // the wasm backend package is not loaded
  if (getKernel(KERNEL, 'wasm') === undefined) registerKernel({ kernelName: KERNEL, backendName: 'wasm', kernelFunc: conv2dBackpropFilter });
  return true;
}
