/**
 * @gm/core/ops' `gatedUpdate` (an IAF step's z = m + σ(s)·(z₀ − m) and Σ log σ(s)) on wasm: one kernel forward and one
 * backward (both input gradients at once), by native/gm_kernels.c's `gm_gated_update` / `gm_gated_update_grad`.
 * Without gm's kernels bound the same formulas run in JavaScript over the heap.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { GATED_UPDATE_GRAD_KERNEL, GATED_UPDATE_KERNEL, gatedUpdateGradConfig } from '@gm/core/ops';
import { gmKernelsFor, type WasmBackendHeap } from './gm-kernels';
import { wasmKernelSet } from './kernel-override';

type KernelArgs = Parameters<KernelFunc>[0];

interface Heap extends WasmBackendHeap {
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
/** log σ(v) = −softplus(−v), without overflow either way. */
const logSigmoid = (v: number) => (v > 0 ? -Math.log1p(Math.exp(-v)) : v - Math.log1p(Math.exp(v)));

function forward(args: KernelArgs): TensorInfo[] {
  const heap = args.backend as unknown as Heap;
  const { z0, ms } = args.inputs as { z0: TensorInfo; ms: TensorInfo };
  const [rows, L] = z0.shape as [number, number];
  const z = heap.makeOutput([rows, L], 'float32');
  const logGate = heap.makeOutput([rows], 'float32');
  if (rows === 0) return [z, logGate];
  const kernels = gmKernelsFor(heap);
  if (kernels !== undefined) {
    kernels.gm_gated_update(rows, L, ...[z0, ms, z, logGate].map((t) => heap.getMemoryOffset(t.dataId)) as [number, number, number, number]);
    return [z, logGate];
  }
  const [zv, msv, out, lg] = [z0, ms, z, logGate].map((t) => heap.typedArrayFromHeap(t)) as Float32Array[] as [Float32Array, Float32Array, Float32Array, Float32Array];
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let j = 0; j < L; j++) {
      const m = msv[r * 2 * L + j] as number;
      const s = msv[r * 2 * L + L + j] as number;
      out[r * L + j] = m + sigmoid(s) * ((zv[r * L + j] as number) - m);
      sum += logSigmoid(s);
    }
    lg[r] = sum;
  }
  return [z, logGate];
}

function backward(args: KernelArgs): TensorInfo[] {
  const heap = args.backend as unknown as Heap;
  const { dz, dLogGate, z0, ms } = args.inputs as Record<string, TensorInfo> as { dz: TensorInfo; dLogGate: TensorInfo; z0: TensorInfo; ms: TensorInfo };
  const [rows, L] = z0.shape as [number, number];
  const dz0 = heap.makeOutput([rows, L], 'float32');
  const dms = heap.makeOutput([rows, 2 * L], 'float32');
  if (rows === 0) return [dz0, dms];
  const kernels = gmKernelsFor(heap);
  const tensors = [dz, dLogGate, z0, ms, dz0, dms];
  if (kernels !== undefined) {
    kernels.gm_gated_update_grad(rows, L, ...tensors.map((t) => heap.getMemoryOffset(t.dataId)) as [number, number, number, number, number, number]);
    return [dz0, dms];
  }
  const [d, dl, zv, msv, g0, gms] = tensors.map((t) => heap.typedArrayFromHeap(t)) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < L; j++) {
      const m = msv[r * 2 * L + j] as number;
      const s = msv[r * 2 * L + L + j] as number;
      const dzj = d[r * L + j] as number;
      const sigma = sigmoid(s);
      const rest = sigmoid(-s);
      g0[r * L + j] = dzj * sigma;
      gms[r * 2 * L + j] = dzj * rest;
      gms[r * 2 * L + L + j] = (dzj * ((zv[r * L + j] as number) - m) * sigma + (dl[r] as number)) * rest;
    }
  }
  return [dz0, dms];
}

const kernelSet = wasmKernelSet(
  { [GATED_UPDATE_KERNEL]: forward as unknown as KernelFunc, [GATED_UPDATE_GRAD_KERNEL]: backward as unknown as KernelFunc },
  [gatedUpdateGradConfig],
);

/** Registers the gated update's kernels on wasm and its gradient (idempotent). False when tfjs-wasm is not loaded. */
export const installWasmGatedUpdate = (): boolean => kernelSet.install();

/** Removes the gated update's kernels from wasm (tests compare against the composed op). */
export const uninstallWasmGatedUpdate = (): void => kernelSet.uninstall();
