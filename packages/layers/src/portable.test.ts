import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PortableNetwork } from '@gm/core';
import { DenseTranspose } from './dense-transpose';
import { madeDegrees, outputDegrees } from './made';
import { MaskedDense } from './masked-dense';
import { portableNetwork } from './portable';
import { maxAbsDiff } from './test-helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A naive double-precision evaluation of a portable network (the coder's job; here only to check the conversion). */
function evaluate(net: PortableNetwork, x: number[]): number[] {
  let h = x;
  for (const o of net.ops) {
    if (o.op === 'dense') {
      h = Array.from({ length: o.units }, (_, j) => {
        let s = o.bias?.[j] ?? 0;
        for (let k = 0; k < o.inputSize; k++) s += (h[k] as number) * (o.kernel[k * o.units + j] as number);
        if (o.inputKernel !== undefined) for (let k = 0; k < x.length; k++) s += (x[k] as number) * (o.inputKernel[k * o.units + j] as number);
        return s;
      });
    } else if (o.op === 'activation') {
      const f = { linear: (v: number) => v, relu: (v: number) => Math.max(0, v), elu: (v: number) => (v > 0 ? v : Math.expm1(v)), selu: (v: number) => 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * Math.expm1(v)), tanh: Math.tanh, sigmoid: (v: number) => 1 / (1 + Math.exp(-v)), softplus: (v: number) => Math.log1p(Math.exp(v)) }[o.fn];
      h = h.map(f);
    } else {
      h = h.map((v) => v * o.scale + o.shift);
    }
  }
  return h;
}

const input = (n: number) => Array.from({ length: n }, (_, i) => Math.sin(0.7 * i + 0.2));

describe('portableNetwork', () => {
  it('a Dense/Activation/Flatten/Reshape model evaluates as tfjs does', () => {
    const x = tfl.input({ shape: [3, 4] });
    let h = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
    h = tfl.layers.dense({ units: 5, activation: 'elu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }), biasInitializer: 'randomNormal' }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.dense({ units: 6, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.activation({ activation: 'tanh' }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.dense({ units: 4, activation: 'softplus', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.reshape({ targetShape: [2, 2] }).apply(h) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: x, outputs: h });
    const net = portableNetwork(model);
    expect(net.inputSize).toBe(12);
    expect(net.outputSize).toBe(4);
    expect(net.ops.map((o) => (o.op === 'activation' ? o.fn : o.op))).toEqual(['dense', 'elu', 'dense', 'tanh', 'dense', 'softplus']);
    const v = input(12);
    const want = (model.predict(tf.tensor([v], [1, 3, 4])) as tf.Tensor).dataSync();
    expect(maxAbsDiff(evaluate(net, v), want)).toBeLessThan(1e-5);
  });

  it('a tied decoder (DenseTranspose) carries the encoder kernel transposed', () => {
    const x = tfl.input({ shape: [6] });
    const enc = tfl.layers.dense({ units: 3, activation: 'sigmoid', kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) });
    const dec = new DenseTranspose({ tiedTo: enc, activation: 'sigmoid' });
    const model = tfl.model({ inputs: x, outputs: dec.apply(enc.apply(x)) as tfl.SymbolicTensor });
    const net = portableNetwork(model);
    const v = input(6);
    expect(maxAbsDiff(evaluate(net, v), (model.predict(tf.tensor([v])) as tf.Tensor).dataSync())).toBeLessThan(1e-6);
  });

  it('a MADE carries masked kernels (exact zeros) and its direct connection as the input kernel', () => {
    const D = 5;
    const deg = madeDegrees({ inputSize: D, hiddenSizes: [7] });
    const x = tfl.input({ shape: [D] });
    const hidden = new MaskedDense({ units: 7, inputDegrees: deg[0] as number[], outputDegrees: deg[1] as number[], activation: 'relu', seed: 5 });
    const out = new MaskedDense({ units: D, inputDegrees: deg[1] as number[], outputDegrees: outputDegrees(deg[0] as number[], 1), maskType: 'output', directDegrees: deg[0] as number[], seed: 6 });
    const model = tfl.model({ inputs: x, outputs: out.apply([hidden.apply(x) as tfl.SymbolicTensor, x]) as tfl.SymbolicTensor });
    const net = portableNetwork(model);
    const last = net.ops.at(-1);
    expect(last?.op === 'dense' && last.inputKernel?.length).toBe(D * D);
    // Output d reads no input at or after d: the kernels' masked entries are exactly 0.
    if (last?.op === 'dense') for (let k = 0; k < D; k++) for (let d = 0; d <= k; d++) expect(last.inputKernel?.[k * D + d] === 0).toBe(true);
    const v = [1, 0, 1, 1, 0];
    expect(maxAbsDiff(evaluate(net, v), (model.predict(tf.tensor([v])) as tf.Tensor).dataSync())).toBeLessThan(1e-6);
  });

  it('refuses layers and activations it cannot carry, naming them', () => {
    const conv = tfl.sequential({ layers: [tfl.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3, name: 'c1' }), tfl.layers.flatten(), tfl.layers.dense({ units: 2 })] });
    expect(() => portableNetwork(conv)).toThrow(/layer "c1": a Conv2D layer has no portable form/);
    const soft = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2, activation: 'softmax', name: 'head' })] });
    expect(() => portableNetwork(soft)).toThrow(/layer "head": activation "softmax" has no portable form/);
  });
});
