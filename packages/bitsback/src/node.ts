/**
 * `@gm/bitsback/node`: reporting that needs Node's zlib — the rate of a .gmz file in bits per dimension next to the
 * model's −ELBO, how each chunk was stored, and what general-purpose compressors (gzip -9, brotli) make of the same
 * images packed as one blob.
 */
import { brotliCompressSync, constants as zc, gzipSync } from 'node:zlib';
import { packBits } from './fallback';
import { chunkSummary, headerPixels, splitGmz, type GmzChunkSummary } from './gmz';

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
  /** The model's −ELBO (or NLL) in bits per dimension, if supplied. */
  negElboBitsPerDim: number | null;
  /** bitsPerDim / negElboBitsPerDim. */
  ratioToElbo: number | null;
  /** How each chunk was stored (the model's code or deflate). */
  chunks: GmzChunkSummary[];
  gzip: { bytes: number; bitsPerDim: number };
  brotli: { bytes: number; bitsPerDim: number };
}

/**
 * Rate of `file` (a .gmz holding `images`) next to the model's −ELBO (`negElboBitsPerDim`, the mean over the same
 * images, in bits per pixel) and gzip / brotli of the same images.
 */
export function rateReport(file: Uint8Array, images: Uint8Array, negElboBitsPerDim: number | null = null): RateReport {
  const g = splitGmz(file);
  const dims = g.count * headerPixels(g.header);
  if (images.length !== dims) throw new RangeError(`the file holds ${dims} pixels, images has ${images.length}`);
  const base = baselineSizes(images, g.header.pixels === 'binary');
  const bpd = (bytes: number): number => (8 * bytes) / dims;
  const bitsPerDim = bpd(file.length);
  return {
    images: g.count,
    dims,
    fileBytes: file.length,
    bitsPerDim,
    negElboBitsPerDim,
    ratioToElbo: negElboBitsPerDim === null ? null : bitsPerDim / negElboBitsPerDim,
    chunks: chunkSummary(g),
    gzip: { bytes: base.gzipBytes, bitsPerDim: bpd(base.gzipBytes) },
    brotli: { bytes: base.brotliBytes, bitsPerDim: bpd(base.brotliBytes) },
  };
}
