/**
 * Bits-back compression with a trained model through @gm/bitsback: the model fingerprint that ties a .gmz file to
 * the weights that wrote it, the pixels the coder sees, chunked compress/decompress with progress, and the
 * comparison with general-purpose compressors and PNG.
 */
import { createHash } from 'node:crypto';
import { PNG } from 'pngjs';
import { baselineSizes, compressStream, decompressStream, GmzError, splitGmz, type GmzHeader } from '@gm/bitsback';
import { binarizeStatic } from '@gm/data';
import { CliError } from './errors';
import { VAE } from '@gm/models';
import type { VaeBitsBackModel } from '@gm/models';
import type { GenerativeModel } from './registry';
import type { Reporter } from './progress';

/** SHA-256 (hex) of the model kind, its input shape and every weight's bytes: equal ⇔ same model, same weights. */
export function modelFingerprint(model: GenerativeModel): string {
  const h = createHash('sha256');
  h.update(`gm-cli model ${model.kind} ${JSON.stringify(model.inputShape)} ${model.codingsSize}\n`);
  for (const w of [...model.trainableVariables(), ...(model.stateVariables?.() ?? [])]) {
    const data = w.dataSync();
    h.update(`${JSON.stringify(w.shape)}:`);
    h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return h.digest('hex');
}

/** What the coder codes for a model: 0/1 pixels (static binarization, byte > 127) or the bytes themselves. */
export function coderPixels(model: GenerativeModel, images: Uint8Array): { pixels: Uint8Array; kind: 'binary' | 'u8'; binarized: boolean } {
  const bb = bitsBackOf(model);
  if (bb.pixels === 'u8') return { pixels: images, kind: 'u8', binarized: false };
  const binary = images.every((v) => v === 0 || v === 255);
  return { pixels: binarizeStatic(images), kind: 'binary', binarized: !binary };
}

export function bitsBackOf(model: GenerativeModel): { model: VaeBitsBackModel; pixels: 'binary' | 'u8' } {
  if (!(model instanceof VAE)) {
    throw new CliError(`a "${model.kind}" cannot compress: gm's bits-back coder needs a VAE (diagonal-Gaussian posterior, pixel likelihood); train one with "gm train vae"`);
  }
  return { model: model.toBitsBackModel(), pixels: model.config.likelihood === 'bernoulli' ? 'binary' : 'u8' };
}

/**
 * Compresses `pixels` (coder pixels, `count` images of `shape`) into .gmz bytes through @gm/bitsback's streaming
 * encoder, one chunk at a time, so a progress bar can follow.
 */
export async function compressPixels(
  model: GenerativeModel,
  pixels: Uint8Array,
  count: number,
  shape: number[],
  reporter: Reporter,
  options: { chunkSize?: number } = {},
): Promise<Uint8Array> {
  const bb = bitsBackOf(model);
  const chunkSize = options.chunkSize ?? 500;
  const D = pixels.length / count;
  const pieces = Array.from({ length: Math.ceil(count / chunkSize) }, (_, i) => pixels.subarray(i * chunkSize * D, Math.min(count, (i + 1) * chunkSize) * D));
  const parts: Uint8Array[] = [];
  await reporter.task('compressing', count, async (tick) => {
    for await (const part of compressStream(pieces, bb.model, { fingerprint: modelFingerprint(model), shape, pixels: bb.pixels, chunkSize }, count)) {
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
  return out;
}

/** Decompresses .gmz bytes with `model`; a file written by another model, or corrupt, is a CliError naming `file`. */
export async function decompressBytes(
  model: GenerativeModel,
  bytes: Uint8Array,
  file: string,
  reporter: Reporter,
): Promise<{ pixels: Uint8Array; header: GmzHeader; count: number }> {
  const bb = bitsBackOf(model);
  try {
    const { header, count } = splitGmz(bytes);
    if (header.settings.pixels !== bb.pixels) throw new CliError(`${file} holds ${header.settings.pixels} pixels, but the model codes ${bb.pixels} pixels`);
    const D = header.settings.pixelsPerImage;
    const pixels = new Uint8Array(count * D);
    await reporter.task('decompressing', count, async (tick) => {
      let at = 0;
      for await (const images of decompressStream([bytes], bb.model, { fingerprint: modelFingerprint(model) })) {
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
      if (error.code === 'wrong-model') throw new CliError(`${file} was compressed with a different model (${error.message}): decompress with the checkpoint that compressed it`);
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
 * packed as one blob (bit-packed when binary) and PNG files of the pixels (0/255 when binary).
 */
export function rateTable(gmzBytes: number, pixels: Uint8Array, kind: 'binary' | 'u8', count: number, shape: readonly [number, number, number], bounds: { negElboBitsPerDim?: number; isBitsPerDim?: number; k?: number }): RateRow[] {
  const dims = pixels.length;
  const bpd = (bytes: number) => (8 * bytes) / dims;
  const base = baselineSizes(pixels, kind === 'binary');
  const visible = kind === 'binary' ? pixels.map((v) => (v === 0 ? 0 : 255)) : pixels;
  const png = pngSizes(visible, count, shape);
  const rows: RateRow[] = [{ method: 'bits-back (BB-ANS, .gmz file)', bytes: gmzBytes, bitsPerDim: bpd(gmzBytes) }];
  if (bounds.negElboBitsPerDim !== undefined) rows.push({ method: 'model −ELBO (the rate bits-back targets)', bytes: null, bitsPerDim: bounds.negElboBitsPerDim });
  if (bounds.isBitsPerDim !== undefined) rows.push({ method: `model −log p(x), IS k=${bounds.k}`, bytes: null, bitsPerDim: bounds.isBitsPerDim });
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
