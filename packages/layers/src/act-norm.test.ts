import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ActNorm } from './act-norm';
import { registerGmLayers } from './register';
import { checkBijector, maxAbsDiff, saveAndLoad } from './test-helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('ActNorm (Glow)', () => {
  it('is the identity until its first training batch, which comes out with zero mean and unit variance per channel', () => {
    const layer = new ActNorm({ inputShape: [3, 3, 2] });
    const x = tf.add(tf.mul(tf.randomNormal([16, 3, 3, 2], 0, 1, 'float32', 1), tf.tensor1d([3, 0.2])), tf.tensor1d([-5, 2]));
    const before = layer.forward(x);
    expect(maxAbsDiff(before.y.dataSync(), x.dataSync())).toBe(0);
    expect(layer.initialized).toBe(false);
    const first = layer.forward(x, { training: true });
    expect(layer.initialized).toBe(true);
    const { mean, variance } = tf.moments(first.y, [0, 1, 2]);
    expect(maxAbsDiff(mean.dataSync(), [0, 0])).toBeLessThan(1e-4);
    expect(maxAbsDiff(variance.dataSync(), [1, 1])).toBeLessThan(1e-3);
    // log-det = H·W·Σ log s, the same for every example; a second training batch does not re-initialise.
    const logS = (layer.trainableVariables()[1] as tf.Variable).dataSync();
    expect(maxAbsDiff(first.logDet.dataSync(), new Array(16).fill(9 * (logS[0]! + logS[1]!)))).toBeLessThan(1e-4);
    const again = layer.forward(tf.mul(x, 2), { training: true });
    expect(maxAbsDiff((layer.trainableVariables()[1] as tf.Variable).dataSync(), logS)).toBe(0);
    tf.dispose([x, before.y, before.logDet, first.y, first.logDet, mean, variance, again.y, again.logDet]);
  });

  it('inverts with the log-det autodiff finds, and a saved model keeps its initialisation', async () => {
    registerGmLayers();
    const layer = new ActNorm({ inputShape: [4] });
    tf.tidy(() => layer.forward(tf.randomNormal([32, 4], 2, 3, 'float32', 2), { training: true }));
    const r = checkBijector(layer, [4], [0.3, -1.2, 2.5, 0.01]);
    expect(r.roundTrip).toBeLessThan(1e-5);
    expect(r.inverseLogDet).toBeLessThan(1e-5);
    expect(r.logDetError).toBeLessThan(1e-4);
    const input = tfl.input({ shape: [4] });
    const model = tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor });
    const loaded = await saveAndLoad(model);
    const restored = loaded.layers[1] as ActNorm;
    expect(restored.initialized).toBe(true);
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    const a = layer.forward(x, { training: true });
    const b = restored.forward(x, { training: true }); // initialised already: no re-initialisation from this batch
    expect(maxAbsDiff(a.y.dataSync(), b.y.dataSync())).toBe(0);
    tf.dispose([x, a.y, a.logDet, b.y, b.logDet]);
  });
});
