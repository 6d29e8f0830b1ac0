export {
  initBackend,
  describeBackend,
  currentBackend,
  importFromHereOrApp,
  BACKEND_NAMES,
  type BackendName,
  type BackendChoice,
  type BackendLoader,
  type InitBackendOptions,
  type SkippedBackend,
} from './init';
export { installFastWasmMatMul, uninstallFastWasmMatMul, isFastWasmMatMulInstalled } from './wasm-matmul';
export { gmAdam, GmAdamOptimizer, readAdamState, registerGmAdamKernel, writeAdamState, GM_ADAM_KERNEL } from './gm-adam';
export {
  prepareGmKernels,
  releaseGmKernels,
  gmKernelsFor,
  supportsRelaxedSimd,
  type ConvKernel,
  type GmKernelExports,
  type GmKernelsStatus,
  type GmKernelsOptions,
  type GmSimdFlavour,
} from './gm-kernels';
export { installSharingWasmIdentity, uninstallSharingWasmIdentity } from './wasm-identity';
export { installReductionGradients, uninstallReductionGradients } from './reduction-gradients';
export { installReluGradient, uninstallReluGradient, reluGradient } from './relu-gradient';
export { installSharedSavedTensors, uninstallSharedSavedTensors, isSharedSavedTensorsInstalled } from './shared-saved-tensors';
export { installTileGradient, uninstallTileGradient, untile } from './tile-gradient';
export { installMultiplyGradient, uninstallMultiplyGradient } from './multiply-gradient';
export { installInPlaceWasmSlice, uninstallInPlaceWasmSlice } from './wasm-slice';
export { installWasmConcat, uninstallWasmConcat } from './wasm-concat';
export { installWasmMaxPoolGrad, uninstallWasmMaxPoolGrad, maxPoolGradInto } from './wasm-maxpool-grad';
export { installWasmConvKernels, uninstallWasmConvKernels } from './wasm-conv';
export { installWasmSum, uninstallWasmSum } from './wasm-sum';
export { installWasmUnaryKernels, uninstallWasmUnaryKernels } from './wasm-unary';
export { installWasmDense, uninstallWasmDense } from './wasm-dense';
export { installWasmGatedUpdate, uninstallWasmGatedUpdate } from './wasm-gated-update';
export { installWasmBernoulli, uninstallWasmBernoulli } from './wasm-bernoulli';
export { installWasmNormal, uninstallWasmNormal } from './wasm-normal';
