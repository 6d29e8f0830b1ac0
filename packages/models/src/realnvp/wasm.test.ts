import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { initBackend } from '@gm/backend';
import { RealNVPImage } from './realnvp-image';
import { maxAbsDiff, randomizeWeights } from './test-helpers';

/** Loss and gradients of a small generic image model. On stock wasm (no Conv2DBackpropFilter) the residual
 * couplings' convs run as im2col under the tape; after initBackend() they are plain tf.conv2d with gm's kernel. */
function run(): Float32Array[] {
  const flow = new RealNVPImage({ inputShape: [4, 4, 2], scales: 2, filters: 4, couplingsPerStage: 1, seed: 1 });
  randomizeWeights(flow.parts.flatMap((p) => p.layers.filter((l) => l.getClassName() !== 'InputLayer')), 2, 0.2);
  const out = tf.tidy(() => {
    const x = tf.randomUniform([3, 4, 4, 2], 0, 256, 'float32', 3);
    const vars = flow.trainableVariables();
    const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(flow.logProb(x))) as tf.Scalar, vars);
    return [value.dataSync() as Float32Array, ...vars.map((v) => grads[v.name]!.dataSync() as Float32Array)];
  });
  flow.dispose();
  return out;
}

describe('RealNVPImage on wasm', () => {
  it('gives the cpu backend\'s loss and gradients (im2col convs under the tape)', async () => {
    await tf.setBackend('cpu');
    const cpu = run();
    expect(await tf.setBackend('wasm')).toBe(true);
    const wasm = run();
    await tf.setBackend('cpu');
    expect(wasm).toHaveLength(cpu.length);
    cpu.forEach((c, i) => expect(maxAbsDiff(c, wasm[i]!) / (1 + Math.max(...Array.from(c, Math.abs)))).toBeLessThan(1e-4));
    expect(cpu.slice(1).every((g) => g.some((v) => v !== 0))).toBe(true);
  });

  it('gives the cpu backend\'s loss and gradients with gm\'s wasm kernels (tf.conv2d under the tape)', async () => {
    await tf.setBackend('cpu');
    const cpu = run();
    await initBackend({ backend: 'wasm' });
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    const wasm = run();
    await tf.setBackend('cpu');
    cpu.forEach((c, i) => expect(maxAbsDiff(c, wasm[i]!) / (1 + Math.max(...Array.from(c, Math.abs)))).toBeLessThan(1e-4));
  });
});
