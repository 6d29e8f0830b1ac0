import { describe, expect, it } from 'vitest';
import { balancedIndices, decodeDigits, encodeDigits, DIGITS_HEADER_BYTES } from '../src/digits-format';

function sample(count: number, trainCount: number) {
  const images = Uint8Array.from({ length: count * 4 }, (_, i) => (i * 37) % 256);
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  return { images, labels, count, trainCount, rows: 2, cols: 2 };
}

describe('digits.bin format', () => {
  it('round-trips digits, labels and the train/held-out split', () => {
    const set = sample(13, 10);
    const bytes = encodeDigits(set);
    expect(bytes.length).toBe(DIGITS_HEADER_BYTES + 13 + 13 * 4);
    expect(decodeDigits(bytes)).toEqual(set);
  });

  it('rejects a wrong magic, a truncated file and impossible headers, naming the file', () => {
    const bytes = encodeDigits(sample(5, 5));
    const wrong = bytes.slice();
    wrong[0] = 0x58;
    expect(() => decodeDigits(wrong, 'x.bin')).toThrow(/x\.bin: bad magic "XMD1"/);
    expect(() => decodeDigits(bytes.subarray(0, bytes.length - 1))).toThrow(/digits\.bin: 40 bytes, but the header \(5 digits of 2×2\) implies 41/);
    expect(() => decodeDigits(bytes.subarray(0, 8))).toThrow(/too short/);
    const badLabel = bytes.slice();
    badLabel[DIGITS_HEADER_BYTES] = 10;
    expect(() => decodeDigits(badLabel)).toThrow(/label is outside 0\.\.9/);
    expect(() => encodeDigits({ ...sample(5, 6) })).toThrow(/trainCount 6/);
  });

  it('picks a class-balanced, interleaved subset and fails when a class is short', () => {
    const labels = Uint8Array.from([3, 0, 1, 2, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9]);
    const idx = balancedIndices(labels, 2);
    expect(idx.map((i) => labels[i])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(idx[0]).toBe(1);
    expect(idx[3]).toBe(0);
    expect(() => balancedIndices(labels, 3)).toThrow(/only 2 digits of class 0/);
  });
});
