/**
 * Compression with a trained model through @gm/bitsback: the model's coding description (`codingModel()`, the same
 * the library compresses with, so files travel between the library, the CLI and a page), the pixels the coder sees,
 * chunked compress/decompress with progress, and the comparison with general-purpose compressors and PNG.
 */
import { PNG } from 'pngjs';
import { chunkSummary, compressStream, decompressStream, GmzError, splitGmz, type GmzChunkSummary, type GmzHeader } from '@gm/bitsback';
import { baselineSizes } from '@gm/bitsback/node';
import { GmError, type CodingModel } from '@gm/core';
import { binarizeStatic } from '@gm/data';
import { CliError } from './errors';
import type { GenerativeModel } from './registry';
import type { Reporter } from './progress';

/** The model's coding description, or a CliError saying which models compress. */
export function codingModelOf(model: GenerativeModel): CodingModel {
  if (typeof model.codingModel !== 'function') {
    throw new CliError(
      `a "${model.kind}" cannot compress: gm's bits-back coder needs a VAE or an IAF-VAE (a latent posterior, pixel likelihood), or a MADE for autoregressive coding; train one with "gm train vae"`,
    );
  }
  try {
    return model.codingModel();
  } catch (error) {
    if (error instanceof GmError) throw new CliError(`a "${model.kind}" cannot compress: ${error.message}`);
    throw error;
  }
}

/** What the coder codes for a model: 0/1 pixels (static binarization, byte > 127) or the bytes themselves. */
export function coderPixels(coding: CodingModel, images: Uint8Array): { pixels: Uint8Array; kind: 'binary' | 'u8'; binarized: boolean } {
  if (coding.kind === 'gaussian-latent' && coding.pixels === 'u8') return { pixels: images, kind: 'u8', binarized: false };
  const binary = images.every((v) => v === 0 || v === 255);
  return { pixels: binarizeStatic(images), kind: 'binary', binarized: !binary };
}

/** The name of a model's code in reports. */
export function codeName(kind: CodingModel['kind'], particles = 1): string {
  if (kind !== 'gaussian-latent') return 'autoregressive (.gmz file)';
  return particles > 1 ? `importance-sampled bits-back (BB-CIS, ${particles} particles, .gmz file)` : 'bits-back (BB-ANS, .gmz file)';
}

/**
 * Compresses `pixels` (coder pixels, `count` images of `shape`) into .gmz bytes through @gm/bitsback's streaming
 * encoder, one chunk at a time, so a progress bar can follow.
 */
export async function compressPixels(
  coding: CodingModel,
  pixels: Uint8Array,
  count: number,
  shape: number[],
  reporter: Reporter,
  options: { chunkSize?: number; fallback?: boolean; particles?: number } = {},
): Promise<{ bytes: Uint8Array; chunks: GmzChunkSummary[] }> {
  const chunkSize = options.chunkSize ?? 500;
  const fallback = options.fallback ?? true;
  const D = pixels.length / count;
  const pieces = Array.from({ length: Math.ceil(count / chunkSize) }, (_, i) => pixels.subarray(i * chunkSize * D, Math.min(count, (i + 1) * chunkSize) * D));
  const parts: Uint8Array[] = [];
  await reporter.task('compressing', count, async (tick) => {
    for await (const part of compressStream(pieces, coding, { shape, chunkSize, fallback, ...(options.particles === undefined ? {} : { particles: options.particles }) }, count)) {
      parts.push(part);
      tick(Math.min(count, Math.max(0, parts.length - 1) * chunkSize));
    }
  });
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { bytes: out, chunks: chunkSummary(splitGmz(out)) };
}

/** "3 chunks, all coded with the model" / "2 of 3 chunks deflated (the model's code was larger)". */
export function describeChunks(chunks: readonly GmzChunkSummary[]): string {
  const deflated = chunks.filter((c) => c.method === 'deflate').length;
  const n = `${chunks.length} chunk${chunks.length === 1 ? '' : 's'}`;
  if (deflated === 0) return `${n}, all coded with the model`;
  return `${deflated} of ${n} stored deflated: the model's code was larger (images unlike its training data?)`;
}

/** Decompresses .gmz bytes with `model`; a file written by another model, or corrupt, is a CliError naming `file`. */
export async function decompressBytes(
  coding: CodingModel,
  bytes: Uint8Array,
  file: string,
  reporter: Reporter,
): Promise<{ pixels: Uint8Array; header: GmzHeader; count: number }> {
  try {
    const { header, count } = splitGmz(bytes);
    const D = header.shape.reduce((a, b) => a * b, 1);
    const pixels = new Uint8Array(count * D);
    await reporter.task('decompressing', count, async (tick) => {
      let at = 0;
      for await (const images of decompressStream([bytes], coding)) {
        pixels.set(images, at * D);
        at += images.length / D;
        tick(at);
      }
      if (at !== count) throw new CliError(`${file}: decoded ${at} images, the file says ${count}`);
    });
    return { pixels, header, count };
  } catch (error) {
    if (error instanceof CliError) throw error;
    if (error instanceof GmzError) {
      if (error.code === 'wrong-model') throw new CliError(`${file} was compressed with a different model (${error.message})`);
      throw new CliError(`${file}: not a valid .gmz file (${error.code}: ${error.message})`);
    }
    throw error;
  }
}

/** Sizes of the same images as PNG: one 8-bit gray (or RGB) file per image, and all of them as one sheet. */
export function pngSizes(images: Uint8Array, count: number, shape: readonly [number, number, number]): { perImageBytes: number; sheetBytes: number } {
  const [h, w, c] = shape;
  const size = h * w * c;
  const colorType = c === 1 ? 0 : 2;
  const encode = (width: number, height: number, fill: (rgba: Buffer) => void): number => {
    const png = new PNG({ width, height });
    fill(png.data);
    return PNG.sync.write(png, { colorType, inputColorType: 6, bitDepth: 8, deflateLevel: 9, inputHasAlpha: true }).length;
  };
  const put = (rgba: Buffer, at: number, img: number, p: number) => {
    for (let k = 0; k < 3; k++) rgba[at + k] = images[img * size + p * c + (c === 1 ? 0 : k)] as number;
    rgba[at + 3] = 255;
  };
  let perImageBytes = 0;
  for (let i = 0; i < count; i++) {
    perImageBytes += encode(w, h, (rgba) => {
      for (let p = 0; p < h * w; p++) put(rgba, 4 * p, i, p);
    });
  }
  const cols = Math.ceil(Math.sqrt(count));
  const rows = Math.ceil(count / cols);
  const sheetBytes = encode(cols * w, rows * h, (rgba) => {
    rgba.fill(0);
    for (let i = 0; i < count; i++) {
      const ox = (i % cols) * w;
      const oy = Math.floor(i / cols) * h;
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) put(rgba, 4 * ((oy + y) * cols * w + ox + x), i, y * w + x);
    }
  });
  return { perImageBytes, sheetBytes };
}

export interface RateRow {
  method: string;
  bytes: number | null;
  bitsPerDim: number;
}

/**
 * The comparison table: the .gmz file, the model's own bounds (−ELBO, IS), and gzip -9 / brotli of the pixels
 * packed as one blob (bit-packed when binary) and PNG files of the pixels (0/255 when binary). `bounds.flow`: the
 * bounds are of a flow posterior (an IAF-VAE), which the coder replaces by a Gaussian proposal derived from it.
 */
export function rateTable(
  gmz: { bytes: number; chunks: readonly GmzChunkSummary[] },
  code: CodingModel['kind'],
  pixels: Uint8Array,
  kind: 'binary' | 'u8',
  count: number,
  shape: readonly [number, number, number],
  bounds: { negElboBitsPerDim?: number; isBitsPerDim?: number; k?: number; flow?: boolean },
  particles = 1,
): RateRow[] {
  const dims = pixels.length;
  const bpd = (bytes: number) => (8 * bytes) / dims;
  const base = baselineSizes(pixels, kind === 'binary');
  const visible = kind === 'binary' ? pixels.map((v) => (v === 0 ? 0 : 255)) : pixels;
  const png = pngSizes(visible, count, shape);
  // The file, then what it is made of: the header and chunk framing, the clean bits each bits-back chunk starts from
  // (its initial-bits cost), and the images' code itself (the net coded rate).
  const framing = gmz.bytes - gmz.chunks.reduce((a, c) => a + c.bytes, 0);
  const clean = gmz.chunks.reduce((a, c) => a + c.cleanBits, 0) / 8;
  const rows: RateRow[] = [
    { method: codeName(code, particles), bytes: gmz.bytes, bitsPerDim: bpd(gmz.bytes) },
    { method: '  of which the header and chunk framing', bytes: framing, bitsPerDim: bpd(framing) },
    ...(code === 'gaussian-latent' ? [{ method: '  of which initial bits (clean bits the first image of each chunk draws)', bytes: clean, bitsPerDim: bpd(clean) }] : []),
    { method: '  net coded rate (the images\' code alone)', bytes: gmz.bytes - framing - clean, bitsPerDim: bpd(gmz.bytes - framing - clean) },
  ];
  const flow = bounds.flow === true;
  if (bounds.negElboBitsPerDim !== undefined) {
    const method = flow ? 'model −ELBO (flow posterior; BB-ANS codes with a Gaussian proposal from it)' : 'model −ELBO (the rate BB-ANS targets)';
    rows.push({ method, bytes: null, bitsPerDim: bounds.negElboBitsPerDim });
  }
  if (bounds.isBitsPerDim !== undefined) {
    const method =
      particles > 1
        ? `model's ${bounds.k}-sample IS bound (${flow ? 'flow posterior; BB-CIS samples the Gaussian proposal' : 'the rate BB-CIS targets'})`
        : `model −log p(x), IS k=${bounds.k}`;
    rows.push({ method, bytes: null, bitsPerDim: bounds.isBitsPerDim });
  }
  rows.push(
    { method: kind === 'binary' ? 'raw, 1 bit per pixel' : 'raw, 8 bits per pixel', bytes: base.rawBytes, bitsPerDim: bpd(base.rawBytes) },
    { method: 'gzip -9', bytes: base.gzipBytes, bitsPerDim: bpd(base.gzipBytes) },
    { method: 'brotli (q11)', bytes: base.brotliBytes, bitsPerDim: bpd(base.brotliBytes) },
    { method: 'PNG, one file per image', bytes: png.perImageBytes, bitsPerDim: bpd(png.perImageBytes) },
    { method: 'PNG, all images in one sheet', bytes: png.sheetBytes, bitsPerDim: bpd(png.sheetBytes) },
  );
  return rows;
}

/** The table as aligned text. */
export function formatRateTable(rows: RateRow[]): string {
  const w = Math.max(...rows.map((r) => r.method.length));
  const head = `${'method'.padEnd(w)}  ${'bytes'.padStart(9)}  ${'bits/dim'.padStart(8)}  ${'vs bits-back'.padStart(12)}`;
  const ref = rows[0]?.bitsPerDim ?? 1;
  const lines = rows.map(
    (r) => `${r.method.padEnd(w)}  ${(r.bytes === null ? '—' : r.bytes.toLocaleString('en-US')).padStart(9)}  ${r.bitsPerDim.toFixed(4).padStart(8)}  ${`${(r.bitsPerDim / ref).toFixed(2)}×`.padStart(12)}`,
  );
  return [head, '-'.repeat(head.length), ...lines].join('\n');
}
