/**
 * @gm/core/ops' Gaussian ops on wasm — `normalSample` (the reparameterised draw with its log-density) and
 * `standardNormalLogProb` — one pass forward and one backward each, by native/gm_kernels.c's `gm_normal_sample(_grad)`
 * and `gm_standard_normal_log_prob(_grad)`. Without gm's kernels bound the same formulas run in JavaScript over the
 * heap.
 */
import { util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import {
  LOG_2PI,
  NORMAL_SAMPLE_GRAD_KERNEL,
  NORMAL_SAMPLE_KERNEL,
  STANDARD_NORMAL_LOG_PROB_GRAD_KERNEL,
  STANDARD_NORMAL_LOG_PROB_KERNEL,
  normalSampleGradConfig,
  standardNormalLogProbGradConfig,
} from '@gm/core/ops';
import { gmKernelsFor, type WasmBackendHeap } from './gm-kernels';
import { wasmKernelSet } from './kernel-override';

type KernelArgs = Parameters<KernelFunc>[0];

interface Heap extends WasmBackendHeap {
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

/** A shape split at its event: the leading (batch) axes, their element count, and the event's size E. */
function split(shape: readonly number[], eventRank: number): { lead: number[]; rows: number; E: number } {
  const lead = shape.slice(0, shape.length - eventRank);
  return { lead, rows: util.sizeFromShape(lead), E: util.sizeFromShape(shape.slice(shape.length - eventRank)) };
}

function normalSampleForward(args: KernelArgs): TensorInfo[] {
  const heap = args.backend as unknown as Heap;
  const { mean, logStd, eps } = args.inputs as { mean: TensorInfo; logStd: TensorInfo; eps: TensorInfo };
  const { lead, rows, E } = split(mean.shape, (args.attrs as { eventRank: number }).eventRank);
  const n = eps.shape[0] as number;
  const sample = heap.makeOutput([...eps.shape], 'float32');
  const logProb = heap.makeOutput([n, ...lead], 'float32');
  if (n * rows * E === 0) return [sample, logProb];
  const c = -0.5 * LOG_2PI * E;
  const kernels = gmKernelsFor(heap);
  const tensors = [mean, logStd, eps, sample, logProb];
  if (kernels !== undefined) {
    const [m, ls, e, s, lp] = tensors.map((t) => heap.getMemoryOffset(t.dataId)) as [number, number, number, number, number];
    kernels.gm_normal_sample(n, rows, E, m, ls, e, c, s, lp);
    return [sample, logProb];
  }
  const [m, ls, e, s, lp] = tensors.map((t) => heap.typedArrayFromHeap(t)) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  for (let d = 0; d < n; d++) {
    for (let r = 0; r < rows; r++) {
      let acc = 0;
      for (let j = r * E; j < (r + 1) * E; j++) {
        const k = d * rows * E + j;
        const ej = e[k] as number;
        s[k] = (m[j] as number) + Math.exp(ls[j] as number) * ej;
        acc += -0.5 * ej * ej - (ls[j] as number);
      }
      lp[d * rows + r] = acc + c;
    }
  }
  return [sample, logProb];
}

function normalSampleBackward(args: KernelArgs): TensorInfo[] {
  const heap = args.backend as unknown as Heap;
  const { dSample, dLogProb, logStd, eps } = args.inputs as { dSample: TensorInfo; dLogProb: TensorInfo; logStd: TensorInfo; eps: TensorInfo };
  const n = eps.shape[0] as number;
  const size = util.sizeFromShape(logStd.shape);
  const rows = n === 0 ? 0 : util.sizeFromShape(dLogProb.shape) / n;
  const E = rows === 0 ? 0 : size / rows;
  const [dMean, dLogStd] = [heap.makeOutput([...logStd.shape], 'float32'), heap.makeOutput([...logStd.shape], 'float32')];
  const dEps = heap.makeOutput([...eps.shape], 'float32');
  const outputs = [dMean, dLogStd, dEps];
  const tensors = [dSample, dLogProb, logStd, eps, ...outputs];
  if (n * size === 0) {
    for (const t of [dMean, dLogStd]) heap.typedArrayFromHeap(t).fill(0);
    return outputs;
  }
  const kernels = gmKernelsFor(heap);
  if (kernels !== undefined) {
    const p = tensors.map((t) => heap.getMemoryOffset(t.dataId)) as [number, number, number, number, number, number, number];
    kernels.gm_normal_sample_grad(n, rows, E, ...p);
    return outputs;
  }
  const [ds, dlp, ls, e, gm, gls, ge] = tensors.map((t) => heap.typedArrayFromHeap(t)) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  gm.fill(0);
  gls.fill(0);
  for (let d = 0; d < n; d++) {
    for (let j = 0; j < size; j++) {
      const k = d * size + j;
      const sigma = Math.exp(ls[j] as number);
      const dl = dlp[d * rows + Math.floor(j / E)] as number;
      gm[j] = (gm[j] as number) + (ds[k] as number);
      gls[j] = (gls[j] as number) + (ds[k] as number) * sigma * (e[k] as number) - dl;
      ge[k] = (ds[k] as number) * sigma - dl * (e[k] as number);
    }
  }
  return outputs;
}

function standardNormalForward(args: KernelArgs): TensorInfo {
  const heap = args.backend as unknown as Heap;
  const { z } = args.inputs as { z: TensorInfo };
  const { lead, rows, E } = split(z.shape, (args.attrs as { eventRank: number }).eventRank);
  const out = heap.makeOutput(lead, 'float32');
  if (rows === 0) return out;
  const c = -0.5 * LOG_2PI * E;
  const kernels = gmKernelsFor(heap);
  if (kernels !== undefined) {
    kernels.gm_standard_normal_log_prob(rows, E, heap.getMemoryOffset(z.dataId), c, heap.getMemoryOffset(out.dataId));
    return out;
  }
  const [zv, o] = [z, out].map((t) => heap.typedArrayFromHeap(t)) as [Float32Array, Float32Array];
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    for (let j = r * E; j < (r + 1) * E; j++) acc += -0.5 * (zv[j] as number) * (zv[j] as number);
    o[r] = acc + c;
  }
  return out;
}

function standardNormalBackward(args: KernelArgs): TensorInfo {
  const heap = args.backend as unknown as Heap;
  const { dy, z } = args.inputs as { dy: TensorInfo; z: TensorInfo };
  const rows = util.sizeFromShape(dy.shape);
  const size = util.sizeFromShape(z.shape);
  const E = rows === 0 ? 0 : size / rows;
  const dz = heap.makeOutput([...z.shape], 'float32');
  if (size === 0) return dz;
  const kernels = gmKernelsFor(heap);
  if (kernels !== undefined) {
    kernels.gm_standard_normal_log_prob_grad(rows, E, ...([dy, z, dz].map((t) => heap.getMemoryOffset(t.dataId)) as [number, number, number]));
    return dz;
  }
  const [d, zv, g] = [dy, z, dz].map((t) => heap.typedArrayFromHeap(t)) as [Float32Array, Float32Array, Float32Array];
  for (let j = 0; j < size; j++) g[j] = -(d[Math.floor(j / E)] as number) * (zv[j] as number);
  return dz;
}

const kernelSet = wasmKernelSet(
  {
    [NORMAL_SAMPLE_KERNEL]: normalSampleForward as unknown as KernelFunc,
    [NORMAL_SAMPLE_GRAD_KERNEL]: normalSampleBackward as unknown as KernelFunc,
    [STANDARD_NORMAL_LOG_PROB_KERNEL]: standardNormalForward as KernelFunc,
    [STANDARD_NORMAL_LOG_PROB_GRAD_KERNEL]: standardNormalBackward as KernelFunc,
  },
  [normalSampleGradConfig, standardNormalLogProbGradConfig],
);

/** Registers the Gaussian ops' kernels on wasm and their gradients (idempotent). False without tfjs-wasm. */
export const installWasmNormal = (): boolean => kernelSet.install();

/** Removes them from wasm (tests compare against the composed ops). */
export const uninstallWasmNormal = (): void => kernelSet.uninstall();
