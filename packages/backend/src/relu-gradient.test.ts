import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the stock gradients (its copy of tfjs's, as an app loads them)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareGmKernels } from './gm-kernels';
import { installReluGradient, uninstallReluGradient } from './relu-gradient';

/** x with exact zeros, negatives, positives and a size that leaves a scalar tail (4·k + 3). */
function inputs(n: number, seed: number): { x: tf.Tensor; w: tf.Tensor } {
  return tf.tidy(() => {
    const raw = tf.randomNormal([n], 0, 1, 'float32', seed);
    // every fifth value exactly 0 (relu′(0) = 0 in tfjs and PyTorch)
    const zeros = tf.equal(tf.mod(tf.range(0, n, 1, 'int32'), 5), 0);
    return { x: tf.where(zeros, tf.zerosLike(raw), raw), w: tf.randomUniform([n], -2, 2, 'float32', seed + 1) };
  });
}

/** ∂/∂x Σ w ⊙ relu(x) (signed zeros made +0: dy · 0 keeps dy's sign, gm's kernel writes +0), and the kernels it ran. */
async function reluGradOf(x: tf.Tensor, w: tf.Tensor): Promise<{ g: number[]; kernels: string[] }> {
  let g: number[] = [];
  const info = await tf.profile(() => {
    const t = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), w)))(x);
    g = Array.from(t.dataSync(), (v) => v + 0);
    t.dispose();
  });
  return { g, kernels: info.kernels.map((k) => k.name) };
}

describe('ReLU gradient (GmReluGrad)', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
    expect((await prepareGmKernels(tf.backend())).ready).toBe(true);
  });
  afterAll(() => uninstallReluGradient());

  it("equals tfjs's dy · step(x) bit for bit on wasm and cpu, in one kernel on wasm, leaking nothing", async () => {
    const results: Record<string, number[][]> = {};
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      for (const mode of ['stock', 'gm']) {
        if (mode === 'gm') installReluGradient();
        else uninstallReluGradient();
        const before = tf.memory().numTensors;
        for (const [n, seed] of [[1, 1], [7, 2], [16, 3], [1003, 4], [64 * 28 * 28, 5]] as const) {
          const { x, w } = inputs(n, seed);
          const { g, kernels } = await reluGradOf(x, w);
          (results[`${backend} ${mode}`] ??= []).push(g);
          if (backend === 'wasm' && mode === 'gm') {
            expect(kernels).toContain('GmReluGrad');
            expect(kernels).not.toContain('Step');
          } else {
            expect(kernels).toContain('Step');
          }
          tf.dispose([x, w]);
        }
        expect(tf.memory().numTensors).toBe(before);
      }
    }
    const reference = results['cpu stock'] as number[][];
    for (const key of ['wasm stock', 'wasm gm', 'cpu gm']) {
      (results[key] as number[][]).forEach((g, i) => expect(g, `${key}, case ${i}`).toEqual(reference[i]));
    }
    // and the values are dy where x > 0, else 0
    const { x, w } = inputs(1003, 4);
    const xv = x.dataSync();
    const wv = w.dataSync();
    (reference[3] as number[]).forEach((g, i) => expect(g).toBe((xv[i] as number) > 0 ? (wv[i] as number) + 0 : 0));
    tf.dispose([x, w]);
  });

  it('gives NaN where x is NaN and 0 for an infinite dy where x ≤ 0 (as PyTorch)', async () => {
    await tf.setBackend('wasm');
    installReluGradient();
    const x = tf.tensor1d([NaN, -1, 0, 2, -3, 4, NaN]);
    const dy = tf.tensor1d([1, Infinity, -Infinity, Infinity, NaN, 5, 1]);
    const g = tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), dy)))(x).dataSync());
    // dy · relu′: positions 1, 2 and 4 are 0 whatever dy is (x ≤ 0); dy · step(x) would give NaN there
    expect(Array.from(g, (v) => v + 0)).toEqual([NaN, 0, 0, Infinity, 0, 5, NaN]);
    tf.dispose([x, dy]);
  });

  it('has a gradient of its own: ∂/∂w of Σ u ⊙ ∂/∂x Σ w ⊙ relu(x) = u ⊙ relu′(x)', async () => {
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      installReluGradient();
      const { x, w } = inputs(1003, 9);
      const u = tf.randomNormal([1003], 0, 1, 'float32', 10);
      let got: number[] = [];
      const info = await tf.profile(() => {
        const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.relu(t), v)))(x), u)))(w);
        got = Array.from(g.dataSync(), (value) => value + 0);
        g.dispose();
      });
      if (backend === 'wasm') expect(info.kernels.filter((k) => k.name === 'GmReluGrad').length).toBe(2);
      const xv = x.dataSync();
      const uv = u.dataSync();
      got.forEach((g, i) => expect(g).toBe((xv[i] as number) > 0 ? (uv[i] as number) + 0 : 0));
      tf.dispose([x, w, u]);
    }
  });
});
