import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { withExampleOffset } from '@gm/core';
import { AffineCoupling } from './affine-coupling';
import { Chain, Invert } from './bijector';
import { UniformDequantization } from './dequantize';
import { GatedIafStep } from './iaf-step';
import { Logit } from './logit';
import { madeDegrees, outputDegrees } from './made';
import { MaskedDense } from './masked-dense';
import { MultiScale } from './multi-scale';
import { ResidualCoupling } from './residual-coupling';
import { Squeeze } from './squeeze';
import { TransformedDistribution } from './transformed-distribution';
import { checkBijector, gridMass, maxAbsDiff, randomizeWeights, standardNormal } from './test-helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const wave = (n: number, phase = 0) => Array.from({ length: n }, (_, i) => Math.sin(1.3 * i + phase));

describe('Logit', () => {
  it('maps [0, levels) to ℝ and back, with the log-det autodiff finds, in pixel space', () => {
    const logit = new Logit({ alpha: 0.05, levels: 256 });
    const x0 = [0.5, 17.25, 128, 200.75, 255.5, 3];
    const r = checkBijector(logit, [2, 3], x0);
    expect(r.roundTrip).toBeLessThan(1e-3);
    expect(r.inverseLogDet).toBeLessThan(1e-3);
    expect(r.logDetError).toBeLessThan(1e-3);
    // The closed form: Σ log((1 − 2α)/levels) − log p − log(1 − p).
    const expected = x0.reduce((a, v) => {
      const p = 0.05 + 0.9 * (v / 256);
      return a + Math.log(0.9 / 256) - Math.log(p) - Math.log1p(-p);
    }, 0);
    const ld = tf.tidy(() => logit.forward(tf.tensor([x0], [1, 2, 3])).logDet.dataSync()[0] as number);
    expect(ld).toBeCloseTo(expected, 3);
    expect(() => new Logit({ alpha: 0.5 })).toThrow(/Logit: alpha must be a number in \(0, 0\.5\), got 0\.5/);
  });

  it('the uniform density on [0, 256)^D is 8 bits per dimension in logit space', () => {
    // If x is uniform on [0, 256)^D, log p(y) = −D log 256 − logDet: bits/dim = 8 whatever the point.
    const logit = new Logit();
    const x = tf.tensor([[3.5, 99, 250.25]]);
    const { logDet } = logit.forward(x);
    const logPy = -3 * Math.log(256) - (logDet.dataSync()[0] as number);
    expect(-(logPy + (logDet.dataSync()[0] as number)) / (3 * Math.LN2)).toBeCloseTo(8, 10);
    tf.dispose([x, logDet]);
  });
});

describe('UniformDequantization', () => {
  it('adds seeded U[0, 1) noise (log-det 0) and floors back to the pixel', () => {
    const dq = new UniformDequantization();
    const px = tf.tensor([[0, 7, 255, 128]]);
    const a = dq.forward(px, { seed: 3 });
    const b = dq.forward(px, { seed: 3 });
    expect(Array.from(a.y.dataSync())).toEqual(Array.from(b.y.dataSync()));
    const noise = Array.from(tf.sub(a.y, px).dataSync());
    for (const u of noise) expect(u >= 0 && u < 1).toBe(true);
    expect(Array.from(dq.inverse(a.y).x.dataSync())).toEqual([0, 7, 255, 128]);
    expect(a.logDet.dataSync()[0]).toBe(0);
    expect(() => dq.forward(px)).toThrow(/options\.seed/);
  });

  it("each image's noise is its own stream: images 2..3 at their place draw what the whole batch adds to them", () => {
    const dq = new UniformDequantization();
    const px = tf.zeros([4, 3, 3, 1]);
    const whole = dq.forward(px, { seed: 9 }).y;
    const shard = withExampleOffset(2, () => dq.forward(tf.slice(px, 2, 2), { seed: 9 }).y);
    expect(Array.from(shard.dataSync())).toEqual(Array.from(tf.slice(whole, 2, 2).dataSync()));
  });
});

describe('Chain, Invert and TransformedDistribution', () => {
  const couplings = (seed: number) => [
    new AffineCoupling({ inputShape: [2], hidden: [8], seed }),
    new AffineCoupling({ inputShape: [2], hidden: [8], invertMask: true, seed: seed + 1 }),
  ];

  it('layers given inputShape build at construction: a fresh flow trains with optimizer.minimize and no warm-up call', () => {
    const flow = new TransformedDistribution(standardNormal(2), new Chain(couplings(1)));
    expect(flow.trainableVariables().length).toBe(2 * 2 * 2 + 2);
    const x = tf.randomNormal([64, 2], 1, 0.5, 'float32', 2);
    const opt = tf.train.adam(0.05);
    // The crash of the issue: minimize without a variable list, before any call built the weights.
    const first = opt.minimize(() => tf.neg(tf.mean(flow.logProb(x))) as tf.Scalar, true) as tf.Scalar;
    let last = first.dataSync()[0] as number;
    for (let i = 0; i < 30; i++) {
      const l = opt.minimize(() => tf.neg(tf.mean(flow.logProb(x))) as tf.Scalar, true) as tf.Scalar;
      last = l.dataSync()[0] as number;
      l.dispose();
    }
    expect(last).toBeLessThan((first.dataSync()[0] as number) - 0.3);
    tf.dispose([first, x]);
    opt.dispose();
  });

  it('is a normalised density: logProb integrates to 1 over a grid, samples agree with sampleWithLogProb', () => {
    const steps = couplings(3);
    steps.forEach((s, i) => randomizeWeights(s, 10 + i, 0.4));
    const flow = new TransformedDistribution(standardNormal(2), new Chain(steps), { eventShape: [2] });
    const mass = gridMass((v) => flow.logProb(v));
    expect(mass).toBeGreaterThan(0.98);
    expect(mass).toBeLessThan(1.02);
    const { sample, logProb } = flow.sampleWithLogProb(50, 4);
    expect(maxAbsDiff(logProb.dataSync(), flow.logProb(sample).dataSync())).toBeLessThan(1e-4);
    expect(maxAbsDiff(flow.sample(50, 4).dataSync(), sample.dataSync())).toBe(0);
    tf.dispose([sample, logProb]);
  });

  it('Invert swaps the directions; a chain derives a seed per step', () => {
    const c = new Chain(couplings(5));
    c.steps.forEach((s, i) => randomizeWeights(s as AffineCoupling, 20 + i, 0.4));
    const x = tf.tensor2d([[0.3, -1.1]]);
    const f = c.forward(x);
    const g = new Invert(c).inverse(x);
    expect(maxAbsDiff(f.y.dataSync(), g.x.dataSync())).toBe(0);
    const seeds: number[] = [];
    const probe = { forward: (v: tf.Tensor, o?: { seed?: number }) => (seeds.push(o?.seed ?? -1), { y: v, logDet: tf.zeros([1]) }), inverse: (v: tf.Tensor) => ({ x: v, logDet: tf.zeros([1]) }) };
    tf.tidy(() => new Chain([probe, probe]).forward(x, { seed: 9 }));
    expect(seeds[0]).not.toBe(seeds[1]);
    x.dispose();
  });

  it('conditional couplings: the context changes the density, a wrong context is refused', () => {
    const step = new AffineCoupling({ inputShape: [2], hidden: [8], contextSize: 3, seed: 7 });
    randomizeWeights(step, 30, 0.5);
    const flow = new TransformedDistribution(standardNormal(2), step, { eventShape: [2], contextSize: 3 });
    const x = tf.tensor2d([[0.5, 0.5]]);
    const a = flow.logProb(x, { context: tf.tensor2d([[1, 0, 0]]) }).dataSync()[0] as number;
    const b = flow.logProb(x, { context: tf.tensor2d([[0, 1, 0]]) }).dataSync()[0] as number;
    expect(Math.abs(a - b)).toBeGreaterThan(1e-3);
    const r = checkBijector(step, [2], [0.4, -0.9], tf.tensor2d([[0.2, -0.3, 1]]));
    expect(r.roundTrip).toBeLessThan(1e-5);
    expect(r.logDetError).toBeLessThan(1e-4);
    expect(() => flow.logProb(x)).toThrow(/needs a context \[batch, 3\]/);
    expect(() => flow.logProb(x, { context: tf.zeros([1, 2]) })).toThrow(/context has shape \[1, 2\], expected \[1, 3\]/);
    // Conditional image couplings tile the context over the pixels.
    const img = new AffineCoupling({ inputShape: [2, 2, 2], mask: 'channel', hidden: [3], contextSize: 2, seed: 8 });
    randomizeWeights(img, 31, 0.5);
    const ri = checkBijector(img, [2, 2, 2], wave(8), tf.tensor2d([[0.7, -0.2]]));
    expect(ri.roundTrip).toBeLessThan(1e-5);
    expect(ri.logDetError).toBeLessThan(1e-4);
  });
});

describe('MultiScale and ResidualCoupling', () => {
  it('factor-out keeps the shape, inverts, and its log-det is the autodiff Jacobian’s (1×4×4×1)', () => {
    const scale0 = new Chain([
      new ResidualCoupling({ inputShape: [4, 4, 1], mask: 'checkerboard', filters: 3, seed: 1 }),
      new Squeeze(),
      new ResidualCoupling({ inputShape: [2, 2, 4], mask: 'channel', filters: 3, seed: 2 }),
    ]);
    const scale1 = new Chain([new ResidualCoupling({ inputShape: [2, 2, 2], mask: 'checkerboard', filters: 3, seed: 3 })]);
    for (const s of [...scale0.steps, ...scale1.steps]) if (s instanceof ResidualCoupling) randomizeWeights(s, 40, 0.3);
    const flow = new MultiScale(scale0, new MultiScale(scale1, null));
    const r = checkBijector(flow, [4, 4, 1], wave(16, 0.2));
    expect(r.roundTrip).toBeLessThan(1e-4);
    expect(r.inverseLogDet).toBeLessThan(1e-4);
    expect(r.logDetError).toBeLessThan(1e-3);
    expect(flow.trainableVariables().length).toBe(3 * (2 * 4 + 1));
  });
});

describe('GatedIafStep', () => {
  it('inverse is the gated update with log-det Σ log σ; forward undoes it dimension by dimension (autodiff-checked)', () => {
    const L = 4;
    const C = 2;
    const deg = madeDegrees({ inputSize: L, hiddenSizes: [6], ordering: 'reversed' });
    const hidden = new MaskedDense({ units: 6, inputDegrees: deg[0] as number[], outputDegrees: deg[1] as number[], contextSize: C, activation: 'elu', seed: 1 });
    const out = new MaskedDense({ units: 2 * L, inputDegrees: deg[1] as number[], outputDegrees: outputDegrees(deg[0] as number[], 2), maskType: 'output', contextSize: C, seed: 2 });
    const step = new GatedIafStep({ hidden: [hidden], out, latentDim: L, inputDegrees: deg[0] as number[] });
    const context = tf.tensor2d([[0.3, -0.8]]);
    tf.tidy(() => step.inverse(tf.zeros([1, L]), { context })); // builds the layers
    randomizeWeights(hidden, 50, 0.6);
    randomizeWeights(out, 51, 0.6);
    const r = checkBijector(step, [L], [0.2, -1.3, 0.7, 1.9], context, 'inverse');
    expect(r.roundTrip).toBeLessThan(1e-4);
    expect(r.inverseLogDet).toBeLessThan(1e-5);
    expect(r.logDetError).toBeLessThan(1e-4);
    expect(step.trainableVariables().length).toBe(hidden.trainableWeights.length + out.trainableWeights.length);
  });
});
