/**
 * Replacing one of the tfjs wasm backend's kernels with gm's, keeping the stock kernel to delegate to (for inputs
 * gm's kernel does not handle) and to restore (tests compare against it).
 */
import { getGradient, getKernel, registerGradient, registerKernel, unregisterKernel, type GradConfig, type KernelConfig, type KernelFunc } from '@tensorflow/tfjs-core';

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

/**
 * Kernels gm adds to wasm (tfjs has none of these names) with the gradients that call them: the fused ops of
 * @gm/core/ops. `install` registers what is missing (idempotent; false when the wasm backend package is not loaded),
 * `uninstall` removes the kernels (the ops then run as tfjs ops; the gradients stay, unused).
 */
export function wasmKernelSet(kernels: Record<string, KernelFunc>, gradients: GradConfig[]): WasmKernelOverride {
  return {
    install() {
      if (getKernel('Identity', 'wasm') === undefined) return false;
      for (const [kernelName, kernelFunc] of Object.entries(kernels)) {
        if (getKernel(kernelName, 'wasm') === undefined) registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
      }
      for (const g of gradients) if (getGradient(g.kernelName) !== g) registerGradient(g);
      return true;
    },
    uninstall() {
      for (const kernelName of Object.keys(kernels)) if (getKernel(kernelName, 'wasm') !== undefined) unregisterKernel(kernelName, 'wasm');
    },
  };
}
