/**
 * The optimizer of one data-parallel replica over the values it updates, held flat.
 *
 * A replica updates several variables (the ones it owns, or all of them). Going through a tf.Optimizer costs a tensor,
 * an add, an optimizer kernel and three assigns per variable and step — engine work that, on a small model, took
 * longer than the arithmetic (≈0.5 ms of a 4.5 ms IAF-VAE step on two threads). Here the summed gradient, the
 * parameters and Adam's two moments are each one contiguous buffer, so a step is one `gm_add` per other replica and
 * one `gm_adam` call whatever the number of variables. On wasm with gm's kernels bound the buffers live in the tfjs
 * heap; elsewhere they are plain arrays and the same float32 operations run in JavaScript.
 *
 * Both paths compute what tf.train.adam (or tf.train.sgd) computes, in the same order, so results are bit-identical
 * to the tf optimizers (tested).
 */
import * as tf from '@tensorflow/tfjs-core';
import { gmKernelsFor, type GmKernelExports, type WasmBackendHeap } from '../gm-kernels';

export interface FlatOptimizerConfig {
  name: 'adam' | 'sgd';
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** Adam's counters, shared by every value: steps taken, and βᵗ₁, βᵗ₂ as tf.train.adam keeps them (float32). */
export interface AdamCounters {
  iterations: number;
  accBeta1: number;
  accBeta2: number;
}

/** Views of the flat buffers (valid until the next tfjs allocation: the wasm heap may grow and move). */
export interface FlatViews {
  /** The summed gradient the next `apply` uses. */
  gradient: Float32Array;
  /** Another replica's gradient, to add with `addScratch`. */
  scratch: Float32Array;
  /** The parameters, updated in place by `apply`. */
  params: Float32Array;
  /** Adam's first and second moments (empty for SGD). */
  first: Float32Array;
  second: Float32Array;
}

const BUFFERS = ['gradient', 'scratch', 'params', 'first', 'second'] as const;

/** Where the buffers live: five regions of one allocation in the wasm heap, or five arrays. */
type Storage =
  | { kind: 'heap'; backend: WasmBackendHeap; kernels: GmKernelExports; memory: WebAssembly.Memory; pointer: number }
  | { kind: 'arrays'; arrays: FlatViews };

export class FlatOptimizer {
  private readonly storage: Storage;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private counters: AdamCounters;
  private disposed = false;

  /** `size` values, on the current tfjs backend (its heap when it is wasm with gm's kernels bound). */
  constructor(
    readonly config: FlatOptimizerConfig,
    readonly size: number,
  ) {
    if (!(Number.isFinite(config.learningRate) && config.learningRate >= 0)) {
      throw new Error(`FlatOptimizer: learningRate must be a finite number ≥ 0, got ${config.learningRate}`);
    }
    // tf.train.adam's defaults (its epsilon is the backend's).
    this.beta1 = config.beta1 ?? 0.9;
    this.beta2 = config.beta2 ?? 0.999;
    this.epsilon = config.epsilon ?? tf.backend().epsilon();
    this.counters = { iterations: 0, accBeta1: Math.fround(this.beta1), accBeta2: Math.fround(this.beta2) };
    const backend = tf.backend() as unknown as WasmBackendHeap;
    const kernels = tf.getBackend() === 'wasm' ? gmKernelsFor(backend) : undefined;
    const memory = backend.wasm?.asm?.memory;
    if (kernels !== undefined && memory instanceof WebAssembly.Memory) {
      const pointer = backend.wasm._malloc(Math.max(BUFFERS.length * size * 4, 16));
      this.storage = { kind: 'heap', backend, kernels, memory, pointer };
      this.views().first.fill(0);
      this.views().second.fill(0);
    } else {
      const moments = config.name === 'adam' ? size : 0;
      this.storage = {
        kind: 'arrays',
        arrays: {
          gradient: new Float32Array(size),
          scratch: new Float32Array(size),
          params: new Float32Array(size),
          first: new Float32Array(moments),
          second: new Float32Array(moments),
        },
      };
    }
  }

  /** Whether the step runs gm's wasm kernels (else JavaScript). */
  get native(): boolean {
    return this.storage.kind === 'heap';
  }

  /** Fresh views of the buffers (take them again after anything that may allocate on the tfjs heap). */
  views(): FlatViews {
    this.assertLive();
    if (this.storage.kind === 'arrays') return this.storage.arrays;
    const { memory, pointer } = this.storage;
    const n = this.size;
    const region = (k: number, length = n) => new Float32Array(memory.buffer, pointer + k * n * 4, length);
    const moments = this.config.name === 'adam' ? n : 0;
    return { gradient: region(0), scratch: region(1), params: region(2), first: region(3, moments), second: region(4, moments) };
  }

  /** gradient += scratch (float32). */
  addScratch(): void {
    this.assertLive();
    if (this.storage.kind === 'heap') {
      const { kernels, pointer } = this.storage;
      kernels.gm_add(this.size, pointer, pointer + this.size * 4, pointer);
      return;
    }
    const { gradient, scratch } = this.storage.arrays;
    for (let i = 0; i < this.size; i++) gradient[i] = (gradient[i] as number) + (scratch[i] as number);
  }

  /** gradient ×= factor, as tf.mul(gradient, factor) (the factor rounded to float32 first). */
  scaleGradient(factor: number): void {
    const f = Math.fround(factor);
    const { gradient } = this.views();
    for (let i = 0; i < this.size; i++) gradient[i] = (gradient[i] as number) * f;
  }

  /** Σ gradient², in float64 and index order. */
  gradientSquares(): number {
    const { gradient } = this.views();
    let squares = 0;
    for (let i = 0; i < this.size; i++) squares += (gradient[i] as number) * (gradient[i] as number);
    return squares;
  }

  /** One step: params (and moments) updated in place from the gradient. */
  apply(): void {
    this.assertLive();
    const lr = this.config.learningRate;
    if (this.config.name === 'sgd') {
      // tf.train.sgd: value + (−lr)·g in float32.
      const { gradient, params } = this.views();
      const c = Math.fround(-lr);
      for (let i = 0; i < this.size; i++) params[i] = Math.fround(c * (gradient[i] as number)) + (params[i] as number);
      return;
    }
    const { beta1, beta2, epsilon } = this;
    // 1 − βᵗ as tf.train.adam computes it (sub(1, accBeta) in float32), before βᵗ advances.
    const oneMinusAccBeta1 = Math.fround(1 - this.counters.accBeta1);
    const oneMinusAccBeta2 = Math.fround(1 - this.counters.accBeta2);
    if (this.storage.kind === 'heap') {
      const { kernels, pointer } = this.storage;
      const at = (k: number) => pointer + k * this.size * 4;
      // In place: gm_adam reads each element before it writes it.
      kernels.gm_adam(this.size, at(2), at(3), at(4), at(0), at(2), at(3), at(4), beta1, 1 - beta1, beta2, 1 - beta2, oneMinusAccBeta1, oneMinusAccBeta2, -lr, epsilon);
    } else {
      adamInJavaScript(this.storage.arrays, { beta1, beta2, epsilon, lr, oneMinusAccBeta1, oneMinusAccBeta2 });
    }
    this.counters = {
      iterations: this.counters.iterations + 1,
      accBeta1: Math.fround(this.counters.accBeta1 * Math.fround(beta1)),
      accBeta2: Math.fround(this.counters.accBeta2 * Math.fround(beta2)),
    };
  }

  /** Adam's counters (iterations, βᵗ₁, βᵗ₂). */
  get adamCounters(): AdamCounters {
    return { ...this.counters };
  }

  set adamCounters(values: AdamCounters) {
    if (!(Number.isInteger(values.iterations) && values.iterations >= 0)) {
      throw new Error(`FlatOptimizer: iterations must be a non-negative integer, got ${values.iterations}`);
    }
    this.counters = { iterations: values.iterations, accBeta1: Math.fround(values.accBeta1), accBeta2: Math.fround(values.accBeta2) };
  }

  /** Frees the heap buffers (idempotent). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.storage.kind === 'heap') this.storage.backend.wasm._free(this.storage.pointer);
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('FlatOptimizer: used after dispose()');
  }
}

/** gm_adam's arithmetic (and tf.train.adam's), one float32 operation at a time. */
function adamInJavaScript(
  { gradient, params, first, second }: FlatViews,
  a: { beta1: number; beta2: number; epsilon: number; lr: number; oneMinusAccBeta1: number; oneMinusAccBeta2: number },
): void {
  const f = Math.fround;
  const [b1, omb1, b2, omb2] = [f(a.beta1), f(1 - a.beta1), f(a.beta2), f(1 - a.beta2)];
  const [eps, negLr] = [f(a.epsilon), f(-a.lr)];
  for (let i = 0; i < gradient.length; i++) {
    const g = gradient[i] as number;
    const m = f(f((first[i] as number) * b1) + f(g * omb1));
    const v = f(f((second[i] as number) * b2) + f(f(g * g) * omb2));
    const step = f(f(m / a.oneMinusAccBeta1) / f(f(Math.sqrt(f(v / a.oneMinusAccBeta2))) + eps));
    first[i] = m;
    second[i] = v;
    params[i] = f(step * negLr) + (params[i] as number);
  }
}
