/**
 * The convolutional autoencoder (Géron, ch. 17): the lecture's shapes and parameter count, generalised shapes and
 * the errors for impossible ones, seeded reproducibility, learning on real digits, checkpoints, gradients to every
 * variable, no leaks, and training on wasm (gm's conv kernels) with the cpu backend's loss and gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { scaleToUnit } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import { initBackend, installWasmMaxPoolGrad, uninstallWasmMaxPoolGrad } from '@gm/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCheckpoint } from '../io/checkpoint';
import { memoryStore } from '../io/stores';
import { loadModel } from '../registry';
import { StackedAutoencoder } from './autoencoder';
import { CONV_AUTOENCODER_KIND, ConvAutoencoder, resolveConvAutoencoderConfig } from './conv-autoencoder';
import { maxAbsDiff, values } from './test-helpers';

/** The first `n` bundled training digits (or test digits), pixels scaled to [0, 1], `[n, 28, 28, 1]`. */
function digits(n: number, split: 'train' | 'test' = 'train'): tf.Tensor4D {
  const ds = loadBundledMnist()[split];
  return tf.tensor4d(scaleToUnit(ds.images.subarray(0, n * 784)), [n, 28, 28, 1]);
}

/** The first `n` examples of `t`. */
const first = (t: tf.Tensor4D, n: number) => tf.slice(t, [0], [n]);

let train: tf.Tensor4D;
let test: tf.Tensor4D;

beforeAll(async () => {
  await tf.setBackend('cpu');
  train = digits(200);
  test = digits(100, 'test');
});

afterAll(() => {
  tf.dispose([train, test]);
});

const metric = (m: { name: string; value: number }[], name: string) => m.find((e) => e.name === name)?.value as number;

describe('the lecture architecture', () => {
  it('28×28×1 → conv/pool 16, 32, 64 → 3×3×64 codings → transposed conv 32, 16, 1 → 28×28×1 (46,529 weights, as in Keras)', () => {
    const ae = new ConvAutoencoder({ seed: 1 });
    expect(ae.kind).toBe(CONV_AUTOENCODER_KIND);
    expect(ae.inputShape).toEqual([28, 28, 1]);
    expect(ae.inputConvention).toBe('unit');
    expect(ae.codingsShape).toEqual([3, 3, 64]);
    expect(ae.codingsSize).toBe(576);
    expect(ae.config).toEqual({ inputShape: [28, 28, 1], filters: [16, 32, 64], kernelSize: 3, activation: 'selu', loss: 'binaryCrossentropy', seed: 1 });
    expect(ae.model.countParams()).toBe(46_529);
    const shapes = ae.model.layers.slice(1).map((l) => [l.name, l.outputShape]);
    expect(shapes).toEqual([
      ['encoder_conv_0', [null, 28, 28, 16]],
      ['encoder_pool_0', [null, 14, 14, 16]],
      ['encoder_conv_1', [null, 14, 14, 32]],
      ['encoder_pool_1', [null, 7, 7, 32]],
      ['encoder_conv_2', [null, 7, 7, 64]],
      ['encoder_pool_2', [null, 3, 3, 64]],
      ['decoder_0', [null, 7, 7, 32]],
      ['decoder_1', [null, 14, 14, 16]],
      ['decoder_2', [null, 28, 28, 1]],
    ]);
    const cfg = (name: string) => ae.model.getLayer(name).getConfig() as Record<string, unknown>;
    expect(cfg('encoder_conv_0')).toMatchObject({ padding: 'same', activation: 'selu', kernelSize: [3, 3] });
    // LeCun normal (SELU's self-normalising init) is tfjs's VarianceScaling(1, fanIn, normal), seeded per layer.
    expect(cfg('encoder_conv_0').kernelInitializer).toMatchObject({ className: 'VarianceScaling', config: { scale: 1, mode: 'fanIn', distribution: 'normal', seed: 1 } });
    expect(cfg('decoder_0').kernelInitializer).toMatchObject({ className: 'VarianceScaling', config: { mode: 'fanIn', seed: 101 } }); // seed + 100 + layer, as the dense family
    expect(cfg('encoder_pool_2')).toMatchObject({ poolSize: [2, 2], strides: [2, 2], padding: 'valid' });
    expect(cfg('decoder_0')).toMatchObject({ padding: 'valid', strides: [2, 2], activation: 'selu' });
    expect(cfg('decoder_1')).toMatchObject({ padding: 'same', strides: [2, 2], activation: 'selu' });
    expect(cfg('decoder_2')).toMatchObject({ padding: 'same', strides: [2, 2], activation: 'sigmoid' });
    expect(cfg('decoder_2').kernelInitializer).toMatchObject({ className: 'VarianceScaling', config: { mode: 'fanAvg', distribution: 'uniform', seed: 103 } }); // Glorot uniform
    expect(ae.describe()).toBe(
      'conv-autoencoder, 28×28×1 → conv 3×3 [16, 32, 64] with 2×2 max-pooling → 3×3×64 codings (576) → transposed conv 3×3 stride 2 [32, 16, 1], selu/sigmoid, binaryCrossentropy',
    );
    ae.dispose();
  });

  it('encode gives flat codings, decode takes them (or feature maps), reconstruct keeps the layout of its input', () => {
    const ae = new ConvAutoencoder({ seed: 2 });
    const x = first(test, 5);
    const z = ae.encode(x);
    expect(z.shape).toEqual([5, 576]);
    const r = ae.decode(z);
    expect(r.shape).toEqual([5, 28, 28, 1]);
    const rMaps = ae.decode(tf.reshape(z, [5, 3, 3, 64]));
    const rec = ae.reconstruct(x);
    expect(values(rMaps)).toEqual(values(r, false));
    expect(values(rec)).toEqual(values(r, false));
    const v = r.dataSync();
    expect(v.every((p) => p > 0 && p < 1)).toBe(true);
    // Flat input (e.g. the dense autoencoders' [n, 784]): the same codings, a flat reconstruction.
    const flat = tf.reshape(x, [5, 784]);
    const zFlat = ae.encode(flat);
    const rFlat = ae.reconstruct(flat);
    expect(rFlat.shape).toEqual([5, 784]);
    expect(values(zFlat)).toEqual(values(z));
    expect(values(rFlat)).toEqual(values(r));
    // forward: both at once.
    const f = ae.forward(x);
    expect(f.codings.shape).toEqual([5, 576]);
    expect(f.reconstruction.shape).toEqual([5, 28, 28, 1]);
    tf.dispose([x, flat, f.codings, f.reconstruction]);
    ae.dispose();
  });

  it('evaluate reports the dense family\'s metrics: loss = reconstruction BCE, penalty 0, rounded accuracy', () => {
    const ae = new ConvAutoencoder({ seed: 3 });
    const m = ae.evaluate(test, { batchSize: 30 });
    expect(m.map((e) => e.name)).toEqual(['loss', 'reconstructionLoss', 'penalty', 'roundedAccuracy']);
    // Against a direct computation on the whole batch.
    const r = ae.reconstruct(test);
    const eps = 1e-7;
    const t = test.dataSync();
    const p = r.dataSync();
    let bce = 0;
    let hits = 0;
    for (let i = 0; i < t.length; i++) {
      const q = Math.min(1 - eps, Math.max(eps, p[i]!));
      bce -= t[i]! * Math.log(q) + (1 - t[i]!) * Math.log(1 - q);
      if (Math.round(t[i]!) === Math.round(p[i]!)) hits++;
    }
    r.dispose();
    expect(metric(m, 'loss')).toBeCloseTo(bce / t.length, 4);
    expect(metric(m, 'reconstructionLoss')).toBe(metric(m, 'loss'));
    expect(metric(m, 'penalty')).toBe(0);
    expect(metric(m, 'roundedAccuracy')).toBeCloseTo(hits / t.length, 5);
    ae.dispose();
  });
});

describe('other shapes and bad configs', () => {
  it('generalises: colour 32×32×3, odd pooled sizes (14 → 7 → 3 → 1), another kernel size where every size is even', () => {
    const cases: [ConstructorParameters<typeof ConvAutoencoder>[0], number[], number][] = [
      [{ inputShape: [32, 32, 3], filters: [8, 16], seed: 1 }, [8, 8, 16], 1024],
      [{ inputShape: [14, 14, 1], filters: [4, 8, 8], seed: 1 }, [1, 1, 8], 8],
      [{ inputShape: [16, 8, 2], filters: [4, 6], kernelSize: 5, activation: 'relu', seed: 1 }, [4, 2, 6], 48],
      [{ inputShape: [10, 6, 1], filters: [3], seed: 1 }, [5, 3, 3], 45],
    ];
    for (const [config, codings, size] of cases) {
      const ae = new ConvAutoencoder(config);
      expect(ae.codingsShape).toEqual(codings);
      expect(ae.codingsSize).toBe(size);
      const x = tf.randomUniform([2, ...ae.inputShape], 0, 1, 'float32', 5);
      const r = ae.reconstruct(x);
      expect(r.shape).toEqual([2, ...ae.inputShape]);
      expect(ae.encode(x).shape).toEqual([2, size]);
      tf.dispose([x, r]);
      ae.dispose();
    }
  });

  it('errors name the field and say what would work', () => {
    const make = (config: unknown) => () => new ConvAutoencoder(config as never);
    expect(make(null)).toThrow(/ConvAutoencoder: config must be an object/);
    expect(make({ inputShape: [28, 28] })).toThrow(/ConvAutoencoder: config\.inputShape must be \[height, width, channels\]; got \[28,28\]/);
    expect(make({ inputShape: [28, 0, 1] })).toThrow(/config\.inputShape\[1\] must be a positive integer; got 0/);
    expect(make({ inputShape: [4, 4, 1] })).toThrow(/config\.inputShape 4×4 is too small for 3 poolings \(filters has 3 entries\): 4×4 → 2×2 → 1×1 cannot be halved again/);
    expect(make({ inputShape: [27, 28, 1] })).toThrow(/config\.inputShape 27×28: height and width must both be even or both odd at each pooling/);
    expect(make({ kernelSize: 5 })).toThrow(/config\.kernelSize must be 3 when a pooled size is odd \(28×28 → 14×14 → 7×7 → 3×3: .*\); got 5/);
    expect(make({ kernelSize: 2.5 })).toThrow(/config\.kernelSize must be a positive integer; got 2\.5/);
    expect(make({ filters: [] })).toThrow(/config\.filters must be a non-empty array of positive integers; got \[\]/);
    expect(make({ filters: [16, -1] })).toThrow(/config\.filters\[1\] must be a positive integer; got -1/);
    expect(make({ activation: 'swish' })).toThrow(/config\.activation must be one of linear, relu, .*; got "swish"/);
    expect(make({ loss: 'hinge' })).toThrow(/config\.loss must be one of binaryCrossentropy, meanSquaredError; got "hinge"/);
    expect(make({ seed: 0.5 })).toThrow(/config\.seed must be an integer; got 0\.5/);
    expect(resolveConvAutoencoderConfig({ loss: 'meanSquaredError' }).loss).toBe('meanSquaredError');
  });

  it('wrong input shapes are refused naming the method and argument', async () => {
    const ae = new ConvAutoencoder({ seed: 1 });
    const bad = tf.zeros([2, 28, 28, 3]);
    expect(() => ae.encode(bad)).toThrow(/ConvAutoencoder\.encode: x: expected shape \[batch, 28, 28, 1\] or \[batch, 784\] with batch ≥ 1, got \[2, 28, 28, 3\]/);
    expect(() => ae.reconstruct(tf.zeros([2, 783]))).toThrow(/ConvAutoencoder\.reconstruct: x: expected shape/);
    expect(() => ae.decode(tf.zeros([2, 575]))).toThrow(/ConvAutoencoder\.decode: codings: expected shape \[batch, 3, 3, 64\] or \[batch, 576\]/);
    expect(() => ae.evaluate(bad)).toThrow(/ConvAutoencoder\.reconstructionMetrics: x: expected shape/);
    expect(() => ae.encode([1, 2] as never)).toThrow(/ConvAutoencoder\.encode: x must be a tf\.Tensor of shape/);
    await expect(ae.fit(bad, { epochs: 1 })).rejects.toThrow(/ConvAutoencoder\.fit: x: expected shape \[batch, 28, 28, 1\]/);
    await expect(ae.fit(test, { epochs: 1, validationData: bad })).rejects.toThrow(/validationData/);
    await expect(ae.fit(test, { epochs: 1, batchSize: 0 })).rejects.toThrow(/ConvAutoencoder\.fit: batchSize must be a positive integer, got 0/);
    bad.dispose();
    ae.dispose();
    expect(() => ae.encode(test)).toThrow(/ConvAutoencoder\.encode: this model has been disposed/);
  });
});

describe('training', () => {
  it('a seeded model and run are reproducible bit for bit; another seed starts elsewhere', async () => {
    const x = first(train, 40);
    const run = async (seed: number) => {
      const ae = new ConvAutoencoder({ filters: [4, 8], seed });
      const start = ae.trainableVariables().map((v) => Array.from(v.dataSync()));
      const result = await ae.fit(x, { epochs: 2, batchSize: 10 });
      const end = ae.trainableVariables().map((v) => Array.from(v.dataSync()));
      ae.dispose();
      return { start, end, losses: result.history.map((h) => h.loss) };
    };
    const a = await run(5);
    const b = await run(5);
    const c = await run(6);
    expect(b.start).toEqual(a.start);
    expect(b.losses).toEqual(a.losses);
    expect(b.end).toEqual(a.end);
    expect(c.start).not.toEqual(a.start);
    x.dispose();
  });

  it('the gradient reaches every variable (every kernel and bias of the 3 convolutions and 3 transposed convolutions)', () => {
    const ae = new ConvAutoencoder({ seed: 7 });
    const vars = ae.trainableVariables();
    expect(vars).toHaveLength(12);
    const x = first(train, 8);
    const norms = tf.tidy(() => {
      const { grads } = tf.variableGrads(() => ae.loss({ x }), vars);
      return vars.map((v) => tf.norm(grads[v.name]!).dataSync()[0] as number);
    });
    norms.forEach((n, i) => {
      expect(Number.isFinite(n), vars[i]!.name).toBe(true);
      expect(n, vars[i]!.name).toBeGreaterThan(0);
    });
    x.dispose();
    ae.dispose();
  });

  it('fit, evaluate, encode, decode and reconstruct keep the tensor count flat', async () => {
    const ae = new ConvAutoencoder({ filters: [4, 8], seed: 8 });
    const x = first(train, 24);
    await ae.fit(x, { epochs: 1, batchSize: 8 }); // first use: optimizer slots, kernels
    const counts: number[] = [];
    const epochCounts: number[] = [];
    await ae.fit(x, { epochs: 3, batchSize: 8, validationData: test, onBatchEnd: () => void counts.push(tf.memory().numTensors), onEpochEnd: () => void epochCounts.push(tf.memory().numTensors) });
    expect(new Set(counts).size).toBe(1);
    expect(new Set(epochCounts).size).toBe(1);
    const before = tf.memory().numTensors;
    const z = tf.zeros([2, ae.codingsSize]);
    const flat = tf.reshape(x, [24, 784]);
    ae.evaluate(x, { batchSize: 10 });
    ae.evaluate(test);
    tf.dispose([ae.encode(x), ae.encode(flat), ae.decode(z), ae.reconstruct(x), ae.reconstruct(flat)]);
    const f = ae.forward(x);
    tf.dispose([f.codings, f.reconstruction, z, flat]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    ae.dispose();
  });
});

describe('checkpoints', () => {
  it('save → load gives the same config, epochs and reconstructions; loadModel knows the kind; other kinds refuse it', async () => {
    const ae = new ConvAutoencoder({ filters: [4, 8, 8], activation: 'elu', seed: 9 });
    await ae.fit(first(train, 20), { epochs: 1, batchSize: 10 });
    const store = memoryStore();
    await ae.save(store);
    const again = await ConvAutoencoder.load(store);
    expect(again.config).toEqual(ae.config);
    expect(again.epochsTrained).toBe(1);
    expect(values(again.reconstruct(test))).toEqual(values(ae.reconstruct(test)));
    expect(values(again.encode(test))).toEqual(values(ae.encode(test)));
    const any = await loadModel(store);
    expect(any).toBeInstanceOf(ConvAutoencoder);
    expect(any.describe()).toBe(ae.describe());
    await expect(StackedAutoencoder.load(store)).rejects.toThrow(/conv-autoencoder/);
    const dense = new StackedAutoencoder({ inputDim: 784, hidden: [8], seed: 1 });
    const denseStore = memoryStore();
    await dense.save(denseStore);
    await expect(ConvAutoencoder.load(denseStore)).rejects.toThrow(/stacked-autoencoder/);
    [ae, again, any, dense].forEach((m) => m.dispose());
  });

  it('a checkpoint whose network differs from its config is refused, naming the part', async () => {
    const ae = new ConvAutoencoder({ filters: [4, 8], seed: 10 });
    const store = memoryStore();
    await writeCheckpoint(store, { kind: CONV_AUTOENCODER_KIND, config: { ...ae.config, filters: [4, 6] } }, { autoencoder: ae.model });
    await expect(ConvAutoencoder.load(store)).rejects.toThrow(/memory\/autoencoder\/model\.json/);
    const bad = memoryStore();
    await writeCheckpoint(bad, { kind: CONV_AUTOENCODER_KIND, config: { ...ae.config, inputShape: [28, 27, 1] } }, { autoencoder: ae.model });
    await expect(ConvAutoencoder.load(bad)).rejects.toThrow(/config\.inputShape 28×27: height and width must both be even or both odd/);
    ae.dispose();
  });
});

describe('on stock tfjs-backend-wasm', () => {
  it('inference works, training refuses with a clear error (no Conv2DBackpropFilter)', async () => {
    await tf.setBackend('wasm');
    try {
      const ae = new ConvAutoencoder({ filters: [4, 8], seed: 11 });
      const x = tf.zeros([2, 28, 28, 1]);
      const r = ae.reconstruct(x);
      expect(r.shape).toEqual([2, 28, 28, 1]);
      await expect(ae.fit(x, { epochs: 1 })).rejects.toThrow(/ConvAutoencoder\.fit: training needs the Conv2DBackpropFilter kernel, which the "wasm" backend lacks .*call initBackend\(\) from @gm\/backend/);
      tf.dispose([x, r]);
      ae.dispose();
    } finally {
      await tf.setBackend('cpu');
    }
  });
});

describe('on wasm with gm kernels (initBackend)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('the same loss, metrics and gradients as cpu for the same weights', async () => {
    // Digits with a faint seeded dither: on exact zeros (blank margins) every activation of a region ties, max pooling
    // is not differentiable there, and which tied pixel gets the gradient depends on rounding (Winograd's differs from
    // the cpu backend's by ~1e-7 per position), which moved the conv biases' gradients by up to 10%.
    const xs = tf.tidy(() => (tf.add(first(train, 16), tf.randomUniform([16, 28, 28, 1], 0, 0.01, 'float32', 5)) as tf.Tensor4D).arraySync());
    const lossAndGrads = () => {
      const ae = new ConvAutoencoder({ seed: 12 });
      const x = tf.tensor4d(xs);
      const vars = ae.trainableVariables();
      const out = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => ae.loss({ x }), vars);
        return [value.dataSync() as Float32Array, ...vars.map((v) => grads[v.name]!.dataSync() as Float32Array)];
      });
      const evaluation = ae.evaluate(x);
      x.dispose();
      ae.dispose();
      return { out, evaluation };
    };
    await tf.setBackend('cpu');
    const cpu = lossAndGrads();
    await tf.setBackend('wasm');
    const wasm = lossAndGrads();
    expect(Math.abs(wasm.out[0]![0]! - cpu.out[0]![0]!)).toBeLessThan(1e-5);
    expect(metric(wasm.evaluation, 'loss')).toBeCloseTo(metric(cpu.evaluation, 'loss'), 5);
    expect(metric(wasm.evaluation, 'roundedAccuracy')).toBeCloseTo(metric(cpu.evaluation, 'roundedAccuracy'), 3);
    cpu.out.slice(1).forEach((c, i) => {
      const scale = Math.max(...Array.from(c, Math.abs));
      expect(maxAbsDiff(c, wasm.out[i + 1]!) / scale).toBeLessThan(1e-4);
    });
  });

  it("refuses to train with tfjs-wasm's own MaxPoolGrad, which misroutes windows of negative values", async () => {
    const ae = new ConvAutoencoder({ filters: [4], seed: 14 });
    const x = tf.zeros([2, 28, 28, 1]);
    uninstallWasmMaxPoolGrad();
    try {
      await expect(ae.fit(x, { epochs: 1 })).rejects.toThrow(/ConvAutoencoder\.fit: the "wasm" backend's MaxPoolGrad kernel sends the gradient of a pooling window whose values are all ≤ 0 to the wrong pixel .*call initBackend\(\)/);
    } finally {
      installWasmMaxPoolGrad();
    }
    await ae.fit(x, { epochs: 1 });
    x.dispose();
    ae.dispose();
  });

  it('learns the digits: BCE and rounded accuracy on held-out digits beat the untrained model by a wide margin', async () => {
    const ae = new ConvAutoencoder({ seed: 42 });
    const before = ae.evaluate(test);
    const counts: number[] = [];
    const result = await ae.fit(train, { epochs: 5, batchSize: 10, validationData: test, onBatchEnd: () => void counts.push(tf.memory().numTensors) });
    expect(new Set(counts.slice(1)).size).toBe(1); // the first step creates Adam's moments
    const after = ae.evaluate(test);
    // Untrained: sigmoid outputs near 0.5, BCE ≈ ln 2 (0.690 here), rounded accuracy 0.55. After 100 Adam steps on
    // 200 digits: 0.180 and 0.918 here.
    expect(metric(before, 'loss')).toBeGreaterThan(0.6);
    expect(metric(after, 'loss')).toBeLessThan(0.25);
    expect(metric(after, 'roundedAccuracy')).toBeGreaterThan(Math.max(0.85, metric(before, 'roundedAccuracy') + 0.25));
    const history = result.history;
    expect(history).toHaveLength(5);
    history.slice(1).forEach((h, i) => expect(h.loss).toBeLessThan(history[i]!.loss));
    expect(history[4]!.valLoss).toBeCloseTo(metric(after, 'loss'), 4);
    expect(ae.epochsTrained).toBe(5);
    ae.dispose();
  });
});

describe('the doc example', () => {
  it('runs as written', async () => {
    const { memoryStore: store_ } = await import('../io/stores');
    // ---- the @example of ConvAutoencoder ----
    await initBackend(); // node, else wasm with gm's kernels, else cpu
    const ae = new ConvAutoencoder({ seed: 42 });
    const x = tf.randomUniform([64, 28, 28, 1]);
    await ae.fit(x, { epochs: 1, batchSize: 32 });
    const codings = ae.encode(x);
    const images = ae.reconstruct(x);
    const metrics = ae.evaluate(x);
    const store = store_();
    await ae.save(store);
    const again = await ConvAutoencoder.load(store);
    // ----
    expect(codings.shape).toEqual([64, 576]);
    expect(images.shape).toEqual([64, 28, 28, 1]);
    expect(metrics.map((m) => m.name)).toEqual(['loss', 'reconstructionLoss', 'penalty', 'roundedAccuracy']);
    expect(again.epochsTrained).toBe(1);
    tf.dispose([x, codings, images]);
    ae.dispose();
    again.dispose();
  });
});
