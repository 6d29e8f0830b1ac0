/**
 * Replacing tfjs's gradients for some kernels with gm's, keeping the ones registered before to restore (tests compare
 * against them). Gradients are global to tfjs, not per backend. The gradient counterpart of ./kernel-override.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig } from '@tensorflow/tfjs-core';

export interface GradientOverride {
  /** Registers gm's gradients (idempotent). */
  install(): void;
  /** Puts back the gradients registered before {@link GradientOverride.install} (a kernel that had none keeps gm's). */
  uninstall(): void;
}

export function gradientOverride(...configs: GradConfig[]): GradientOverride {
  let stock: Array<GradConfig | undefined> | null = null;
  return {
    install() {
      if (stock !== null) return;
      stock = configs.map((c) => tf.getGradient(c.kernelName));
      for (const c of configs) tf.registerGradient(c);
    },
    uninstall() {
      if (stock === null) return;
      for (const g of stock) if (g !== undefined) tf.registerGradient(g);
      stock = null;
    },
  };
}
