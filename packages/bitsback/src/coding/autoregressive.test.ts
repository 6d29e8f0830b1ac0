import { describe, expect, it } from 'vitest';
import { mulberry32, type AutoregressiveCoding } from '@gm/core';
import { createMessage, flatten, HEAD_LOWER, messageBits, unflatten } from '../rans';
import { createDenseEngine } from '../exact/dense';
import { randomMadeModel } from '../testing/synthetic';
import { autoregressiveCoder } from './autoregressive';
import { NetworkEvaluator } from './network';

describe('autoregressive coder', () => {
  it('computes, unit by unit, the very bits of a whole-network evaluation (both dense engines)', () => {
    for (const [hidden, direct] of [
      [[24], true],
      [[20, 16], true],
      [[12, 12, 12], false],
    ] as const) {
      const model = randomMadeModel({ pixelsPerImage: 20, hidden: [...hidden], direct, seed: hidden.length });
      const images = model.sample(7, 3);
      const logits = autoregressiveCoder(model.coding).logits(images, 7);
      for (const backend of ['js', 'wasm-simd128'] as const) {
        const net = new NetworkEvaluator(model.coding.network, createDenseEngine({ backend }));
        expect(Array.from(net.run(Float32Array.from(images), 7))).toEqual(Array.from(logits));
      }
    }
  });

  it('refuses networks with register ops: it evaluates a plain chain', () => {
    const made = randomMadeModel({ pixelsPerImage: 6, seed: 2 }).coding;
    const ops = made.network.ops;
    expect(() => autoregressiveCoder({ ...made, network: { ...made.network, ops: [{ op: 'store', slot: 'x' }, ...ops] } })).toThrow(/op 0: .*dense, activation and scale-shift ops; got a "store" op/);
    const dense = ops.find((o) => o.op === 'dense')!;
    const slotted = ops.map((o) => (o === dense ? { ...o, inputKernel: new Float32Array(6 * (o as { units: number }).units), inputSlot: 'x' } : o));
    expect(() => autoregressiveCoder({ ...made, network: { ...made.network, ops: [{ op: 'store', slot: 'x' }, ...slotted] } })).toThrow(/op 0: /);
    expect(() => autoregressiveCoder({ ...made, network: { ...made.network, ops: slotted } })).toThrow(/read the network input, not a register/);
  });

  it('round-trips a batch and codes at the model\'s exact negative log-likelihood', () => {
    const model = randomMadeModel({ pixelsPerImage: 24, hidden: [40, 40], seed: 7, scale: 2 });
    const count = 300;
    const images = model.sample(count, 5);
    const coder = autoregressiveCoder(model.coding);
    const codec = coder.codec(count, 24);
    const m = codec.push(createMessage(1, { onEmpty: 'throw' }), images);
    const [back, decoded] = codec.pop(unflatten(flatten(m), { onEmpty: 'throw' }));
    expect(decoded).toEqual(images);
    expect(back.size).toBe(0);
    expect(back.heads[0]).toBe(HEAD_LOWER);
    const nll = model.nllBits(images).reduce((a, b) => a + b, 0);
    const ratio = messageBits(m) / nll;
    expect(ratio).toBeGreaterThan(0.99);
    expect(ratio).toBeLessThan(1.01);
  });

  it('decodes in any batch split with the order the model gives (not the natural one)', () => {
    const model = randomMadeModel({ pixelsPerImage: 12, seed: 2 });
    expect(Array.from(model.coding.order)).not.toEqual(Array.from({ length: 12 }, (_, i) => i));
    const coder = autoregressiveCoder(model.coding);
    const rnd = mulberry32(3);
    const images = Uint8Array.from({ length: 5 * 12 }, () => (rnd() < 0.5 ? 1 : 0));
    let m = createMessage(1, { onEmpty: 'throw' });
    m = coder.codec(2, 16).push(m, images.subarray(0, 24));
    m = coder.codec(3, 16).push(m, images.subarray(24));
    const [m1, last] = coder.codec(3, 16).pop(m);
    const [m2, first] = coder.codec(2, 16).pop(m1);
    expect([...Array.from(first), ...Array.from(last)]).toEqual([...images]);
    expect(m2.size).toBe(0);
  });

  it('refuses a network that is not autoregressive in its order, and malformed models', () => {
    const model = randomMadeModel({ pixelsPerImage: 8, seed: 4 });
    const ops = [...model.coding.network.ops];
    const last = ops[ops.length - 1]!;
    if (last.op !== 'dense' || last.inputKernel === undefined) throw new Error('expected a direct connection');
    // Let the first coded pixel see the last coded one.
    const leak = last.inputKernel.slice();
    const firstPixel = model.coding.order[0]!;
    const lastPixel = model.coding.order[7]!;
    leak[lastPixel * 8 + firstPixel] = 0.5;
    const leaky: AutoregressiveCoding = { ...model.coding, network: { ...model.coding.network, ops: [...ops.slice(0, -1), { ...last, inputKernel: leak }] } };
    expect(() => autoregressiveCoder(leaky)).toThrow(new RegExp(`conditional of pixel ${firstPixel} \\(coded first\\) depends on pixels coded at or after it`));
    expect(() => autoregressiveCoder({ ...model.coding, order: Int32Array.of(0, 1, 2, 3, 4, 5, 6, 6) })).toThrow(/order.*permutation/);
    const nanKernel = { ...last, kernel: last.kernel.map((v, i) => (i === 0 ? NaN : v)) };
    expect(() => autoregressiveCoder({ ...model.coding, network: { ...model.coding.network, ops: [...ops.slice(0, -1), nanKernel] } })).toThrow(/finite weights/);
    expect(() => autoregressiveCoder(model.coding).codec(1, 16).push(createMessage(1), Uint8Array.of(0, 1, 2, 0, 0, 0, 0, 0))).toThrow(/0 or 1, got 2 at image 0, pixel 2/);
  });
});
