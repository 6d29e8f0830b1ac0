import { describe, expect, it } from 'vitest';
import { GMZ_MAGIC } from '@gm/bitsback';
import { coverRect, greyByte, pictureToDigit, resampleRgb, sniff, SIDE, type Rgba } from '../src/pictures';

/** A width × height RGBA picture whose pixel (x, y) is `f(x, y)` = [r, g, b] (alpha 255). */
function picture(width: number, height: number, f: (x: number, y: number) => [number, number, number]): Rgba {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([...f(x, y), 255], (y * width + x) * 4);
  return { data, width, height };
}

describe('pictures → 28×28 grey digits, as @gm/data reads a picture folder', () => {
  it('recognises PNG, JPEG and .gmz files by their first bytes', () => {
    expect(sniff(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0))).toBe('png');
    expect(sniff(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0))).toBe('jpeg');
    expect(sniff(Uint8Array.from([...GMZ_MAGIC, 3]))).toBe('gmz');
    expect(sniff(new TextEncoder().encode('GIF89a'))).toBe('other');
    expect(sniff(new Uint8Array(0))).toBe('other');
  });

  it("keeps the middle of the picture, scaled to cover the square (sharp's fit 'cover', position 'centre')", () => {
    expect(coverRect(28, 28)).toEqual({ x: 0, y: 0, w: 28, h: 28 });
    expect(coverRect(280, 140)).toEqual({ x: 70, y: 0, w: 140, h: 140 });
    expect(coverRect(100, 300)).toEqual({ x: 0, y: 100, w: 100, h: 100 });
    expect(coverRect(14, 7)).toEqual({ x: 3.5, y: 0, w: 7, h: 7 });
  });

  it('copies a 28×28 picture exactly and averages areas when shrinking', () => {
    const src = picture(28, 28, (x, y) => [(x * 9 + y) % 256, (y * 7) % 256, (x * y) % 256]);
    const same = resampleRgb(src, coverRect(28, 28));
    for (let p = 0; p < 28 * 28; p++) for (let c = 0; c < 3; c++) expect(same[3 * p + c]).toBe(src.data[4 * p + c]);
    // 56×56 → 28×28: each target pixel is the mean of a 2×2 block.
    const big = picture(56, 56, (x, y) => [(x % 2) * 100 + (y % 2) * 40, 10, 20]);
    const small = resampleRgb(big, coverRect(56, 56));
    expect(small[0]).toBeCloseTo(70, 10);
    expect(small[3 * 100 + 1]).toBeCloseTo(10, 10);
    // 42×28 (3:2, wide): the middle 28×28 is kept, the 7 columns either side dropped.
    const wide = picture(42, 28, (x) => [x < 7 || x >= 35 ? 255 : x, 0, 0]);
    const middle = resampleRgb(wide, coverRect(42, 28));
    for (let x = 0; x < 28; x++) expect(middle[3 * x]).toBe(x + 7);
    // Fractional spans (30 → 28) weight partial pixels: a constant stays constant.
    const flat = resampleRgb(picture(30, 30, () => [77, 77, 77]), coverRect(30, 30));
    for (const v of flat) expect(v).toBeCloseTo(77, 9);
  });

  it("turns colour into grey as sharp's toColourspace('b-w') does, and keeps grey levels", () => {
    for (let v = 0; v < 256; v++) expect(greyByte(v, v, v)).toBe(v);
    // Recorded from sharp 0.34.5 (libvips): raw 7×1 RGB → toColourspace('b-w').
    const sharp: [[number, number, number], number][] = [
      [[255, 0, 0], 127],
      [[0, 255, 0], 220],
      [[0, 0, 255], 76],
      [[128, 64, 200], 99],
      [[10, 200, 30], 173],
      [[255, 255, 255], 255],
      [[100, 100, 100], 100],
    ];
    for (const [[r, g, b], want] of sharp) expect(Math.abs(greyByte(r, g, b) - want), `${r},${g},${b}`).toBeLessThanOrEqual(1);
  });

  it('makes 784 grey bytes, inverted on request', () => {
    const src = picture(56, 84, (x, y) => (x > 20 && x < 36 && y > 30 && y < 54 ? [0, 0, 0] : [255, 255, 255]));
    const digit = pictureToDigit(src);
    expect(digit.length).toBe(SIDE * SIDE);
    expect(digit[0]).toBe(255);
    expect(digit[14 * 28 + 14]).toBe(0);
    const inverted = pictureToDigit(src, { invert: true });
    expect(Array.from(inverted)).toEqual(Array.from(digit, (v) => 255 - v));
  });
});
