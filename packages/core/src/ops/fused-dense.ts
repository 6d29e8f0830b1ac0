/**
 * A dense layer as one op: `y = act(Σ_t x_t · (W_t ⊙ M_t) + b)` — MADE's masked layers, an IAF step's layers that
 * also read a context, plain dense layers.
 *
 * Written with tfjs ops the layer is ~6 kernels forward and ~11 backward (mask product, one matMul per term, adds,
 * bias, activation, and their gradients), each an engine round trip in JavaScript: in an IAF-VAE training step that
 * bookkeeping, not arithmetic, was a third of the time. A backend that registers the kernels named here runs the
 * layer as one forward kernel and one backward kernel per input it differentiates (@gm/backend does on wasm); every
 * other backend (and nested gradients) runs the same math as tfjs ops.
 *
 * This module owns the contract: the kernel names, the order of the kernel's inputs, its attributes and the
 * activations with their codes, and the gradient, which calls the backward kernels by name.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';
import { GmError, formatShape } from '../errors.js';
import { fusedKernelApplies } from './dispatch.js';

/** Forward: inputs in {@link fusedDenseLayout}'s order, attrs {@link FusedDenseAttrs}; output y [batch, units]. */
export const FUSED_DENSE_KERNEL = 'GmFusedDense';
/** dx = dz · (W ⊙ M)ᵀ: inputs `{ dz, kernel, mask? }` (dz [batch, units], kernel [in, units]); output [batch, in]. */
export const FUSED_DENSE_INPUT_GRAD_KERNEL = 'GmFusedDenseInputGrad';
/** dW = (xᵀ · dz) ⊙ M: inputs `{ x, dz, mask? }`; output [in, units]. (With the kernel as `mask`: dM.) */
export const FUSED_DENSE_WEIGHT_GRAD_KERNEL = 'GmFusedDenseWeightGrad';
/** dz = dy · act′, from the activation's output: inputs `{ dy, y }`, attrs `{ activation }`. */
export const FUSED_DENSE_ACTIVATION_GRAD_KERNEL = 'GmFusedDenseActivationGrad';

/** The activations the fused kernels apply, by the code a native kernel receives (the list's index). */
export const FUSED_DENSE_ACTIVATIONS = ['linear', 'relu', 'elu', 'tanh', 'sigmoid', 'softplus'] as const;
export type FusedDenseActivation = (typeof FUSED_DENSE_ACTIVATIONS)[number];

export interface DenseTerm {
  /** [batch, in_t]. */
  x: Tensor;
  /** [in_t, units]. */
  kernel: Tensor;
  /** Multiplies the kernel elementwise (MADE's 0/1 masks); [in_t, units]. */
  mask?: Tensor;
}

export interface FusedDenseOptions {
  /** [units]. */
  bias?: Tensor;
  /** Default 'linear'. */
  activation?: FusedDenseActivation;
}

/** The kernel's attributes. */
export interface FusedDenseAttrs {
  activation: FusedDenseActivation;
  /** Whether term t has a mask (one entry per term). */
  masked: boolean[];
  hasBias: boolean;
}

/** One input of the forward kernel: which term it belongs to and what it is. */
export type FusedDenseSlot = { role: 'x' | 'kernel' | 'mask'; term: number } | { role: 'bias' };

/** The forward kernel's inputs, in order: per term x, kernel, mask (when masked); then the bias (when present). */
export function fusedDenseLayout(attrs: Pick<FusedDenseAttrs, 'masked' | 'hasBias'>): FusedDenseSlot[] {
  const slots: FusedDenseSlot[] = [];
  attrs.masked.forEach((masked, term) => {
    slots.push({ role: 'x', term }, { role: 'kernel', term });
    if (masked) slots.push({ role: 'mask', term });
  });
  if (attrs.hasBias) slots.push({ role: 'bias' });
  return slots;
}

/** The code a native kernel receives for an activation. */
export function fusedDenseActivationCode(activation: string, where: string): number {
  const code = (FUSED_DENSE_ACTIVATIONS as readonly string[]).indexOf(activation);
  if (code < 0) throw new GmError('BAD_ARGUMENT', `${where}: activation`, `one of ${FUSED_DENSE_ACTIVATIONS.join(', ')}`, activation);
  return code;
}

function checkShapes(terms: readonly DenseTerm[], bias: Tensor | undefined): void {
  const where = 'fusedDense';
  if (terms.length === 0) throw new GmError('BAD_ARGUMENT', `${where}: terms`, 'at least one { x, kernel } term', terms);
  const first = terms[0] as DenseTerm;
  const batch = first.x.shape[0];
  const units = first.kernel.shape[1];
  terms.forEach(({ x, kernel, mask }, t) => {
    if (x.rank !== 2) throw new GmError('BAD_SHAPE', `${where}: terms[${t}].x`, 'a [batch, in] tensor', formatShape(x.shape));
    if (kernel.rank !== 2 || kernel.shape[0] !== x.shape[1] || kernel.shape[1] !== units) {
      throw new GmError('BAD_SHAPE', `${where}: terms[${t}].kernel`, `[${x.shape[1]}, ${units}] (x's width by the units)`, formatShape(kernel.shape));
    }
    if (x.shape[0] !== batch) throw new GmError('BAD_SHAPE', `${where}: terms[${t}].x`, `${batch} rows like terms[0].x`, formatShape(x.shape));
    if (mask !== undefined && (mask.rank !== 2 || mask.shape[0] !== kernel.shape[0] || mask.shape[1] !== units)) {
      throw new GmError('BAD_SHAPE', `${where}: terms[${t}].mask`, `the kernel's shape [${kernel.shape.join(', ')}]`, formatShape(mask.shape));
    }
  });
  if (bias !== undefined && (bias.rank !== 1 || bias.shape[0] !== units)) {
    throw new GmError('BAD_SHAPE', `${where}: bias`, `[${units}]`, formatShape(bias.shape));
  }
}

/** One of the fused layer's activations as a tfjs op ('linear' spends none). */
export function applyDenseActivation(activation: FusedDenseActivation, y: Tensor): Tensor {
  switch (activation) {
    case 'linear':
      return y;
    case 'relu':
      return tf.relu(y);
    case 'elu':
      return tf.elu(y);
    case 'tanh':
      return tf.tanh(y);
    case 'sigmoid':
      return tf.sigmoid(y);
    case 'softplus':
      return tf.softplus(y);
  }
}

/** The layer in tfjs ops: the reference the fused kernels are tested against, and the path without them. */
export function composedDense(terms: readonly DenseTerm[], options: FusedDenseOptions = {}): Tensor {
  return tf.tidy(() => {
    let y: Tensor | undefined;
    for (const { x, kernel, mask } of terms) {
      const product = tf.matMul(x, mask === undefined ? kernel : tf.mul(kernel, mask));
      y = y === undefined ? product : tf.add(y, product);
    }
    if (options.bias !== undefined) y = tf.add(y as Tensor, options.bias);
    return applyDenseActivation(options.activation ?? 'linear', y as Tensor);
  });
}

/**
 * `act(Σ_t x_t · (W_t ⊙ M_t) + b)` for 2-D `x_t` [batch, in_t], kernels [in_t, units] and optional masks of the
 * kernels' shape. One kernel where the backend registers {@link FUSED_DENSE_KERNEL} (and the inputs are float32 and
 * no gradient of a gradient is being recorded); tfjs ops otherwise. Gradients flow to every input.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { fusedDense } from '@gm/core/ops';
 *
 * const x = tf.ones([2, 3]);
 * const kernel = tf.ones([3, 4]);
 * const mask = tf.tensor2d([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0]]);
 * const y = fusedDense([{ x, kernel, mask }], { bias: tf.zeros([4]), activation: 'relu' });
 * // y = [[3, 2, 1, 0], [3, 2, 1, 0]]
 * ```
 */
export function fusedDense(terms: readonly DenseTerm[], options: FusedDenseOptions = {}): Tensor {
  const activation = options.activation ?? 'linear';
  fusedDenseActivationCode(activation, 'fusedDense');
  checkShapes(terms, options.bias);
  const inputs = [...terms.flatMap(({ x, kernel, mask }) => (mask === undefined ? [x, kernel] : [x, kernel, mask])), ...(options.bias === undefined ? [] : [options.bias])];
  if (!fusedKernelApplies(FUSED_DENSE_KERNEL, inputs)) return composedDense(terms, options);
  const attrs: FusedDenseAttrs = { activation, masked: terms.map((t) => t.mask !== undefined), hasBias: options.bias !== undefined };
  // An array of inputs (as tfjs's Concat and AddN pass them): the gradient then gets every input back in this order.
  return tf.engine().runKernel(FUSED_DENSE_KERNEL, inputs as unknown as tf.NamedTensorMap, attrs as unknown as NamedAttrMap) as Tensor;
}

/**
 * The gradient of {@link FUSED_DENSE_KERNEL}, by the backward kernels: dz = dy · act′ once, then per input asked for
 * dx_t = dz·(W_t ⊙ M_t)ᵀ, dW_t = (x_tᵀ·dz) ⊙ M_t, dM_t = (x_tᵀ·dz) ⊙ W_t, db = Σ_rows dz. A backend that registers
 * the forward kernel registers this with it.
 */
export const fusedDenseGradConfig: GradConfig = {
  kernelName: FUSED_DENSE_KERNEL,
  saveAllInputs: true,
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const a = attrs as unknown as FusedDenseAttrs;
    const layout = fusedDenseLayout(a);
    const y = saved[layout.length] as Tensor;
    const engine = tf.engine();
    const dz =
      a.activation === 'linear'
        ? (dy as Tensor)
        : (engine.runKernel(FUSED_DENSE_ACTIVATION_GRAD_KERNEL, { dy: dy as Tensor, y }, { activation: a.activation }) as Tensor);
    const slotOf = (role: 'x' | 'kernel' | 'mask', term: number) => layout.findIndex((s) => s.role === role && 'term' in s && s.term === term);
    const input = (role: 'x' | 'kernel' | 'mask', term: number): Tensor | undefined => saved[slotOf(role, term)];
    const grads: Record<string, () => Tensor> = {};
    layout.forEach((slot, i) => {
      if (slot.role === 'bias') {
        grads[i] = () => tf.sum(dz, 0);
        return;
      }
      const { term } = slot;
      const x = input('x', term) as Tensor;
      const kernel = input('kernel', term) as Tensor;
      const mask = a.masked[term] ? input('mask', term) : undefined;
      const withMask = <T extends object>(m: Tensor | undefined, rest: T) => (m === undefined ? rest : { ...rest, mask: m });
      if (slot.role === 'x') grads[i] = () => engine.runKernel(FUSED_DENSE_INPUT_GRAD_KERNEL, withMask(mask, { dz, kernel })) as Tensor;
      else if (slot.role === 'kernel') grads[i] = () => engine.runKernel(FUSED_DENSE_WEIGHT_GRAD_KERNEL, withMask(mask, { x, dz })) as Tensor;
      else grads[i] = () => engine.runKernel(FUSED_DENSE_WEIGHT_GRAD_KERNEL, { x, dz, mask: kernel }) as Tensor;
    });
    return grads;
  },
};
