import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { initBackend } from '@gm/backend';
import { FUSED_DENSE_KERNEL } from '@gm/core/ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { fusedDenseLayer, fusedNetwork } from './fused-network';
import { randomizeWeights } from './test-helpers';

const seed = (s: number) => tfl.initializers.glorotUniform({ seed: s });

/** [N, 4, 3] → flatten → every fused activation → reshape [N, 2, 3]; a second output reads a hidden layer. */
function mlp(): LayersModel {
  const input = tfl.input({ shape: [4, 3] });
  let h = tfl.layers.flatten().apply(input) as SymbolicTensor;
  const acts = ['relu', 'elu', 'tanh', 'sigmoid', 'softplus'] as const;
  let hidden: SymbolicTensor | undefined;
  acts.forEach((activation, i) => {
    h = tfl.layers.dense({ units: 5 + i, activation, kernelInitializer: seed(i) }).apply(h) as SymbolicTensor;
    if (i === 2) hidden = h;
  });
  h = tfl.layers.activation({ activation: 'tanh' }).apply(h) as SymbolicTensor;
  const linear = tfl.layers.dense({ units: 6, kernelInitializer: seed(9) }).apply(h) as SymbolicTensor;
  const noBias = tfl.layers.dense({ units: 6, useBias: false, kernelInitializer: seed(10) }).apply(linear) as SymbolicTensor;
  const out = tfl.layers.reshape({ targetShape: [2, 3] }).apply(noBias) as SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: [out, hidden as SymbolicTensor] });
  randomizeWeights(model, 3, 0.7);
  return model;
}

/** Outputs and the gradients of Σ outputs·weights with respect to every variable, through `run`. */
function outputsAndGrads(model: LayersModel, run: (x: tf.Tensor) => tf.Tensor[], x: tf.Tensor): Float32Array[] {
  return tf.tidy(() => {
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const loss = () => tf.addN(run(x).map((y, i) => tf.sum(tf.mul(y, tf.randomNormal(y.shape, 0, 1, 'float32', 40 + i))))) as tf.Scalar;
    const { grads } = tf.variableGrads(loss, vars);
    return [...run(x), ...vars.map((v) => grads[v.name] as tf.Tensor)].map((t) => t.dataSync() as Float32Array);
  });
}

/** Largest |a − b| / (1 + |b|). */
function worst(a: Float32Array[], b: Float32Array[]): number {
  let w = 0;
  a.forEach((ai, j) => ai.forEach((v, i) => (w = Math.max(w, Math.abs(v - (b[j]?.[i] as number)) / (1 + Math.abs(b[j]?.[i] as number))))));
  return w;
}

describe('fusedNetwork: a Dense network through gm fused dense op, the same function as model.apply', () => {
  beforeAll(async () => {
    expect((await initBackend({ backend: 'wasm' })).backend).toBe('wasm');
  });

  it.each(['wasm', 'cpu'] as const)('%s: outputs (two, one a hidden layer) and every weight gradient equal model.apply', async (backend) => {
    await tf.setBackend(backend);
    const model = mlp();
    const x = tf.randomNormal([7, 4, 3], 0, 1, 'float32', 5);
    const run = fusedNetwork(model);
    const viaApply = (input: tf.Tensor) => model.apply(input) as tf.Tensor[];
    const before = tf.memory().numTensors;
    const fused = outputsAndGrads(model, run, x);
    expect(tf.memory().numTensors).toBe(before);
    const reference = outputsAndGrads(model, viaApply, x);
    expect(fused.map((a) => a.length)).toEqual(reference.map((a) => a.length));
    expect(worst(fused, reference)).toBeLessThan(2e-6);
    // The comparison sees real values: no gradient is all zeros.
    expect(fused.slice(2).every((g) => g.some((v) => v !== 0))).toBe(true);
    x.dispose();
    model.dispose();
  });

  it('runs each Dense layer as one fused kernel on wasm', async () => {
    await tf.setBackend('wasm');
    const model = mlp();
    const run = fusedNetwork(model);
    const { kernels } = await tf.profile(() => tf.tidy(() => run(tf.ones([2, 4, 3]))));
    const names = kernels.map((k) => k.name);
    expect(names.filter((n) => n === FUSED_DENSE_KERNEL)).toHaveLength(7);
    expect(names).not.toContain('BatchMatMul');
    expect(names).not.toContain('_FusedMatMul');
    model.dispose();
  });

  it('leaves a model with other layers, or an activation the fused op lacks, to model.apply', async () => {
    await tf.setBackend('wasm');
    for (const model of [
      tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 4, activation: 'selu' })] }),
      tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 4 }), tfl.layers.batchNormalization()] }),
    ]) {
      const x = tf.randomNormal([2, 3], 0, 1, 'float32', 1);
      const [y] = fusedNetwork(model)(x);
      const { kernels } = await tf.profile(() => tf.tidy(() => fusedNetwork(model)(x)));
      expect(kernels.map((k) => k.name)).not.toContain(FUSED_DENSE_KERNEL);
      expect(y!.dataSync()).toEqual((model.apply(x) as tf.Tensor).dataSync());
      tf.dispose([x, y!]);
      model.dispose();
    }
  });

  it('a layer shared by two branches (two calls) and an input of the wrong shape behave as model.apply', async () => {
    await tf.setBackend('wasm');
    const input = tfl.input({ shape: [3] });
    const shared = tfl.layers.dense({ units: 3, activation: 'tanh', kernelInitializer: seed(1) });
    const once = shared.apply(input) as SymbolicTensor;
    const twice = shared.apply(once) as SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: [twice, once] });
    const x = tf.randomNormal([4, 3], 0, 1, 'float32', 2);
    const fused = fusedNetwork(model)(x);
    const reference = model.apply(x) as tf.Tensor[];
    expect(worst(fused.map((t) => t.dataSync() as Float32Array), reference.map((t) => t.dataSync() as Float32Array))).toBeLessThan(2e-6);
    const wrong = tf.ones([4, 5]);
    let tfjsError = '';
    try {
      model.apply(wrong);
    } catch (e) {
      tfjsError = (e as Error).message;
    }
    expect(tfjsError).not.toBe('');
    expect(() => fusedNetwork(model)(wrong)).toThrow(tfjsError);
    tf.dispose([x, wrong, ...fused, ...reference]);
    model.dispose();
  });

  it('fusedDenseLayer: one Dense layer, built or not', async () => {
    await tf.setBackend('wasm');
    const layer = tfl.layers.dense({ units: 4, activation: 'elu', kernelInitializer: seed(4) });
    const x = tf.randomNormal([3, 5], 0, 1, 'float32', 6);
    const first = fusedDenseLayer(layer)(x); // builds the layer through layer.apply
    const again = fusedDenseLayer(layer)(x);
    const { kernels } = await tf.profile(() => tf.tidy(() => fusedDenseLayer(layer)(x)));
    expect(kernels.map((k) => k.name)).toEqual([FUSED_DENSE_KERNEL]);
    expect(worst([again.dataSync() as Float32Array], [first.dataSync() as Float32Array])).toBeLessThan(2e-6);
    tf.dispose([x, first, again]);
    layer.dispose();
  });
});
