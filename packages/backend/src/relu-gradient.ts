/**
 * ReLU's gradient as one kernel on wasm with gm's kernels bound.
 *
 * tfjs-core 4.22's Relu gradient is `dy · cast(step(x))`: three kernels, two of them full passes over the tensor.
 * Every ReLU layer pays it in every step (Real NVP's couplings: 30 per step over tensors of up to [64, 28, 28, 32];
 * Step, Cast and Multiply took ~18 ms of a ~430 ms step, the one pass takes ~12). gm's `GmReluGrad` kernel writes
 * dx = dy where x > 0 and 0 elsewhere in one pass (as PyTorch's threshold_backward; NaN where x is NaN). Other backends, and wasm without
 * gm's kernels, keep tfjs's formula. The kernel has a gradient of its own, so gradients of gradients still work.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, KernelFunc, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import { gmKernelsFor, type WasmBackendHeap } from './gm-kernels';
import { gradientOverride } from './gradient-override';
import { wasmKernelOverride } from './kernel-override';

const RELU_GRAD = 'GmReluGrad';

const reluGradKernel: KernelFunc = ({ inputs, backend }) => {
  const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
  const heap = backend as unknown as WasmBackendHeap;
  const kernels = gmKernelsFor(heap);
  if (kernels === undefined) throw new Error(`${RELU_GRAD}: gm's kernels are not bound to this wasm backend`);
  const out = heap.makeOutput([...x.shape], 'float32');
  const n = tf.util.sizeFromShape(x.shape);
  if (n > 0) kernels.gm_relu_grad(n, heap.getMemoryOffset(dy.dataId), heap.getMemoryOffset(x.dataId), heap.getMemoryOffset(out.dataId));
  return out;
};

const kernel = wasmKernelOverride(RELU_GRAD, () => reluGradKernel);

/** dy · relu′(x): gm's one-pass kernel where it runs, tfjs's `dy · step(x)` elsewhere. */
export function reluGradient(dy: Tensor, x: Tensor): Tensor {
  const fast =
    dy.dtype === 'float32' &&
    x.dtype === 'float32' &&
    tf.util.arraysEqual(dy.shape, x.shape) &&
    tf.getKernel(RELU_GRAD, tf.getBackend()) !== undefined &&
    gmKernelsFor(tf.backend()) !== undefined;
  if (fast) return tf.engine().runKernel(RELU_GRAD, { dy, x }) as Tensor;
  return tf.tidy(() => tf.mul(dy, tf.cast(tf.step(x), 'float32')));
}

const reluGradientConfig: GradConfig = {
  kernelName: 'Relu',
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const [x] = saved as [Tensor];
    return { x: () => reluGradient(dy as Tensor, x) };
  },
};

// d(dx)/d(dy) is relu′(x) again; relu′ is piecewise constant, so nothing flows to x.
const reluGradGradientConfig: GradConfig = {
  kernelName: RELU_GRAD,
  inputsToSave: ['x'],
  gradFunc: (ddx, saved) => {
    const [x] = saved as [Tensor];
    return { dy: () => reluGradient(ddx as Tensor, x), x: () => tf.zerosLike(x) };
  },
};

const gradients = gradientOverride(reluGradientConfig, reluGradGradientConfig);

/**
 * Registers `GmReluGrad` on wasm and gm's Relu gradient (idempotent; the gradient is global to tfjs and falls back to
 * tfjs's formula wherever the kernel cannot run). Returns false when the wasm backend is not loaded.
 */
export function installReluGradient(): boolean {
  if (!kernel.install()) return false;
  gradients.install();
  return true;
}

/** Puts back the Relu gradient registered before {@link installReluGradient} and removes the kernel. */
export function uninstallReluGradient(): void {
  gradients.uninstall();
  kernel.uninstall();
}
