import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { bitsPerDim } from './bits';
import { read } from './reference.testutil';

describe('bitsPerDim', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    await tf.ready();
  });

  it('converts nats per example to bits per dimension', () => {
    expect(bitsPerDim(784 * Math.LN2, 784)).toBeCloseTo(1, 12);
    expect(bitsPerDim(86, 784)).toBeCloseTo(86 / 784 / Math.LN2, 12);
    const t = read(() => bitsPerDim(tf.tensor1d([3 * Math.LN2 * 10, 0]), 10));
    expect(t[0]).toBeCloseTo(3, 5);
    expect(t[1]).toBe(0);
  });

  it('applies the log-det of the data → model map with the right sign', () => {
    // The uniform density on [0,1]^D has nll 0 there; in 8-bit units ([0,256)^D, log-det of x ↦ x/256 is −D ln 256)
    // it is the uniform distribution over 256 levels: exactly 8 bits per dimension.
    const D = 784;
    expect(bitsPerDim(0, D, { logDet: -D * Math.log(256) })).toBeCloseTo(8, 10);
    const perExample = read(() => bitsPerDim(tf.tensor1d([0, D * Math.LN2]), D, { logDet: tf.tensor1d([-D * Math.log(256), 0]) }));
    expect(perExample[0]).toBeCloseTo(8, 4);
    expect(perExample[1]).toBeCloseTo(1, 4);
  });

  it('levels adds the dequantisation scaling (as in a logit-space flow report)', () => {
    // A logit-space log-likelihood with its [0,1] → logit log-det: bits/dim = −(log p(y) + logDet − D ln 256)/(D ln 2).
    const D = 3072;
    const logpY = -5000;
    const logDet = -1234.5;
    const want = -(logpY + logDet - D * Math.log(256)) / (D * Math.LN2);
    expect(bitsPerDim(-logpY, D, { logDet, levels: 256 })).toBeCloseTo(want, 10);
    const t = read(() => bitsPerDim(tf.tensor1d([-logpY]), D, { logDet: tf.tensor1d([logDet]), levels: 256 }));
    expect(t[0]).toBeCloseTo(want, 4);
    expect(bitsPerDim(0, D, { levels: 256 })).toBeCloseTo(8, 10);
  });

  it('rejects bad input', () => {
    expect(() => bitsPerDim(1, 4, { levels: 0 })).toThrow(/levels must be a positive number/);
    expect(() => bitsPerDim(1, 0)).toThrow(/numDims must be a positive integer/);
    expect(() => bitsPerDim(Number.NaN, 4)).toThrow(/nll must be finite/);
  });
});
