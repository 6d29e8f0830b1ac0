import { describe, expect, it } from 'vitest';
import { mulberry32, randomNormal, type PortableActivation, type PortableNetwork } from '@gm/core';
import { createDenseEngine } from '../exact/dense';
import { activationOf } from './activations';
import { NetworkEvaluator } from './network';

/** A random network through every activation, with a scale-shift in front. */
function network(seed: number): PortableNetwork {
  const rng = mulberry32(seed);
  const sizes = [10, 9, 8, 7, 6, 5, 4, 3];
  const fns: PortableActivation[] = ['relu', 'elu', 'selu', 'tanh', 'sigmoid', 'softplus', 'linear'];
  const ops: PortableNetwork['ops'][number][] = [{ op: 'scale-shift', scale: 2 / 255, shift: -1 }];
  for (let l = 0; l < fns.length; l++) {
    const [n, m] = [sizes[l]!, sizes[l + 1]!];
    ops.push(
      { op: 'dense', inputSize: n, units: m, kernel: Float32Array.from({ length: n * m }, () => randomNormal(rng)), bias: l % 2 === 0 ? Float32Array.from({ length: m }, () => randomNormal(rng)) : null },
      { op: 'activation', fn: fns[l]! },
    );
  }
  return { inputSize: 10, outputSize: 3, ops };
}

/** The same network in float64 with the engine's own Math functions: what the float32 path approximates. */
function reference(net: PortableNetwork, x: number[]): number[] {
  const f: Record<PortableActivation, (v: number) => number> = {
    linear: (v) => v,
    relu: (v) => Math.max(v, 0),
    elu: (v) => (v > 0 ? v : Math.expm1(v)),
    selu: (v) => 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * Math.expm1(v)),
    tanh: Math.tanh,
    sigmoid: (v) => 1 / (1 + Math.exp(-v)),
    softplus: (v) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))),
  };
  let h = x;
  for (const o of net.ops) {
    if (o.op === 'scale-shift') h = h.map((v) => v * o.scale + o.shift);
    else if (o.op === 'activation') h = h.map(f[o.fn]);
    else if (o.op === 'dense') h = Array.from({ length: o.units }, (_, n) => h.reduce((a, v, k) => a + v * o.kernel[k * o.units + n]!, o.bias?.[n] ?? 0));
    else throw new Error(`the float64 reference has no ${o.op} op`);
  }
  return h;
}

const f32 = Math.fround;

/**
 * The portable-network semantics written out plainly for one example, in float32 as the coder defines it: dense
 * `acc = f32(acc + f32(x·w))` over k in order, a second input's sum likewise, `f32(f32(acc₁ + acc₂) + bias)`;
 * registers as a map of plain arrays; combine and concat element by element.
 */
function plainReference(net: PortableNetwork, x: number[]): number[] {
  const registers = new Map<string, number[]>();
  const sum = (v: number[], w: Float32Array, units: number, n: number): number => v.reduce((acc, xv, k) => f32(acc + f32(xv * w[k * units + n]!)), 0);
  let h = x;
  for (const o of net.ops) {
    switch (o.op) {
      case 'dense':
        h = Array.from({ length: o.units }, (_, n) => {
          let acc = sum(h, o.kernel, o.units, n);
          if (o.inputKernel !== undefined) acc = f32(acc + sum(o.inputSlot === undefined ? x : registers.get(o.inputSlot)!, o.inputKernel, o.units, n));
          return o.bias === null ? acc : f32(acc + o.bias[n]!);
        });
        break;
      case 'activation':
        h = h.map(activationOf(o.fn));
        break;
      case 'scale-shift':
        h = h.map((v) => f32(v * o.scale + o.shift));
        break;
      case 'store':
        registers.set(o.slot, h);
        break;
      case 'load':
        h = registers.get(o.slot)!;
        break;
      case 'combine': {
        const r = registers.get(o.slot)!;
        h = h.map((v, i) => f32(o.fn === 'add' ? v + r[i]! : v * r[i]!));
        break;
      }
      case 'concat':
        h = [...h, ...registers.get(o.slot)!];
        break;
    }
  }
  return h;
}

const randoms = (rng: () => number, n: number): Float32Array => Float32Array.from({ length: n }, () => randomNormal(rng));

/**
 * A random network over registers shaped like an IAF posterior's: features kept, two heads from them, a context, a
 * conditional layer reading the context register, a gate (mul, add) and a concatenation of two registers.
 */
function registerNetwork(seed: number): PortableNetwork {
  const rng = mulberry32(seed);
  const dense = (inputSize: number, units: number, second?: { rows: number; slot?: string }): PortableNetwork['ops'][number] => ({
    op: 'dense',
    inputSize,
    units,
    kernel: randoms(rng, inputSize * units),
    bias: randoms(rng, units),
    ...(second === undefined ? {} : { inputKernel: randoms(rng, second.rows * units), ...(second.slot === undefined ? {} : { inputSlot: second.slot }) }),
  });
  return {
    inputSize: 9,
    outputSize: 8,
    ops: [
      dense(9, 7),
      { op: 'activation', fn: 'elu' },
      { op: 'store', slot: 'features' },
      dense(7, 4),
      { op: 'store', slot: 'z' },
      { op: 'load', slot: 'features' },
      dense(7, 4, { rows: 9 }), // the network input as the second input
      { op: 'store', slot: 'scale' },
      { op: 'load', slot: 'features' },
      dense(7, 5),
      { op: 'activation', fn: 'elu' },
      { op: 'store', slot: 'context' },
      { op: 'load', slot: 'z' },
      dense(4, 6, { rows: 5, slot: 'context' }),
      { op: 'activation', fn: 'elu' },
      dense(6, 4, { rows: 5, slot: 'context' }),
      { op: 'store', slot: 'm' },
      { op: 'activation', fn: 'sigmoid' },
      { op: 'store', slot: 'gate' },
      { op: 'load', slot: 'm' },
      { op: 'scale-shift', scale: -1, shift: 0 },
      { op: 'combine', fn: 'add', slot: 'z' },
      { op: 'combine', fn: 'mul', slot: 'gate' },
      { op: 'combine', fn: 'add', slot: 'm' },
      { op: 'store', slot: 'z' }, // storing again replaces the register
      { op: 'load', slot: 'm' },
      { op: 'scale-shift', scale: -1, shift: 0 },
      { op: 'activation', fn: 'softplus' },
      { op: 'scale-shift', scale: -1, shift: 0 },
      { op: 'combine', fn: 'add', slot: 'scale' },
      { op: 'store', slot: 'scale' },
      { op: 'load', slot: 'z' },
      { op: 'concat', slot: 'scale' },
    ],
  };
}

describe('portable network evaluation', () => {
  it('matches a float64 evaluation to float32 accuracy and gives the same bits on both engines', () => {
    const net = network(3);
    const rng = mulberry32(9);
    const rows = 13;
    const x = Float32Array.from({ length: rows * 10 }, () => Math.floor(rng() * 256));
    const outs = (['js', 'wasm-simd128'] as const).map((backend) => new NetworkEvaluator(net, createDenseEngine({ backend })).run(x, rows));
    expect(Array.from(outs[1]!)).toEqual(Array.from(outs[0]!));
    for (let r = 0; r < rows; r++) {
      const want = reference(net, Array.from(x.subarray(r * 10, (r + 1) * 10)));
      want.forEach((v, j) => expect(Math.abs(outs[0]![r * 3 + j]! - v)).toBeLessThan(1e-4 * (1 + Math.abs(v))));
    }
  });

  it('evaluates register ops (store, load, combine, concat, a dense layer reading a register) bit for bit as a plain float32 reference, on both engines', () => {
    const net = registerNetwork(5);
    const rng = mulberry32(12);
    const rows = 11;
    const x = Float32Array.from({ length: rows * 9 }, () => (rng() < 0.5 ? 0 : 1) + randomNormal(rng));
    const input = x.slice();
    const outs = (['js', 'wasm-simd128'] as const).map((backend) => new NetworkEvaluator(net, createDenseEngine({ backend })).run(x, rows));
    expect(Array.from(x)).toEqual(Array.from(input)); // the input is never written to
    for (let r = 0; r < rows; r++) {
      const want = plainReference(net, Array.from(x.subarray(r * 9, (r + 1) * 9)));
      for (const out of outs) expect(Array.from(out.subarray(r * 8, (r + 1) * 8))).toEqual(want);
    }
    // A register keeps its value when the current vector is activated in place afterwards, and load hands a copy out.
    const keep: PortableNetwork = { inputSize: 3, outputSize: 6, ops: [{ op: 'store', slot: 'a' }, { op: 'activation', fn: 'relu' }, { op: 'concat', slot: 'a' }] };
    expect(Array.from(new NetworkEvaluator(keep, createDenseEngine()).run(Float32Array.from([-1, 2, -3]), 1))).toEqual([0, 2, 0, -1, 2, -3]);
    const back: PortableNetwork = { inputSize: 2, outputSize: 2, ops: [{ op: 'store', slot: 'a' }, { op: 'load', slot: 'a' }] };
    const y = Float32Array.from([1, 2]);
    const out = new NetworkEvaluator(back, createDenseEngine()).run(y, 1);
    out[0] = 5;
    expect(Array.from(y)).toEqual([1, 2]);
  });

  it('refuses malformed register ops by name', () => {
    const engine = createDenseEngine({ backend: 'js' });
    const net = (ops: PortableNetwork['ops'], outputSize = 2): PortableNetwork => ({ inputSize: 2, outputSize, ops });
    const d = (inputSize: number, units: number, extra: object = {}) => ({ op: 'dense' as const, inputSize, units, kernel: new Float32Array(inputSize * units), bias: null, ...extra });
    const cases: [PortableNetwork, RegExp][] = [
      [net([{ op: 'load', slot: 'z' }]), /op 0: .*a register stored by an earlier op, got "z"/],
      [net([{ op: 'store', slot: '' }]), /op 0: .*a register name/],
      [net([{ op: 'store', slot: 'a' }, d(2, 3), { op: 'combine', fn: 'add', slot: 'a' }], 3), /op 2: .*register "a" of the current width 3, it holds 2/],
      [net([{ op: 'store', slot: 'a' }, { op: 'combine', fn: 'sub' as 'add', slot: 'a' }]), /op 1: .*'add' or 'mul', got "sub"/],
      [net([d(2, 2, { inputSlot: 'a' })]), /op 0: .*an inputKernel for its inputSlot/],
      [net([d(2, 3), { op: 'store', slot: 'a' }, d(3, 2, { inputKernel: new Float32Array(4), inputSlot: 'a' })]), /op 2: .*an input kernel of 3×2/],
      [net([{ op: 'store', slot: 'a' }, { op: 'concat', slot: 'a' }]), /its layers end at 4 values, it says 2/],
      [net([{ op: 'transpose' } as unknown as PortableNetwork['ops'][number]]), /op 0: .*got "transpose"/],
    ];
    for (const [n, message] of cases) expect(() => new NetworkEvaluator(n, engine, 'encoder')).toThrow(message);
  });

  it('refuses malformed networks and inputs by name', () => {
    const engine = createDenseEngine({ backend: 'js' });
    const bad: PortableNetwork = { inputSize: 4, outputSize: 2, ops: [{ op: 'dense', inputSize: 4, units: 2, kernel: new Float32Array(7), bias: null }] };
    expect(() => new NetworkEvaluator(bad, engine, 'decoder')).toThrow(/decoder: op 0: a dense layer of 4 → 2 values with a 4×2 kernel/);
    const short: PortableNetwork = { inputSize: 4, outputSize: 3, ops: [{ op: 'dense', inputSize: 4, units: 2, kernel: new Float32Array(8), bias: null }] };
    expect(() => new NetworkEvaluator(short, engine, 'decoder')).toThrow(/its layers end at 2 values, it says 3/);
    const ok = new NetworkEvaluator({ ...short, outputSize: 2 }, engine);
    expect(() => ok.run(new Float32Array(5), 1)).toThrow(/1 × 4 values, got 5/);
  });
});
