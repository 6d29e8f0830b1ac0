/**
 * The contractive autoencoder's penalty (Rifai et al. 2011): the squared Frobenius norm of the encoder's Jacobian
 * ‖∂h/∂x‖²_F, which makes the codings insensitive to small moves of the input. For a stack of dense layers
 * h_l = f_l(a_l), a_l = h_{l−1}·W_l + b_l, the transposed Jacobian of one example is
 * Jᵀ = W_1·D_1·W_2·D_2 ⋯ W_L·D_L with D_l = diag f_l′(a_l); it is built left to right as `[batch·inputs, units]`
 * matrices, so every step is one 2-D matrix product (no per-example loop) and its gradient is ordinary autodiff;
 * the penalty itself avoids that wide Jacobian (see {@link contractivePenalty}).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Activation } from '@gm/layers';

/** One dense layer of the encoder as the penalty needs it. */
export interface DenseStep {
  /** `[inputs, units]`. */
  kernel: tf.Tensor2D;
  /** `[units]`, or null without a bias. */
  bias: tf.Tensor1D | null;
  activation: Activation;
}

const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

/** `above` where `up` is 1, `below` where it is 0. */
function blend(up: tf.Tensor, above: tf.Tensor, below: tf.Tensor): tf.Tensor {
  return tf.add(tf.mul(up, above), tf.mul(tf.sub(1, up), below));
}

/** f′ at pre-activations `a`, given the outputs `h = f(a)` (cheaper where the derivative is a function of h). */
export function activationDerivative(activation: Activation, a: tf.Tensor, h: tf.Tensor): tf.Tensor {
  switch (activation) {
    case 'linear':
      return tf.onesLike(a);
    case 'sigmoid':
      return tf.mul(h, tf.sub(1, h));
    case 'tanh':
      return tf.sub(1, tf.square(h));
    // tf.step (1 above 0, else 0) rather than a comparison: it has a (zero) gradient, so the penalty differentiates.
    case 'relu':
      return tf.step(a);
    case 'elu': // α = 1: f′ = 1 above 0, e^a = h + 1 below
      return blend(tf.step(a), tf.onesLike(a), tf.add(h, 1));
    case 'selu': // λ above 0, λα·e^a = h + λα below
      return blend(tf.step(a), tf.fill(a.shape, SELU_SCALE), tf.add(h, SELU_SCALE * SELU_ALPHA));
    case 'softplus':
      return tf.sigmoid(a);
    default:
      throw new Error(`contractive penalty: the ${activation} activation is not element-wise; use linear, sigmoid, tanh, relu, elu, selu or softplus`);
  }
}

/**
 * The encoder's Jacobian of every example, `[batch, codings, inputs]` (entry [b, j, i] = ∂h_j/∂x_i at example b),
 * and the codings. For tests and pictures; the penalty itself uses {@link contractivePenalty}.
 */
export function encoderJacobian(x: tf.Tensor2D, steps: readonly DenseStep[]): tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, inputs] = x.shape;
    const jt = transposedJacobian(x, steps);
    const units = jt.shape[1];
    return tf.transpose(tf.reshape(jt, [batch, inputs, units]), [0, 2, 1]) as tf.Tensor3D;
  });
}

/** Jᵀ of every example stacked: `[batch·inputs, codings]` (rows b·inputs + i). */
function transposedJacobian(x: tf.Tensor2D, steps: readonly DenseStep[]): tf.Tensor2D {
  if (steps.length === 0) throw new Error('contractive penalty: the encoder has no layers');
  const [batch, inputs] = x.shape;
  let h: tf.Tensor2D = x;
  let jt: tf.Tensor2D | undefined; // [batch·inputs, units so far]
  for (const step of steps) {
    let a = tf.matMul(h, step.kernel);
    if (step.bias !== null) a = tf.add(a, step.bias);
    const out = activationOf(step.activation, a);
    const d = activationDerivative(step.activation, a, out); // [batch, units]
    const units = step.kernel.shape[1];
    // Jᵀ ← Jᵀ·W (the first layer: W itself for every example), then scale column j of example b by d[b, j].
    const jw: tf.Tensor3D =
      jt === undefined
        ? (tf.broadcastTo(tf.reshape(step.kernel, [1, inputs, units]), [batch, inputs, units]) as tf.Tensor3D)
        : (tf.reshape(tf.matMul(jt, step.kernel), [batch, inputs, units]) as tf.Tensor3D);
    jt = tf.reshape(tf.mul(jw, tf.reshape(d, [batch, 1, units])), [batch * inputs, units]) as tf.Tensor2D;
    h = out as tf.Tensor2D;
  }
  return jt as tf.Tensor2D;
}

function activationOf(activation: Activation, a: tf.Tensor): tf.Tensor {
  switch (activation) {
    case 'linear':
      return a;
    case 'sigmoid':
      return tf.sigmoid(a);
    case 'tanh':
      return tf.tanh(a);
    case 'relu':
      return tf.relu(a);
    case 'elu':
      return tf.elu(a);
    case 'selu':
      return tf.selu(a);
    case 'softplus':
      return tf.softplus(a);
    default:
      throw new Error(`contractive penalty: the ${activation} activation is not element-wise; use linear, sigmoid, tanh, relu, elu, selu or softplus`);
  }
}

/** `w` `[n, m]` times each example's `m` `[batch, m, c]`: `[batch, n, c]` (as one 2-D product). */
function leftMultiply(w: tf.Tensor2D, m: tf.Tensor3D): tf.Tensor3D {
  const [batch, rows, cols] = m.shape;
  const flat = tf.reshape(tf.transpose(m, [1, 0, 2]), [rows, batch * cols]);
  return tf.transpose(tf.reshape(tf.matMul(w, flat), [w.shape[0], batch, cols]), [1, 0, 2]) as tf.Tensor3D;
}

/**
 * `weight · mean over the batch of ‖∂h/∂x‖²_F` for inputs `x` `[batch, inputs]` through the dense `steps`.
 *
 * Computed without the `[batch, inputs, units]` Jacobian: with M = D_1·W_2·D_2 ⋯ W_L·D_L (one `[units_1, codings]`
 * matrix per example, built from the codings side), Jᵀ = W_1·M and ‖J‖²_F = Σ M ⊙ (W_1ᵀW_1·M), so the wide input
 * dimension enters once per step through the Gram matrix W_1ᵀW_1. One layer is Rifai's closed form
 * Σ_j f′(a_j)²·‖W_{·j}‖².
 */
export function contractivePenalty(x: tf.Tensor2D, steps: readonly DenseStep[], weight: number): tf.Scalar {
  if (steps.length === 0) throw new Error('contractive penalty: the encoder has no layers');
  return tf.tidy(() => {
    const batch = x.shape[0];
    const slopes: tf.Tensor2D[] = []; // f′(a_l), [batch, units_l]
    let h: tf.Tensor2D = x;
    for (const step of steps) {
      let a = tf.matMul(h, step.kernel);
      if (step.bias !== null) a = tf.add(a, step.bias);
      const out = activationOf(step.activation, a) as tf.Tensor2D;
      slopes.push(activationDerivative(step.activation, a, out) as tf.Tensor2D);
      h = out;
    }
    const first = (steps[0] as DenseStep).kernel;
    let total: tf.Tensor;
    if (steps.length === 1) {
      total = tf.sum(tf.mul(tf.square(slopes[0] as tf.Tensor2D), tf.sum(tf.square(first), 0)));
    } else {
      const L = steps.length;
      const last = (steps[L - 1] as DenseStep).kernel;
      const [rows, cols] = last.shape;
      // M for the last two layers: D_{L−1}·W_L·D_L, [batch, units_{L−1}, codings].
      let m = tf.mul(tf.mul(tf.reshape(slopes[L - 2] as tf.Tensor2D, [batch, rows, 1]), tf.reshape(last, [1, rows, cols])), tf.reshape(slopes[L - 1] as tf.Tensor2D, [batch, 1, cols])) as tf.Tensor3D;
      for (let l = L - 2; l >= 1; l--) {
        const w = (steps[l] as DenseStep).kernel;
        m = tf.mul(leftMultiply(w, m), tf.reshape(slopes[l - 1] as tf.Tensor2D, [batch, w.shape[0], 1])) as tf.Tensor3D;
      }
      total = tf.sum(tf.mul(m, leftMultiply(tf.matMul(first, first, true, false), m)));
    }
    return tf.mul(weight, tf.div(total, batch)) as tf.Scalar;
  });
}
