import { describe, expect, it } from 'vitest';
import { copyRun } from './copy-run';

describe('copyRun', () => {
  it('copies exactly the run, short (element loop) or long (set), and nothing around it', () => {
    for (const length of [0, 1, 31, 32, 33, 100]) {
      const src = Float32Array.from({ length: 120 }, (_, i) => i + 0.5);
      const dst = new Float32Array(130).fill(-1);
      copyRun(src, 7, dst, 11, length);
      const expected = Array.from({ length: 130 }, (_, i) => (i >= 11 && i < 11 + length ? i - 11 + 7 + 0.5 : -1));
      expect(Array.from(dst)).toEqual(expected);
    }
    const ints = new Int32Array([5, -6, 7]);
    const bools = new Uint8Array(4);
    copyRun(ints, 1, bools, 2, 2); // tfjs's bool tensors are Uint8Array views
    expect(Array.from(bools)).toEqual([0, 0, 250, 7]);
  });
});
