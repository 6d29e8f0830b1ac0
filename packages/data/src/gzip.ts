/** gzip by file name, for IDX files and archives named *.gz (fflate: the same code in Node and browsers). */
import { gunzipSync, gzipSync } from 'fflate';
import { DataError } from './errors.js';
import { hex, isGzip } from './idx.js';

/**
 * Decompresses `bytes` when `file` ends in `.gz` (and refuses data under such a name that is not gzip); returns
 * other files unchanged.
 */
export function gunzipIfNamed(bytes: Uint8Array, file: string): Uint8Array {
  if (!file.toLowerCase().endsWith('.gz')) return bytes;
  if (!isGzip(bytes)) {
    throw new DataError(
      'NOT_GZIP',
      file,
      `the name ends in .gz but the data is not gzip: expected the gzip magic 1f 8b, got ${hex(bytes, 2) || 'an empty file'}`,
    );
  }
  try {
    return gunzipSync(bytes);
  } catch (cause) {
    throw new DataError('TRUNCATED', file, `corrupt or truncated gzip data: ${(cause as Error).message}`, { cause });
  }
}

/** Compresses when `file` ends in `.gz`; the inverse of {@link gunzipIfNamed}. */
export function gzipIfNamed(bytes: Uint8Array, file: string): Uint8Array {
  if (!file.toLowerCase().endsWith('.gz')) return bytes;
  return gzipSync(bytes, { level: 9 });
}
