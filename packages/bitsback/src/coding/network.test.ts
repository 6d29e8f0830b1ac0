import { describe, expect, it } from 'vitest';
import { mulberry32, randomNormal, type PortableActivation, type PortableNetwork } from '@gm/core';
import { createDenseEngine } from '../exact/dense';
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
    else h = Array.from({ length: o.units }, (_, n) => h.reduce((a, v, k) => a + v * o.kernel[k * o.units + n]!, o.bias?.[n] ?? 0));
  }
  return h;
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
