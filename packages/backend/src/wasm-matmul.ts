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
  getKernel,
  registerKernel,
  unregisterKernel,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

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
  const backend = args.backend as unknown as DisposingBackend;
  const attrs = args.attrs as NamedAttrMap & FusedAttrs;
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
  const product = runWasmKernel('BatchMatMul', {
    inputs: { a: a as TensorInfo, b: b as TensorInfo },
    backend: args.backend,
    attrs: { transposeA: attrs.transposeA ?? false, transposeB: attrs.transposeB ?? false },
  });
  let out = product;
  if (bias !== undefined && bias !== null) {
    out = runWasmKernel('Add', { inputs: { a: product, b: bias }, backend: args.backend, attrs: {} });
    backend.disposeData(product.dataId);
  }
  const activated = applyActivation(out, args, attrs, preluActivationWeights ?? undefined);
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

function fastMatMulKernel(stock: KernelConfig): KernelFunc {
  const fused = stock.kernelName === '_FusedMatMul';
  return (args: KernelArgs) => {
    const attrs = args.attrs as NamedAttrMap & FusedAttrs;
    const { a, b } = args.inputs as Record<string, TensorInfo>;
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
