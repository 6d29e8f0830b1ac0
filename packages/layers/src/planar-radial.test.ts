import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { Chain } from './bijector';
import { PlanarFlow, RadialFlow } from './planar-radial';
import { TransformedDistribution } from './transformed-distribution';
import { checkBijector, gridMass, standardNormal } from './test-helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('planar and radial flows (Rezende & Mohamed, 2015)', () => {
  it('planar: invertible even where the raw u would not be (wᵀu ≪ −1); log-det = autodiff Jacobian of the fast direction', () => {
    const flow = new PlanarFlow({ dim: 3, seed: 1 });
    flow.u.assign(tf.tensor1d([-3, 2.5, -4]));
    flow.w.assign(tf.tensor1d([2, -1, 1.5]));
    flow.b.assign(tf.scalar(0.3));
    for (const x0 of [[0.1, -0.2, 0.3], [2, 1, -3], [-0.05, 0, 0.02]]) {
      const r = checkBijector(flow, [3], x0, undefined, 'inverse');
      expect(r.roundTrip).toBeLessThan(1e-4);
      expect(r.inverseLogDet).toBeLessThan(1e-4);
      expect(r.logDetError).toBeLessThan(1e-4);
    }
    flow.dispose();
  });

  it('radial: contracting (β̂ < 0) and expanding steps invert in closed form with the autodiff log-det', () => {
    for (const beta of [-3, 2]) {
      const flow = new RadialFlow({ dim: 2, seed: 2 });
      flow.alphaRaw.assign(tf.scalar(0.5));
      flow.betaRaw.assign(tf.scalar(beta));
      for (const x0 of [[0.7, -0.4], [3, 2], [0.01, 0.02]]) {
        const r = checkBijector(flow, [2], x0, undefined, 'inverse');
        expect(r.roundTrip).toBeLessThan(1e-4);
        expect(r.logDetError).toBeLessThan(1e-4);
      }
      flow.dispose();
    }
  });

  it('as a distribution they are normalised, and their parameters train through the fast direction', () => {
    const planar = new PlanarFlow({ dim: 2, seed: 3 });
    const radial = new RadialFlow({ dim: 2, seed: 4 });
    planar.u.assign(tf.tensor1d([1.5, -0.5]));
    radial.betaRaw.assign(tf.scalar(1.2));
    const steps = [planar, radial, new PlanarFlow({ dim: 2, seed: 5 })];
    const flow = new TransformedDistribution(standardNormal(2), new Chain(steps), { eventShape: [2] });
    const mass = gridMass((v) => flow.logProb(v), 0.05, 8);
    expect(mass).toBeGreaterThan(0.98);
    expect(mass).toBeLessThan(1.02);
    // Variational use: samples and their log q by the fast direction, differentiable in the parameters.
    const g = tf.grads(() => tf.mean(flow.sampleWithLogProb(64, 9).logProb) as tf.Scalar)(steps.flatMap((s) => s.trainableVariables()));
    expect(g.every((t) => Number.isFinite(t.dataSync()[0]!))).toBe(true);
    expect(g.some((t) => Array.from(t.dataSync()).some((v) => Math.abs(v) > 1e-6))).toBe(true);
    tf.dispose(g);
    steps.forEach((s) => s.dispose());
  });
});
