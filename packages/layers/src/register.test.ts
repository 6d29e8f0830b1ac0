import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { AffineCoupling } from './affine-coupling';
import { DenseTranspose } from './dense-transpose';
import { FlowBatchNorm } from './flow-batch-norm';
import { MaskedDense } from './masked-dense';
import { GM_LAYER_CLASSES, registerGmLayers } from './register';
import { SplineCoupling } from './spline-coupling';
import { Sampling } from './sampling';
import { Squeeze } from './squeeze';
import { maxAbsDiff, randomizeWeights, saveAndLoad } from './test-helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('registerGmLayers', () => {
  it('registers every layer under the gm package, keyed in tfjs-layers by its bare className', () => {
    const map = tf.serialization.SerializationMap.getMap().classNameMap;
    expect(map['GmSampling']).toBeUndefined(); // nothing is registered by importing the package
    const names = registerGmLayers();
    expect(names).toEqual([
      'GmDenseTranspose',
      'GmSampling',
      'GmMaskedDense',
      'GmAffineCoupling',
      'GmRealNvpResidualCoupling',
      'GmSplineCoupling',
      'GmActNorm',
      'GmInvertible1x1',
      'GmContextAffine',
      'GmSqueeze',
      'GmFlowBatchNorm',
      'GmRandomPermutation',
    ]);
    for (const cls of GM_LAYER_CLASSES) {
      expect(tf.serialization.getRegisteredName(cls as never)).toBe(`gm>${cls.className}`);
      expect(map[cls.className]?.[0]).toBe(cls);
    }
    expect(registerGmLayers()).toEqual(names); // idempotent
  });

  it('refuses to replace a foreign class registered under one of its names', () => {
    class Impostor extends tfl.layers.Layer {
      static className = 'GmSqueeze';
    }
    const map = tf.serialization.SerializationMap.getMap().classNameMap;
    const saved = map['GmSqueeze'];
    tf.serialization.registerClass(Impostor);
    expect(() => registerGmLayers()).toThrow(/another class is already registered as "GmSqueeze"/);
    if (saved) map['GmSqueeze'] = saved;
    registerGmLayers();
    expect(map['GmSqueeze']?.[0]).toBe(Squeeze);
  });

  it('loads a model using every gm layer with identical outputs', async () => {
    registerGmLayers();
    const x = tfl.input({ shape: [4] });
    const enc = tfl.layers.dense({ units: 4, activation: 'tanh' });
    const h = enc.apply(x) as SymbolicTensor;
    const mean = new MaskedDense({ units: 4, inputDegrees: [0, 1, 2, 3], outputDegrees: [1, 2, 3, 0], maskType: 'output', directDegrees: [0, 1, 2, 3] }).apply([h, x]) as SymbolicTensor;
    const z = new Sampling({ seed: 3 }).apply([mean, h]) as SymbolicTensor;
    const flowed = new FlowBatchNorm().apply(new AffineCoupling({ hidden: [5], seed: 1 }).apply(z) as SymbolicTensor) as SymbolicTensor;
    const splined = new SplineCoupling({ hidden: [5], bins: 4, bound: 2, seed: 2 }).apply(flowed) as SymbolicTensor;
    const img = tfl.layers.reshape({ targetShape: [2, 2, 1] }).apply(splined) as SymbolicTensor;
    const sq = tfl.layers.flatten().apply(new Squeeze().apply(img) as SymbolicTensor) as SymbolicTensor;
    const out = new DenseTranspose({ tiedTo: enc, activation: 'sigmoid' }).apply(sq) as SymbolicTensor;
    const model = tfl.model({ inputs: x, outputs: out });
    randomizeWeights(model, 11, 0.5);
    const loaded = await saveAndLoad(model);
    expect(loaded.layers.map((l) => l.getClassName())).toEqual(model.layers.map((l) => l.getClassName()));
    const input = tf.randomNormal([3, 4], 0, 1, 'float32', 2);
    const a = model.predict(input) as tf.Tensor;
    const b = loaded.predict(input) as tf.Tensor;
    expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBe(0);
    expect(loaded.layers.some((l) => l instanceof DenseTranspose && l.tiedLayer === loaded.layers[1])).toBe(true);
    tf.dispose([input, a, b]);
  });
});
