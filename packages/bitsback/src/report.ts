/**
 * Reporting helpers: the rate of a .gmz file in bits per dimension next to the model's −ELBO, the clean bits it
 * used, and what general-purpose compressors (gzip -9, brotli) make of the same images packed as one blob.
 */
import { brotliCompressSync, constants as zc, gzipSync } from 'node:zlib';
import { splitGmz } from './gmz';

/** Packs 0/1 pixels 8 to a byte (MSB first) — the natural blob for binary images. */
export function packBits(pixels: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(pixels.length / 8));
  for (let i = 0; i < pixels.length; i++) if (pixels[i]! !== 0) out[i >>> 3]! |= 0x80 >>> (i & 7);
  return out;
}

/** Sizes of the images compressed by general-purpose compressors, as one blob. */
export interface BaselineSizes {
  /** Bytes of the blob they compress (bit-packed for binary images, one byte per pixel otherwise). */
  rawBytes: number;
  gzipBytes: number;
  brotliBytes: number;
}

/** gzip -9 and brotli (quality 11, large window) of the images packed as one blob. */
export function baselineSizes(images: Uint8Array, binary: boolean): BaselineSizes {
  const blob = binary ? packBits(images) : images;
  const gzip = gzipSync(blob, { level: 9 });
  const brotli = brotliCompressSync(blob, {
    params: {
      [zc.BROTLI_PARAM_QUALITY]: 11,
      [zc.BROTLI_PARAM_LGWIN]: 24,
      [zc.BROTLI_PARAM_SIZE_HINT]: blob.length,
    },
  });
  return { rawBytes: blob.length, gzipBytes: gzip.length, brotliBytes: brotli.length };
}

/** A rate report for one .gmz file. */
export interface RateReport {
  images: number;
  /** Pixels in all images (the "dims" of bits/dim). */
  dims: number;
  fileBytes: number;
  /** Whole file (header, start-up state, checksums included) in bits per dimension. */
  bitsPerDim: number;
  /** The model's −ELBO in bits per dimension, if supplied. */
  negElboBitsPerDim: number | null;
  /** bitsPerDim / negElboBitsPerDim. */
  ratioToElbo: number | null;
  /** Clean bits drawn over all chunks (16 per clean unit). */
  cleanBits: number;
  chunks: number;
  gzip: { bytes: number; bitsPerDim: number };
  brotli: { bytes: number; bitsPerDim: number };
}

/**
 * Rate of `file` (a .gmz holding `images`) next to the model's −ELBO (`negElboBitsPerDim`, the mean over the same
 * images, in bits per pixel) and gzip / brotli of the same images.
 */
export function rateReport(file: Uint8Array, images: Uint8Array, negElboBitsPerDim: number | null = null): RateReport {
  const g = splitGmz(file);
  const dims = g.count * g.header.settings.pixelsPerImage;
  if (images.length !== dims) throw new RangeError(`the file holds ${dims} pixels, images has ${images.length}`);
  const base = baselineSizes(images, g.header.settings.pixels === 'binary');
  const bpd = (bytes: number): number => (8 * bytes) / dims;
  const bitsPerDim = bpd(file.length);
  return {
    images: g.count,
    dims,
    fileBytes: file.length,
    bitsPerDim,
    negElboBitsPerDim,
    ratioToElbo: negElboBitsPerDim === null ? null : bitsPerDim / negElboBitsPerDim,
    cleanBits: 16 * g.chunks.reduce((a, c) => a + c.cleanUnits, 0),
    chunks: g.chunks.length,
    gzip: { bytes: base.gzipBytes, bitsPerDim: bpd(base.gzipBytes) },
    brotli: { bytes: base.brotliBytes, bitsPerDim: bpd(base.brotliBytes) },
  };
}
