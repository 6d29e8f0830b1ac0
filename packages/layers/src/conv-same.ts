/**
 * 'same'-padded, stride-1 2-D convolution that every backend can differentiate: tfjs-backend-wasm 4.22 has no
 * Conv2DBackpropFilter, so under a gradient tape there the convolution runs as im2col + one MatMul.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Whether gradients are being recorded on a backend that cannot differentiate `tf.conv2d` w.r.t. its filter
 * (tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter): then convolutions run as im2col + MatMul.
 */
function needsIm2col(): boolean {
  return tf.engine().state.gradientDepth > 0 && tf.getKernel('Conv2DBackpropFilter', tf.getBackend()) === undefined;
}

/**
 * 2-D convolution, stride 1, 'same' padding, as im2col + one MatMul: the k² shifted views of the padded input are
 * concatenated along channels (order: kernel row, kernel column, channel — the row-major order of a `[k, k, cin, f]`
 * filter) and multiplied by the filter reshaped to `[k²·cin, f]`. Its gradient needs only Pad, Slice, Concat and
 * MatMul, which every backend has.
 */
export function conv2dSameIm2col(x: tf.Tensor4D, filter: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const [kh, kw, cin, f] = filter.shape;
  if (cin !== c) throw new Error(`conv2dSameIm2col: filter expects ${cin} channels; input has ${c}`);
  const top = Math.floor((kh - 1) / 2);
  const left = Math.floor((kw - 1) / 2);
  let cols: tf.Tensor;
  if (kh === 1 && kw === 1) {
    cols = x;
  } else {
    const padded = tf.pad(x, [
      [0, 0],
      [top, kh - 1 - top],
      [left, kw - 1 - left],
      [0, 0],
    ]);
    const views: tf.Tensor[] = [];
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) views.push(tf.slice(padded, [0, i, j, 0], [b, h, w, c]));
    cols = tf.concat(views, 3);
  }
  const y = tf.matMul(tf.reshape(cols, [b * h * w, kh * kw * c]), tf.reshape(filter, [kh * kw * c, f]));
  return tf.reshape(y, [b, h, w, f]);
}

/** `tf.conv2d(x, filter, 1, 'same')` unless gradients are being recorded on a backend that cannot differentiate it
 * w.r.t. the filter; then {@link conv2dSameIm2col}. */
export function conv2dSame(x: tf.Tensor4D, filter: tf.Tensor4D): tf.Tensor4D {
  return needsIm2col() ? conv2dSameIm2col(x, filter) : tf.conv2d(x, filter, 1, 'same');
}

/**
 * `conv2dSame(x, filter) + bias` as one fused convolution (tf.fused.conv2d: on wasm gm's kernel adds the bias as it
 * stores each output, instead of a separate pass over the whole output), with the same fallback as
 * {@link conv2dSame} where the filter gradient is missing. Gradients equal the unfused ops'.
 */
export function conv2dSameBias(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor): tf.Tensor4D {
  if (needsIm2col()) return tf.add(conv2dSameIm2col(x, filter), bias);
  return tf.fused.conv2d({ x, filter, strides: 1, pad: 'same', bias: bias as tf.Tensor1D });
}
