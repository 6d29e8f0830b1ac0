import { describe, expect, it } from 'vitest';
import type { GaussianLatentCoding } from '@gm/core';
import { linearBernoulliModel, randomMadeModel } from '../testing/synthetic';
import { codingModelFingerprint } from './fingerprint';

describe('coding model fingerprint', () => {
  const base = linearBernoulliModel({ latentDim: 2, pixelsPerImage: 9, seed: 1 }).coding;

  it('depends on every weight bit, the structure and the observation, not on object key order', () => {
    const f = codingModelFingerprint(base);
    expect(f).toMatch(/^[0-9a-f]{64}$/);
    // The same model rebuilt with its keys in another order.
    const reordered: GaussianLatentCoding = {
      observation: { kind: 'bernoulli' },
      decoder: base.decoder,
      encoder: { ops: base.encoder.ops.map((o) => ({ ...o })), outputSize: base.encoder.outputSize, inputSize: base.encoder.inputSize },
      latentDim: base.latentDim,
      pixelsPerImage: base.pixelsPerImage,
      pixels: 'binary',
      kind: 'gaussian-latent',
    };
    expect(codingModelFingerprint(reordered)).toBe(f);
    const dense = base.decoder.ops[0]!;
    if (dense.op !== 'dense') throw new Error('expected dense');
    const nudged = dense.kernel.slice();
    nudged[0] = Math.fround(nudged[0]! + 2 ** -20);
    expect(codingModelFingerprint({ ...base, decoder: { ...base.decoder, ops: [{ ...dense, kernel: nudged }] } })).not.toBe(f);
    expect(codingModelFingerprint({ ...base, decoder: { ...base.decoder, ops: [{ ...dense }, { op: 'activation', fn: 'linear' }] } })).not.toBe(f);
    expect(codingModelFingerprint({ ...base, pixels: 'u8', observation: { kind: 'discretized-logistic', minLogScale: -7 } })).not.toBe(f);
    expect(codingModelFingerprint({ ...base, observation: { kind: 'discretized-logistic', minLogScale: -7 } })).not.toBe(
      codingModelFingerprint({ ...base, observation: { kind: 'discretized-logistic', minLogScale: -6 } }),
    );
  });

  it('covers register ops: their kinds, names and functions, and which register a dense layer reads', () => {
    const dense = base.encoder.ops[0]!;
    if (dense.op !== 'dense') throw new Error('expected dense');
    const L = base.latentDim;
    const D = base.pixelsPerImage;
    const withSlot = (ops: GaussianLatentCoding['encoder']['ops']): string => codingModelFingerprint({ ...base, encoder: { ...base.encoder, ops } });
    const second = (slot: string | undefined) => ({ ...dense, inputKernel: new Float32Array(D * 2 * L), ...(slot === undefined ? {} : { inputSlot: slot }) });
    const prints = [
      withSlot([{ op: 'store', slot: 'x' }, second(undefined)]),
      withSlot([{ op: 'store', slot: 'x' }, second('x')]),
      withSlot([{ op: 'store', slot: 'y' }, second('y')]),
      withSlot([{ op: 'store', slot: 'x' }, dense]),
      withSlot([{ op: 'load', slot: 'x' }, dense]),
      withSlot([dense, { op: 'store', slot: 'a' }, { op: 'combine', fn: 'add', slot: 'a' }]),
      withSlot([dense, { op: 'store', slot: 'a' }, { op: 'combine', fn: 'mul', slot: 'a' }]),
      withSlot([dense, { op: 'store', slot: 'a' }, { op: 'concat', slot: 'a' }]),
      withSlot([dense]),
    ];
    expect(new Set(prints).size).toBe(prints.length);
    expect(prints[prints.length - 1]).toBe(codingModelFingerprint(base));
  });

  it("covers an autoregressive model's order", () => {
    const made = randomMadeModel({ pixelsPerImage: 6, seed: 2 }).coding;
    const swapped = made.order.slice();
    [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
    expect(codingModelFingerprint({ ...made, order: swapped })).not.toBe(codingModelFingerprint(made));
  });
});
