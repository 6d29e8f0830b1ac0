import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { DenseTranspose, tieDenseTransposeLayers } from './dense-transpose';
import { registerGmLayers } from './register';
import { maxAbsDiff, saveAndLoad } from './test-helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerGmLayers();
});

/** Functional tied autoencoder 8 → 4 → 8 with a seeded encoder. */
function tiedAe() {
  const input = tfl.input({ shape: [8] });
  const enc = tfl.layers.dense({ units: 4, activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) });
  const dec = new DenseTranspose({ tiedTo: enc, activation: 'sigmoid' });
  const codings = enc.apply(input) as SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: dec.apply(codings) as SymbolicTensor });
  // A non-zero decoder bias, so the test sees it.
  dec.setWeights([tf.tensor1d([0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8])]);
  return { model, enc, dec };
}

const kernelOf = (l: tfl.layers.Layer) => l.weights.find((w) => w.originalName.endsWith('/kernel'))!;

describe('DenseTranspose', () => {
  it('computes activation(x·Kᵀ + b) with the encoder kernel K and owns only its bias', () => {
    const { model, enc, dec } = tiedAe();
    expect(dec.weights.map((w) => w.originalName.split('/').pop())).toEqual(['bias']);
    expect(model.weights.filter((w) => w.originalName.endsWith('/kernel'))).toHaveLength(1);
    tf.tidy(() => {
      const x = tf.randomNormal([3, 8], 0, 1, 'float32', 2);
      const [k, b] = enc.getWeights() as [tf.Tensor2D, tf.Tensor1D];
      const c = tf.tanh(tf.add(tf.matMul(x, k), b));
      const expected = tf.sigmoid(tf.add(tf.matMul(c, tf.transpose(k)), dec.getWeights()[0]!));
      expect(maxAbsDiff((model.predict(x) as tf.Tensor).dataSync(), expected.dataSync())).toBeLessThan(1e-6);
      // Rank-3 inputs apply the same map to every row.
      const y3 = dec.apply(tf.reshape(c, [3, 1, 4])) as tf.Tensor;
      expect(y3.shape).toEqual([3, 1, 8]);
      expect(maxAbsDiff(y3.dataSync(), expected.dataSync())).toBeLessThan(1e-6);
    });
    model.dispose();
  });

  it('sends the gradients of both uses to the single shared kernel', () => {
    const { model, enc, dec } = tiedAe();
    const kernel = kernelOf(enc);
    const x = tf.randomNormal([5, 8], 0, 1, 'float32', 3);
    const target = tf.randomUniform([5, 8], 0, 1, 'float32', 4);
    const loss = (out: tf.Tensor) => tf.mean(tf.square(tf.sub(out, target))) as tf.Scalar;
    const viaModel = tf.variableGrads(() => loss(model.apply(x) as tf.Tensor), [kernel.read() as tf.Variable]);
    const gModel = Object.values(viaModel.grads)[0]!;
    // Independent closed form of the same loss as a function of K: both the encoder and the decoder use K.
    const b = enc.getWeights()[1]!;
    const c2 = dec.getWeights()[0]!;
    const gManual = tf.grad((k: tf.Tensor) =>
      loss(tf.sigmoid(tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x, k), b)), k, false, true), c2))),
    )(kernel.read());
    // And with the decoder's use of K cut off (a constant copy), the gradient differs: the decoder's share is real.
    const frozen = tf.clone(kernel.read());
    const gEncOnly = tf.grad((k: tf.Tensor) =>
      loss(tf.sigmoid(tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x, k), b)), frozen, false, true), c2))),
    )(kernel.read());
    expect(maxAbsDiff(gModel.dataSync(), gManual.dataSync())).toBeLessThan(1e-6);
    expect(maxAbsDiff(gModel.dataSync(), gEncOnly.dataSync())).toBeGreaterThan(1e-4);

    // One optimizer step over model.trainableWeights moves the kernel both layers read.
    const before = (model.predict(x) as tf.Tensor).dataSync().slice();
    const opt = tf.train.sgd(0.5);
    opt.minimize(() => loss(model.apply(x) as tf.Tensor), false, model.trainableWeights.map((w) => w.read() as tf.Variable));
    const after = model.predict(x) as tf.Tensor;
    expect(maxAbsDiff(before, after.dataSync())).toBeGreaterThan(1e-4);
    tf.dispose([x, target, gModel, gManual, gEncOnly, after, viaModel.value, frozen]);
    opt.dispose();
    model.dispose();
  });

  it('keeps one shared kernel through save/load (weights stored once, tie rebuilt)', async () => {
    const { model } = tiedAe();
    let names: string[] = [];
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        names = (a.weightSpecs ?? []).map((s) => s.name);
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    expect(names.filter((n) => n.endsWith('/kernel'))).toHaveLength(1);
    const loaded = await saveAndLoad(model);
    const lEnc = loaded.layers.find((l) => l.getClassName() === 'Dense')!;
    const lDec = loaded.layers.find((l): l is DenseTranspose => l instanceof DenseTranspose)!;
    expect(lDec.tiedLayer).toBe(lEnc);
    const x = tf.randomNormal([4, 8], 0, 1, 'float32', 5);
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBe(0);
    // Changing the loaded encoder's kernel changes the decoder's output the same way as in the original: a tie,
    // not a copy.
    const k = kernelOf(lEnc);
    const kNew = tf.mul(k.read(), 1.5);
    k.write(kNew);
    kernelOf(model.layers[1]!).write(kNew);
    const a2 = model.predict(x) as tf.Tensor;
    const b2 = loaded.predict(x) as tf.Tensor;
    expect(maxAbsDiff(a2.dataSync(), b2.dataSync())).toBe(0);
    expect(maxAbsDiff(a.dataSync(), a2.dataSync())).toBeGreaterThan(1e-4);
    tf.dispose([x, a, b, a2, b2, kNew]);
    model.dispose();
    loaded.dispose();
  });

  it('works in a flat Sequential model (784-100-30 style) and after save/load', async () => {
    const d1 = tfl.layers.dense({ units: 6, activation: 'selu', inputShape: [10] });
    const d2 = tfl.layers.dense({ units: 3, activation: 'selu' });
    const model = tfl.sequential({
      layers: [d1, d2, new DenseTranspose({ tiedTo: d2, activation: 'selu' }), new DenseTranspose({ tiedTo: d1.name, activation: 'sigmoid' })],
    });
    expect(model.outputs[0]!.shape).toEqual([null, 10]);
    const loaded = await saveAndLoad(model);
    const x = tf.randomNormal([2, 10], 0, 1, 'float32', 6);
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBe(0);
    expect(loaded.weights).toHaveLength(6); // 2 kernels, 4 biases
    tf.dispose([x, a, b]);
    model.dispose();
    loaded.dispose();
  });

  it('ties across nested encoder/decoder models with tieDenseTransposeLayers after loading', async () => {
    const d1 = tfl.layers.dense({ units: 5, activation: 'relu' });
    const encoder = tfl.sequential({ layers: [tfl.layers.dense({ units: 5, inputShape: [7], activation: 'relu' }), d1] });
    const decoder = tfl.sequential({ layers: [new DenseTranspose({ tiedTo: d1, inputShape: [5], activation: 'linear' })] });
    const ae = tfl.sequential({ layers: [encoder, decoder] });
    const loaded = await saveAndLoad(ae);
    const x = tf.randomNormal([3, 7], 0, 1, 'float32', 8);
    expect(() => loaded.predict(x)).toThrow(/tied layer "dense_\w+" was not found.*tieDenseTransposeLayers/);
    expect(tieDenseTransposeLayers(loaded)).toBe(1);
    const a = ae.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBe(0);
    tf.dispose([x, a, b]);
    ae.dispose();
    loaded.dispose();
  });

  it('round-trips getConfig; the layer name survives the config re-casing', () => {
    const enc = tfl.layers.dense({ units: 3, name: 'enc_Layer_1' });
    enc.apply(tfl.input({ shape: [4] }));
    const dec = new DenseTranspose({ tiedTo: enc, activation: 'relu', useBias: false });
    const config = dec.getConfig();
    expect(config['tiedTo']).toEqual({ name: 'enc_Layer_1' });
    const clone = new DenseTranspose(config as never);
    expect(clone.tiedName).toBe('enc_Layer_1');
    expect(clone.getConfig()).toEqual({ ...config, name: clone.name });
  });

  it('errors clearly when the tied layer is missing or mismatched', () => {
    const input = tfl.input({ shape: [4] });
    const h = tfl.layers.dense({ units: 3 }).apply(input) as SymbolicTensor;
    expect(() => new DenseTranspose({ tiedTo: 'nope' }).apply(h)).toThrow(/tied layer "nope" was not found/);
    const other = tfl.layers.dense({ units: 2 });
    other.apply(tfl.input({ shape: [4] }));
    expect(() => new DenseTranspose({ tiedTo: other }).apply(h)).toThrow(/input width 3 does not match the output width 2/);
    expect(() => new DenseTranspose({ tiedTo: 42 as never })).toThrow(/tiedTo must be the encoder Dense layer or its name/);
  });

  it('does not leak tensors across training steps', () => {
    const { model } = tiedAe();
    const x = tf.randomNormal([5, 8], 0, 1, 'float32', 3);
    const opt = tf.train.adam(0.01);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const step = () => opt.minimize(() => tf.mean(tf.square(tf.sub(model.apply(x) as tf.Tensor, x))) as tf.Scalar, false, vars);
    step();
    const n = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(n);
    tf.dispose(x);
    opt.dispose();
    model.dispose();
  });
});
