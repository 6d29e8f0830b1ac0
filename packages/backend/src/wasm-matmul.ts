/**
 * Fast MatMul kernels for the tfjs wasm backend.
 *
 * The stock wasm `BatchMatMul` / `_FusedMatMul` kernels use XNNPACK only when neither operand is transposed; with
 * `transposeA` or `transposeB` they fall back to a naive loop that runs ~15× slower. Dense backprop needs both
 * transposed forms (dx = dy·Wᵀ, dW = xᵀ·dy), so stock wasm training spends most of its time there. These overrides
 * transpose the operand explicitly with the wasm Transpose kernel (memory-bound, ~1 ms for 784×512) and then call
 * the stock kernel with both flags off, which takes the XNNPACK path.
 *
 * The stock wasm `_FusedMatMul` (tfjs 4.22) is also wrong whenever an operand is transposed or the batch is larger
 * than one (e.g. the bias lands on the wrong elements). The override only hands it the one case it gets right —
 * rank-3, batch 1, untransposed — and composes the batched case from BatchMatMul, Add and the activation kernel.
 */
import {
  backend_util,
  getKernel,
  registerKernel,
  unregisterKernel,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import { gmKernelsFor, withScratch, type WasmBackendHeap } from './gm-kernels';

const WASM = 'wasm';
const OVERRIDDEN_KERNELS = ['BatchMatMul', '_FusedMatMul'] as const;

/** The subset of the wasm backend we touch: releasing intermediate buffers. */
interface DisposingBackend {
  disposeData(dataId: object): boolean | void;
}

type KernelArgs = Parameters<KernelFunc>[0];

/** Stock kernels saved on first install so `uninstall` can restore them and overrides can delegate to them. */
const stockKernels = new Map<string, KernelConfig>();
/** Overrides currently registered by `installFastWasmMatMul`, by kernel name. */
const overrides = new Map<string, KernelConfig>();

/** Permutation that swaps the last two axes of a tensor of the given rank. */
function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/** Runs a registered wasm kernel by name. */
function runWasmKernel(name: string, args: KernelArgs): TensorInfo {
  const kernel = getKernel(name, WASM);
  if (kernel === undefined) throw new Error(`gm fast MatMul: the wasm backend has no ${name} kernel`);
  return kernel.kernelFunc(args) as TensorInfo;
}

/** Activation kernels of tfjs's fusable activations (bias is added before them). */
function applyActivation(x: TensorInfo, args: KernelArgs, attrs: FusedAttrs, preluWeights?: TensorInfo): TensorInfo {
  const backend = args.backend;
  switch (attrs.activation ?? 'linear') {
    case 'linear':
      return x;
    case 'relu':
      return runWasmKernel('Relu', { inputs: { x }, backend, attrs: {} });
    case 'relu6':
      return runWasmKernel('Relu6', { inputs: { x }, backend, attrs: {} });
    case 'elu':
      return runWasmKernel('Elu', { inputs: { x }, backend, attrs: {} });
    case 'sigmoid':
      return runWasmKernel('Sigmoid', { inputs: { x }, backend, attrs: {} });
    case 'leakyrelu':
      return runWasmKernel('LeakyRelu', { inputs: { x }, backend, attrs: { alpha: attrs.leakyreluAlpha ?? 0.2 } });
    case 'prelu':
      if (preluWeights === undefined) throw new Error('gm fast MatMul: prelu activation needs preluActivationWeights');
      return runWasmKernel('Prelu', { inputs: { x, alpha: preluWeights }, backend, attrs: {} });
    default:
      throw new Error(`gm fast MatMul: unsupported fused activation "${String(attrs.activation)}"`);
  }
}

interface FusedAttrs {
  transposeA?: boolean;
  transposeB?: boolean;
  activation?: string;
  leakyreluAlpha?: number;
}

/** Batch size of a MatMul: the product of the broadcast leading dimensions. */
function batchSize(a: TensorInfo, b: TensorInfo): number {
  const lead = (t: TensorInfo) => t.shape.slice(0, -2).reduce((p, d) => p * d, 1);
  return Math.max(lead(a), lead(b));
}

/** `_FusedMatMul` for batches > 1: BatchMatMul (fast path) + bias + activation, each by its own wasm kernel. */
function composedFusedMatMul(args: KernelArgs): TensorInfo {
  const attrs = args.attrs as NamedAttrMap & FusedAttrs;
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
  const product = runWasmKernel('BatchMatMul', {
    inputs: { a: a as TensorInfo, b: b as TensorInfo },
    backend: args.backend,
    attrs: { transposeA: attrs.transposeA ?? false, transposeB: attrs.transposeB ?? false },
  });
  return addBiasAndActivate(product, args, bias ?? undefined, preluActivationWeights ?? undefined);
}

/**
 * The epilogue of a fused kernel (`_FusedMatMul`, `FusedConv2D`) run by wasm kernels: `x` [+ bias, broadcast] then
 * the activation of `args.attrs`. Consumes `x` (its buffer is released when a new one replaces it).
 */
export function addBiasAndActivate(x: TensorInfo, args: KernelArgs, bias: TensorInfo | null | undefined, preluWeights: TensorInfo | null | undefined): TensorInfo {
  const backend = args.backend as unknown as DisposingBackend;
  let out = x;
  if (bias !== undefined && bias !== null) {
    out = runWasmKernel('Add', { inputs: { a: x, b: bias }, backend: args.backend, attrs: {} });
    backend.disposeData(x.dataId);
  }
  const activated = applyActivation(out, args, args.attrs as NamedAttrMap & FusedAttrs, preluWeights ?? undefined);
  if (activated !== out) backend.disposeData(out.dataId);
  return activated;
}

/**
 * Element counts moved by each way of computing C = op(A)·op(B) with only untransposed stock calls (M×K times K×N).
 * XNNPACK packs the right-hand operand on every call with a new tensor, and weights are new after every optimizer
 * step, so packing K·N elements costs about as much as a transpose of them. The direct plan transposes the flagged
 * operands and packs B; the swapped plan computes Cᵀ = op(B)ᵀ·op(A)ᵀ — free for an operand stored transposed —
 * packs op(A)ᵀ (K·M) and transposes the M×N result. For dx = dy·Wᵀ in Dense backprop (M = batch, W large) the
 * swapped plan moves several times fewer elements.
 */
function planCosts(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): { direct: number; swapped: number } {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = (transposeA ? a.shape[ra - 1] : a.shape[ra - 2]) as number;
  const k = (transposeA ? a.shape[ra - 2] : a.shape[ra - 1]) as number;
  const n = (transposeB ? b.shape[rb - 2] : b.shape[rb - 1]) as number;
  const direct = (transposeA ? m * k : 0) + (transposeB ? k * n : 0) + k * n;
  const swapped = (transposeB ? 0 : k * n) + (transposeA ? 0 : m * k) + k * m + m * n;
  return { direct, swapped };
}

const product = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);

/**
 * C = op(A)·op(B) [+ bias] [relu] by gm's own SIMD GEMM (native/gm_kernels.c), which reads transposed operands
 * directly and packs B itself: no explicit transposes and no XNNPACK operator set-up per new weight tensor.
 * Returns undefined when gm's kernels are not bound to this backend or the inputs are outside what it handles
 * (non-float32, batch broadcasting other than equal or 1, mismatched inner dimensions); the caller falls back.
 */
function gmMatMul(args: KernelArgs, fused: boolean): TensorInfo | undefined {
  const backend = args.backend as unknown as WasmBackendHeap;
  const kernels = gmKernelsFor(backend);
  if (kernels === undefined) return undefined;
  const attrs = args.attrs as NamedAttrMap & FusedAttrs;
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
  if (a === undefined || b === undefined || a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return undefined;
  const transposeA = attrs.transposeA === true;
  const transposeB = attrs.transposeB === true;
  const m = (transposeA ? a.shape[ra - 1] : a.shape[ra - 2]) as number;
  const k = (transposeA ? a.shape[ra - 2] : a.shape[ra - 1]) as number;
  const kb = (transposeB ? b.shape[rb - 1] : b.shape[rb - 2]) as number;
  const n = (transposeB ? b.shape[rb - 2] : b.shape[rb - 1]) as number;
  if (k !== kb) return undefined;
  let outer: number[];
  try {
    outer = backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return undefined;
  }
  const batch = product(outer);
  const batchA = product(a.shape.slice(0, -2));
  const batchB = product(b.shape.slice(0, -2));
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return undefined;

  const activation = fused ? (attrs.activation ?? 'linear') : 'linear';
  const hasBias = fused && bias !== undefined && bias !== null;
  // In-kernel bias: one value per output column (shape [n], [1, n], …). Other shapes are added afterwards.
  const biasInKernel =
    hasBias && bias.dtype === 'float32' && bias.shape.at(-1) === n && product(bias.shape) === n;
  const reluInKernel = activation === 'relu' && (!hasBias || biasInKernel);

  const out = backend.makeOutput([...outer, m, n], 'float32');
  if (m * n > 0) {
    const aBase = backend.getMemoryOffset(a.dataId);
    const bBase = backend.getMemoryOffset(b.dataId);
    const cBase = backend.getMemoryOffset(out.dataId);
    const biasPointer = biasInKernel ? backend.getMemoryOffset(bias.dataId) : 0;
    withScratch(backend, kernels.gm_gemm_scratch_floats(k, n) * 4, (scratch) => {
      for (let i = 0; i < batch; i++) {
        kernels.gm_gemm(
          m,
          n,
          k,
          aBase + (batchA === 1 ? 0 : i * m * k * 4),
          transposeA ? m : k,
          transposeA ? 1 : 0,
          bBase + (batchB === 1 ? 0 : i * k * n * 4),
          transposeB ? k : n,
          transposeB ? 1 : 0,
          cBase + i * m * n * 4,
          biasPointer,
          reluInKernel ? 1 : 0,
          scratch,
        );
      }
    });
  }
  let result = out;
  if (hasBias && !biasInKernel) {
    result = runWasmKernel('Add', { inputs: { a: out, b: bias }, backend: args.backend, attrs: {} });
    backend.disposeData(out.dataId);
  }
  if (!reluInKernel && activation !== 'linear') {
    const activated = applyActivation(result, args, attrs, preluActivationWeights ?? undefined);
    if (activated !== result) backend.disposeData(result.dataId);
    result = activated;
  }
  return result;
}

function innerDimension(a: TensorInfo, transposeA: boolean): number {
  return a.shape[a.shape.length - (transposeA ? 2 : 1)] as number;
}

/** A product over an empty inner dimension is all zeros (+ bias, activation); stock tfjs-wasm returns garbage. */
function emptyProductMatMul(args: KernelArgs, fused: boolean): TensorInfo {
  const backend = args.backend as unknown as WasmBackendHeap & { typedArrayFromHeap(t: TensorInfo): Float32Array };
  const attrs = args.attrs as NamedAttrMap & FusedAttrs;
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
  const ra = (a as TensorInfo).shape.length;
  const rb = (b as TensorInfo).shape.length;
  const m = (a as TensorInfo).shape[attrs.transposeA === true ? ra - 1 : ra - 2] as number;
  const n = (b as TensorInfo).shape[attrs.transposeB === true ? rb - 2 : rb - 1] as number;
  const outer = backend_util.assertAndGetBroadcastShape((a as TensorInfo).shape.slice(0, -2), (b as TensorInfo).shape.slice(0, -2));
  let out = backend.makeOutput([...outer, m, n], 'float32');
  backend.typedArrayFromHeap(out).fill(0);
  if (!fused) return out;
  if (bias !== undefined && bias !== null) {
    const withBias = runWasmKernel('Add', { inputs: { a: out, b: bias }, backend: args.backend, attrs: {} });
    backend.disposeData(out.dataId);
    out = withBias;
  }
  const activated = applyActivation(out, args, attrs, preluActivationWeights ?? undefined);
  if (activated !== out) backend.disposeData(out.dataId);
  return activated;
}

function fastMatMulKernel(stock: KernelConfig): KernelFunc {
  const fused = stock.kernelName === '_FusedMatMul';
  return (args: KernelArgs) => {
    const attrs = args.attrs as NamedAttrMap & FusedAttrs;
    const viaGmKernels = gmMatMul(args, fused);
    if (viaGmKernels !== undefined) return viaGmKernels;
    const { a, b } = args.inputs as Record<string, TensorInfo>;
    if (innerDimension(a as TensorInfo, attrs.transposeA === true) === 0) return emptyProductMatMul(args, fused);
    if (fused && batchSize(a as TensorInfo, b as TensorInfo) > 1) return composedFusedMatMul(args);
    const transposeA = attrs.transposeA === true;
    const transposeB = attrs.transposeB === true;
    if (!transposeA && !transposeB) return stock.kernelFunc(args);

    const transposeKernel = getKernel('Transpose', WASM);
    if (transposeKernel === undefined) return stock.kernelFunc(args);
    const backend = args.backend as unknown as DisposingBackend;
    const temporaries: TensorInfo[] = [];
    const transposed = (x: TensorInfo): TensorInfo => {
      const t = transposeKernel.kernelFunc({
        inputs: { x },
        backend: args.backend,
        attrs: { perm: swapLastTwo(x.shape.length) },
      }) as TensorInfo;
      temporaries.push(t);
      return t;
    };
    const untransposed = { ...attrs, transposeA: false, transposeB: false };
    try {
      // The fused kernel adds its bias along C's columns, so only the plain product may be computed as Cᵀ.
      const { direct, swapped } = planCosts(a as TensorInfo, b as TensorInfo, transposeA, transposeB);
      if (!fused && swapped < direct) {
        const left = transposeB ? (b as TensorInfo) : transposed(b as TensorInfo);
        const right = transposeA ? (a as TensorInfo) : transposed(a as TensorInfo);
        const productT = stock.kernelFunc({ inputs: { a: left, b: right }, backend: args.backend, attrs: untransposed }) as TensorInfo;
        temporaries.push(productT);
        const product = transposeKernel.kernelFunc({
          inputs: { x: productT },
          backend: args.backend,
          attrs: { perm: swapLastTwo(productT.shape.length) },
        }) as TensorInfo;
        return product;
      }
      const inputs = { ...args.inputs } as Record<string, TensorInfo>;
      if (transposeA) inputs.a = transposed(a as TensorInfo);
      if (transposeB) inputs.b = transposed(b as TensorInfo);
      return stock.kernelFunc({ inputs, backend: args.backend, attrs: untransposed });
    } finally {
      for (const t of temporaries) backend.disposeData(t.dataId);
    }
  };
}

/**
 * Replaces the wasm backend's `BatchMatMul` and `_FusedMatMul` kernels with versions that never take the slow
 * transposed path. Idempotent; safe to call before or after the wasm backend is initialised. Returns the names of
 * the kernels it now overrides (empty when the wasm backend's kernels are not registered, i.e. the package is not
 * loaded).
 */
export function installFastWasmMatMul(): string[] {
  const installed: string[] = [];
  for (const name of OVERRIDDEN_KERNELS) {
    const current = getKernel(name, WASM);
    if (current === undefined) continue;
    if (current !== overrides.get(name)) {
      stockKernels.set(name, current);
      const override: KernelConfig = { ...current, kernelFunc: fastMatMulKernel(current) };
      unregisterKernel(name, WASM);
      registerKernel(override);
      overrides.set(name, override);
    }
    installed.push(name);
  }
  return installed;
}

function isOverride(name: string): boolean {
  const current = getKernel(name, WASM);
  return current !== undefined && current === overrides.get(name);
}

/** Restores the stock wasm MatMul kernels (used by tests to compare against them). */
export function uninstallFastWasmMatMul(): void {
  for (const [name, stock] of stockKernels) {
    if (isOverride(name)) {
      unregisterKernel(name, WASM);
      registerKernel(stock);
    }
  }
  overrides.clear();
}

/** True when the fast MatMul overrides are the active wasm kernels. */
export function isFastWasmMatMulInstalled(): boolean {
  return OVERRIDDEN_KERNELS.every(isOverride);
}
