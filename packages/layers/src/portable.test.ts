import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PortableNetwork } from '@gm/core';
import { DenseTranspose } from './dense-transpose';
import { GatedIafStep } from './iaf-step';
import { madeDegrees, outputDegrees } from './made';
import { MaskedDense } from './masked-dense';
import { portableDenseColumns, portableNetwork } from './portable';
import { maxAbsDiff, randomizeWeights } from './test-helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * A naive double-precision evaluation of a portable network (the coder's job; here only to check the conversion).
 * `registers` may be given filled in (a network reading registers it does not store) and holds them afterwards.
 */
function evaluate(net: PortableNetwork, x: number[], registers = new Map<string, number[]>()): number[] {
  let h = x;
  for (const o of net.ops) {
    if (o.op === 'dense') {
      const u = o.inputSlot === undefined ? x : (registers.get(o.inputSlot) as number[]);
      h = Array.from({ length: o.units }, (_, j) => {
        let s = o.bias?.[j] ?? 0;
        for (let k = 0; k < o.inputSize; k++) s += (h[k] as number) * (o.kernel[k * o.units + j] as number);
        if (o.inputKernel !== undefined) for (let k = 0; k < u.length; k++) s += (u[k] as number) * (o.inputKernel[k * o.units + j] as number);
        return s;
      });
    } else if (o.op === 'activation') {
      const f = { linear: (v: number) => v, relu: (v: number) => Math.max(0, v), elu: (v: number) => (v > 0 ? v : Math.expm1(v)), selu: (v: number) => 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * Math.expm1(v)), tanh: Math.tanh, sigmoid: (v: number) => 1 / (1 + Math.exp(-v)), softplus: (v: number) => Math.log1p(Math.exp(v)) }[o.fn];
      h = h.map(f);
    } else if (o.op === 'scale-shift') {
      h = h.map((v) => v * o.scale + o.shift);
    } else if (o.op === 'store') {
      registers.set(o.slot, h);
    } else if (o.op === 'load') {
      h = registers.get(o.slot) as number[];
    } else if (o.op === 'combine') {
      const r = registers.get(o.slot) as number[];
      h = h.map((v, i) => (o.fn === 'add' ? v + (r[i] as number) : v * (r[i] as number)));
    } else {
      h = [...h, ...(registers.get(o.slot) as number[])];
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

  it('a conditional MADE layer reads its context from a register; columns of a dense op are those units exactly', () => {
    const L = 4;
    const C = 3;
    const deg = madeDegrees({ inputSize: L, hiddenSizes: [5] });
    const layer = new MaskedDense({ units: 5, inputDegrees: deg[0] as number[], outputDegrees: deg[1] as number[], contextSize: C, activation: 'tanh', seed: 7 });
    const z = [0.4, -1.1, 0.9, 2];
    const c = [0.5, -0.2, 1.5];
    const want = (layer.apply([tf.tensor([z]), tf.tensor([c])]) as tf.Tensor).dataSync();
    expect(() => layer.portableOps()).toThrow(/context input has a portable form only with the register holding the context/);
    const ops = layer.portableOps({ contextSlot: 'ctx' });
    expect(ops.map((o) => o.op)).toEqual(['dense', 'activation']);
    const dense = ops[0] as Extract<PortableNetwork['ops'][number], { op: 'dense' }>;
    expect(dense.inputSlot).toBe('ctx');
    expect(dense.inputKernel?.length).toBe(C * 5);
    const net: PortableNetwork = { inputSize: L, outputSize: 5, ops };
    expect(maxAbsDiff(evaluate(net, z, new Map([['ctx', c]])), want)).toBeLessThan(1e-6);
    // Units 1…3 of the dense op, alone: the same sums as inside the whole op.
    const part = portableDenseColumns(dense, 1, 4);
    expect([part.units, part.kernel.length, part.bias?.length, part.inputKernel?.length, part.inputSlot]).toEqual([3, L * 3, 3, C * 3, 'ctx']);
    const whole = evaluate({ inputSize: L, outputSize: 5, ops: [dense] }, z, new Map([['ctx', c]]));
    expect(evaluate({ inputSize: L, outputSize: 3, ops: [part] }, z, new Map([['ctx', c]]))).toEqual(whole.slice(1, 4));
    expect(() => portableDenseColumns(dense, 3, 3)).toThrow(/columns \[from, to\) within the 5 units/);
    const both = new MaskedDense({ units: 5, inputDegrees: deg[0] as number[], outputDegrees: deg[1] as number[], directDegrees: deg[0] as number[], contextSize: C, seed: 8 });
    both.apply([tf.zeros([1, L]), tf.zeros([1, L]), tf.zeros([1, C])]);
    expect(() => both.portableOps({ contextSlot: 'ctx' })).toThrow(/both a direct and a context input has no portable form/);
  });

  it("an IAF step's portable form is its fast direction, and adds exactly its Jacobian's log-diagonal (autodiff) to the log-scale register", () => {
    const L = 5;
    const C = 3;
    const deg = madeDegrees({ inputSize: L, hiddenSizes: [8, 7], ordering: 'reversed' });
    const hidden = [0, 1].map((l) => new MaskedDense({ units: deg[l + 1]!.length, inputDegrees: deg[l] as number[], outputDegrees: deg[l + 1] as number[], contextSize: C, activation: 'elu', seed: 10 + l }));
    const out = new MaskedDense({ units: 2 * L, inputDegrees: deg[2] as number[], outputDegrees: outputDegrees(deg[0] as number[], 2), maskType: 'output', contextSize: C, seed: 12 });
    const step = new GatedIafStep({ hidden, out, latentDim: L, inputDegrees: deg[0] as number[] });
    const z0 = [0.3, -1.2, 0.8, 1.7, -0.4];
    const c = [0.6, -0.9, 0.2];
    const context = tf.tensor2d([c]);
    tf.tidy(() => step.inverse(tf.zeros([1, L]), { context }));
    [...hidden, out].forEach((layer, i) => randomizeWeights(layer, 60 + i, 0.7));
    const ops = step.portableOps({ z: 'z', context: 'ctx', logScale: 'ls' });
    const registers = new Map([['z', z0], ['ctx', c], ['ls', [0.25, 0, -1, 0.5, 2]]]);
    evaluate({ inputSize: L, outputSize: L, ops }, z0, registers);
    const want = tf.tidy(() => step.inverse(tf.tensor2d([z0]), { context }).x.dataSync());
    expect(maxAbsDiff(registers.get('z') as number[], want)).toBeLessThan(1e-5);
    // ∂z_d/∂z0_d by autodiff, one dimension at a time: the step's Jacobian diagonal; its logs were added to 'ls'.
    const diag = Array.from({ length: L }, (_, d) =>
      tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(tf.slice(step.inverse(v, { context }).x, [0, d], [1, 1])))(tf.tensor2d([z0])).dataSync()[d] as number),
    );
    expect(maxAbsDiff(registers.get('ls') as number[], diag.map((g, d) => [0.25, 0, -1, 0.5, 2][d]! + Math.log(g)))).toBeLessThan(1e-5);
    // Their sum is the step's log-det.
    const logDet = tf.tidy(() => step.inverse(tf.tensor2d([z0]), { context }).logDet.dataSync()[0] as number);
    expect(diag.reduce((a, g) => a + Math.log(g), 0)).toBeCloseTo(logDet, 5);
    context.dispose();
  });

  it('refuses layers and activations it cannot carry, naming them', () => {
    const conv = tfl.sequential({ layers: [tfl.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3, name: 'c1' }), tfl.layers.flatten(), tfl.layers.dense({ units: 2 })] });
    expect(() => portableNetwork(conv)).toThrow(/layer "c1": a Conv2D layer has no portable form/);
    const soft = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2, activation: 'softmax', name: 'head' })] });
    expect(() => portableNetwork(soft)).toThrow(/layer "head": activation "softmax" has no portable form/);
  });
});
