/**
 * The general-purpose fallback of the .gmz format: a chunk whose model code would be larger than deflate (fflate,
 * level 9) of its pixels is stored deflated instead, so a file is never more than a few bytes larger than deflate's
 * output — out-of-domain images, a weak model or random bytes cost what a general compressor makes of them. Binary
 * pixels are bit-packed first (8 per byte), the natural blob for 0/1 images.
 */
import { deflateSync, inflateSync } from 'fflate';
import { GmError } from '@gm/core';

/** Packs 0/1 pixels 8 to a byte (most significant bit first). */
export function packBits(pixels: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(pixels.length / 8));
  for (let i = 0; i < pixels.length; i++) if (pixels[i]! !== 0) out[i >>> 3]! |= 0x80 >>> (i & 7);
  return out;
}

/** The first `count` pixels of bit-packed bytes. */
export function unpackBits(bytes: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = (bytes[i >>> 3]! >>> (7 - (i & 7))) & 1;
  return out;
}

/** Raw deflate of the pixels (bit-packed when binary). */
export function deflatePixels(pixels: Uint8Array, binary: boolean): Uint8Array {
  return deflateSync(binary ? packBits(pixels) : pixels, { level: 9, mem: 12 });
}

/**
 * Inflates `count` pixels written by {@link deflatePixels}. The output buffer is bounded by what the chunk says it
 * holds, so corrupt input can neither allocate without limit nor pass with the wrong length.
 */
export function inflatePixels(bytes: Uint8Array, count: number, binary: boolean, where: string): Uint8Array {
  const length = binary ? Math.ceil(count / 8) : count;
  // One byte of room beyond the expected length: fflate stops at the buffer's end, so filling it means "too long".
  let out: Uint8Array;
  try {
    out = inflateSync(bytes, { out: new Uint8Array(length + 1) });
  } catch (error) {
    throw new GmError('CORRUPT', where, `deflate data of ${length} bytes (${(error as Error).message})`);
  }
  if (out.length !== length) throw new GmError('CORRUPT', where, `deflate data of ${length} bytes, it inflates to ${out.length === length + 1 ? 'more' : out.length}`);
  return binary ? unpackBits(out, count) : out;
}
