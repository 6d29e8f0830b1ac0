/**
 * A user's pictures as the model's images: 28×28 grey bytes, converted the way @gm/data's `loadImageFolder` reads a
 * folder in Node (`gm compress <folder>`, `--data images:<dir>?size=28x28`). That reader decodes with sharp, which a
 * page cannot load, so the steps are done here:
 *
 * - only PNG and JPEG pictures, recognised by their first bytes (as `loadImageFolder`'s signature check);
 * - `fit: 'cover'`, `position: 'centre'`: scaled so the picture covers 28×28, the middle kept (nothing stretched);
 * - alpha dropped (not blended: a transparent pixel keeps whatever colour it stores, here black);
 * - grey as sharp's `toColourspace('b-w')` (libvips): Rec. 709 luminance of the linear-light colour, sRGB-encoded
 *   again; a grey picture keeps its levels.
 *
 * The resampling differs: sharp uses a Lanczos-3 kernel, this file an exact area average (every source pixel
 * weighted by how much of it falls in the target pixel) — the same in every browser, not bit-identical to sharp. A
 * picture already 28×28 converts exactly as in Node, so its `.gmz` is the one `gm compress` writes.
 *
 * Everything but `readPicture` is pure (no DOM) and unit-tested in Node.
 */

import { GMZ_MAGIC } from '@gm/bitsback';

export const SIDE = 28;
/** The largest picture the page decodes (its RGBA pixels are held in memory once): 40 megapixels. */
export const MAX_PICTURE_PIXELS = 40_000_000;

/** Decoded RGBA pixels, row-major. */
export interface Rgba {
  data: ArrayLike<number>;
  width: number;
  height: number;
}

/** The kinds of file the panel reads, by their first bytes. */
export type FileKind = 'png' | 'jpeg' | 'gmz' | 'other';

/** Recognises PNG and JPEG (as @gm/data's picture reader) and gm's .gmz container (@gm/bitsback's magic) by their first bytes. */
export function sniff(head: Uint8Array): FileKind {
  const starts = (magic: ArrayLike<number>): boolean => head.length >= magic.length && Array.prototype.every.call(magic, (b: number, i: number) => head[i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (starts([0xff, 0xd8, 0xff])) return 'jpeg';
  if (starts(GMZ_MAGIC)) return 'gmz';
  return 'other';
}

/** The source rectangle (fractional pixels) that sharp's `fit: 'cover'`, `position: 'centre'` keeps. */
export function coverRect(width: number, height: number, outW = SIDE, outH = SIDE): { x: number; y: number; w: number; h: number } {
  // The side that limits the scale is kept whole (exact arithmetic when the aspect ratios agree).
  const wider = width * outH >= height * outW;
  const w = wider ? (height * outW) / outH : width;
  const h = wider ? height : (width * outH) / outW;
  return { x: (width - w) / 2, y: (height - h) / 2, w, h };
}

/** For each of `out` target cells over [start, start + length): the source indices it covers and their weights. */
function spans(start: number, length: number, out: number, limit: number): { first: number; weights: number[] }[] {
  const step = length / out;
  return Array.from({ length: out }, (_, o) => {
    const a = start + o * step;
    const b = a + step;
    const first = Math.max(0, Math.floor(a));
    const last = Math.min(limit, Math.ceil(b));
    const weights: number[] = [];
    for (let i = first; i < last; i++) weights.push(Math.max(0, Math.min(i + 1, b) - Math.max(i, a)));
    return { first, weights };
  });
}

/**
 * Area-average resampling of the RGB channels (alpha dropped) of `rect` into `outW × outH`: values 0..255 as
 * floats, 3 per pixel. Scaling 1:1 returns the source values exactly.
 */
export function resampleRgb(src: Rgba, rect: { x: number; y: number; w: number; h: number }, outW = SIDE, outH = SIDE): Float64Array {
  const xs = spans(rect.x, rect.w, outW, src.width);
  const ys = spans(rect.y, rect.h, outH, src.height);
  const out = new Float64Array(outW * outH * 3);
  // Horizontal pass over the rows the rectangle touches, then vertical.
  const y0 = ys[0]!.first;
  const y1 = ys[outH - 1]!.first + ys[outH - 1]!.weights.length;
  const rows = new Float64Array((y1 - y0) * outW * 3);
  for (let y = y0; y < y1; y++) {
    for (let ox = 0; ox < outW; ox++) {
      const { first, weights } = xs[ox]!;
      let r = 0;
      let g = 0;
      let b = 0;
      let total = 0;
      for (let k = 0; k < weights.length; k++) {
        const w = weights[k]!;
        const at = (y * src.width + first + k) * 4;
        r += w * (src.data[at] as number);
        g += w * (src.data[at + 1] as number);
        b += w * (src.data[at + 2] as number);
        total += w;
      }
      const at = ((y - y0) * outW + ox) * 3;
      rows[at] = r / total;
      rows[at + 1] = g / total;
      rows[at + 2] = b / total;
    }
  }
  for (let oy = 0; oy < outH; oy++) {
    const { first, weights } = ys[oy]!;
    const total = weights.reduce((a, w) => a + w, 0);
    for (let ox = 0; ox < outW; ox++) {
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let k = 0; k < weights.length; k++) v += weights[k]! * rows[((first + k - y0) * outW + ox) * 3 + c]!;
        out[(oy * outW + ox) * 3 + c] = v / total;
      }
    }
  }
  return out;
}

const toLinear = (v: number): number => {
  const s = v / 255;
  return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
};
const toSrgb = (y: number): number => 255 * (y <= 0.0031308 ? 12.92 * y : 1.055 * y ** (1 / 2.4) - 0.055);

/**
 * One grey byte from sRGB-encoded R, G, B (0..255) as libvips' `b-w` colourspace (what sharp's
 * `toColourspace('b-w')` gives, ±1): Rec. 709 luminance of the linear-light colour, sRGB-encoded. Grey stays grey.
 */
export function greyByte(r: number, g: number, b: number): number {
  const v = r === g && g === b ? r : toSrgb(0.2126 * toLinear(r) + 0.7152 * toLinear(g) + 0.0722 * toLinear(b));
  return Math.min(255, Math.max(0, Math.round(v)));
}

/** One picture as a 28×28 grey image (784 bytes, row-major); `invert` turns dark-on-light into light-on-dark. */
export function pictureToDigit(picture: Rgba, options: { invert?: boolean } = {}): Uint8Array {
  const rgb = resampleRgb(picture, coverRect(picture.width, picture.height));
  const out = new Uint8Array(SIDE * SIDE);
  for (let p = 0; p < out.length; p++) {
    const v = greyByte(rgb[3 * p]!, rgb[3 * p + 1]!, rgb[3 * p + 2]!);
    out[p] = options.invert === true ? 255 - v : v;
  }
  return out;
}

/** Decodes a PNG or JPEG file in the page to RGBA (no colour-space conversion, so the stored values are read). */
export async function readPicture(file: Blob, name: string): Promise<Rgba> {
  const kind = sniff(new Uint8Array(await file.slice(0, 8).arrayBuffer()));
  if (kind !== 'png' && kind !== 'jpeg') throw new Error(`${name}: not a PNG or JPEG picture (its first bytes say ${kind === 'gmz' ? '.gmz' : 'otherwise'})`);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (error) {
    throw new Error(`${name}: not a readable ${kind.toUpperCase()} picture (${(error as Error).message})`);
  }
  try {
    const { width, height } = bitmap;
    if (width * height > MAX_PICTURE_PIXELS) throw new Error(`${name}: ${width}×${height} pixels is more than the page decodes (${MAX_PICTURE_PIXELS / 1e6} megapixels)`);
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (ctx === null) throw new Error('this browser gives no 2-D canvas context');
    ctx.drawImage(bitmap, 0, 0);
    return { data: ctx.getImageData(0, 0, width, height).data, width, height };
  } finally {
    bitmap.close();
  }
}
