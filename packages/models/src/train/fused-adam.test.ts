import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { fusedAdam } from './fused-adam';

/** A small two-layer regression problem; returns its variables and loss. */
function problem(seed: number) {
  const w1 = tf.variable(tf.randomNormal([12, 9], 0, 0.3, 'float32', seed));
  const b1 = tf.variable(tf.zeros([9]));
  const w2 = tf.variable(tf.randomNormal([9, 5], 0, 0.3, 'float32', seed + 1));
  const x = tf.randomNormal([16, 12], 0, 1, 'float32', seed + 2);
  const y = tf.randomNormal([16, 5], 0, 1, 'float32', seed + 3);
  const loss = () => tf.mean(tf.square(tf.sub(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2), y))) as tf.Scalar;
  return { vars: [w1, b1, w2], loss, dispose: () => tf.dispose([w1, b1, w2, x, y]) };
}

async function trajectory(backend: string, make: () => tf.Optimizer, steps: number) {
  await tf.setBackend(backend);
  const p = problem(5);
  const optimizer = make();
  const losses: number[] = [];
  optimizer.minimize(p.loss, false, p.vars); // first step allocates optimizer state
  const before = tf.memory().numTensors;
  for (let i = 0; i < steps; i++) {
    const l = optimizer.minimize(p.loss, true, p.vars) as tf.Scalar;
    losses.push(l.dataSync()[0] as number);
    l.dispose();
  }
  const leaked = tf.memory().numTensors - before;
  const weights = p.vars.map((v) => Array.from(v.dataSync()));
  optimizer.dispose();
  p.dispose();
  return { losses, weights, leaked };
}

describe('fusedAdam', () => {
  it.each(['wasm', 'cpu'])('follows tf.train.adam step for step on %s, without leaks', async (backend) => {
    const reference = await trajectory(backend, () => tf.train.adam(0.01), 30);
    const fused = await trajectory(backend, () => fusedAdam(0.01), 30);
    expect(fused.leaked).toBe(0);
    expect(reference.losses.at(-1)).toBeLessThan((reference.losses[0] as number) * 0.8); // it does optimise
    fused.losses.forEach((l, i) => expect(Math.abs(l - (reference.losses[i] as number))).toBeLessThan(1e-5 * Math.max(1, Math.abs(l))));
    fused.weights.flat().forEach((w, i) => expect(Math.abs(w - (reference.weights.flat()[i] as number))).toBeLessThan(1e-5));
  });

  it('uses bias-corrected moments: the first step moves every weight by lr·sign(g)', async () => {
    await tf.setBackend('wasm');
    const w = tf.variable(tf.tensor1d([1, -2, 3]));
    const optimizer = fusedAdam(0.1, 0.9, 0.999, 0);
    optimizer.minimize(() => tf.sum(tf.mul(w, tf.tensor1d([5, -0.01, 2]))) as tf.Scalar, false, [w]);
    expect(Array.from(w.dataSync()).map((v) => Number(v.toFixed(5)))).toEqual([0.9, -1.9, 2.9]);
    optimizer.dispose();
    w.dispose();
  });

  it('leaves tensors that share the old weights untouched (no in-place writes)', async () => {
    await tf.setBackend('wasm');
    const w = tf.variable(tf.tensor1d([1, 2]));
    const snapshot = tf.clone(w);
    const optimizer = fusedAdam(0.5);
    optimizer.minimize(() => tf.sum(w) as tf.Scalar, false, [w]);
    expect(Array.from(snapshot.dataSync())).toEqual([1, 2]);
    expect(Array.from(w.dataSync())).not.toEqual([1, 2]);
    tf.dispose([w, snapshot]);
    optimizer.dispose();
  });

  it('round-trips its state through getWeights/setWeights', async () => {
    await tf.setBackend('cpu');
    const run = async (resume: boolean) => {
      const w = tf.variable(tf.tensor1d([0.5, -0.5]), true, `w-resume-${resume}`);
      const f = () => tf.sum(tf.square(tf.sub(w, tf.tensor1d([2, 1])))) as tf.Scalar;
      let optimizer = fusedAdam(0.1);
      for (let i = 0; i < 3; i++) optimizer.minimize(f, false, [w]);
      if (resume) {
        const state = await optimizer.getWeights();
        optimizer = fusedAdam(0.1);
        await optimizer.setWeights(state);
      }
      for (let i = 0; i < 3; i++) optimizer.minimize(f, false, [w]);
      const out = Array.from(w.dataSync());
      w.dispose();
      return out;
    };
    expect(await run(true)).toEqual(await run(false));
  });

  it('rejects bad hyper-parameters with a clear error', () => {
    expect(() => fusedAdam(-1)).toThrow('fusedAdam: "learningRate" must be a finite number ≥ 0, got -1');
    expect(() => fusedAdam(0.1, 1)).toThrow('"beta1" and "beta2" must be < 1');
  });
});
