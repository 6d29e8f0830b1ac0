import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the stock gradients (its copy of tfjs's, as an app loads them)
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from './init';
import { installSharedSavedTensors, isSharedSavedTensorsInstalled, uninstallSharedSavedTensors } from './shared-saved-tensors';

/** A small network touching many gradients that keep inputs or outputs: conv, matMul, relu, sigmoid, exp, softplus, sums. */
function makeNet() {
  const seeded = (shape: number[], seed: number) => tf.variable(tf.randomNormal(shape, 0, 0.3, 'float32', seed));
  const v = { filter: seeded([3, 3, 2, 4], 1), w1: seeded([7 * 7 * 4, 9], 2), b1: seeded([9], 3), w2: seeded([9, 5], 4) };
  const x = tf.randomNormal([6, 7, 7, 2], 0, 1, 'float32', 5);
  const loss = (): tf.Scalar =>
    tf.tidy(() => {
      const h = tf.relu(tf.conv2d(x as tf.Tensor4D, v.filter as tf.Tensor4D, 1, 'same'));
      const d = tf.sigmoid(tf.add(tf.matMul(tf.reshape(h, [6, -1]), v.w1), v.b1));
      const out = tf.matMul(tf.mul(d, tf.exp(tf.neg(d))), v.w2);
      return tf.sum(tf.add(tf.softplus(out), tf.square(out)));
    });
  return { v, x, loss, dispose: () => tf.dispose([x, ...Object.values(v)]) };
}

/** Gradients of the network's loss w.r.t. its variables (flattened, in a fixed order). */
function gradients(net: ReturnType<typeof makeNet>): number[][] {
  const { grads, value } = tf.variableGrads(net.loss);
  const order = Object.values(net.v).map((v) => v.name);
  const out = order.map((name) => Array.from((grads[name] as tf.Tensor).dataSync()));
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

const identityKernels = async (f: () => void): Promise<number> => (await tf.profile(f)).kernels.filter((k) => k.name === 'Identity').length;

describe('gradients keep their saved tensors by sharing', () => {
  afterAll(() => uninstallSharedSavedTensors());

  it.each(['wasm', 'cpu'] as const)('on %s: the same gradients bit for bit, no Identity kernel per saved tensor, nothing leaked', async (backend) => {
    await initBackend({ backend });
    const net = makeNet();
    uninstallSharedSavedTensors();
    const stock = gradients(net);
    const stockIdentities = await identityKernels(() => gradients(net));
    installSharedSavedTensors();
    installSharedSavedTensors(); // idempotent
    expect(isSharedSavedTensorsInstalled()).toBe(true);
    const tensors = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    const ours = gradients(net);
    expect(ours).toEqual(stock);
    expect(stockIdentities).toBeGreaterThan(5);
    expect(await identityKernels(() => gradients(net))).toBe(0);
    // Training steps: every kept tensor is released after backprop, also when the variables it shares move on.
    const optimizer = tf.train.adam(1e-2);
    for (let i = 0; i < 5; i++) optimizer.minimize(net.loss, true)?.dispose();
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.memory().numBytes).toBe(bytes);
    net.dispose();
  });

  it.each(['wasm', 'cpu'] as const)('on %s: second derivatives (a gradient of a gradient) still see the kept tensors', async (backend) => {
    await initBackend({ backend });
    installSharedSavedTensors();
    const x = tf.tensor1d([-1.5, 0.5, 2, 3]);
    // f = Σ x³ · c + Σ x²: f'' = 6 c x + 2. (Not through exp: stock tfjs 4.22's second derivative drops the term
    // through a gradient's saved output.)
    const c = 0.75;
    const f = (t: tf.Tensor) => tf.add(tf.sum(tf.mul(tf.mul(t, tf.mul(t, t)), c)), tf.sum(tf.square(t)));
    const second = tf.grad((t: tf.Tensor) => tf.sum(tf.grad(f)(t)))(x);
    const expected = Array.from(x.dataSync()).map((v) => 6 * c * v + 2);
    Array.from(second.dataSync()).forEach((g, i) => expect(g).toBeCloseTo(expected[i] as number, 3));
    tf.dispose([x, second]);
  });
});
