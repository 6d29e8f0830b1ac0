import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { AffineCoupling, couplingMask, type AffineCouplingArgs } from './affine-coupling';
import { conv2dSameBias, conv2dSameIm2col } from './conv-same';
import { Chain, type Bijector } from './bijector';
import { FlowBatchNorm } from './flow-batch-norm';
import { registerGmLayers } from './register';
import { Squeeze } from './squeeze';
import { jacobian, logAbsDet, maxAbsDiff, randomizeWeights, saveAndLoad } from './test-helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerGmLayers();
});

/** Deterministic, non-trivial input values. */
const values = (n: number, phase = 0) => Array.from({ length: n }, (_, i) => Math.sin(1.7 * i + 0.3 + phase) * 1.3);

interface Case {
  label: string;
  featureShape: number[]; // per example
  args: AffineCouplingArgs;
}

const couplingCases: Case[] = [
  { label: '2-D half', featureShape: [2], args: { mask: 'half', hidden: [8] } },
  { label: '4-D half inverted', featureShape: [4], args: { mask: 'half', invertMask: true, hidden: [8, 8] } },
  { label: '5-D half inverted (odd split)', featureShape: [5], args: { mask: 'half', invertMask: true, hidden: [6] } },
  { label: '5-D half', featureShape: [5], args: { mask: 'half', hidden: [6] } },
  { label: '4-D alternating', featureShape: [4], args: { mask: 'alternating', hidden: [8], activation: 'tanh' } },
  { label: '1×4×4×1 checkerboard', featureShape: [4, 4, 1], args: { mask: 'checkerboard', hidden: [4] } },
  { label: '1×4×4×1 checkerboard inverted', featureShape: [4, 4, 1], args: { mask: 'checkerboard', invertMask: true, hidden: [4] } },
  { label: '1×2×2×2 channel', featureShape: [2, 2, 2], args: { mask: 'channel', hidden: [4, 4] } },
  { label: '1×2×2×2 checkerboard', featureShape: [2, 2, 2], args: { mask: 'checkerboard', hidden: [3], kernelSize: 1 } },
];

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Flattened per-example forward map of a flow, for the autodiff Jacobian. */
function flatForward(flow: Bijector, featureShape: number[]) {
  return (v: tf.Tensor) => {
    const n = v.shape[0]!;
    const y = flow.forward(tf.reshape(v, [n, ...featureShape])).y;
    return tf.reshape(y, [n, size(featureShape)]);
  };
}

/** Checks inverse∘forward = id (1e-5), logDet = log|det J| from autodiff, inverse logDet = −forward logDet. */
function checkFlow(flow: Bijector, featureShape: number[], seed: number): { roundTrip: number; logDetError: number } {
  const d = size(featureShape);
  const x0 = values(d, seed);
  const J = jacobian(flatForward(flow, featureShape), x0, d);
  const expected = logAbsDet(J);
  return tf.tidy(() => {
    const xb = tf.stack([tf.tensor(x0, featureShape), tf.tensor(values(d, seed + 1), featureShape)]);
    const { y, logDet } = flow.forward(xb);
    const back = flow.inverse(y);
    const ld = logDet.dataSync();
    expect(logDet.shape).toEqual([2]);
    expect(maxAbsDiff(back.logDet.dataSync(), Array.from(ld as Float32Array, (v) => -v))).toBeLessThan(1e-5);
    return { roundTrip: maxAbsDiff(back.x.dataSync(), xb.dataSync()), logDetError: Math.abs(ld[0]! - expected) };
  });
}

describe('AffineCoupling', () => {
  it.each(couplingCases)('a fresh layer is the identity ($label)', ({ featureShape, args }) => {
    const layer = new AffineCoupling({ ...args, seed: 1 });
    tf.tidy(() => {
      const x = tf.tensor([values(size(featureShape))], [1, ...featureShape]);
      const { y, logDet } = layer.forward(x);
      expect(Array.from(y.dataSync())).toEqual(Array.from(x.dataSync()));
      expect(Array.from(logDet.dataSync())).toEqual([0]);
    });
    layer.dispose();
  });

  it.each(couplingCases)('inverts exactly and its log-det matches the autodiff Jacobian ($label)', ({ featureShape, args }) => {
    for (const seed of [1, 2]) {
      const layer = new AffineCoupling({ ...args, seed });
      tf.tidy(() => layer.forward(tf.zeros([1, ...featureShape]))); // build
      randomizeWeights(layer, 10 * seed, 0.6);
      const { roundTrip, logDetError } = checkFlow(layer, featureShape, seed);
      expect(roundTrip).toBeLessThan(1e-5);
      expect(logDetError).toBeLessThan(1e-4);
      // The test is not vacuous: the map is far from the identity.
      const ld = tf.tidy(() => layer.forward(tf.tensor([values(size(featureShape), seed)], [1, ...featureShape])).logDet.dataSync()[0]!);
      expect(Math.abs(ld)).toBeGreaterThan(1e-2);
      layer.dispose();
    }
  });

  it.each(['alternating', 'half'] as const)('leaves the conditioning part unchanged and bounds the log-scale (%s)', (mask) => {
    const layer = new AffineCoupling({ mask, hidden: [8], seed: 3 });
    tf.tidy(() => layer.forward(tf.zeros([1, 6])));
    randomizeWeights(layer, 5, 3); // large weights saturate tanh
    tf.tidy(() => {
      const x = tf.tensor2d([values(6)]);
      const y = layer.forward(x).y.dataSync();
      const m = couplingMask(mask, [6]);
      let changed = 0;
      for (let i = 0; i < 6; i++) {
        if (m[i] === 1) expect(y[i]).toBe(x.dataSync()[i]);
        else if (Math.abs(y[i]! - x.dataSync()[i]!) > 1e-3) changed++;
      }
      expect(changed).toBe(3);
      // |log-det| ≤ Σ |scale| over the transformed features (the scale weight covers exactly those when split).
      const scale = Array.from(layer.weights.find((w) => w.originalName.endsWith('/scale'))!.read().dataSync());
      const ld = layer.forward(x).logDet.dataSync()[0]!;
      const bound = scale.reduce((a, sc, i) => a + (scale.length === 6 && m[i] === 1 ? 0 : Math.abs(sc)), 0);
      expect(Math.abs(ld)).toBeLessThanOrEqual(bound + 1e-5);
      expect(Math.abs(ld)).toBeGreaterThan(0.1);
    });
    layer.dispose();
  });

  it('builds the four mask patterns', () => {
    expect(Array.from(couplingMask('half', [5]))).toEqual([1, 1, 0, 0, 0]);
    expect(Array.from(couplingMask('alternating', [5], true))).toEqual([0, 1, 0, 1, 0]);
    expect(Array.from(couplingMask('checkerboard', [2, 2, 1]))).toEqual([1, 0, 0, 1]);
    expect(Array.from(couplingMask('channel', [1, 1, 4]))).toEqual([1, 1, 0, 0]);
    expect(() => new AffineCoupling({ mask: 'checkerboard' }).apply(tfl.input({ shape: [4] }))).toThrow(
      /mask 'checkerboard' needs an image input/,
    );
  });
});

describe('conv2dSameIm2col', () => {
  it.each([1, 2, 3])('equals tf.conv2d(…, "same") and has the same gradients (kernel %i)', (k) => {
    tf.tidy(() => {
      const x = tf.randomNormal([2, 5, 4, 3], 0, 1, 'float32', k) as tf.Tensor4D;
      const f = tf.randomNormal([k, k, 3, 2], 0, 1, 'float32', k + 10) as tf.Tensor4D;
      const w = tf.randomNormal([2, 5, 4, 2], 0, 1, 'float32', k + 20);
      const loss = (conv: typeof conv2dSameIm2col) => (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(w, conv(a as tf.Tensor4D, b as tf.Tensor4D)));
      const ref = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.conv2d(a, b, 1, 'same');
      expect(maxAbsDiff(conv2dSameIm2col(x, f).dataSync(), ref(x, f).dataSync())).toBeLessThan(1e-5);
      const [gx, gf] = tf.grads(loss(conv2dSameIm2col))([x, f]);
      const [rx, rf] = tf.grads(loss(ref))([x, f]);
      expect(maxAbsDiff(gx!.dataSync(), rx!.dataSync())).toBeLessThan(1e-4);
      expect(maxAbsDiff(gf!.dataSync(), rf!.dataSync())).toBeLessThan(1e-4);
    });
  });
});

describe('conv2dSameBias', () => {
  it('equals conv2d + bias, with the same gradients for input, filter and bias', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([2, 5, 4, 3], 0, 1, 'float32', 31) as tf.Tensor4D;
      const f = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 32) as tf.Tensor4D;
      const b = tf.randomNormal([4], 0, 1, 'float32', 33);
      const w = tf.randomNormal([2, 5, 4, 4], 0, 1, 'float32', 34);
      const fused = (a: tf.Tensor, k: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(w, conv2dSameBias(a as tf.Tensor4D, k as tf.Tensor4D, c)));
      const plain = (a: tf.Tensor, k: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(w, tf.add(tf.conv2d(a as tf.Tensor4D, k as tf.Tensor4D, 1, 'same'), c)));
      expect(maxAbsDiff(conv2dSameBias(x, f, b).dataSync(), tf.add(tf.conv2d(x, f, 1, 'same'), b).dataSync())).toBeLessThan(1e-6);
      const got = tf.grads(fused)([x, f, b]);
      const want = tf.grads(plain)([x, f, b]);
      got.forEach((g, i) => expect(maxAbsDiff(g.dataSync(), want[i]!.dataSync())).toBeLessThan(1e-5));
    });
  });
});

describe('Squeeze', () => {
  it('moves each 2×2 block into channels and back', () => {
    const sq = new Squeeze();
    tf.tidy(() => {
      // 1×4×4×1 with value = 10·row + col.
      const x = tf.tensor4d(Array.from({ length: 16 }, (_, i) => 10 * Math.floor(i / 4) + (i % 4)), [1, 4, 4, 1]);
      const { y, logDet } = sq.forward(x);
      expect(y.shape).toEqual([1, 2, 2, 4]);
      expect(Array.from(y.dataSync().slice(0, 8))).toEqual([0, 1, 10, 11, 2, 3, 12, 13]);
      expect(Array.from(logDet.dataSync())).toEqual([0]);
      expect(Array.from(sq.inverse(y).x.dataSync())).toEqual(Array.from(x.dataSync()));
    });
    const { roundTrip, logDetError } = checkFlow(sq, [2, 2, 2], 4);
    expect(roundTrip).toBe(0);
    expect(logDetError).toBeLessThan(1e-6);
    expect(() => sq.forward(tf.zeros([1, 3, 4, 1]))).toThrow(/multiples of 2/);
  });
});

describe('FlowBatchNorm', () => {
  it('in inference: inverts exactly and its log-det matches the autodiff Jacobian (vectors and images)', () => {
    for (const featureShape of [[4], [2, 2, 2]]) {
      const bn = new FlowBatchNorm();
      tf.tidy(() => bn.forward(tf.zeros([1, ...featureShape])));
      const c = featureShape[featureShape.length - 1]!;
      bn.setWeights([
        tf.tensor1d(values(c, 1).map((v) => 0.5 * v)), // log gamma
        tf.tensor1d(values(c, 2)), // beta
        tf.tensor1d(values(c, 3)), // running mean
        tf.tensor1d(values(c, 4).map((v) => 0.2 + v * v)), // running variance
      ]);
      const { roundTrip, logDetError } = checkFlow(bn, featureShape, 5);
      expect(roundTrip).toBeLessThan(1e-5);
      expect(logDetError).toBeLessThan(1e-4);
      bn.dispose();
    }
  });

  it('in training: normalises with batch statistics, reports their log-det and updates the running statistics', () => {
    const bn = new FlowBatchNorm({ momentum: 0.9, epsilon: 1e-3 });
    const rows = [values(3, 0), values(3, 1), values(3, 2), values(3, 3)].map((r, i) => r.map((v) => v * (i + 1) + 2));
    const x = tf.tensor2d(rows);
    const { y, logDet } = bn.forward(x, { training: true });
    // Closed form in float64.
    let expectedLogDet = 0;
    const yv = y.dataSync();
    const [mm, mv] = [bn.getWeights()[2]!.dataSync(), bn.getWeights()[3]!.dataSync()];
    for (let j = 0; j < 3; j++) {
      const col = rows.map((r) => r[j]!);
      const mean = col.reduce((a, b) => a + b, 0) / 4;
      const variance = col.reduce((a, b) => a + (b - mean) ** 2, 0) / 4;
      expectedLogDet += -0.5 * Math.log(variance + 1e-3);
      for (let i = 0; i < 4; i++) expect(yv[i * 3 + j]).toBeCloseTo((col[i]! - mean) / Math.sqrt(variance + 1e-3), 4);
      expect(mm[j]).toBeCloseTo(0.1 * mean, 5);
      expect(mv[j]).toBeCloseTo(0.9 + 0.1 * variance, 4);
    }
    for (const v of logDet.dataSync()) expect(v).toBeCloseTo(expectedLogDet, 4);
    // Inference uses the running statistics: a different map.
    const yInf = bn.forward(x).y;
    expect(maxAbsDiff(yInf.dataSync(), yv)).toBeGreaterThan(0.1);
    // call() honours kwargs.training the same way.
    const yCallTrain = bn.apply(x, { training: true }) as tf.Tensor;
    const yCallInf = bn.apply(x) as tf.Tensor;
    expect(maxAbsDiff(yCallTrain.dataSync(), yv)).toBeLessThan(1e-5);
    expect(maxAbsDiff(yCallInf.dataSync(), bn.forward(x).y.dataSync())).toBeLessThan(1e-6);
    tf.dispose([x, y, logDet, yInf, yCallTrain, yCallInf]);
    bn.dispose();
  });
});

describe('Chain', () => {
  it('composes flows: inverts and its log-det matches the autodiff Jacobian of the composition', () => {
    const featureShape = [2, 2, 2];
    const a = new AffineCoupling({ mask: 'checkerboard', hidden: [3], seed: 1 });
    const bn = new FlowBatchNorm();
    const b = new AffineCoupling({ mask: 'channel', hidden: [4], seed: 2 });
    const chain = new Chain([a, bn, new Squeeze(), b, new Chain([new AffineCoupling({ mask: 'channel', invertMask: true, hidden: [3], seed: 3 })])]);
    tf.tidy(() => chain.forward(tf.zeros([1, ...featureShape]))); // build everything
    for (const f of chain.steps) if (f instanceof tfl.layers.Layer) randomizeWeights(f, 40, 0.5);
    randomizeWeights((chain.steps[4] as Chain).steps[0] as AffineCoupling, 50, 0.5);
    const { roundTrip, logDetError } = checkFlow(chain, featureShape, 9);
    expect(roundTrip).toBeLessThan(1e-5);
    expect(logDetError).toBeLessThan(1e-4);
    expect(() => new Chain([])).toThrow(/Chain: steps must be a non-empty array of bijectors/);
  });
});

describe('flow layers in a model', () => {
  it('round-trip through getConfig and save/load with identical outputs and log-dets', async () => {
    const layers = [
      new AffineCoupling({ mask: 'checkerboard', hidden: [4], seed: 1, inputShape: [4, 4, 2] }),
      new FlowBatchNorm({ momentum: 0.5 }),
      new Squeeze(),
      new AffineCoupling({ mask: 'channel', hidden: [6], invertMask: true, seed: 2 }),
    ];
    const model = tfl.sequential({ layers });
    for (const l of layers) randomizeWeights(l, 3, 0.4);
    const x = tf.randomNormal([3, 4, 4, 2], 0, 1, 'float32', 7);
    (layers[1] as FlowBatchNorm).forward(tf.tidy(() => (layers[0] as AffineCoupling).forward(x).y), { training: true }); // running stats
    for (const l of layers) {
      const config = l.getConfig();
      const Cls = l.constructor as new (c: unknown) => tfl.layers.Layer;
      expect(new Cls(config).getConfig()).toEqual({ ...config, name: expect.any(String) as string });
    }
    const loaded = await saveAndLoad(model);
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBe(0);
    expect(maxAbsDiff(a.dataSync(), x.dataSync())).toBeGreaterThan(0.1);
    let h = x;
    let hLoaded = x;
    for (let i = 0; i < layers.length; i++) {
      const f1 = (layers[i] as unknown as Bijector).forward(h);
      const f2 = (loaded.layers[i] as unknown as Bijector).forward(hLoaded);
      expect(maxAbsDiff(f1.logDet.dataSync(), f2.logDet.dataSync())).toBe(0);
      h = f1.y;
      hLoaded = f2.y;
    }
    // And the whole chain inverts.
    let back = h;
    for (let i = layers.length - 1; i >= 0; i--) back = (loaded.layers[i] as unknown as Bijector).inverse(back).x;
    expect(maxAbsDiff(back.dataSync(), x.dataSync())).toBeLessThan(1e-5);
    model.dispose();
    loaded.dispose();
  });

  it('do not leak tensors across training steps', () => {
    const coupling = new AffineCoupling({ mask: 'half', hidden: [8], seed: 4 });
    const bn = new FlowBatchNorm();
    const x = tf.randomNormal([16, 4], 0, 1, 'float32', 1);
    const opt = tf.train.adam(0.01);
    tf.tidy(() => bn.forward(coupling.forward(x).y)); // builds the layers
    const vars = [...coupling.trainableWeights, ...bn.trainableWeights].map((w) => w.read() as tf.Variable);
    const step = () =>
      opt.minimize(() => {
        const a = coupling.forward(x);
        const b = bn.forward(a.y, { training: true });
        // Negative log-likelihood under N(0, I), up to a constant.
        return tf.mean(tf.sub(tf.mul(0.5, tf.sum(tf.square(b.y), 1)), tf.add(a.logDet, b.logDet))) as tf.Scalar;
      }, true, vars);
    step()!.dispose();
    const n = tf.memory().numTensors;
    const first = step()!.dataSync()[0]!;
    let last = first;
    for (let i = 0; i < 20; i++) {
      const l = step()!;
      last = l.dataSync()[0]!;
      l.dispose();
    }
    expect(tf.memory().numTensors).toBe(n + 1); // the one loss kept from `first`
    expect(last).toBeLessThan(first);
    tf.dispose(x);
    opt.dispose();
  });
});
