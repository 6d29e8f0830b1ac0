import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { Chain } from './bijector';
import { SplineCoupling } from './spline-coupling';
import { TransformedDistribution } from './transformed-distribution';
import { checkBijector, gridMass, maxAbsDiff, randomizeWeights, standardNormal } from './test-helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const wave = (n: number) => Array.from({ length: n }, (_, i) => 1.7 * Math.sin(1.3 * i + 0.4));

describe('SplineCoupling (neural spline flows)', () => {
  it('a fresh layer is the identity with log-det 0', () => {
    const layer = new SplineCoupling({ inputShape: [5], hidden: [7], bins: 5, seed: 1 });
    const x = tf.tensor2d([wave(5), wave(5).map((v) => -2 * v)]);
    const { y, logDet } = layer.forward(x);
    expect(maxAbsDiff(y.dataSync(), x.dataSync())).toBeLessThan(1e-5);
    expect(maxAbsDiff(logDet.dataSync(), [0, 0])).toBeLessThan(1e-5);
    tf.dispose([x, y, logDet]);
    layer.dispose();
  });

  it('inverts, and its log-det is log|det J| of the autodiff Jacobian (odd D, both masks, points in the tails)', () => {
    for (const invertMask of [false, true]) {
      const layer = new SplineCoupling({ inputShape: [5], hidden: [8, 8], bins: 6, bound: 2, invertMask, seed: 3 });
      randomizeWeights(layer, invertMask ? 5 : 4, 0.6);
      for (const x0 of [wave(5), [0.1, -2.5, 1.9, 3.2, -0.3]]) {
        const r = checkBijector(layer, [5], x0);
        expect(r.roundTrip).toBeLessThan(1e-4);
        expect(r.inverseLogDet).toBeLessThan(1e-3);
        expect(r.logDetError).toBeLessThan(1e-3);
      }
      layer.dispose();
    }
  });

  it('a chain of spline couplings is a normalised density that trains, leaking no tensor', () => {
    const steps = [0, 1, 2].map((i) => new SplineCoupling({ inputShape: [2], hidden: [16], bins: 6, bound: 4, invertMask: i % 2 === 1, seed: 10 + i }));
    const flow = new TransformedDistribution(standardNormal(2), new Chain(steps), { eventShape: [2] });
    // A skewed two-bump target: well beyond an affine map of a Gaussian.
    const x = tf.tidy(() => {
      const u = tf.randomNormal([128, 2], 0, 0.3, 'float32', 2);
      const side = tf.sub(tf.mul(tf.cast(tf.greater(tf.randomUniform([128, 1], 0, 1, 'float32', 3), 0.5), 'float32'), 3), 1.5);
      return tf.add(u, tf.concat([side, tf.mul(tf.square(side), 0.4)], 1));
    });
    const opt = tf.train.adam(0.02);
    const nll = () => tf.neg(tf.mean(flow.logProb(x))) as tf.Scalar;
    const first = tf.tidy(() => nll().dataSync()[0] as number);
    (opt.minimize(nll, true) as tf.Scalar).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 30; i++) (opt.minimize(nll, true) as tf.Scalar).dispose();
    expect(tf.memory().numTensors).toBe(before);
    const last = tf.tidy(() => nll().dataSync()[0] as number);
    expect(last).toBeLessThan(first - 0.5);
    const mass = gridMass((v) => flow.logProb(v), 0.08);
    expect(mass).toBeGreaterThan(0.98);
    expect(mass).toBeLessThan(1.02);
    x.dispose();
    opt.dispose();
    steps.forEach((s) => s.dispose());
  });

  it('conditional: the context changes the transform; a missing context is refused', () => {
    const layer = new SplineCoupling({ inputShape: [4], hidden: [6], bins: 4, contextSize: 3, seed: 6 });
    randomizeWeights(layer, 7, 0.6);
    const x = tf.tensor2d([[0.5, -0.5, 0.3, 1.2]]);
    const a = layer.forward(x, { context: tf.tensor2d([[1, 0, 0]]) });
    const b = layer.forward(x, { context: tf.tensor2d([[0, 1, 0]]) });
    expect(maxAbsDiff(a.y.dataSync(), b.y.dataSync())).toBeGreaterThan(1e-3);
    const r = checkBijector(layer, [4], [0.2, -1.1, 0.7, 0.05], tf.tensor2d([[0.3, -0.2, 0.9]]));
    expect(r.roundTrip).toBeLessThan(1e-4);
    expect(r.logDetError).toBeLessThan(1e-3);
    expect(() => layer.forward(x)).toThrow(/needs a context \[batch, 3\]/);
    expect(() => new SplineCoupling({ inputShape: [1] })).toThrow(/input \[batch, D\] with a known D ≥ 2/);
    expect(() => new SplineCoupling({ bins: 1 })).toThrow(/bins must be at least 2/);
    tf.dispose([x, a.y, a.logDet, b.y, b.logDet]);
    layer.dispose();
  });
});
