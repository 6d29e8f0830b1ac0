/**
 * Adam with one fused kernel per variable on wasm.
 *
 * tf.train.adam runs ~10 element-wise kernels per variable and step (≈20 ms of a reference VAE step on wasm). On the
 * wasm backend with gm's kernels bound, {@link GmAdamOptimizer} runs native/gm_kernels.c's `gm_adam` instead: one
 * SIMD pass that computes the same float32 operations in the same order, so its result is bit-identical to
 * tf.train.adam (tested). Everywhere else it *is* tf.train.adam. It keeps AdamOptimizer's state (moments, βᵗ,
 * iterations), so getWeights / setWeights and serialization work as for Adam.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdamState } from '@gm/core';
import { gmKernelsFor, type WasmBackendHeap } from './gm-kernels';

export const GM_ADAM_KERNEL = 'GmAdam';

/** Attributes of the GmAdam kernel (float32 values computed as tf.train.adam computes them). */
interface GmAdamAttrs {
  beta1: number;
  beta2: number;
  oneMinusAccBeta1: number;
  oneMinusAccBeta2: number;
  learningRate: number;
  epsilon: number;
}

function gmAdamKernel({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo[] {
  const heap = backend as unknown as WasmBackendHeap;
  const kernels = gmKernelsFor(heap);
  if (kernels === undefined) throw new Error('GmAdam: gm kernels are not bound to this wasm backend');
  const { param, m, v, gradient } = inputs as Record<string, tf.TensorInfo>;
  const a = attrs as unknown as GmAdamAttrs;
  for (const [name, t] of Object.entries({ param, m, v, gradient })) {
    if (t === undefined || t.dtype !== 'float32') throw new Error(`GmAdam: input "${name}" must be a float32 tensor`);
  }
  const size = param!.shape.reduce((p, d) => p * d, 1);
  if (gradient!.shape.reduce((p, d) => p * d, 1) !== size) {
    throw new Error(`GmAdam: gradient shape [${gradient!.shape}] does not match the variable's [${param!.shape}]`);
  }
  // New buffers, never in place: tfjs-wasm caches XNNPACK operators (packed weights) by buffer id, so a variable
  // rewritten in place would keep being multiplied by its old values (measured: a test diverged at the next step).
  const outputs = [param!, m!, v!].map((t) => heap.makeOutput([...t.shape], 'float32'));
  const offset = (t: tf.TensorInfo) => heap.getMemoryOffset(t.dataId);
  kernels.gm_adam(
    size,
    offset(param!),
    offset(m!),
    offset(v!),
    offset(gradient!),
    offset(outputs[0]!),
    offset(outputs[1]!),
    offset(outputs[2]!),
    a.beta1,
    1 - a.beta1,
    a.beta2,
    1 - a.beta2,
    a.oneMinusAccBeta1,
    a.oneMinusAccBeta2,
    -a.learningRate,
    a.epsilon,
  );
  return outputs;
}

/** Registers the wasm GmAdam kernel (idempotent). */
export function registerGmAdamKernel(): void {
  if (tf.getKernel(GM_ADAM_KERNEL, 'wasm') !== undefined) return;
  tf.registerKernel({ kernelName: GM_ADAM_KERNEL, backendName: 'wasm', kernelFunc: gmAdamKernel as tf.KernelFunc });
}

/** AdamOptimizer's private state, which the fused path reads and updates exactly as AdamOptimizer does. */
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
}

/**
 * tf.train.adam with a fused wasm update. Construct it through {@link gmAdam}.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { gmAdam, initBackend } from '@gm/backend';
 *
 * await initBackend();
 * const w = tf.variable(tf.randomNormal([784, 10]));
 * const optimizer = gmAdam(1e-3);
 * optimizer.minimize(() => tf.sum(tf.square(w)) as tf.Scalar, false, [w]);
 * ```
 */
export class GmAdamOptimizer extends tf.AdamOptimizer {
  /** Whether the next step will use the fused kernel (wasm backend with gm's kernels bound). */
  get fused(): boolean {
    return tf.getBackend() === 'wasm' && gmKernelsFor(tf.backend()) !== undefined && tf.getKernel(GM_ADAM_KERNEL, 'wasm') !== undefined;
  }

  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    if (!this.fused) {
      super.applyGradients(variableGradients);
      return;
    }
    const state = this as unknown as AdamInternals;
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    // 1 − βᵗ as AdamOptimizer computes it: sub(1, accBeta) in float32.
    const oneMinusAccBeta1 = Math.fround(1 - (state.accBeta1.dataSync()[0] as number));
    const oneMinusAccBeta2 = Math.fround(1 - (state.accBeta2.dataSync()[0] as number));
    tf.tidy(() => {
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        if (value === undefined) throw new Error(`GmAdamOptimizer: no variable named "${name}"`);
        state.accumulatedFirstMoment[i] ??= {
          originalName: `${name}/m`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
        state.accumulatedSecondMoment[i] ??= {
          originalName: `${name}/v`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
        const gradient = Array.isArray(variableGradients)
          ? variableGradients[i]?.tensor
          : (variableGradients as tf.NamedTensorMap)[name];
        if (gradient == null) return;
        const m = state.accumulatedFirstMoment[i]!.variable;
        const v = state.accumulatedSecondMoment[i]!.variable;
        const attrs: GmAdamAttrs = {
          beta1: state.beta1,
          beta2: state.beta2,
          oneMinusAccBeta1,
          oneMinusAccBeta2,
          learningRate: state.learningRate,
          epsilon: state.epsilon,
        };
        const [newValue, newM, newV] = tf
          .engine()
          .runKernel(GM_ADAM_KERNEL, { param: value, m, v, gradient }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
        m.assign(newM as tf.Tensor);
        v.assign(newV as tf.Tensor);
        value.assign(newValue as tf.Tensor);
      });
      state.accBeta1.assign(tf.mul(state.accBeta1, state.beta1));
      state.accBeta2.assign(tf.mul(state.accBeta2, state.beta2));
    });
    this.incrementIterations();
  }
}

/**
 * Adam (same defaults and semantics as `tf.train.adam`), fused into one SIMD kernel per variable on wasm.
 * The wasm kernels are bound by `initBackend()`.
 */
export function gmAdam(learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon?: number): GmAdamOptimizer {
  return new GmAdamOptimizer(learningRate, beta1, beta2, epsilon);
}

/** Reads `optimizer`'s state for slots 0..sizes.length − 1 (slot k holds a variable of sizes[k] values). */
export function readAdamState(optimizer: tf.AdamOptimizer, sizes: readonly number[]): AdamState {
  const state = optimizer as unknown as AdamInternals;
  const slot = (list: AdamInternals['accumulatedFirstMoment'], k: number): Float32Array => {
    const v = list[k]?.variable;
    return v === undefined ? new Float32Array(sizes[k] as number) : (v.dataSync() as Float32Array).slice();
  };
  return {
    iterations: optimizer.iterations,
    accBeta1: state.accBeta1.dataSync()[0] as number,
    accBeta2: state.accBeta2.dataSync()[0] as number,
    firstMoments: sizes.map((_, k) => slot(state.accumulatedFirstMoment, k)),
    secondMoments: sizes.map((_, k) => slot(state.accumulatedSecondMoment, k)),
  };
}

/**
 * Sets `optimizer`'s state: slot k becomes the moments of `variables[k]` (creating the slot as AdamOptimizer would),
 * the iteration count and βᵗ are set as read. The same values as `readAdamState` gave, bit for bit.
 */
export function writeAdamState(optimizer: tf.AdamOptimizer, variables: readonly tf.Variable[], values: AdamState): void {
  const state = optimizer as unknown as AdamInternals & { iterations_: number };
  const set = (list: AdamInternals['accumulatedFirstMoment'], k: number, suffix: string, data: Float32Array | undefined) => {
    const variable = variables[k] as tf.Variable;
    if (data === undefined || data.length !== variable.size) {
      throw new Error(`writeAdamState: slot ${k} (${variable.name}) needs ${variable.size} values; got ${data?.length ?? 'none'}`);
    }
    const existing = list[k]?.variable;
    if (existing !== undefined) tf.tidy(() => existing.assign(tf.tensor(data, variable.shape)));
    else list[k] = { originalName: `${variable.name}/${suffix}`, variable: tf.tidy(() => tf.tensor(data, variable.shape).variable(false)) };
  };
  variables.forEach((_, k) => {
    set(state.accumulatedFirstMoment, k, 'm', values.firstMoments[k]);
    set(state.accumulatedSecondMoment, k, 'v', values.secondMoments[k]);
  });
  state.iterations_ = values.iterations;
  tf.tidy(() => {
    state.accBeta1.assign(tf.scalar(values.accBeta1));
    state.accBeta2.assign(tf.scalar(values.accBeta2));
  });
}
