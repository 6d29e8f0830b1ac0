import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { Chain } from './bijector';
import { inverseAutoregressiveFlow, MaskedAutoregressiveFlow } from './masked-autoregressive';
import { TransformedDistribution } from './transformed-distribution';
import { checkBijector, gridMass, jacobian, maxAbsDiff, randomizeWeights, standardNormal } from './test-helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const randomize = (maf: MaskedAutoregressiveFlow, seed: number, std = 0.5) => maf.layers.forEach((l, i) => randomizeWeights({ trainableWeights: l.trainableWeights }, seed + i, std));

/** 2-D steps under N(0, I): 40 Adam steps on a curved point cloud lower the NLL, leak no tensor, and the density
 * integrates to 1 ± 0.02 on a grid. */
function trainsAsANormalisedDensity(steps: MaskedAutoregressiveFlow[]): void {
  const flow = new TransformedDistribution(standardNormal(2), new Chain(steps), { eventShape: [2] });
  const x = tf.tidy(() => {
    const a = tf.randomNormal([128, 1], 0, 1, 'float32', 8);
    return tf.concat([a, tf.add(tf.mul(tf.square(a), 0.5), tf.randomNormal([128, 1], 0, 0.2, 'float32', 9))], 1);
  });
  const opt = tf.train.adam(0.02);
  const nll = () => tf.neg(tf.mean(flow.logProb(x))) as tf.Scalar;
  const first = tf.tidy(() => nll().dataSync()[0] as number);
  tf.dispose(opt.minimize(nll, true) as tf.Scalar);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 40; i++) tf.dispose(opt.minimize(nll, true) as tf.Scalar);
  expect(tf.memory().numTensors).toBe(before);
  expect(tf.tidy(() => nll().dataSync()[0] as number)).toBeLessThan(first - 0.3);
  const mass = gridMass((v) => flow.logProb(v), 0.08);
  expect(mass).toBeGreaterThan(0.98);
  expect(mass).toBeLessThan(1.02);
  x.dispose();
  opt.dispose();
}

describe('MaskedAutoregressiveFlow (MAF) and inverseAutoregressiveFlow (IAF)', () => {
  it('is autoregressive in its ordering: ∂u_d/∂x_j = 0 unless j comes before d (or is d), for natural and random orders', () => {
    for (const ordering of ['natural', 'random'] as const) {
      const maf = new MaskedAutoregressiveFlow({ dim: 5, hidden: [12, 12], ordering, seed: 3 });
      randomize(maf, 10);
      const x0 = [0.3, -1.2, 0.8, 2.1, -0.4];
      const J = jacobian((v) => maf.forward(v).y, x0, 5);
      const position = maf.inputDegrees;
      for (let d = 0; d < 5; d++) {
        for (let j = 0; j < 5; j++) {
          if (position[j]! > position[d]!) expect(Math.abs(J[d]![j]!)).toBe(0);
        }
        expect(Math.abs(J[d]![d]!)).toBeGreaterThan(0);
      }
      // At least one dependence on an earlier dimension exists (the test is not vacuous).
      expect(J.some((row, d) => row.some((v, j) => j !== d && Math.abs(v) > 1e-4))).toBe(true);
    }
  });

  it('inverts (D passes), and its log-det is log|det J| of the autodiff Jacobian; IAF swaps the directions', () => {
    const maf = new MaskedAutoregressiveFlow({ dim: 4, hidden: [10], ordering: 'reversed', seed: 5 });
    randomize(maf, 20);
    const r = checkBijector(maf, [4], [0.5, -0.7, 1.3, 0.05]);
    expect(r.roundTrip).toBeLessThan(1e-4);
    expect(r.inverseLogDet).toBeLessThan(1e-4);
    expect(r.logDetError).toBeLessThan(1e-4);
    const iaf = inverseAutoregressiveFlow({ dim: 4, hidden: [10], seed: 6 });
    randomize(iaf.inner as MaskedAutoregressiveFlow, 30);
    const ri = checkBijector(iaf, [4], [0.1, 0.9, -1.5, 0.4], undefined, 'inverse');
    expect(ri.roundTrip).toBeLessThan(1e-4);
    expect(ri.logDetError).toBeLessThan(1e-4);
    const x = tf.tensor2d([[0.2, -0.3, 0.4, 1.1]]);
    expect(maxAbsDiff(iaf.inverse(x).x.dataSync(), (iaf.inner as MaskedAutoregressiveFlow).forward(x).y.dataSync())).toBe(0);
    x.dispose();
  });

  it('logScaleBound keeps every log-scale within ±B (log-det bounded, still the autodiff one, still inverting)', () => {
    const B = 0.5;
    const maf = new MaskedAutoregressiveFlow({ dim: 4, hidden: [10], seed: 5, logScaleBound: B });
    randomize(maf, 20, 3); // large weights: unbounded log-scales would be far beyond ±B
    const r = checkBijector(maf, [4], [2.5, -3.7, 4.3, 0.05]);
    expect(r.roundTrip).toBeLessThan(1e-3); // inputs up to 4.3: 1e-4 relative
    expect(r.logDetError).toBeLessThan(1e-3); // float32 with weights 6× the other tests'
    const x = tf.randomNormal([64, 4], 0, 5, 'float32', 3);
    const { y, logDet } = maf.forward(x);
    const ld = Array.from(logDet.dataSync());
    expect(Math.max(...ld.map(Math.abs))).toBeLessThanOrEqual(4 * B);
    expect(Math.max(...ld.map(Math.abs))).toBeGreaterThan(B); // the bound is reached towards, not a zero map
    tf.dispose([x, y, logDet]);
    expect(() => new MaskedAutoregressiveFlow({ dim: 4, hidden: [4], logScaleBound: -1 })).toThrow(/logScaleBound.*non-negative/);
    maf.dispose();
  });

  it('a fresh step is near the identity; a conditional step depends on its context; bad input is named', () => {
    const maf = new MaskedAutoregressiveFlow({ dim: 3, hidden: [8], contextSize: 2, seed: 7 });
    const x = tf.tensor2d([[0.5, -1, 2]]);
    const f = maf.forward(x, { context: tf.tensor2d([[1, 0]]) });
    expect(maxAbsDiff(f.y.dataSync(), x.dataSync())).toBeLessThan(0.5);
    randomize(maf, 40);
    const a = maf.forward(x, { context: tf.tensor2d([[1, 0]]) }).y.dataSync();
    const b = maf.forward(x, { context: tf.tensor2d([[0, 1]]) }).y.dataSync();
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-3);
    const r = checkBijector(maf, [3], [0.4, 0.1, -0.8], tf.tensor2d([[0.3, -0.6]]));
    expect(r.roundTrip).toBeLessThan(1e-4);
    expect(r.logDetError).toBeLessThan(1e-4);
    expect(() => maf.forward(x)).toThrow(/needs a context \[batch, 2\]/);
    expect(() => maf.forward(tf.zeros([1, 4]), { context: tf.zeros([1, 2]) })).toThrow(/input must be \[batch, 3\]/);
    expect(() => new MaskedAutoregressiveFlow({ dim: 1, hidden: [4] })).toThrow(/dim must be at least 2/);
    tf.dispose([x, f.y, f.logDet]);
    const cycle = () => {
      const owned = new MaskedAutoregressiveFlow({ dim: 3, hidden: [8], seed: 9 });
      tf.tidy(() => {
        owned.forward(tf.ones([2, 3]));
      });
      owned.dispose();
    };
    cycle(); // first use caches tfjs constants
    const before = tf.memory().numTensors;
    cycle();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a stack of MAF steps with alternating orders is a normalised density that trains, leaking no tensor', () => {
    const steps = [0, 1, 2].map((i) => new MaskedAutoregressiveFlow({ dim: 2, hidden: [16], ordering: i % 2 === 0 ? 'natural' : 'reversed', seed: 50 + i }));
    trainsAsANormalisedDensity(steps);
  });

  it('the autoregressive spline transform (NSF-AR): autoregressive, a fresh step is the identity, inverts in and beyond the bins with the autodiff log-det, and is a normalised density that trains', () => {
    const fresh = new MaskedAutoregressiveFlow({ dim: 3, hidden: [8], transform: 'spline', bins: 5, bound: 2, seed: 60 });
    const x = tf.tensor2d([[0.5, -1.9, 3.5]]); // the last one is in the linear tail
    const f = fresh.forward(x);
    expect(maxAbsDiff(f.y.dataSync(), x.dataSync())).toBeLessThan(1e-5);
    expect(Math.abs(f.logDet.dataSync()[0]!)).toBeLessThan(1e-5);
    tf.dispose([x, f.y, f.logDet]);
    fresh.dispose();

    const maf = new MaskedAutoregressiveFlow({ dim: 4, hidden: [12], transform: 'spline', bins: 6, bound: 2, ordering: 'random', seed: 61 });
    maf.layers.forEach((l, i) => randomizeWeights({ trainableWeights: l.trainableWeights }, 70 + i, 0.3)); // 0.5 makes bins of 1e-3 (float32's limit)
    // Inside the bins, at a bin edge's neighbourhood (±B is an edge) and in both tails.
    for (const x0 of [[0.3, -0.7, 1.2, 0.05], [1.999, -1.999, 0.0001, -0.5], [2.8, -3.1, 0.4, 5]]) {
      const r = checkBijector(maf, [4], x0);
      expect(r.roundTrip).toBeLessThan(1e-4);
      expect(r.inverseLogDet).toBeLessThan(1e-4);
      expect(r.logDetError).toBeLessThan(1e-4);
    }
    const J = jacobian((v) => maf.forward(v).y, [0.3, -0.7, 1.2, 0.05], 4);
    const position = maf.inputDegrees;
    for (let d = 0; d < 4; d++) for (let j = 0; j < 4; j++) if (position[j]! > position[d]!) expect(Math.abs(J[d]![j]!)).toBe(0);
    expect(J.some((row, d) => row.some((v, j) => j !== d && Math.abs(v) > 1e-4))).toBe(true);
    maf.dispose();

    const steps = [0, 1].map((i) => new MaskedAutoregressiveFlow({ dim: 2, hidden: [16], transform: 'spline', bins: 8, bound: 3, ordering: i % 2 === 0 ? 'natural' : 'reversed', seed: 80 + i }));
    trainsAsANormalisedDensity(steps);
    expect(() => new MaskedAutoregressiveFlow({ dim: 2, hidden: [4], transform: 'spline', bins: 1 })).toThrow(/bins.*at least 2/);
    expect(() => new MaskedAutoregressiveFlow({ dim: 2, hidden: [4], transform: 'cubic' as never })).toThrow(/transform/);
    steps.forEach((s) => s.dispose());
  });
});
