/**
 * gm's own wasm SIMD kernels (native/gm_kernels.c) bound to the tfjs wasm backend's heap.
 *
 * The module imports the tfjs wasm memory, so a kernel reads its inputs and writes its outputs where tfjs keeps them:
 * no copies in or out. It is compiled and instantiated asynchronously (browsers refuse synchronous compilation of
 * modules over 4 KB on the main thread) by {@link prepareGmKernels}, which `initBackend` calls after the wasm backend
 * starts; kernels look the instance up by backend and fall back to tfjs's own kernels when there is none (e.g. the
 * threaded tfjs-wasm build, whose shared memory this module cannot import).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GM_KERNELS_WASM_BASE64, GM_TILE_RELAXED_WASM_BASE64, GM_TILE_WASM_BASE64 } from './native/gm-kernels-wasm';

/** The conv kernels' shared argument list: geometry, then x, y and filter pointers in the order the C takes them. */
export type ConvKernel = (
  batch: number,
  h: number,
  w: number,
  c: number,
  x: number,
  oh: number,
  ow: number,
  co: number,
  y: number,
  fh: number,
  fw: number,
  strideH: number,
  strideW: number,
  padTop: number,
  padLeft: number,
  filterOrGrad: number,
  scratch: number,
) => void;

/** The exports of native/gm_kernels.c (pointers are byte offsets into the tfjs heap). */
export interface GmKernelExports {
  gm_gemm_scratch_floats(k: number, n: number): number;
  gm_gemm(
    m: number,
    n: number,
    k: number,
    a: number,
    lda: number,
    aTrans: number,
    b: number,
    ldb: number,
    bTrans: number,
    c: number,
    bias: number,
    relu: number,
    scratch: number,
  ): void;
  /** gm_gemm without bias or activation, with an optional mask stored as B is (0: none) and accumulate (1: C += ·). */
  gm_gemm_masked(
    m: number,
    n: number,
    k: number,
    a: number,
    lda: number,
    aTrans: number,
    b: number,
    ldb: number,
    bTrans: number,
    mask: number,
    c: number,
    accumulate: number,
    scratch: number,
  ): void;
  /** y = act(x + bias) over rows × cols (bias pointer or 0; activation codes of @gm/core/ops' FUSED_DENSE_ACTIVATIONS). */
  gm_bias_activation(rows: number, cols: number, x: number, bias: number, activation: number, y: number): void;
  /** dx = dy · act′ from the activation's output y. */
  gm_activation_grad(n: number, dy: number, y: number, activation: number, dx: number): void;
  /** A diagonal Normal's reparameterised draws (n × rows × E) and their log-densities (n × rows; c = −½ log 2π·E). */
  gm_normal_sample(n: number, rows: number, E: number, mean: number, logStd: number, eps: number, c: number, sample: number, logProb: number): void;
  /** Its gradient: dMean, dLogStd (summed over the n draws) and dEps. */
  gm_normal_sample_grad(n: number, rows: number, E: number, dSample: number, dLogProb: number, logStd: number, eps: number, dMean: number, dLogStd: number, dEps: number): void;
  /** log N(z; 0, I) per row of E values (c = −½ log 2π·E). */
  gm_standard_normal_log_prob(rows: number, E: number, z: number, c: number, out: number): void;
  /** Its gradient dz = −dy·z. */
  gm_standard_normal_log_prob_grad(rows: number, E: number, dy: number, z: number, dz: number): void;
  /** out = a + b, element-wise (out may alias a or b). */
  gm_add(n: number, a: number, b: number, out: number): void;
  gm_mul(n: number, a: number, b: number, out: number): void;
  /** An IAF step's gated update: z = m + σ(s)(z0 − m), logGate = Σ log σ(s) per row (ms = [m ‖ s], 2L per row). */
  gm_gated_update(rows: number, L: number, z0: number, ms: number, z: number, logGate: number): void;
  /** Its gradient: dz0 and dms = [dm ‖ ds] from dz, dLogGate, z0, ms. */
  gm_gated_update_grad(rows: number, L: number, dz: number, dLogGate: number, z0: number, ms: number, dz0: number, dms: number): void;
  /** out[row] = Σ_j x·ℓ − softplus(ℓ) over rows × n. */
  gm_bernoulli_log_prob(rows: number, n: number, logits: number, x: number, out: number): void;
  /** dLogits = dy[row]·(x − σ(ℓ)), dx = dy[row]·ℓ. */
  gm_bernoulli_log_prob_grad(rows: number, n: number, dy: number, logits: number, x: number, dLogits: number, dx: number): void;
  gm_conv2d_filter_grad_scratch_floats(fh: number, fw: number, c: number, co: number): number;
  /** dw (in the filter position) from x and dy. */
  gm_conv2d_filter_grad: ConvKernel;
  gm_conv2d_forward_scratch_floats(fh: number, fw: number, c: number, co: number): number;
  /** y = conv2d(x, filter); x, y and filter NHWC / [fh, fw, c, co]. */
  gm_conv2d_forward: ConvKernel;
  /** The same, then + bias (CO floats, pointer or 0) and max(·, 0) when relu is 1, as each output is stored. */
  gm_conv2d_forward_fused(...args: [...Parameters<ConvKernel>, bias: number, relu: number]): void;
  gm_conv2d_input_grad_scratch_floats(fh: number, fw: number, c: number, co: number): number;
  /** dx (in the x position) from dy (in the y position) and the filter. */
  gm_conv2d_input_grad: ConvKernel;
  gm_sum_leading(rows: number, cols: number, x: number, out: number): void;
  /** rows × run 4-byte elements from src (row stride srcStride elements) to dst (row stride dstStride); byte addresses. */
  gm_copy_rows(rows: number, run: number, src: number, srcStride: number, dst: number, dstStride: number): void;
  gm_softplus(n: number, x: number, y: number): void;
  gm_exp(n: number, x: number, y: number): void;
  gm_tanh(n: number, x: number, y: number): void;
  gm_relu_grad(n: number, dy: number, x: number, dx: number): void;
  gm_adam(
    n: number,
    p: number,
    m: number,
    v: number,
    g: number,
    pOut: number,
    mOut: number,
    vOut: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    oneMinusAccBeta1: number,
    oneMinusAccBeta2: number,
    negLearningRate: number,
    epsilon: number,
  ): void;
}

/** The parts of tfjs-backend-wasm's BackendWasm that gm's kernels use. */
export interface WasmBackendHeap {
  wasm: {
    _malloc(bytes: number): number;
    _free(pointer: number): void;
    asm?: { memory?: WebAssembly.Memory };
  };
  getMemoryOffset(dataId: object): number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean | void;
}

/**
 * Which GEMM tile runs: `relaxed` uses relaxed-SIMD FMA (f32x4.relaxed_madd, ~20–25% faster tiles here; whether it
 * rounds once or twice is up to the CPU, so results can differ in the last bits between machines), `simd128` uses
 * mul + add (the same bits everywhere).
 */
export type GmSimdFlavour = 'relaxed' | 'simd128';

const modules = new Map<string, Promise<WebAssembly.Module>>();
const instances = new WeakMap<object, { exports: GmKernelExports; flavour: GmSimdFlavour }>();

function decodeBase64(text: string): Uint8Array {
  if (typeof Buffer !== 'undefined') return new Uint8Array(Buffer.from(text, 'base64'));
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const SOURCES = { kernels: GM_KERNELS_WASM_BASE64, simd128: GM_TILE_WASM_BASE64, relaxed: GM_TILE_RELAXED_WASM_BASE64 };

function compileModule(name: keyof typeof SOURCES): Promise<WebAssembly.Module> {
  let module = modules.get(name);
  if (module === undefined) {
    module = WebAssembly.compile(decodeBase64(SOURCES[name]) as BufferSource);
    modules.set(name, module);
  }
  return module;
}

let relaxedSupport: Promise<boolean> | undefined;

/**
 * Whether this engine runs relaxed SIMD. Node 20's V8 (11.3) has it behind `--experimental-wasm-relaxed-simd`;
 * when `enableInNode` is true that flag is switched on (it only adds the standard relaxed-SIMD instructions, which
 * V8 ≥ 11.4, Node ≥ 22 and Chrome ≥ 114 ship by default).
 */
export function supportsRelaxedSimd(enableInNode = true): Promise<boolean> {
  relaxedSupport ??= (async () => {
    const bytes = decodeBase64(GM_TILE_RELAXED_WASM_BASE64) as BufferSource;
    if (WebAssembly.validate(bytes)) return true;
    const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
    if (!enableInNode || !isNode) return false;
    try {
      const v8 = (await import(/* @vite-ignore */ 'node:v8')) as { setFlagsFromString(flags: string): void };
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      return false;
    }
    return WebAssembly.validate(bytes);
  })();
  return relaxedSupport;
}

/** Instantiates gm's kernels on a memory of your own (tests use this to check that kernels touch only their outputs). */
export async function instantiateGmKernels(memory: WebAssembly.Memory, flavour: GmSimdFlavour = 'simd128'): Promise<GmKernelExports> {
  const [kernels, tile] = await Promise.all([compileModule('kernels'), compileModule(flavour)]);
  const tileInstance = await WebAssembly.instantiate(tile, { env: { memory } });
  const instance = await WebAssembly.instantiate(kernels, { env: { memory }, tile: tileInstance.exports });
  return instance.exports as unknown as GmKernelExports;
}

export interface GmKernelsOptions {
  /** Use the relaxed-SIMD FMA tile when the engine supports it, switching it on in Node 20 (default true). */
  relaxedSimd?: boolean;
}

export interface GmKernelsStatus {
  ready: boolean;
  /** The GEMM tile in use, when ready. */
  flavour?: GmSimdFlavour;
  /** Why the kernels are not ready (absent when they are). */
  reason?: string;
}

/**
 * Compiles gm's kernels and binds them to a wasm backend's heap (default: the active tfjs backend). Idempotent.
 * Resolves to `{ ready: false, reason }` instead of throwing when they cannot run there.
 */
export async function prepareGmKernels(backend: object = tf.backend(), options: GmKernelsOptions = {}): Promise<GmKernelsStatus> {
  const bound = instances.get(backend);
  if (bound !== undefined) return { ready: true, flavour: bound.flavour };
  const memory = (backend as Partial<WasmBackendHeap>).wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return { ready: false, reason: 'the backend exposes no wasm memory' };
  try {
    const flavour: GmSimdFlavour = options.relaxedSimd !== false && (await supportsRelaxedSimd(true)) ? 'relaxed' : 'simd128';
    instances.set(backend, { exports: await instantiateGmKernels(memory, flavour), flavour });
    return { ready: true, flavour };
  } catch (error) {
    return { ready: false, reason: `gm kernels cannot use this wasm heap: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** gm's kernels bound to this backend's heap, or undefined when {@link prepareGmKernels} has not bound them. */
export function gmKernelsFor(backend: object): GmKernelExports | undefined {
  return instances.get(backend)?.exports;
}

/** Unbinds gm's kernels from a backend, so its MatMuls fall back to tfjs's kernels (used by tests to compare). */
export function releaseGmKernels(backend: object = tf.backend()): void {
  instances.delete(backend);
}

/** Scratch memory on the tfjs heap for the duration of `body`. */
export function withScratch<T>(backend: WasmBackendHeap, bytes: number, body: (pointer: number) => T): T {
  const pointer = backend.wasm._malloc(Math.max(bytes, 16));
  try {
    return body(pointer);
  } finally {
    backend.wasm._free(pointer);
  }
}
