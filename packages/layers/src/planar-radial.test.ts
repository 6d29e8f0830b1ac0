import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { Chain } from './bijector';
import { AmortizedPlanarFlow, AmortizedRadialFlow, PlanarFlow, RadialFlow, planarParameterSize, planarParameters, radialParameterSize, radialParameters } from './planar-radial';
import { TransformedDistribution } from './transformed-distribution';
import { checkBijector, gridMass, maxAbsDiff, standardNormal } from './test-helpers';

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

describe('amortized planar and radial steps (per-example parameters from a context)', () => {
  const C = 3;
  /** A seeded dense layer context → raw parameters, with weights large enough to reach far-off parameters. */
  function network(units: number, seed: number, std: number): tfl.layers.Layer {
    const layer = tfl.layers.dense({ units, kernelInitializer: tfl.initializers.randomNormal({ stddev: std, seed }), biasInitializer: tfl.initializers.randomNormal({ stddev: std, seed: seed + 1 }) });
    layer.apply(tf.zeros([1, C])); // builds the weights
    return layer;
  }

  it('planar: the log-det is the autodiff Jacobian of the fast direction, and forward inverts it, for several contexts', () => {
    const D = 3;
    const net = network(planarParameterSize(D), 1, 1.5);
    const step = new AmortizedPlanarFlow({ dim: D, parameters: net });
    const before = tf.memory().numTensors;
    for (const [i, x0] of [[0.1, -0.2, 0.3], [2, 1, -3], [-0.05, 0, 0.02]].entries()) {
      const context = tf.randomNormal([1, C], 0, 2, 'float32', 10 + i);
      const r = checkBijector(step, [D], x0, context, 'inverse');
      expect(r.roundTrip).toBeLessThan(1e-4);
      expect(r.inverseLogDet).toBeLessThan(1e-4);
      expect(r.logDetError).toBeLessThan(1e-4);
      context.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });

  it('radial: contracting and expanding steps, autodiff log-det and closed-form inverse', () => {
    const D = 2;
    for (const [k, betaBias] of [-4, 3].entries()) {
      // β′'s bias pushes β̂ towards −α (contracting) or well above 0 (expanding).
      const raw = (context: tf.Tensor) => tf.tidy(() => tf.add(tf.matMul(context, tf.randomNormal([C, D + 2], 0, 0.5, 'float32', 20 + k)), tf.tensor2d([[0.3, -0.2, 0.5, betaBias]])));
      const step = new AmortizedRadialFlow({ dim: D, parameters: raw });
      for (const [i, x0] of [[0.7, -0.4], [3, 2], [0.31, -0.19]].entries()) {
        const context = tf.randomNormal([1, C], 0, 1, 'float32', 30 + i);
        const r = checkBijector(step, [D], x0, context, 'inverse');
        expect(r.roundTrip).toBeLessThan(1e-4);
        expect(r.inverseLogDet).toBeLessThan(1e-4);
        expect(r.logDetError).toBeLessThan(1e-4);
        context.dispose();
      }
    }
  });

  it('the constraints hold for any raw parameters: wᵀû > −1 (planar) and β̂ ≥ −α (radial)', () => {
    const D = 4;
    const raw = tf.randomNormal([500, planarParameterSize(D)], 0, 6, 'float32', 5);
    const { wu } = planarParameters(raw, D);
    expect(Math.min(...wu.dataSync())).toBeGreaterThanOrEqual(-1);
    // The raw wᵀu is often far below −1 at this scale: the constraint is what keeps the map invertible.
    const wuRaw = tf.tidy(() => tf.sum(tf.mul(tf.slice(raw, [0, 0], [-1, D]), tf.slice(raw, [0, D], [-1, D])), 1));
    expect(Math.min(...wuRaw.dataSync())).toBeLessThan(-20);
    const rr = tf.randomNormal([500, radialParameterSize(D)], 0, 6, 'float32', 6);
    const { alpha, beta } = radialParameters(rr, D);
    const a = alpha.dataSync();
    const b = beta.dataSync();
    a.forEach((v, i) => {
      expect(v).toBeGreaterThan(0);
      expect(b[i]).toBeGreaterThanOrEqual(-v - 1e-6 * v);
    });
    tf.dispose([raw, wu, wuRaw, rr, alpha, beta]);
  });

  it('each row gets its own parameters: a batch equals the global PlanarFlow / RadialFlow with that row’s parameters', () => {
    const D = 3;
    const planarNet = network(planarParameterSize(D), 40, 1);
    const radialNet = network(radialParameterSize(D), 50, 1);
    const planar = new AmortizedPlanarFlow({ dim: D, parameters: planarNet });
    const radial = new AmortizedRadialFlow({ dim: D, parameters: radialNet });
    const context = tf.randomNormal([4, C], 0, 1, 'float32', 7);
    const z0 = tf.randomNormal([4, D], 0, 1.5, 'float32', 8);
    const batchP = planar.inverse(z0, { context });
    const batchR = radial.inverse(z0, { context });
    const rawP = (planarNet.apply(context) as tf.Tensor).arraySync() as number[][];
    const rawR = (radialNet.apply(context) as tf.Tensor).arraySync() as number[][];
    for (let i = 0; i < 4; i++) {
      const row = tf.slice(z0, [i, 0], [1, D]);
      const g = new PlanarFlow({ dim: D });
      g.u.assign(tf.tensor1d(rawP[i]!.slice(0, D)));
      g.w.assign(tf.tensor1d(rawP[i]!.slice(D, 2 * D)));
      g.b.assign(tf.scalar(rawP[i]![2 * D]!));
      const gr = new RadialFlow({ dim: D });
      gr.center.assign(tf.tensor1d(rawR[i]!.slice(0, D)));
      gr.alphaRaw.assign(tf.scalar(rawR[i]![D]!));
      gr.betaRaw.assign(tf.scalar(rawR[i]![D + 1]!));
      for (const [ours, theirs] of [[batchP, g.inverse(row)], [batchR, gr.inverse(row)]] as const) {
        const mine = tf.tidy(() => tf.slice(ours.x, [i, 0], [1, D]));
        expect(maxAbsDiff(mine.dataSync(), theirs.x.dataSync())).toBeLessThan(1e-5);
        expect(Math.abs(ours.logDet.dataSync()[i]! - theirs.logDet.dataSync()[0]!)).toBeLessThan(1e-5);
        tf.dispose([mine, theirs.x, theirs.logDet]);
      }
      row.dispose();
      g.dispose();
      gr.dispose();
    }
    tf.dispose([context, z0, batchP.x, batchP.logDet, batchR.x, batchR.logDet]);
    planarNet.dispose();
    radialNet.dispose();
  });

  it('trains through the context network, leaks no tensor, and refuses a missing or mismatched context', () => {
    const D = 2;
    const net = network(planarParameterSize(D), 60, 0.5);
    const planar = new AmortizedPlanarFlow({ dim: D, parameters: net });
    const radialNet = network(radialParameterSize(D), 70, 0.5);
    const radial = new AmortizedRadialFlow({ dim: D, parameters: radialNet });
    const flow = new TransformedDistribution(standardNormal(D), new Chain([planar, radial]), { eventShape: [D] });
    const context = tf.randomNormal([16, C], 0, 1, 'float32', 9);
    const vars = [...planar.trainableVariables(), ...radial.trainableVariables()];
    expect(vars.length).toBe(4); // two kernels, two biases
    const before = tf.memory().numTensors;
    const g = tf.grads(() => tf.mean(flow.sampleWithLogProb(16, 3, { context }).logProb) as tf.Scalar)(vars);
    expect(g.every((t) => Array.from(t.dataSync()).every(Number.isFinite))).toBe(true);
    expect(g.some((t) => Array.from(t.dataSync()).some((v) => Math.abs(v) > 1e-6))).toBe(true);
    tf.dispose(g);
    expect(tf.memory().numTensors).toBe(before);
    const z = tf.zeros([16, D]);
    expect(() => planar.inverse(z)).toThrow(/AmortizedPlanarFlow: options.context/);
    expect(() => radial.forward(z, { context: tf.zeros([3, C]) })).toThrow(/AmortizedRadialFlow: options.context must be 16 rows/);
    expect(() => new AmortizedPlanarFlow({ dim: D, parameters: (c) => tf.zeros([c.shape[0] as number, 3]) }).inverse(z, { context })).toThrow(/parameters\(context\) must be a tensor \[16, 5\]/);
    expect(() => new AmortizedRadialFlow({ dim: 0, parameters: radialNet })).toThrow(/AmortizedRadialFlow: dim/);
    tf.dispose([z, context]);
    net.dispose();
    radialNet.dispose();
  });
});
