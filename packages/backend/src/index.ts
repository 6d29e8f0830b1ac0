export {
  initBackend,
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
