/**
 * @gm/core/ops' `bernoulliLogProb` (Σ x·ℓ − softplus(ℓ) over the event) on wasm: one pass forward and one backward
 * (both input gradients), by native/gm_kernels.c's `gm_bernoulli_log_prob` / `_grad`. Without gm's kernels bound the
 * same formulas run in JavaScript over the heap.
 */
import { util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { BERNOULLI_LOG_PROB_GRAD_KERNEL, BERNOULLI_LOG_PROB_KERNEL, bernoulliLogProbGradConfig } from '@gm/core/ops';
import { gmKernelsFor, type WasmBackendHeap } from './gm-kernels';
import { wasmKernelSet } from './kernel-override';

type KernelArgs = Parameters<KernelFunc>[0];

interface Heap extends WasmBackendHeap {
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

/** softplus(v) = log(1 + e^v), without overflow either way. */
const softplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));

/** The output's shape (the logits' leading axes) and the [rows, n] layout the kernels see. */
function layout(logits: TensorInfo, eventRank: number): { outShape: number[]; rows: number; n: number } {
  const outShape = logits.shape.slice(0, logits.shape.length - eventRank);
  return { outShape, rows: util.sizeFromShape(outShape), n: util.sizeFromShape(logits.shape.slice(logits.shape.length - eventRank)) };
}

function forward(args: KernelArgs): TensorInfo {
  const heap = args.backend as unknown as Heap;
  const { logits, x } = args.inputs as { logits: TensorInfo; x: TensorInfo };
  const { outShape, rows, n } = layout(logits, (args.attrs as { eventRank: number }).eventRank);
  const out = heap.makeOutput(outShape, 'float32');
  if (rows === 0) return out;
  const kernels = gmKernelsFor(heap);
  if (kernels !== undefined) {
    kernels.gm_bernoulli_log_prob(rows, n, heap.getMemoryOffset(logits.dataId), heap.getMemoryOffset(x.dataId), heap.getMemoryOffset(out.dataId));
    return out;
  }
  const [l, xv, o] = [logits, x, out].map((t) => heap.typedArrayFromHeap(t)) as [Float32Array, Float32Array, Float32Array];
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = r * n; j < (r + 1) * n; j++) s += (xv[j] as number) * (l[j] as number) - softplus(l[j] as number);
    o[r] = s;
  }
  return out;
}

function backward(args: KernelArgs): TensorInfo[] {
  const heap = args.backend as unknown as Heap;
  const { dy, logits, x } = args.inputs as { dy: TensorInfo; logits: TensorInfo; x: TensorInfo };
  const rows = util.sizeFromShape(dy.shape);
  const n = rows === 0 ? 0 : util.sizeFromShape(logits.shape) / rows;
  const dLogits = heap.makeOutput([...logits.shape], 'float32');
  const dx = heap.makeOutput([...x.shape], 'float32');
  if (rows * n === 0) return [dLogits, dx];
  const kernels = gmKernelsFor(heap);
  const tensors = [dy, logits, x, dLogits, dx];
  if (kernels !== undefined) {
    kernels.gm_bernoulli_log_prob_grad(rows, n, ...(tensors.map((t) => heap.getMemoryOffset(t.dataId)) as [number, number, number, number, number]));
    return [dLogits, dx];
  }
  const [d, l, xv, gl, gx] = tensors.map((t) => heap.typedArrayFromHeap(t)) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  for (let r = 0; r < rows; r++) {
    for (let j = r * n; j < (r + 1) * n; j++) {
      const lj = l[j] as number;
      gl[j] = (d[r] as number) * ((xv[j] as number) - 1 / (1 + Math.exp(-lj)));
      gx[j] = (d[r] as number) * lj;
    }
  }
  return [dLogits, dx];
}

const kernelSet = wasmKernelSet(
  { [BERNOULLI_LOG_PROB_KERNEL]: forward as KernelFunc, [BERNOULLI_LOG_PROB_GRAD_KERNEL]: backward as unknown as KernelFunc },
  [bernoulliLogProbGradConfig],
);

/** Registers the Bernoulli log-likelihood's kernels on wasm and its gradient (idempotent). False without tfjs-wasm. */
export const installWasmBernoulli = (): boolean => kernelSet.install();

/** Removes them from wasm (tests compare against the composed op). */
export const uninstallWasmBernoulli = (): void => kernelSet.uninstall();
