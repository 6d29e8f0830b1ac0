import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { exampleOffset, normalNoise, uniformNoise, withExampleOffset } from './noise.js';
import { GmError } from './errors.js';

const rowsOf = (values: Float32Array, from: number, to: number, width: number) => Array.from(values.subarray(from * width, to * width));

describe('per-example noise', () => {
  it.each([
    ['normal', normalNoise],
    ['uniform', uniformNoise],
  ] as const)('%s: a batch split anywhere draws, example for example, the whole batch’s noise (axis 0)', (_, noise) => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.nat(), (examples, width, seed, cut) => {
        const whole = noise([examples, width], seed, 0);
        const split = cut % (examples + 1);
        const head = withExampleOffset(0, () => noise([split, width], seed, 0));
        const tail = withExampleOffset(split, () => noise([examples - split, width], seed, 0));
        expect([...head, ...tail]).toEqual(Array.from(whole));
      }),
    );
  });

  it('an inner example axis ([samples, batch, latent]): each example’s samples come from its own stream', () => {
    const whole = normalNoise([3, 4, 2], 5, 1);
    const shard = withExampleOffset(1, () => normalNoise([3, 2, 2], 5, 1)); // examples 1 and 2
    for (let s = 0; s < 3; s++) expect(rowsOf(shard, 2 * s, 2 * s + 2, 2)).toEqual(rowsOf(whole, 4 * s + 1, 4 * s + 3, 2));
    // Example 1's stream, read in order, is its values sample after sample.
    const alone = withExampleOffset(1, () => normalNoise([1, 6], 5, 0));
    expect(Array.from(alone)).toEqual([0, 1, 2].flatMap((s) => rowsOf(whole, 4 * s + 1, 4 * s + 2, 2)));
  });

  it('examples do not share a stream; seeds give different noise; one stream without an axis is the plain seeded draw', () => {
    const rows = normalNoise([2, 50], 1, 0);
    expect(rowsOf(rows, 0, 1, 50)).not.toEqual(rowsOf(rows, 1, 2, 50));
    expect(Array.from(normalNoise([8], 1, 0))).not.toEqual(Array.from(normalNoise([8], 2, 0)));
    expect(Array.from(normalNoise([4, 3], 9))).toEqual(Array.from(normalNoise([12], 9))); // no axis: shape-blind
    expect(Array.from(withExampleOffset(3, () => normalNoise([4, 3], 9)))).toEqual(Array.from(normalNoise([12], 9)));
  });

  it('has the moments of its distribution; uniforms are float32 values in [0, 1)', () => {
    const z = normalNoise([2000, 50], 3, 0);
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    const variance = z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.01);
    const u = uniformNoise([2000, 50], 3, 0);
    expect(u.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(Math.abs(u.reduce((a, b) => a + b, 0) / u.length - 0.5)).toBeLessThan(0.005);
  });

  it('restores the outer offset, also when the function throws; refuses bad arguments with a GmError', () => {
    withExampleOffset(4, () => {
      expect(() => withExampleOffset(7, () => {
        throw new Error('inner');
      })).toThrow('inner');
      expect(exampleOffset()).toBe(4);
    });
    expect(exampleOffset()).toBe(0);
    expect(() => withExampleOffset(-1, () => 0)).toThrow(GmError);
    expect(() => normalNoise([2, 3], 1, 2)).toThrow('normalNoise: exampleAxis must be an axis of the shape [2, 3], got 2');
    expect(() => uniformNoise([2, 1.5], 1)).toThrow(/uniformNoise: shape must be an array of non-negative integers/);
    expect(() => normalNoise([2], Number.NaN)).toThrow(/normalNoise: seed must be a finite number/);
  });
});
