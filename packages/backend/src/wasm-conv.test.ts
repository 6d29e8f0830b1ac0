import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers the gradient kernels
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareGmKernels } from './gm-kernels';
import { installWasmConvKernels, uninstallWasmConvKernels } from './wasm-conv';

interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | number;
}

const cases: ConvCase[] = [
  { x: [2, 7, 6, 3], filter: [3, 3, 3, 5], strides: 1, pad: 'same' },
  { x: [1, 9, 8, 4], filter: [3, 3, 4, 9], strides: 2, pad: 'same' },
  { x: [2, 8, 8, 2], filter: [5, 3, 2, 4], strides: [2, 1], pad: 'valid' },
  { x: [3, 5, 5, 6], filter: [1, 1, 6, 7], strides: 1, pad: 'valid' },
  { x: [1, 6, 6, 3], filter: [3, 3, 3, 2], strides: 1, pad: 2 }, // explicit padding
  { x: [2, 24, 20, 8], filter: [3, 3, 8, 16], strides: 1, pad: 'same' }, // 960 positions: several chunks of 512
  // Strided input gradients code each class of pixels (by position mod stride) with its own taps only:
  { x: [3, 15, 13, 5], filter: [3, 3, 5, 6], strides: 2, pad: 'same' }, // odd sizes, every class, several chunks
  { x: [2, 11, 10, 3], filter: [4, 2, 3, 5], strides: [3, 2], pad: 'valid' }, // unequal strides, even filter
  { x: [1, 9, 9, 2], filter: [2, 2, 2, 3], strides: 3, pad: 'valid' }, // stride > filter: pixels no tap reads
  { x: [2, 8, 7, 4], filter: [3, 3, 4, 3], strides: 2, pad: 1 }, // explicit padding with a stride
  // Few channels (Real NVP's s/t outputs, a decoder's last layer) take other GEMM orientations:
  { x: [2, 10, 9, 12], filter: [3, 3, 12, 1], strides: 1, pad: 'same' }, // one output channel, wide input
  { x: [2, 9, 7, 1], filter: [3, 3, 1, 10], strides: 1, pad: 'same' }, // one input channel, wide output
  { x: [3, 26, 25, 2], filter: [3, 3, 2, 3], strides: 1, pad: 'same' }, // narrow both ways, 1,950 positions: chunks
  { x: [2, 13, 11, 7], filter: [3, 3, 7, 2], strides: 2, pad: 'same' }, // narrow with strides (every pixel class)
  // 3×3 stride 1 with ≥ 8 channels each way runs Winograd F(4×4, 3×3) (forward, input grad through it, filter grad):
  { x: [2, 9, 7, 8], filter: [3, 3, 8, 12], strides: 1, pad: 'same' }, // odd sizes: outputs past the last tile
  { x: [2, 8, 9, 12], filter: [3, 3, 12, 8], strides: 1, pad: 'valid' },
  { x: [1, 7, 6, 8], filter: [3, 3, 8, 8], strides: 1, pad: 2 }, // the input grad's mirrored padding is 0
  { x: [5, 31, 27, 8], filter: [3, 3, 8, 8], strides: 1, pad: 'same' }, // 280 tiles: two chunks, edges both ways
  // At most 4 input channels (forward) or 4 output channels (stride-1 input grad) run along the other channel axis:
  { x: [2, 9, 7, 1], filter: [3, 3, 1, 12], strides: 1, pad: 'same' }, // 12 outputs: the 4-wide tail only
  { x: [3, 11, 10, 2], filter: [3, 3, 2, 20], strides: 2, pad: 'same' }, // 16-wide block + tail, strided
  { x: [1, 5, 5, 1], filter: [3, 3, 1, 8], strides: 1, pad: 'same' }, // an odd number of positions
  { x: [2, 7, 9, 3], filter: [3, 3, 3, 16], strides: 1, pad: 'valid' }, // every window inside the input
  { x: [2, 10, 9, 16], filter: [3, 3, 16, 3], strides: 1, pad: 'same' }, // input grad of a 16 → 3 convolution
  // Filter grads with at most 3 input channels and a multiple of 4 outputs read the input in place, 32 outputs at a time:
  { x: [2, 10, 9, 1], filter: [3, 3, 1, 36], strides: 1, pad: 'same' }, // a 32-wide block and a 4-wide tail
  { x: [3, 9, 11, 3], filter: [3, 3, 3, 32], strides: 2, pad: 1 }, // strided, explicit padding
  { x: [1, 5, 6, 2], filter: [3, 3, 2, 8], strides: 1, pad: 2 }, // padding wider than the taps reach: empty rows
];

/** conv2d(x, w), and the gradients of sum(conv2d(x, w) · r) w.r.t. x and w, for fixed random x, w, r. */
function convAndGradients(c: ConvCase): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.randomNormal(c.x, 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal(c.filter, 0, 1, 'float32', 2) as tf.Tensor4D;
    const y = tf.conv2d(x, w, c.strides, c.pad);
    const r = tf.randomNormal(y.shape, 0, 1, 'float32', 3);
    const [dx, dw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.strides, c.pad), r)),
    )([x, w]);
    return [y, dx as tf.Tensor, dw as tf.Tensor].map((t) => t.dataSync() as Float32Array);
  });
}

/**
 * The largest error as a fraction of the largest expected value (at least 1). Winograd's transforms spread each
 * output's rounding error over its tile, so its errors scale with the outputs' range, not with each output: a filter
 * gradient summed over 4,000 positions has entries from ~0 to ~200 and errors ~5e-6 of the largest.
 */
function worstOfScale(expected: Float32Array, actual: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  let scale = 1;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)));
    scale = Math.max(scale, Math.abs(expected[i] as number));
  }
  return worst / scale;
}

function worstRelative(expected: Float32Array, actual: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)) / Math.max(1, Math.abs(expected[i] as number)));
  }
  return worst;
}

describe('wasm conv kernels (gm): Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
    expect(installWasmConvKernels()).toBe(true);
  });

  it.each(cases.map((c) => [`x ${c.x} filter ${c.filter} strides ${c.strides} pad ${c.pad}`, c] as const))(
    'output, input gradient and filter gradient equal the cpu backend (and stock wasm where it has the kernel): %s',
    async (_, c) => {
      await tf.setBackend('cpu');
      const [y, dx, dw] = convAndGradients(c) as [Float32Array, Float32Array, Float32Array];
      await tf.setBackend('wasm');
      const [gy, gdx, gdw] = convAndGradients(c) as [Float32Array, Float32Array, Float32Array];
      expect(worstOfScale(y, gy)).toBeLessThan(2e-5);
      expect(worstOfScale(dx, gdx)).toBeLessThan(2e-5);
      expect(worstOfScale(dw, gdw)).toBeLessThan(2e-5);
      // Stock tfjs-wasm: forward and input gradient only (it has no Conv2DBackpropFilter).
      uninstallWasmConvKernels();
      try {
        const stock = tf.tidy(() => {
          const x = tf.randomNormal(c.x, 0, 1, 'float32', 1) as tf.Tensor4D;
          const w = tf.randomNormal(c.filter, 0, 1, 'float32', 2) as tf.Tensor4D;
          return tf.conv2d(x, w, c.strides, c.pad).dataSync() as Float32Array;
        });
        expect(worstRelative(stock, gy)).toBeLessThan(1e-4);
      } finally {
        installWasmConvKernels();
      }
    },
  );

  it('falls back to the stock kernel for what it does not handle (dilation 2)', () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.randomNormal([1, 9, 9, 2], 0, 1, 'float32', 7) as tf.Tensor4D;
        const w = tf.randomNormal([3, 3, 2, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
        return tf.conv2d(x, w, 1, 'same', 'NHWC', 2).dataSync() as Float32Array;
      });
    const viaOverride = run();
    uninstallWasmConvKernels();
    const stock = run();
    installWasmConvKernels();
    expect(Array.from(viaOverride)).toEqual(Array.from(stock));
  });

  // One shape per plan of gm's forward kernel, each with a bias per output channel (linear and ReLU are applied as
  // outputs are stored; other activations afterwards by tfjs).
  const fusedPlans = [
    { x: [2, 9, 8, 6], filter: [3, 3, 6, 1], strides: 1, bias: [1] }, // few output channels (direct)
    { x: [2, 9, 7, 8], filter: [3, 3, 8, 12], strides: 1, bias: [12] }, // Winograd
    { x: [2, 9, 7, 2], filter: [3, 3, 2, 20], strides: 1, bias: [20] }, // few input channels: 16-wide block + tail
    { x: [2, 9, 8, 6], filter: [3, 3, 6, 10], strides: 2, bias: [10] }, // GEMM over gathered rows (a column tail)
  ] as const;

  it.each(['linear', 'relu', 'elu', 'sigmoid'] as const)('FusedConv2D (conv + bias + %s) runs gm\'s conv and equals the cpu backend', async (activation) => {
    const run = (plan: (typeof fusedPlans)[number], withBias: boolean) =>
      tf.tidy(() => {
        const x = tf.randomNormal([...plan.x], 0, 1, 'float32', 21) as tf.Tensor4D;
        const w = tf.randomNormal([...plan.filter], 0, 0.5, 'float32', 22) as tf.Tensor4D;
        const bias = withBias ? tf.randomNormal([...plan.bias], 0, 1, 'float32', 23) : undefined;
        return tf.fused.conv2d({ x, filter: w, strides: plan.strides, pad: 'same', bias, activation }).dataSync() as Float32Array;
      });
    for (const plan of fusedPlans) {
      for (const withBias of [true, false]) {
        await tf.setBackend('cpu');
        const cpu = run(plan, withBias);
        await tf.setBackend('wasm');
        const buffers = tf.backend().numDataIds();
        const viaGm = run(plan, withBias);
        expect(tf.backend().numDataIds()).toBe(buffers); // the epilogue's intermediate buffers are released
        expect(worstOfScale(cpu, viaGm)).toBeLessThan(2e-5);
        if (activation === 'relu') expect(viaGm.every((v) => v >= 0)).toBe(true);
      }
    }

    // gm's kernel is the one registered (uninstalling restores the stock XNNPACK kernel, which gives the same values).
    const gmKernel = tf.getKernel('FusedConv2D', 'wasm')?.kernelFunc;
    for (const plan of fusedPlans) {
      uninstallWasmConvKernels();
      let stock: Float32Array;
      try {
        expect(tf.getKernel('FusedConv2D', 'wasm')?.kernelFunc).not.toBe(gmKernel);
        stock = run(plan, true);
      } finally {
        installWasmConvKernels();
      }
      expect(worstOfScale(stock, run(plan, true))).toBeLessThan(2e-5);
    }
  });

  it('trains a conv layer on wasm without leaking tensors or buffers', () => {
    const w = tf.variable(tf.randomNormal([3, 3, 2, 4], 0, 0.3, 'float32', 4));
    const x = tf.randomNormal([2, 6, 6, 2], 0, 1, 'float32', 5) as tf.Tensor4D;
    const optimizer = tf.train.adam(0.05);
    const step = () => optimizer.minimize(() => tf.mean(tf.square(tf.sub(tf.conv2d(x, w as tf.Tensor4D, 1, 'same'), 1))) as tf.Scalar, true, [w]) as tf.Scalar;
    step().dispose();
    const tensors = tf.memory().numTensors;
    const buffers = tf.backend().numDataIds();
    const losses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const loss = step();
      losses.push(loss.dataSync()[0] as number);
      loss.dispose();
    }
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.backend().numDataIds()).toBe(buffers);
    expect(losses.at(-1) as number).toBeLessThan((losses[0] as number) * 0.7);
    optimizer.dispose();
    tf.dispose([w, x]);
  });
});
