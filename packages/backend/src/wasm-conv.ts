/**
 * 2-D convolution kernels for the tfjs wasm backend from gm's own SIMD code (native/gm_kernels.c), which picks a plan
 * by shape: Winograd F(4×4, 3×3) for 3×3 stride-1 convolutions with ≥ 8 channels each way (forward, input and filter
 * gradients); the input read in place along the input channels when there are fewer than 8 output channels, or along
 * the output channels when there are at most 4 input channels; otherwise GEMMs over gathered rows in chunks of
 * output positions (the 4×8 register tile).
 *
 * - `Conv2DBackpropFilter`: tfjs-backend-wasm 4.22 has none, so no convolution could be trained on wasm at all.
 * - `Conv2DBackpropInput`: the stock kernel (XNNPACK deconvolution, set up anew for every new filter) took ~220 ms
 *   per call on a Real NVP coupling (64×14×14×32 → 32 channels), 75% of a training step.
 * - `Conv2D` and `FusedConv2D` (+ bias + activation): the stock XNNPACK convolution also re-packs new filters on
 *   every call (a 32→1 decoder output layer took ~20 ms per call).
 * NHWC, dilation 1 and float32 only; anything else (and a backend without gm's kernels bound) goes to the stock
 * kernel when there is one.
 */
import { backend_util, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { gmKernelsFor, withScratch, type WasmBackendHeap } from './gm-kernels';
import { wasmKernelOverride } from './kernel-override';
import { addBiasAndActivate } from './wasm-matmul';

type KernelArgs = Parameters<KernelFunc>[0];

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
}

type Shape4 = [number, number, number, number];

const isOne = (d: ConvAttrs['dilations']) => d === undefined || d === 1 || (Array.isArray(d) && d[0] === 1 && d[1] === 1);

/** The geometry of a gm conv kernel call, or undefined when gm's kernels cannot run it (the stock kernel will). */
function convGeometry(args: KernelArgs, xShape: number[], filterShape: number[], tensors: TensorInfo[]) {
  const heap = args.backend as unknown as WasmBackendHeap;
  const kernels = gmKernelsFor(heap);
  const attrs = args.attrs as unknown as ConvAttrs;
  if (kernels === undefined || attrs.dataFormat === 'NCHW' || !isOne(attrs.dilations)) return undefined;
  if (tensors.some((t) => t.dtype !== 'float32') || xShape.length !== 4 || filterShape.length !== 4) return undefined;
  const info = backend_util.computeConv2DInfo(
    xShape as Shape4,
    filterShape as Shape4,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  return { heap, kernels, info };
}

type Geometry = NonNullable<ReturnType<typeof convGeometry>>;

/**
 * Calls one of the conv kernels, which share their argument list; the forward takes a fused bias (pointer, or 0)
 * and ReLU flag after it.
 */
function runConv(
  { heap, kernels, info }: Geometry,
  kernel: 'gm_conv2d_forward' | 'gm_conv2d_input_grad' | 'gm_conv2d_filter_grad',
  pointers: { x: number; y: number; filter: number },
  scratchFloats: number,
  epilogue?: { bias: number; relu: boolean },
): void {
  const call =
    epilogue === undefined
      ? kernels[kernel]
      : (...args: Parameters<typeof kernels.gm_conv2d_forward>) => kernels.gm_conv2d_forward_fused(...args, epilogue.bias, epilogue.relu ? 1 : 0);
  withScratch(heap, scratchFloats * 4, (scratch) =>
    call(
      info.batchSize,
      info.inHeight,
      info.inWidth,
      info.inChannels,
      pointers.x,
      info.outHeight,
      info.outWidth,
      info.outChannels,
      pointers.y,
      info.filterHeight,
      info.filterWidth,
      info.strideHeight,
      info.strideWidth,
      info.padInfo.top,
      info.padInfo.left,
      pointers.filter,
      scratch,
    ),
  );
}

const offset = (heap: WasmBackendHeap, t: TensorInfo) => heap.getMemoryOffset(t.dataId);

function conv2d(args: KernelArgs, epilogue?: { bias: TensorInfo | undefined; relu: boolean }): TensorInfo | undefined {
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const g = convGeometry(args, x.shape, filter.shape, [x, filter]);
  if (g === undefined) return undefined;
  const { info, heap, kernels } = g;
  const out = heap.makeOutput([info.batchSize, info.outHeight, info.outWidth, info.outChannels], 'float32');
  const scratch = kernels.gm_conv2d_forward_scratch_floats(info.filterHeight, info.filterWidth, info.inChannels, info.outChannels);
  const fused = epilogue === undefined ? undefined : { bias: epilogue.bias === undefined ? 0 : offset(heap, epilogue.bias), relu: epilogue.relu };
  runConv(g, 'gm_conv2d_forward', { x: offset(heap, x), y: offset(heap, out), filter: offset(heap, filter) }, scratch, fused);
  return out;
}

/**
 * conv2d + bias + activation (tf.fused.conv2d; tfjs-layers' Conv2D with a bias). A bias of one value per output
 * channel and a linear or ReLU activation are applied by gm's kernel as it stores each output; other biases and
 * activations by tfjs's kernels afterwards (the stock FusedConv2D is XNNPACK, re-packing filters per call).
 */
function fusedConv2d(args: KernelArgs): TensorInfo | undefined {
  const { filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | null | undefined>;
  const activation = (args.attrs as { activation?: string }).activation ?? 'linear';
  const channels = filter?.shape[3];
  const biasInKernel = bias === undefined || bias === null || (bias.dtype === 'float32' && bias.shape.at(-1) === channels && util.sizeFromShape(bias.shape) === channels);
  if (biasInKernel && (activation === 'linear' || activation === 'relu')) {
    return conv2d(args, { bias: bias ?? undefined, relu: activation === 'relu' });
  }
  const out = conv2d(args);
  return out === undefined ? undefined : addBiasAndActivate(out, args, bias, preluActivationWeights);
}

function conv2dBackpropInput(args: KernelArgs): TensorInfo | undefined {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const inputShape = (args.attrs as unknown as ConvAttrs).inputShape;
  if (inputShape === undefined) return undefined;
  const g = convGeometry(args, inputShape, filter.shape, [dy, filter]);
  if (g === undefined) return undefined;
  const { info, heap, kernels } = g;
  const out = heap.makeOutput([...inputShape], 'float32');
  const scratch = kernels.gm_conv2d_input_grad_scratch_floats(info.filterHeight, info.filterWidth, info.inChannels, info.outChannels);
  runConv(g, 'gm_conv2d_input_grad', { x: offset(heap, out), y: offset(heap, dy), filter: offset(heap, filter) }, scratch);
  return out;
}

function conv2dBackpropFilter(args: KernelArgs): TensorInfo | undefined {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const filterShape = (args.attrs as unknown as ConvAttrs).filterShape;
  if (filterShape === undefined) return undefined;
  const g = convGeometry(args, x.shape, filterShape, [x, dy]);
  if (g === undefined) return undefined;
  const { info, heap, kernels } = g;
  const out = heap.makeOutput([...filterShape], 'float32');
  const scratch = kernels.gm_conv2d_filter_grad_scratch_floats(info.filterHeight, info.filterWidth, info.inChannels, info.outChannels);
  runConv(g, 'gm_conv2d_filter_grad', { x: offset(heap, x), y: offset(heap, dy), filter: offset(heap, out) }, scratch);
  return out;
}

const GM_CONV_KERNELS: Record<string, (args: KernelArgs) => TensorInfo | undefined> = {
  Conv2D: conv2d,
  FusedConv2D: fusedConv2d,
  Conv2DBackpropInput: conv2dBackpropInput,
  Conv2DBackpropFilter: conv2dBackpropFilter,
};

const overrides = Object.entries(GM_CONV_KERNELS).map(([name, gm]) =>
  wasmKernelOverride(name, (stock: KernelConfig | undefined): KernelFunc => (args) => {
    const result = gm(args);
    if (result !== undefined) return result;
    if (stock === undefined) {
      throw new Error(`${name} on wasm: needs gm's kernels bound by initBackend() from @gm/backend, NHWC, dilation 1 and float32`);
    }
    return stock.kernelFunc(args);
  }),
);

/**
 * Registers gm's Conv2D, FusedConv2D, Conv2DBackpropInput and Conv2DBackpropFilter on wasm (idempotent); each falls back to the
 * stock kernel for what it does not handle. Returns false when the wasm backend package is not loaded.
 */
export function installWasmConvKernels(): boolean {
  return overrides.map((o) => o.install()).every(Boolean);
}

/** Restores the stock wasm conv kernels (and removes Conv2DBackpropFilter, which tfjs-wasm 4.22 lacks). */
export function uninstallWasmConvKernels(): void {
  for (const o of overrides) o.uninstall();
}
