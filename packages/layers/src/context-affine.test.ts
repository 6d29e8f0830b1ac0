import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ContextAffine } from './context-affine';
import { registerGmLayers } from './register';
import { checkBijector, maxAbsDiff, randomizeWeights, saveAndLoad } from './test-helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('ContextAffine (Glow\'s learned, class-conditional prior)', () => {
  it('starts as the identity', () => {
    const layer = new ContextAffine({ inputShape: [2, 2, 3], contextSize: 4 });
    const x = tf.randomNormal([5, 2, 2, 3], 0, 1, 'float32', 1);
    const context = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0], 'int32'), 4);
    const { y, logDet } = layer.forward(x, { context });
    expect(maxAbsDiff(y.dataSync(), x.dataSync())).toBe(0);
    expect(maxAbsDiff(logDet.dataSync(), [0, 0, 0, 0, 0])).toBe(0);
    tf.dispose([x, context, y, logDet]);
  });

  it('maps x ~ N(μ(c), σ(c)²) to N(0, I): its log-det is −Σ log σ(c), which autodiff confirms, and it inverts', () => {
    const layer = new ContextAffine({ inputShape: [2, 2, 3], contextSize: 4 });
    randomizeWeights(layer, 7);
    const [bias, kernel] = layer.trainableVariables().map((v) => v.arraySync() as number[] | number[][]) as [number[], number[][]];
    for (const label of [0, 2]) {
      const context = tf.oneHot(tf.tensor1d([label], 'int32'), 4);
      const r = checkBijector(layer, [2, 2, 3], Array.from({ length: 12 }, (_, i) => Math.sin(i) * 2), context);
      expect(r.roundTrip).toBeLessThan(1e-5);
      expect(r.inverseLogDet).toBeLessThan(1e-5);
      expect(r.logDetError).toBeLessThan(1e-4);
      // The closed form: 4 positions × Σ_c log σ_c with log σ_c = bias[3 + c] + kernel[label][3 + c].
      const sumLogSigma = [0, 1, 2].reduce((s, c) => s + bias[3 + c]! + kernel[label]![3 + c]!, 0);
      const { logDet } = layer.forward(tf.zeros([1, 2, 2, 3]), { context });
      expect(Math.abs(logDet.dataSync()[0]! + 4 * sumLogSigma)).toBeLessThan(1e-4);
      tf.dispose([context, logDet]);
    }
  });

  it('without a context it learns constants; a wrong context is a clear error; it saves and loads', async () => {
    registerGmLayers();
    const plain = new ContextAffine({ inputShape: [3] });
    randomizeWeights(plain, 3);
    const r = checkBijector(plain, [3], [0.5, -1, 2]);
    expect(r.logDetError).toBeLessThan(1e-4);
    const conditional = new ContextAffine({ inputShape: [3], contextSize: 2 });
    const x = tf.zeros([2, 3]);
    expect(() => conditional.forward(x)).toThrow(/ContextAffine .*context.*\[batch, 2\]/);
    expect(() => conditional.forward(x, { context: tf.zeros([2, 5]) })).toThrow(/context.*\[2, 2\]/);
    expect(() => plain.forward(x, { context: tf.zeros([2, 2]) })).toThrow(/no context/);
    randomizeWeights(conditional, 5);
    const input = tfl.input({ shape: [3] });
    const ctx = tfl.input({ shape: [2] });
    const model = tfl.model({ inputs: [input, ctx], outputs: conditional.apply([input, ctx]) as tfl.SymbolicTensor });
    const restored = (await saveAndLoad(model)).layers.find((l) => l instanceof ContextAffine) as ContextAffine;
    const probe = tf.tensor2d([[1, 2, 3]]);
    const c = tf.tensor2d([[0.3, -1]]);
    expect(maxAbsDiff(restored.forward(probe, { context: c }).y.dataSync(), conditional.forward(probe, { context: c }).y.dataSync())).toBe(0);
    tf.dispose([x, probe, c]);
  });
});
