/** Caps on how many bytes a file, a decompression, an archive entry or a download may have (browser-safe). */
import { DataError } from './errors.js';

/**
 * The default cap on one data file held in memory: gzip data of unknown size, an IDX file (what its header
 * declares), one tar entry read into memory. 256 MiB: MNIST's largest file is 47 MB, EMNIST's digits 188 MB.
 */
export const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;

/** The default cap on one picture file of an image folder: 64 MiB. */
export const DEFAULT_MAX_IMAGE_FILE_BYTES = 64 * 1024 * 1024;

/**
 * The default cap on the pixels of one picture, read from its header before it is decoded: 8192 × 8192
 * (67,108,864). A decoder holds several bytes per pixel, so a small file declaring 50,000 × 50,000 is refused.
 */
export const DEFAULT_MAX_IMAGE_PIXELS = 8192 * 8192;

/** The default cap on a dataset decoded from pictures, all images together at their final size: 1 GiB. */
export const DEFAULT_MAX_DATASET_BYTES = 1024 * 1024 * 1024;

/** A cap and how a message names it: the option to pass, or why the default is what it is. */
export interface Limit {
  bytes: number;
  /** The parenthetical of messages, e.g. `maxBytes` or `the default cap; pass { maxBytes } to allow more`. */
  note: string;
}

/** `n` with thousands separators (`47,040,016`), the same in every locale. */
export function formatBytes(n: number): string {
  if (!Number.isSafeInteger(n)) return Number.isFinite(n) ? `about ${n.toPrecision(4)}` : String(n);
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Throws unless `value` is undefined or a positive integer (or Infinity). */
export function checkPositive(where: string, option: string, value: number | undefined, unit: 'bytes' | 'milliseconds' | 'pixels'): void {
  if (value === undefined) return;
  const ok = typeof value === 'number' && value > 0 && (Number.isSafeInteger(value) || value === Number.POSITIVE_INFINITY);
  if (!ok) {
    throw new DataError('BAD_ARGUMENT', where, `${option} must be a positive number of ${unit} (or Infinity), got ${String(value)}`);
  }
}

/** The cap given by option `option` (checked), or the default with a note saying how to raise it. */
export function limitFrom(
  where: string,
  option: string,
  value: number | undefined,
  fallback: number,
  fallbackNote = `the default cap; pass { ${option} } to allow more`,
): Limit {
  checkPositive(where, option, value, 'bytes');
  return value === undefined ? { bytes: fallback, note: fallbackNote } : { bytes: value, note: option };
}

/** A {@link DataError} `TOO_LARGE`: "<file>: <what>, more than <cap> bytes (<note>)". */
export function tooLarge(file: string, what: string, limit: Limit): DataError {
  return new DataError('TOO_LARGE', file, `${what}, more than ${formatBytes(limit.bytes)} bytes (${limit.note})`);
}
