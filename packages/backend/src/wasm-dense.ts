/**
 * @gm/core/ops' fused dense layer (`fusedDense`: y = act(Σ_t x_t·(W_t ⊙ M_t) + b)) on wasm: the forward kernel and the
 * three backward kernels its gradient calls, each one engine dispatch whatever the number of terms.
 *
 * With gm's SIMD kernels bound: every term is one `gm_gemm_masked` into the same output (the mask multiplied in while
 * the kernel is packed, later terms accumulated), then bias and activation in one pass (`gm_bias_activation`); the
 * input gradient is one masked GEMM against the transposed kernel, the weight gradient one GEMM then the mask
 * (`gm_mul`), the activation's gradient one pass over dy and y (`gm_activation_grad`). Without them (another wasm
 * backend instance, or a released binding) the same kernels compose tfjs-wasm's own (BatchMatMul, Multiply, Add,
 * the activation), so `fusedDense` never depends on which wasm build runs.
 */
import {
  getKernel,
  util,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import {
  FUSED_DENSE_ACTIVATION_GRAD_KERNEL,
  FUSED_DENSE_INPUT_GRAD_KERNEL,
  FUSED_DENSE_KERNEL,
  FUSED_DENSE_WEIGHT_GRAD_KERNEL,
  fusedDenseActivationCode,
  fusedDenseGradConfig,
  fusedDenseLayout,
  type FusedDenseActivation,
  type FusedDenseAttrs,
} from '@gm/core/ops';
import { gmKernelsFor, withScratch, type GmKernelExports, type WasmBackendHeap } from './gm-kernels';
import { wasmKernelSet } from './kernel-override';

const WASM = 'wasm';
type KernelArgs = Parameters<KernelFunc>[0];

interface Heap extends WasmBackendHeap {
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

interface Term {
  x: TensorInfo;
  kernel: TensorInfo;
  mask: TensorInfo | undefined;
}

const offset = (heap: Heap, t: TensorInfo) => heap.getMemoryOffset(t.dataId);

/** Runs one of tfjs-wasm's (or gm's overriding) kernels by name: the path without gm's SIMD kernels. */
function run(name: string, args: KernelArgs, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap = {}): TensorInfo {
  const kernel = getKernel(name, WASM);
  if (kernel === undefined) throw new Error(`${FUSED_DENSE_KERNEL}: the wasm backend has no ${name} kernel`);
  return kernel.kernelFunc({ inputs, backend: args.backend, attrs }) as TensorInfo;
}

/** The same buffer seen with another shape (no copy): tfjs-wasm's BatchMatMul wants rank 3. */
const withShape = (t: TensorInfo, shape: number[]): TensorInfo => ({ dataId: t.dataId, shape, dtype: t.dtype });

/** op(a)·op(b) for 2-D a and b by the registered BatchMatMul, freeing nothing it was given. */
function matMul2d(args: KernelArgs, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo {
  const out = run('BatchMatMul', args, { a: withShape(a, [1, ...a.shape]), b: withShape(b, [1, ...b.shape]) }, { transposeA, transposeB });
  return withShape(out, out.shape.slice(1));
}

const ACTIVATION_KERNELS: Record<Exclude<FusedDenseActivation, 'linear'>, string> = {
  relu: 'Relu',
  elu: 'Elu',
  tanh: 'Tanh',
  sigmoid: 'Sigmoid',
  softplus: 'Softplus',
};

function termsOf(args: KernelArgs): { terms: Term[]; bias: TensorInfo | undefined; attrs: FusedDenseAttrs } {
  const attrs = args.attrs as unknown as FusedDenseAttrs;
  const list = args.inputs as unknown as TensorInfo[];
  const terms: Term[] = attrs.masked.map(() => ({}) as Term);
  let bias: TensorInfo | undefined;
  fusedDenseLayout(attrs).forEach((slot, i) => {
    const t = list[i] as TensorInfo;
    if (slot.role === 'bias') bias = t;
    else (terms[slot.term] as unknown as Record<string, TensorInfo>)[slot.role] = t;
  });
  return { terms, bias, attrs };
}

function forward(args: KernelArgs): TensorInfo {
  const heap = args.backend as unknown as Heap;
  const { terms, bias, attrs } = termsOf(args);
  const code = fusedDenseActivationCode(attrs.activation, FUSED_DENSE_KERNEL);
  const first = terms[0] as Term;
  const rows = first.x.shape[0] as number;
  const units = first.kernel.shape[1] as number;
  const kernels = gmKernelsFor(heap);
  if (kernels === undefined) return composedForward(args, terms, bias, attrs.activation);
  const out = heap.makeOutput([rows, units], 'float32');
  if (rows * units === 0) return out;
  const scratchFloats = Math.max(...terms.map((t) => kernels.gm_gemm_scratch_floats(t.x.shape[1] as number, units)));
  withScratch(heap, scratchFloats * 4, (scratch) => {
    terms.forEach(({ x, kernel, mask }, t) => {
      const inner = x.shape[1] as number;
      const maskPointer = mask === undefined ? 0 : offset(heap, mask);
      kernels.gm_gemm_masked(rows, units, inner, offset(heap, x), inner, 0, offset(heap, kernel), units, 0, maskPointer, offset(heap, out), t > 0 ? 1 : 0, scratch);
    });
  });
  if (bias !== undefined || code !== 0) {
    kernels.gm_bias_activation(rows, units, offset(heap, out), bias === undefined ? 0 : offset(heap, bias), code, offset(heap, out));
  }
  return out;
}

function composedForward(args: KernelArgs, terms: Term[], bias: TensorInfo | undefined, activation: FusedDenseActivation): TensorInfo {
  const heap = args.backend as unknown as Heap;
  let y: TensorInfo | undefined;
  const replace = (next: TensorInfo) => {
    if (y !== undefined) heap.disposeData(y.dataId);
    y = next;
  };
  for (const { x, kernel, mask } of terms) {
    const weights = mask === undefined ? kernel : run('Multiply', args, { a: kernel, b: mask });
    const product = matMul2d(args, x, weights, false, false);
    if (weights !== kernel) heap.disposeData(weights.dataId);
    if (y === undefined) y = product;
    else {
      replace(run('Add', args, { a: y, b: product }));
      heap.disposeData(product.dataId);
    }
  }
  if (bias !== undefined) replace(run('Add', args, { a: y as TensorInfo, b: bias }));
  if (activation !== 'linear') replace(run(ACTIVATION_KERNELS[activation], args, { x: y as TensorInfo }));
  return y as TensorInfo;
}

/** dz · (W ⊙ M)ᵀ. */
function inputGrad(args: KernelArgs): TensorInfo {
  const heap = args.backend as unknown as Heap;
  const { dz, kernel, mask } = args.inputs as Record<string, TensorInfo | undefined> as { dz: TensorInfo; kernel: TensorInfo; mask?: TensorInfo };
  const kernels = gmKernelsFor(heap);
  const [inner, units] = kernel.shape as [number, number];
  const rows = dz.shape[0] as number;
  if (kernels === undefined) {
    const weights = mask === undefined ? kernel : run('Multiply', args, { a: kernel, b: mask });
    const dx = matMul2d(args, dz, weights, false, true);
    if (weights !== kernel) heap.disposeData(weights.dataId);
    return dx;
  }
  const dx = heap.makeOutput([rows, inner], 'float32');
  if (rows * inner === 0) return dx;
  withScratch(heap, kernels.gm_gemm_scratch_floats(units, inner) * 4, (scratch) => {
    kernels.gm_gemm_masked(rows, inner, units, offset(heap, dz), units, 0, offset(heap, kernel), units, 1, mask === undefined ? 0 : offset(heap, mask), offset(heap, dx), 0, scratch);
  });
  return dx;
}

/** (xᵀ · dz) ⊙ M. */
function weightGrad(args: KernelArgs): TensorInfo {
  const heap = args.backend as unknown as Heap;
  const { x, dz, mask } = args.inputs as Record<string, TensorInfo | undefined> as { x: TensorInfo; dz: TensorInfo; mask?: TensorInfo };
  const kernels = gmKernelsFor(heap);
  const [rows, inner] = x.shape as [number, number];
  const units = dz.shape[1] as number;
  if (kernels === undefined) {
    const dw = matMul2d(args, x, dz, true, false);
    if (mask === undefined) return dw;
    const masked = run('Multiply', args, { a: dw, b: mask });
    heap.disposeData(dw.dataId);
    return masked;
  }
  const dw = heap.makeOutput([inner, units], 'float32');
  if (inner * units === 0) return dw;
  withScratch(heap, kernels.gm_gemm_scratch_floats(rows, units) * 4, (scratch) => {
    kernels.gm_gemm_masked(inner, units, rows, offset(heap, x), inner, 1, offset(heap, dz), units, 0, 0, offset(heap, dw), 0, scratch);
  });
  if (mask !== undefined) kernels.gm_mul(inner * units, offset(heap, dw), offset(heap, mask), offset(heap, dw));
  return dw;
}

/** dy · act′ from y (the same formulas as native gm_activation_grad, in JavaScript when gm's kernels are not bound). */
function activationGrad(args: KernelArgs): TensorInfo {
  const heap = args.backend as unknown as Heap;
  const { dy, y } = args.inputs as { dy: TensorInfo; y: TensorInfo };
  const activation = (args.attrs as { activation: string }).activation;
  const code = fusedDenseActivationCode(activation, FUSED_DENSE_ACTIVATION_GRAD_KERNEL);
  const n = util.sizeFromShape(dy.shape);
  const dx = heap.makeOutput([...dy.shape], 'float32');
  if (n === 0) return dx;
  const kernels: GmKernelExports | undefined = gmKernelsFor(heap);
  if (kernels !== undefined) {
    kernels.gm_activation_grad(n, offset(heap, dy), offset(heap, y), code, offset(heap, dx));
    return dx;
  }
  const [d, v, out] = [dy, y, dx].map((t) => heap.typedArrayFromHeap(t)) as [Float32Array, Float32Array, Float32Array];
  const derivative: (y: number) => number = {
    linear: () => 1,
    relu: (u: number) => (u > 0 ? 1 : 0),
    elu: (u: number) => (u > 0 ? 1 : u + 1),
    tanh: (u: number) => 1 - u * u,
    sigmoid: (u: number) => u * (1 - u),
    softplus: (u: number) => -Math.expm1(-u),
  }[activation as FusedDenseActivation];
  for (let i = 0; i < n; i++) out[i] = (d[i] as number) * derivative(v[i] as number);
  return dx;
}

const kernelSet = wasmKernelSet(
  {
    [FUSED_DENSE_KERNEL]: forward as KernelFunc,
    [FUSED_DENSE_INPUT_GRAD_KERNEL]: inputGrad as KernelFunc,
    [FUSED_DENSE_WEIGHT_GRAD_KERNEL]: weightGrad as KernelFunc,
    [FUSED_DENSE_ACTIVATION_GRAD_KERNEL]: activationGrad as KernelFunc,
  },
  [fusedDenseGradConfig],
);

/** Registers the fused dense kernels on wasm and the fused layer's gradient (idempotent). False without tfjs-wasm. */
export const installWasmDense = (): boolean => kernelSet.install();

/** Removes the fused dense kernels from wasm (tests compare against the composed layer). */
export const uninstallWasmDense = (): void => kernelSet.uninstall();
