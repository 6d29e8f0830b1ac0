/**
 * gzip by file name, for IDX files and archives named *.gz (fflate: the same code in Node and browsers). Inflation
 * is capped: data is refused as soon as it runs past the cap (or, for IDX files, past the size the IDX header
 * declares), so a small bomb cannot cost gigabytes of memory.
 */
import { Gunzip, gunzipSync, gzipSync } from 'fflate';
import { DataError } from './errors.js';
import { hex, idxDeclaredSize, isGzip } from './idx.js';
import { DEFAULT_MAX_FILE_BYTES, formatBytes, limitFrom, tooLarge, type Limit } from './limits.js';

/** Options of {@link gunzipIfNamed} and {@link gunzipIdxIfNamed}. */
export interface GunzipOptions {
  /**
   * Refuse data that inflates to more than this many bytes (default {@link DEFAULT_MAX_FILE_BYTES}, 256 MiB;
   * `Infinity` for no cap). For IDX files, also the most bytes a header may declare.
   */
  maxBytes?: number;
}

/**
 * Compressed bytes handed to the inflater at a time. Deflate expands at most ~1,032×, so one step yields at most
 * ~17 MiB before the cap is checked again.
 */
const STEP = 16 * 1024;
/** The longest IDX header: magic plus 255 dimensions. */
const IDX_HEAD_MAX = 4 + 4 * 255;

function checkGzip(bytes: Uint8Array, file: string): void {
  if (!isGzip(bytes)) {
    throw new DataError(
      'NOT_GZIP',
      file,
      `the name ends in .gz but the data is not gzip: expected the gzip magic 1f 8b, got ${hex(bytes, 2) || 'an empty file'}`,
    );
  }
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]!.length === length) return chunks[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Data inflating past the size its IDX header declares. */
function pastHeader(file: string, size: number, what: string): DataError {
  return new DataError(
    'TOO_LARGE',
    file,
    `the gzip data inflates to more than the ${formatBytes(size)} bytes its IDX header declares (${what}); refusing to inflate further`,
  );
}

function corrupt(file: string, cause: unknown): DataError {
  if (cause instanceof DataError) return cause;
  return new DataError('TRUNCATED', file, `corrupt or truncated gzip data: ${(cause as Error).message}`, { cause });
}

/** The size the gzip trailer claims (ISIZE: the last member's size mod 2^32); a hint only, never trusted. */
function trailerSize(bytes: Uint8Array): number {
  const n = bytes.length;
  return n < 18 ? -1 : (bytes[n - 4]! | (bytes[n - 3]! << 8) | (bytes[n - 2]! << 16) | (bytes[n - 1]! << 24)) >>> 0;
}

/**
 * One-shot inflation into a buffer of `size + 1` bytes: fflate stops writing at the buffer's end (silently), so a
 * result filling the extra byte means the data inflates to more than `size`; undefined then.
 */
function inflateInto(bytes: Uint8Array, file: string, size: number): Uint8Array | undefined {
  let got: Uint8Array;
  try {
    got = gunzipSync(bytes, { out: new Uint8Array(size + 1) });
  } catch (cause) {
    throw corrupt(file, cause);
  }
  return got.length > size ? undefined : got;
}

/** The first `n` inflated bytes (fewer if there are fewer), inflating step by step and no further than needed. */
function peek(bytes: Uint8Array, file: string, n: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const stream = new Gunzip((chunk) => {
    chunks.push(chunk);
    total += chunk.length;
  });
  try {
    for (let at = 0; at < bytes.length && total < n; at += STEP) stream.push(bytes.subarray(at, at + STEP), at + STEP >= bytes.length);
  } catch (cause) {
    throw corrupt(file, cause);
  }
  return concat(chunks, total).subarray(0, n);
}

/**
 * Inflates `bytes` (gzip), refusing more than `limit` bytes of output. With `idx`, the IDX header at the start of
 * the output fixes the size: a header declaring more than `limit` is refused as soon as it is read, and output
 * running past what it declares is refused (the output buffer is allocated once, at that size).
 *
 * Fast path: when the gzip trailer's size agrees (with the IDX header, or is within `limit`), one `gunzipSync`
 * into a buffer of that size + 1, which cannot grow past it. Otherwise, or if the data turns out longer than the
 * trailer said, inflation goes in steps of {@link STEP} input bytes and stops as soon as a cap is passed.
 */
function inflate(bytes: Uint8Array, file: string, limit: Limit, idx: boolean): Uint8Array {
  const hint = trailerSize(bytes);
  if (idx) {
    const declared = idxDeclaredSize(peek(bytes, file, IDX_HEAD_MAX));
    if (declared !== 'more' && declared !== undefined) {
      if (declared.size > limit.bytes) throw tooLarge(file, `the IDX header declares ${formatBytes(declared.size)} bytes (${declared.what})`, limit);
      if (hint === declared.size % 2 ** 32) {
        const got = inflateInto(bytes, file, declared.size);
        if (got === undefined) throw pastHeader(file, declared.size, declared.what);
        return got;
      }
    }
  } else if (hint >= 0 && hint <= limit.bytes) {
    const got = inflateInto(bytes, file, hint);
    if (got !== undefined) return got;
  }
  return inflateSteps(bytes, file, limit, idx);
}

/** {@link inflate} in steps: never more than ~17 MiB of output past a cap before it is refused. */
function inflateSteps(bytes: Uint8Array, file: string, limit: Limit, idx: boolean): Uint8Array {
  let chunks: Uint8Array[] = [];
  let total = 0;
  let decided = !idx;
  let exact: { out: Uint8Array; what: string } | undefined;
  const stream = new Gunzip((chunk) => {
    const at = total;
    total += chunk.length;
    if (exact !== undefined) {
      if (total > exact.out.length) {
        throw pastHeader(file, exact.out.length, exact.what);
      }
      exact.out.set(chunk, at);
      return;
    }
    if (total > limit.bytes) {
      throw new DataError('TOO_LARGE', file, `the gzip data inflates to more than ${formatBytes(limit.bytes)} bytes (${limit.note})`);
    }
    chunks.push(chunk);
    if (decided) return;
    const head = concat(chunks, total).subarray(0, IDX_HEAD_MAX);
    const declared = idxDeclaredSize(head);
    if (declared === 'more') return;
    decided = true;
    // Not an IDX header: the general cap applies, and the parser will say what is wrong.
    if (declared === undefined) return;
    if (declared.size > limit.bytes) throw tooLarge(file, `the IDX header declares ${formatBytes(declared.size)} bytes (${declared.what})`, limit);
    if (total > declared.size) {
      throw pastHeader(file, declared.size, declared.what);
    }
    exact = { out: new Uint8Array(declared.size), what: declared.what };
    exact.out.set(concat(chunks, total));
    chunks = [];
  });
  try {
    for (let at = 0; at < bytes.length; at += STEP) stream.push(bytes.subarray(at, at + STEP), at + STEP >= bytes.length);
  } catch (cause) {
    throw corrupt(file, cause);
  }
  // Shorter than the header declares: the parser reports the truncation with both sizes.
  if (exact !== undefined) return total < exact.out.length ? exact.out.subarray(0, total) : exact.out;
  return concat(chunks, total);
}

/**
 * Decompresses `bytes` when `file` ends in `.gz` (and refuses data under such a name that is not gzip); returns
 * other files unchanged. Data that inflates to more than `maxBytes` (default {@link DEFAULT_MAX_FILE_BYTES}) is
 * refused with a `TOO_LARGE` {@link DataError} as soon as it gets there.
 */
export function gunzipIfNamed(bytes: Uint8Array, file: string, options: GunzipOptions = {}): Uint8Array {
  const limit = limitFrom(
    file,
    'maxBytes',
    options.maxBytes,
    DEFAULT_MAX_FILE_BYTES,
    'the default cap for data of unknown size; pass { maxBytes } to allow more',
  );
  if (!file.toLowerCase().endsWith('.gz')) return bytes;
  checkGzip(bytes, file);
  return inflate(bytes, file, limit, false);
}

/**
 * {@link gunzipIfNamed} for IDX files: the IDX header's dimensions fix the inflated size, so inflation stops as
 * soon as the data runs past what the header declares, and a header declaring more than `maxBytes` (default
 * {@link DEFAULT_MAX_FILE_BYTES}) is refused before its body is inflated. Both are `TOO_LARGE` {@link DataError}s.
 * Data that does not start with an IDX header is inflated up to `maxBytes`, for the parser to reject.
 */
export function gunzipIdxIfNamed(bytes: Uint8Array, file: string, options: GunzipOptions = {}): Uint8Array {
  return gunzipIdxWithin(bytes, file, limitFrom(file, 'maxBytes', options.maxBytes, DEFAULT_MAX_FILE_BYTES));
}

/** {@link gunzipIdxIfNamed} with a {@link Limit} whose note names the caller's option. */
export function gunzipIdxWithin(bytes: Uint8Array, file: string, limit: Limit): Uint8Array {
  if (!file.toLowerCase().endsWith('.gz')) return bytes;
  checkGzip(bytes, file);
  return inflate(bytes, file, limit, true);
}

/** Compresses when `file` ends in `.gz`; the inverse of {@link gunzipIfNamed}. */
export function gzipIfNamed(bytes: Uint8Array, file: string): Uint8Array {
  if (!file.toLowerCase().endsWith('.gz')) return bytes;
  return gzipSync(bytes, { level: 9 });
}
