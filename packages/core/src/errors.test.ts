import { describe, expect, it } from 'vitest';
import { checkIntInRange, checkOneOf, checkPositiveInt, checkPositiveIntArray, describeValue, formatShape, GmError } from './errors.js';

describe('GmError', () => {
  it('says where, what was expected and what was found, and carries code and where', () => {
    const e = new GmError('BAD_ARGUMENT', 'VAE config: latentDim', 'a positive integer', -3);
    expect(e.message).toBe('VAE config: latentDim must be a positive integer, got -3');
    expect(e.code).toBe('BAD_ARGUMENT');
    expect(e.where).toBe('VAE config: latentDim');
    expect(e).toBeInstanceOf(Error);
    const f = new GmError('NOT_FOUND', 'ckpt/gm-checkpoint.json', 'no such file');
    expect(f.message).toBe('ckpt/gm-checkpoint.json: no such file');
  });

  it('describes values readably', () => {
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue('x')).toBe('"x"');
    expect(describeValue([1, 2])).toBe('[1,2]');
    expect(describeValue(new Float32Array(3))).toBe('a Float32Array of length 3');
    expect(describeValue(Number.NaN)).toBe('NaN');
  });

  it('checks arguments', () => {
    expect(() => checkPositiveInt('fit: batchSize', 0)).toThrow('fit: batchSize must be a positive integer, got 0');
    expect(() => checkIntInRange('bits', 33, 1, 32)).toThrow('bits must be an integer in [1, 32], got 33');
    expect(() => checkOneOf('likelihood', 'gauss', ['bernoulli', 'logistic'])).toThrow("likelihood must be one of 'bernoulli', 'logistic', got \"gauss\"");
    expect(checkPositiveIntArray('hidden', [3, 4])).toEqual([3, 4]);
    expect(() => checkPositiveIntArray('hidden', [])).toThrow('hidden must be a non-empty array of positive integers, got []');
    expect(checkPositiveIntArray('hidden', [], { allowEmpty: true })).toEqual([]);
    expect(formatShape([null, 28, 28, 1])).toBe('[null, 28, 28, 1]');
  });
});
