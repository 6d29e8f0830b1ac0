/**
 * Replacing one of the tfjs wasm backend's kernels with gm's, keeping the stock kernel to delegate to (for inputs
 * gm's kernel does not handle) and to restore (tests compare against it).
 */
import { getKernel, registerKernel, unregisterKernel, type KernelConfig, type KernelFunc } from '@tensorflow/tfjs-core';

export interface WasmKernelOverride {
  /** Registers the override (idempotent). False when the wasm backend package is not loaded. */
  install(): boolean;
  /** Puts the stock kernel back (or removes the override when tfjs-wasm has no such kernel). */
  uninstall(): void;
}

/**
 * @param name tfjs kernel name, e.g. 'Sum'.
 * @param make builds the override from the stock kernel (undefined when tfjs-wasm has none, e.g. Conv2DBackpropFilter).
 */
export function wasmKernelOverride(name: string, make: (stock: KernelConfig | undefined) => KernelFunc): WasmKernelOverride {
  let stock: KernelConfig | undefined;
  let override: KernelConfig | undefined;
  return {
    install() {
      // The wasm backend registers Identity and friends when its package loads; without it there is nothing to do.
      if (getKernel('Identity', 'wasm') === undefined && override === undefined) return false;
      const current = getKernel(name, 'wasm');
      if (current !== undefined && current === override) return true;
      stock = current;
      override = { kernelName: name, backendName: 'wasm', kernelFunc: make(stock) };
      if (current !== undefined) unregisterKernel(name, 'wasm');
      registerKernel(override);
      return true;
    },
    uninstall() {
      if (override !== undefined && getKernel(name, 'wasm') === override) {
        unregisterKernel(name, 'wasm');
        if (stock !== undefined) registerKernel(stock);
      }
      override = undefined;
    },
  };
}
