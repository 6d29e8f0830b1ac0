/**
 * A folder of PNG and JPEG pictures as a dataset (Node), decoded and resized by sharp — an optional peer dependency,
 * imported only when a folder is read. Pictures are read in file-name order; class sub-folders give labels, as in
 * torchvision's ImageFolder.
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageDataset } from './dataset.js';
import { makeDataset } from './dataset.js';
import { DataError } from './errors.js';
import { readRegularFileWithin } from './files.js';
import { hex } from './idx.js';
import {
  DEFAULT_MAX_DATASET_BYTES,
  DEFAULT_MAX_IMAGE_FILE_BYTES,
  DEFAULT_MAX_IMAGE_PIXELS,
  checkPositive,
  formatBytes,
  limitFrom,
  tooLarge,
  type Limit,
} from './limits.js';

/**
 * How a picture of another aspect ratio becomes `size`: `'cover'` scales it to cover the size and crops the middle
 * (nothing is distorted, the edges of the longer side are lost); `'contain'` scales it to fit inside and pads with
 * black (nothing is lost); `'fill'` stretches it.
 */
export type ImageFit = 'cover' | 'contain' | 'fill';

/** Where labels come from: class sub-folders, none (every label 0), or `'auto'` (see {@link loadImageFolder}). */
export type ImageFolderLabels = 'auto' | 'folders' | 'none';

/** Options of {@link loadImageFolder}. */
export interface LoadImageFolderOptions {
  /** `[height, width]` of every image (or one number for a square); default: the size of the first picture. */
  size?: number | readonly [height: number, width: number];
  /**
   * 1 (gray), 3 (RGB) or `'auto'` (default): 1 when every picture is gray (a gray PNG or JPEG, or RGB with R = G = B
   * everywhere), else 3. Alpha is dropped.
   */
  channels?: 1 | 3 | 'auto';
  /** How pictures of another aspect ratio are fitted (default `'cover'`: scaled and centre-cropped). */
  fit?: ImageFit;
  /** Labels from class sub-folders (default `'auto'`). */
  labels?: ImageFolderLabels;
  /** The most bytes one picture file may have (default {@link DEFAULT_MAX_IMAGE_FILE_BYTES}, 64 MiB). */
  maxFileBytes?: number;
  /**
   * The most pixels one picture may have, from its header before decoding (default {@link DEFAULT_MAX_IMAGE_PIXELS},
   * 8192 × 8192).
   */
  maxPixels?: number;
  /** The most bytes of the whole dataset at its final size (default {@link DEFAULT_MAX_DATASET_BYTES}, 1 GiB). */
  maxBytes?: number;
}

/** A dataset read from pictures, with the file of each image. */
export interface ImageFolderDataset extends ImageDataset {
  /** The picture of image i (the folder joined with its name), in dataset order. */
  files: readonly string[];
}

/** The file names read as pictures (case-insensitive). */
const PICTURE = /\.(png|jpe?g)$/i;
/** Pictures decoded at the same time (sharp decodes on libuv's thread pool). */
const CONCURRENCY = 4;

/** The parts of sharp gm uses (kept structural, so the published types do not need sharp installed). */
interface SharpImage {
  metadata(): Promise<{ width?: number; height?: number; channels?: number }>;
  resize(width: number, height: number, options: { fit: ImageFit; position: 'centre'; background: { r: number; g: number; b: number; alpha: number } }): SharpImage;
  removeAlpha(): SharpImage;
  toColourspace(space: 'b-w' | 'srgb'): SharpImage;
  raw(): SharpImage;
  toBuffer(options: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }>;
}
export type SharpFactory = (input: Uint8Array, options?: { limitInputPixels?: number | boolean }) => SharpImage;

let sharpPromise: Promise<SharpFactory> | undefined;

async function importSharp(where: string, importer: () => Promise<unknown>): Promise<SharpFactory> {
  let mod: unknown;
  try {
    mod = await importer();
  } catch (cause) {
    const err = cause as NodeJS.ErrnoException;
    const missing = (err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND') && /['"]sharp['"]/.test(err.message);
    throw new DataError(
      'MISSING_DEPENDENCY',
      where,
      missing
        ? 'reading PNG and JPEG pictures needs the image library sharp, an optional peer dependency of @gm/data: run `npm install sharp`'
        : `the image library sharp is installed but did not load (${firstLine(err)}); see https://sharp.pixelplumbing.com/install`,
      { cause },
    );
  }
  const m = mod as { default?: unknown };
  return (typeof m.default === 'function' ? m.default : mod) as SharpFactory;
}

/**
 * sharp, imported on first use (and kept once it loads). When it is not installed, a `MISSING_DEPENDENCY`
 * {@link DataError} naming `where` says what to install; when it is installed but its native part does not load,
 * the same code carries sharp's own message. `importer` replaces the import (for tests) and is not kept.
 */
export function loadSharp(where: string, importer?: () => Promise<unknown>): Promise<SharpFactory> {
  if (importer !== undefined) return importSharp(where, importer);
  sharpPromise ??= importSharp(where, () => import('sharp')).catch((err: unknown) => {
    sharpPromise = undefined;
    throw err;
  });
  return sharpPromise;
}

/** The entries of a folder: picture files and sub-folders (names starting with '.' are skipped), each sorted. */
async function listFolder(dir: string): Promise<{ pictures: string[]; folders: string[] }> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError('MISSING_FILE', dir, 'folder not found', { cause });
    if (code === 'ENOTDIR') throw new DataError('BAD_ARGUMENT', dir, 'not a folder: expected a folder of PNG/JPEG pictures', { cause });
    throw cause;
  }
  const pictures: string[] = [];
  const folders: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    if (PICTURE.test(e.name)) pictures.push(e.name);
    else if (e.isDirectory() || (e.isSymbolicLink() && (await stat(join(dir, e.name)).catch(() => undefined))?.isDirectory())) folders.push(e.name);
  }
  // Code-unit order: the same on every machine and locale.
  return { pictures: pictures.sort(), folders: folders.sort() };
}

/** The pictures to read and their labels, in dataset order. */
async function collect(dir: string, mode: ImageFolderLabels): Promise<{ files: string[]; labels: number[]; classes?: string[] }> {
  const top = await listFolder(dir);
  const none = `no PNG or JPEG pictures (.png, .jpg, .jpeg) in ${dir}`;
  const byFolders = mode === 'folders' || (mode === 'auto' && top.pictures.length === 0 && top.folders.length > 0);
  if (!byFolders) {
    if (top.pictures.length === 0) throw new DataError('MISSING_FILE', dir, none);
    return { files: top.pictures.map((f) => join(dir, f)), labels: top.pictures.map(() => 0) };
  }
  if (top.pictures.length > 0) {
    throw new DataError(
      'BAD_ARGUMENT',
      join(dir, top.pictures[0]!),
      `a picture beside the class folders of ${dir}: expected pictures only inside class sub-folders (labels 'folders')`,
    );
  }
  if (top.folders.length === 0) throw new DataError('MISSING_FILE', dir, `no class sub-folders in ${dir}: expected one folder of pictures per class`);
  if (top.folders.length > 256) {
    throw new DataError('BAD_LABEL', dir, `${top.folders.length} class folders: expected at most 256 (labels are bytes)`);
  }
  const files: string[] = [];
  const labels: number[] = [];
  for (const [label, name] of top.folders.entries()) {
    const sub = join(dir, name);
    const { pictures } = await listFolder(sub);
    if (pictures.length === 0) throw new DataError('MISSING_FILE', sub, `class folder "${name}" holds no PNG or JPEG pictures`);
    for (const p of pictures) {
      files.push(join(sub, p));
      labels.push(label);
    }
  }
  return { files, labels, classes: top.folders };
}

/** Throws `BAD_IMAGE` unless the bytes start like a PNG or a JPEG (sharp would read other formats too). */
function checkSignature(bytes: Uint8Array, file: string): void {
  const png = bytes.length >= 8 && hex(bytes, 8) === '89 50 4e 47 0d 0a 1a 0a';
  const jpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (!png && !jpeg) {
    throw new DataError('BAD_IMAGE', file, `not a PNG or JPEG picture: expected 89 50 4e 47 0d 0a 1a 0a (PNG) or ff d8 ff (JPEG), got ${hex(bytes, 8) || 'an empty file'}`);
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}

interface Limits {
  file: Limit;
  pixels: { count: number; note: string };
}

/** The header's width and height, after checking the signature and the pixel cap. */
async function pictureSize(sharp: SharpFactory, bytes: Uint8Array, file: string, limits: Limits): Promise<{ width: number; height: number; channels: number }> {
  checkSignature(bytes, file);
  let meta: { width?: number; height?: number; channels?: number };
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw new DataError('BAD_IMAGE', file, `not a readable PNG or JPEG picture: ${firstLine(cause)}`, { cause });
  }
  const { width, height } = meta;
  if (width === undefined || height === undefined || width < 1 || height < 1) {
    throw new DataError('BAD_IMAGE', file, 'not a readable PNG or JPEG picture: its header gives no size');
  }
  if (width * height > limits.pixels.count) {
    throw new DataError(
      'TOO_LARGE',
      file,
      `the picture is ${width}×${height} = ${formatBytes(width * height)} pixels, more than ${formatBytes(limits.pixels.count)} (${limits.pixels.note})`,
    );
  }
  return { width, height, channels: meta.channels ?? 3 };
}

/** One picture decoded to `size`, gray (1 byte per pixel) or RGB (3). */
async function decode(
  sharp: SharpFactory,
  file: string,
  limits: Limits,
  size: readonly [number, number],
  fit: ImageFit,
  channels: 1 | 3 | 'auto',
): Promise<Uint8Array> {
  const bytes = await readRegularFileWithin(file, limits.file);
  const source = await pictureSize(sharp, bytes, file, limits);
  const gray = channels === 1 || (channels === 'auto' && source.channels <= 2);
  const [height, width] = size;
  let out: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    out = await sharp(bytes, { limitInputPixels: limits.pixels.count })
      .resize(width, height, { fit, position: 'centre', background: { r: 0, g: 0, b: 0, alpha: 1 } })
      .removeAlpha()
      .toColourspace(gray ? 'b-w' : 'srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (cause) {
    throw new DataError('BAD_IMAGE', file, `not a readable PNG or JPEG picture: ${firstLine(cause)}`, { cause });
  }
  const c = gray ? 1 : 3;
  const { info } = out;
  if (info.width !== width || info.height !== height || info.channels !== c || out.data.length !== width * height * c) {
    throw new DataError(
      'BAD_IMAGE',
      file,
      `decoded to ${info.width}×${info.height}×${info.channels}, expected ${width}×${height}×${c} (width × height × channels)`,
    );
  }
  return new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length);
}

/** Runs `task(i)` for i in 0..n-1, `CONCURRENCY` at a time; on failure, throws the error of the smallest index. */
async function inOrder(n: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { at: number; error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < n && (failed === undefined || next < failed.at)) {
      const i = next++;
      try {
        await task(i);
      } catch (error) {
        if (failed === undefined || i < failed.at) failed = { at: i, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n) }, worker));
  if (failed !== undefined) throw failed.error;
}

function checkSize(size: LoadImageFolderOptions['size'], where: string): readonly [number, number] | undefined {
  if (size === undefined) return undefined;
  const hw = typeof size === 'number' ? ([size, size] as const) : size;
  if (hw.length !== 2 || !hw.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new DataError('BAD_ARGUMENT', where, `size must be [height, width] of positive integers (or one), got ${JSON.stringify(size)}`);
  }
  return [hw[0], hw[1]];
}

function checkChoice<T extends string | number>(where: string, option: string, value: T | undefined, choices: readonly T[]): T {
  if (value === undefined) return choices[0]!;
  if (!choices.includes(value)) {
    throw new DataError('BAD_ARGUMENT', where, `${option} must be ${choices.map((c) => JSON.stringify(c)).join(', ')}; got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Reads a folder of PNG and JPEG pictures (`.png`, `.jpg`, `.jpeg`, any case; names starting with '.' are skipped)
 * into an HWC dataset of `size` (default: the first picture's size), gray or RGB (`channels`). Pictures of another
 * size are resized — by default scaled to cover the size and centre-cropped (`fit`).
 *
 * Labels (`labels`): `'folders'` reads one class per sub-folder, in name order (label i is the i-th folder, and
 * `labelNames` holds the folder names), the pictures directly inside each; `'none'` reads the pictures directly in
 * `dir`, all labelled 0; `'auto'` (default) is `'folders'` when `dir` holds sub-folders and no pictures, else
 * `'none'`. Images are in file-name order (code-unit order, the same on every machine), class by class.
 *
 * Safety: only regular files are read, each at most `maxFileBytes`; each header is checked against `maxPixels`
 * before the picture is decoded; the dataset may not pass `maxBytes`; anything but a PNG or JPEG (by its first
 * bytes), and a picture that does not decode (truncated, corrupt), is a `BAD_IMAGE` {@link DataError} naming the
 * file. Needs the optional peer dependency `sharp` (`MISSING_DEPENDENCY` says so when it is not installed).
 *
 * @example
 * ```ts
 * const pets = await loadImageFolder('photos', { size: [64, 64], channels: 3 }); // photos/cat/*.jpg, photos/dog/*.jpg
 * pets.labelNames; // ['cat', 'dog']
 * ```
 */
export async function loadImageFolder(dir: string, options: LoadImageFolderOptions = {}): Promise<ImageFolderDataset> {
  const where = 'loadImageFolder';
  const fit = checkChoice<ImageFit>(where, 'fit', options.fit, ['cover', 'contain', 'fill']);
  const channels = checkChoice<1 | 3 | 'auto'>(where, 'channels', options.channels, ['auto', 1, 3]);
  const mode = checkChoice<ImageFolderLabels>(where, 'labels', options.labels, ['auto', 'folders', 'none']);
  let size = checkSize(options.size, where);
  checkPositive(where, 'maxPixels', options.maxPixels, 'pixels');
  const limits: Limits = {
    file: limitFrom(where, 'maxFileBytes', options.maxFileBytes, DEFAULT_MAX_IMAGE_FILE_BYTES),
    pixels:
      options.maxPixels === undefined
        ? { count: DEFAULT_MAX_IMAGE_PIXELS, note: 'the default cap, 8192 × 8192; pass { maxPixels } to allow more' }
        : { count: options.maxPixels, note: 'maxPixels' },
  };
  const maxBytes = limitFrom(where, 'maxBytes', options.maxBytes, DEFAULT_MAX_DATASET_BYTES);

  const { files, labels, classes } = await collect(dir, mode);
  const sharp = await loadSharp(where);
  if (size === undefined) {
    const first = await pictureSize(sharp, await readRegularFileWithin(files[0]!, limits.file), files[0]!, limits);
    size = [first.height, first.width];
  }
  const [height, width] = size;
  const perImage = height * width * (channels === 1 ? 1 : 3);
  if (files.length * perImage > maxBytes.bytes) {
    throw tooLarge(dir, `${files.length} images of ${height}×${width}${channels === 1 ? '' : '×3'} need ${formatBytes(files.length * perImage)} bytes`, maxBytes);
  }

  const decoded: Uint8Array[] = new Array<Uint8Array>(files.length);
  await inOrder(files.length, async (i) => {
    decoded[i] = await decode(sharp, files[i]!, limits, size, fit, channels);
  });

  const hw = height * width;
  const isGray = (px: Uint8Array): boolean => {
    if (px.length === hw) return true;
    for (let p = 0; p < hw; p++) if (px[3 * p] !== px[3 * p + 1] || px[3 * p] !== px[3 * p + 2]) return false;
    return true;
  };
  const c = channels !== 'auto' ? channels : decoded.every(isGray) ? 1 : 3;
  const images = new Uint8Array(files.length * hw * c);
  decoded.forEach((px, i) => {
    const at = i * hw * c;
    if (px.length === hw * c) images.set(px, at);
    else if (c === 1) for (let p = 0; p < hw; p++) images[at + p] = px[3 * p]!; // RGB with R = G = B
    else for (let p = 0; p < hw; p++) images.fill(px[p]!, at + 3 * p, at + 3 * p + 3); // gray among RGB pictures
  });
  const ds = makeDataset(
    {
      images,
      labels: Uint8Array.from(labels),
      shape: [height, width, c],
      layout: 'HWC',
      count: files.length,
      ...(classes === undefined ? {} : { labelNames: classes }),
    },
    dir,
  );
  return { ...ds, files };
}
