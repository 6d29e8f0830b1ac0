import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { AffineCoupling } from './affine-coupling';
import { DenseTranspose } from './dense-transpose';
import { FlowBatchNorm } from './flow-batch-norm';
import { madeDegrees, outputDegrees } from './made';
import { MaskedDense } from './masked-dense';
import { Sampling } from './sampling';
import { Squeeze } from './squeeze';
import { maxAbsDiff, randomizeWeights } from './test-helpers';

/** Builds a small model that uses every layer, with seeded weights; returns its output and loss gradients. */
function run(): Float32Array[] {
  const x = tfl.input({ shape: [8] });
  const enc = tfl.layers.dense({ units: 4, activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) });
  const h = enc.apply(x) as SymbolicTensor;
  const deg = madeDegrees({ inputSize: 4, hiddenSizes: [8], ordering: 'random', seed: 2 });
  const m1 = new MaskedDense({ units: 8, inputDegrees: deg[0]!, outputDegrees: deg[1]!, activation: 'relu', seed: 3 });
  const m2 = new MaskedDense({ units: 8, inputDegrees: deg[1]!, outputDegrees: outputDegrees(deg[0]!, 2), maskType: 'output', directDegrees: deg[0]!, seed: 4 });
  const stats = m2.apply([m1.apply(h) as SymbolicTensor, h]) as SymbolicTensor;
  const mean = tfl.layers.reshape({ targetShape: [2, 2, 2] }).apply(stats) as SymbolicTensor;
  const flowed = new FlowBatchNorm().apply(
    new Squeeze().apply(new AffineCoupling({ mask: 'checkerboard', hidden: [3], seed: 5 }).apply(mean) as SymbolicTensor) as SymbolicTensor,
  ) as SymbolicTensor;
  const flat = tfl.layers.flatten().apply(flowed) as SymbolicTensor;
  const z = new Sampling({ seed: 6 }).apply([tfl.layers.dense({ units: 4, kernelInitializer: tfl.initializers.glorotUniform({ seed: 7 }) }).apply(flat) as SymbolicTensor, h]) as SymbolicTensor;
  const out = new DenseTranspose({ tiedTo: enc, activation: 'sigmoid' }).apply(z) as SymbolicTensor;
  const model = tfl.model({ inputs: x, outputs: out });
  randomizeWeights(model, 21, 0.5);
  const result = tf.tidy(() => {
    const input = tf.randomNormal([5, 8], 0, 1, 'float32', 8);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(model.apply(input, { training: true }) as tf.Tensor)) as tf.Scalar, vars);
    const trained = [value.dataSync() as Float32Array, ...vars.map((v) => grads[v.name]!.dataSync() as Float32Array)];
    // Inference (no tape: the coupling uses tf.conv2d itself on wasm too).
    return [(model.predict(input) as tf.Tensor).dataSync() as Float32Array, ...trained];
  });
  model.dispose();
  return result;
}

describe('wasm backend', () => {
  it('every layer gives the cpu backend\'s outputs and gradients', async () => {
    await tf.setBackend('cpu');
    const cpu = run();
    expect(await tf.setBackend('wasm')).toBe(true);
    const wasm = run();
    expect(wasm).toHaveLength(cpu.length);
    cpu.forEach((c, i) => expect(maxAbsDiff(c, wasm[i]!)).toBeLessThan(1e-4));
    expect(cpu.slice(2).every((g) => g.some((v) => v !== 0))).toBe(true);
  });
});
