import { describe, expect, it } from 'vitest';
import {
  binarizeDynamic,
  binarizeStatic,
  dequantizeUniform,
  inputToUnit,
  pixelsToInput,
  scaleToUnit,
  toBinCentres,
} from './preprocess.js';
import { mulberry32 } from '@gm/core';
import { testBytes } from './test-helpers.js';


describe('scaling and binarization', () => {
  it('scales bytes to [0, 1]', () => {
    expect([...scaleToUnit(Uint8Array.from([0, 51, 255]))]).toEqual([0, Math.fround(0.2), 1]);
  });

  it('binarizes statically at the threshold', () => {
    expect([...binarizeStatic(Uint8Array.from([0, 127, 128, 255]))]).toEqual([0, 0, 1, 1]);
    expect([...binarizeStatic(Uint8Array.from([0, 26, 25, 255]), 0.1)]).toEqual([0, 1, 0, 1]);
    expect(() => binarizeStatic(new Uint8Array(1), 1)).toThrow(/threshold/);
  });

  it('binarizes dynamically as seeded Bernoulli(v / 255) draws', () => {
    const n = 40_000;
    for (const v of [0, 51, 128, 255]) {
      const bits = binarizeDynamic(new Uint8Array(n).fill(v), 1);
      let ones = 0;
      for (const b of bits) ones += b;
      const p = v / 255;
      // 4.5 standard errors.
      expect(Math.abs(ones / n - p)).toBeLessThanOrEqual(4.5 * Math.sqrt((p * (1 - p)) / n));
    }
    const img = testBytes(784, 1);
    expect(binarizeDynamic(img, 7)).toEqual(binarizeDynamic(img, 7));
    expect(binarizeDynamic(img, 7)).not.toEqual(binarizeDynamic(img, 8));
    // A running generator gives fresh draws each call.
    const rng = mulberry32(3);
    expect(binarizeDynamic(img, rng)).not.toEqual(binarizeDynamic(img, rng));
  });

  it('dequantizes uniformly inside each pixel bin', () => {
    const img = testBytes(10_000, 2);
    const x = dequantizeUniform(img, 4);
    let mean = 0;
    let outside = 0;
    for (let i = 0; i < img.length; i++) {
      const u = x[i]! * 256 - img[i]!;
      if (!(u >= 0 && u < 1)) outside++;
      mean += u;
    }
    expect(outside).toBe(0);
    expect(Math.abs(mean / img.length - 0.5)).toBeLessThan(0.015);
    expect(dequantizeUniform(img, 4)).toEqual(x);
  });
});

describe('pixelsToInput', () => {
  it('turns bytes into each input convention', () => {
    const px = Uint8Array.of(0, 127, 128, 255);
    expect([...pixelsToInput(px, 'binary')]).toEqual([0, 0, 1, 1]);
    expect([...pixelsToInput(px, 'pixels')]).toEqual([0, 127, 128, 255]);
    expect([...pixelsToInput(px, 'unit')]).toEqual([...scaleToUnit(px)]);
    const centres = pixelsToInput(px, 'bin-centres');
    expect(centres[0]).toBe(-1);
    expect(centres[3]).toBeCloseTo(1, 6);
    expect([...centres]).toEqual([...toBinCentres(px)]);
    expect(() => pixelsToInput(px, 'continuous')).toThrow(/pixelsToInput: convention must be one of/);
  });
});

describe('inputToUnit', () => {
  it('undoes pixelsToInput for display: every convention maps bytes back to v/255', () => {
    const px = Uint8Array.of(0, 51, 128, 255);
    for (const convention of ['bin-centres', 'pixels', 'unit'] as const) {
      const back = inputToUnit(pixelsToInput(px, convention), convention);
      [...px].forEach((v, i) => expect(back[i]).toBeCloseTo(v / 255, 6));
    }
    expect([...inputToUnit(pixelsToInput(px, 'binary'), 'binary')]).toEqual([0, 0, 1, 1]);
  });
});
