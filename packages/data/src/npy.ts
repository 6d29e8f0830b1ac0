/**
 * NumPy's `.npy` format (browser-safe): the magic `\x93NUMPY`, a version (1.0: 2-byte header length, 2.0: 4-byte),
 * a Python-literal header `{'descr': '|u1', 'fortran_order': False, 'shape': (60000, 28, 28), }`, then the values in
 * C (row-major) order. gm reads and writes uint8 and float32 arrays, and turns an images array (and a labels array)
 * into a dataset.
 */
import { makeDataset, type ImageDataset } from './dataset.js';
import { DataError } from './errors.js';
import { hex } from './idx.js';

/** The element types gm reads from `.npy` files. */
export type NpyDtype = 'uint8' | 'float32';

/** A parsed `.npy` array: element type, shape, and the values in C order (native endianness). */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: Uint8Array | Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const DEFAULT_NAME = '<NPY buffer>';
/** A header longer than this is not one gm would write or read (numpy's own limit for version 1.0 is 65,535). */
const MAX_HEADER_BYTES = 1 << 20;

/** What other common dtypes are, for messages. */
const DTYPE_NAMES: Record<string, string> = {
  b1: 'bool',
  i1: 'int8',
  u2: 'uint16',
  i2: 'int16',
  u4: 'uint32',
  i4: 'int32',
  u8: 'uint64',
  i8: 'int64',
  f2: 'float16',
  f8: 'float64',
};

/** The dtype of a `descr`, and whether float32 values are big-endian; undefined for every other type. */
function dtypeOf(descr: string): { dtype: NpyDtype; bigEndian: boolean } | undefined {
  if (/^[|<>=]?u1$/.test(descr)) return { dtype: 'uint8', bigEndian: false };
  if (/^[<=]f4$/.test(descr)) return { dtype: 'float32', bigEndian: false };
  if (descr === '>f4') return { dtype: 'float32', bigEndian: true };
  return undefined;
}

/** The value of `key` in the header dict: the text after `'key':` (quotes of either kind). */
function field(header: string, key: string, pattern: string): RegExpExecArray | null {
  return new RegExp(`['"]${key}['"]\\s*:\\s*${pattern}`).exec(header);
}

/**
 * Parses a `.npy` file (version 1.0 or 2.0) holding uint8 (`|u1`) or float32 (`<f4`, `>f4`) values in C order.
 * Fortran-order arrays and NPY 3.0 are `UNSUPPORTED`, other dtypes `BAD_DTYPE` (with the numpy call that converts),
 * a file shorter or longer than its header declares `TRUNCATED` / `TRAILING_BYTES`. Errors name `file`.
 */
export function parseNpy(bytes: Uint8Array, file = DEFAULT_NAME): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new DataError('BAD_MAGIC', file, `not a .npy file: expected the magic 93 4e 55 4d 50 59 ("\\x93NUMPY"), got ${hex(bytes, 6) || 'nothing'}`);
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major !== 1 && major !== 2) {
    throw new DataError('UNSUPPORTED', file, `NPY format version ${major}.${minor} is not supported: expected 1.0 or 2.0`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) throw new DataError('TRUNCATED', file, 'truncated NPY preamble');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lengthBytes;
  if (headerLength > MAX_HEADER_BYTES) {
    throw new DataError('BAD_DIMENSIONS', file, `NPY header of ${headerLength} bytes: expected at most ${MAX_HEADER_BYTES}`);
  }
  if (bytes.length < start + headerLength) {
    throw new DataError('TRUNCATED', file, `truncated NPY header: expected ${headerLength} bytes, got ${bytes.length - start}`);
  }
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLength)).trim();
  if (!header.startsWith('{') || !header.endsWith('}')) {
    throw new DataError('BAD_MAGIC', file, `NPY header is not a Python dict: expected {'descr': …, 'fortran_order': …, 'shape': (…)}, got ${JSON.stringify(header.slice(0, 80))}`);
  }
  const descrMatch = field(header, 'descr', `['"]([^'"]*)['"]`);
  if (descrMatch === null) {
    throw new DataError('BAD_DTYPE', file, `NPY header has no plain 'descr' (structured arrays are not supported): expected '|u1' (uint8) or '<f4' (float32)`);
  }
  const descr = descrMatch[1]!;
  const type = dtypeOf(descr);
  if (type === undefined) {
    const name = DTYPE_NAMES[descr.replace(/^[|<>=]/, '')];
    throw new DataError(
      'BAD_DTYPE',
      file,
      `unsupported NPY dtype '${descr}'${name === undefined ? '' : ` (${name})`}: expected uint8 ('|u1') or float32 ('<f4'); ` +
        'convert with arr.astype(np.uint8) or arr.astype(np.float32)',
    );
  }
  const fortran = field(header, 'fortran_order', '(True|False)');
  if (fortran === null) throw new DataError('BAD_MAGIC', file, `NPY header has no 'fortran_order': expected True or False`);
  if (fortran[1] === 'True') {
    throw new DataError(
      'UNSUPPORTED',
      file,
      'Fortran-order (column-major) arrays are not supported: expected fortran_order False; save np.ascontiguousarray(arr)',
    );
  }
  const shapeMatch = field(header, 'shape', '\\(([^)]*)\\)');
  if (shapeMatch === null) throw new DataError('BAD_DIMENSIONS', file, `NPY header has no 'shape' tuple: expected e.g. 'shape': (60000, 28, 28)`);
  const parts = shapeMatch[1]!.split(',').map((p) => p.trim()).filter((p) => p !== '');
  const shape = parts.map((p) => (/^\d+L?$/.test(p) ? Number.parseInt(p, 10) : Number.NaN));
  if (shape.some((d) => !Number.isSafeInteger(d))) {
    throw new DataError('BAD_DIMENSIONS', file, `NPY shape (${shapeMatch[1]}) is not a tuple of non-negative integers`);
  }
  const itemSize = type.dtype === 'uint8' ? 1 : 4;
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLength;
  const expected = count * itemSize;
  const got = bytes.length - dataStart;
  if (got < expected) {
    throw new DataError('TRUNCATED', file, `truncated NPY data: shape (${shape.join(', ')}) of ${type.dtype} needs ${expected} bytes, got ${got}`);
  }
  if (got > expected) {
    throw new DataError('TRAILING_BYTES', file, `${got - expected} bytes after the NPY data: shape (${shape.join(', ')}) of ${type.dtype} needs ${expected}`);
  }
  if (type.dtype === 'uint8') return { dtype: 'uint8', shape, data: bytes.slice(dataStart) };
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = view.getFloat32(dataStart + 4 * i, !type.bigEndian);
  return { dtype: 'float32', shape, data };
}

/**
 * Writes `array` as a `.npy` file (version 1.0, or 2.0 when the header needs more than 65,535 bytes): `|u1` or
 * `<f4`, C order, the header padded so the data starts at a multiple of 64 bytes (as numpy writes).
 */
export function writeNpy(array: NpyArray): Uint8Array {
  const { dtype, shape, data } = array;
  const count = shape.reduce((a, b) => a * b, 1);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0) || data.length !== count) {
    throw new DataError('COUNT_MISMATCH', DEFAULT_NAME, `expected ${count} values for shape (${shape.join(', ')}), got ${data.length}`);
  }
  if ((dtype === 'uint8') !== (data instanceof Uint8Array)) {
    throw new DataError('BAD_DTYPE', DEFAULT_NAME, `expected ${dtype === 'uint8' ? 'a Uint8Array' : 'a Float32Array'} for dtype ${dtype}`);
  }
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${dtype === 'uint8' ? '|u1' : '<f4'}', 'fortran_order': False, 'shape': ${tuple}, }`;
  const major = dict.length + 1 + 10 > 65535 ? 2 : 1;
  const preamble = major === 1 ? 10 : 12;
  const padded = Math.ceil((preamble + dict.length + 1) / 64) * 64 - preamble;
  const header = dict.padEnd(padded - 1, ' ') + '\n';
  const out = new Uint8Array(preamble + padded + data.length * (dtype === 'uint8' ? 1 : 4));
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  if (major === 1) view.setUint16(8, padded, true);
  else view.setUint32(8, padded, true);
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  const at = preamble + padded;
  if (dtype === 'uint8') out.set(data, at);
  else for (let i = 0; i < data.length; i++) view.setFloat32(at + 4 * i, data[i]!, true);
  return out;
}

/** Options of {@link datasetFromNpy}. */
export interface NpyDatasetOptions {
  /**
   * How float32 pixels map to bytes: `'unit'` (default) values in [0, 1] become `round(v · 255)`; `'byte'` values in
   * [0, 255] become `round(v)`. Values outside the range (or NaN) are refused.
   */
  floatRange?: 'unit' | 'byte';
}

/** The pixels of a uint8 or float32 images array as bytes. */
function pixelBytes(images: NpyArray, file: string, floatRange: 'unit' | 'byte'): Uint8Array {
  if (images.dtype === 'uint8') return images.data as Uint8Array;
  const scale = floatRange === 'unit' ? 255 : 1;
  const src = images.data;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]! * scale;
    if (!(v >= 0 && v <= 255)) {
      throw new DataError(
        'BAD_VALUE',
        file,
        `float32 value ${src[i]} at index ${i} is outside ${floatRange === 'unit' ? '[0, 1] (floatRange unit; pass floatRange byte for 0..255 values)' : '[0, 255] (floatRange byte)'}`,
      );
    }
    out[i] = Math.round(v);
  }
  return out;
}

/** One label byte per image from a uint8 or float32 labels array of shape `[count]` (or `[count, 1]`). */
function labelBytes(labels: NpyArray, file: string, count: number): Uint8Array {
  const { shape } = labels;
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
    throw new DataError('BAD_DIMENSIONS', file, `expected labels of shape (count,) or (count, 1), got (${shape.join(', ')})`);
  }
  if (shape[0] !== count) {
    throw new DataError('COUNT_MISMATCH', file, `expected ${count} labels (one per image), got ${shape[0]}`);
  }
  if (labels.dtype === 'uint8') return labels.data as Uint8Array;
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const v = labels.data[i]!;
    if (!(Number.isInteger(v) && v >= 0 && v <= 255)) {
      throw new DataError('BAD_LABEL', file, `label ${i} is ${v}, expected a whole number 0..255`);
    }
    out[i] = v;
  }
  return out;
}

/**
 * A dataset (HWC) from an images array of shape `(count, height, width)` or `(count, height, width, channels)` with
 * 1 or 3 channels, and optionally a labels array `(count,)` (without one every label is 0). Channels-first arrays
 * are refused with the transpose that fixes them.
 */
export function datasetFromNpy(
  images: NpyArray,
  labels: NpyArray | undefined,
  files: { images: string; labels?: string },
  options: NpyDatasetOptions = {},
): ImageDataset {
  const { shape } = images;
  const [count, h, w, c = 1] = shape;
  if ((shape.length !== 3 && shape.length !== 4) || (c !== 1 && c !== 3)) {
    const channelsFirst = shape.length === 4 && (shape[1] === 1 || shape[1] === 3);
    throw new DataError(
      'BAD_DIMENSIONS',
      files.images,
      `expected images of shape (count, height, width) or (count, height, width, channels) with 1 or 3 channels, got (${shape.join(', ')})` +
        (channelsFirst ? '; channels first? save arr.transpose(0, 2, 3, 1)' : ''),
    );
  }
  const floatRange = options.floatRange ?? 'unit';
  if (floatRange !== 'unit' && floatRange !== 'byte') {
    throw new DataError('BAD_ARGUMENT', files.images, `floatRange must be 'unit' or 'byte', got ${String(floatRange)}`);
  }
  const pixels = pixelBytes(images, files.images, floatRange);
  const labelData = labels === undefined ? new Uint8Array(count!) : labelBytes(labels, files.labels ?? DEFAULT_NAME, count!);
  return makeDataset({ images: pixels, labels: labelData, shape: [h!, w!, c], layout: 'HWC', count: count! }, files.images);
}
