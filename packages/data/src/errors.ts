import { GmError } from '@gm/core';

/** What went wrong with a data file; lets callers branch without parsing messages. */
export type DataErrorCode =
  | 'BAD_MAGIC'
  | 'BAD_DTYPE'
  | 'TRUNCATED'
  | 'TRAILING_BYTES'
  | 'BAD_DIMENSIONS'
  | 'COUNT_MISMATCH'
  | 'BAD_LABEL'
  | 'NOT_GZIP'
  | 'CHECKSUM_MISMATCH'
  | 'HTTP_ERROR'
  | 'NETWORK_ERROR'
  | 'UNSAFE_TAR_ENTRY'
  | 'MISSING_FILE'
  | 'BAD_ARGUMENT'
  /** More bytes than a header, a known file size or a cap allows (decompression bombs, endless downloads). */
  | 'TOO_LARGE'
  /** A download passed its overall deadline or its idle timeout. */
  | 'TIMEOUT'
  /** A FIFO, device, socket or folder where a regular file was expected. */
  | 'NOT_REGULAR_FILE'
  /** A picture that is not a PNG or JPEG, or that does not decode (truncated, corrupt). */
  | 'BAD_IMAGE'
  /** A value outside the range a format allows (a float pixel outside [0, 1], NaN). */
  | 'BAD_VALUE'
  /** A valid file in a variant gm does not read (a Fortran-order or NPY 3.0 array). */
  | 'UNSUPPORTED'
  /** An optional peer dependency that this function needs is not installed (sharp, for PNG/JPEG folders). */
  | 'MISSING_DEPENDENCY';

/**
 * Every bad-input error from @gm/data (a {@link @gm/core!"packages/core/src".GmError | GmError}). The message always starts with the file (path, URL or
 * archive entry) and says what was expected and what was found; `file` and `code` carry the same facts for programs.
 */
export class DataError extends GmError {
  override name = 'DataError';
  declare readonly code: DataErrorCode;
  constructor(
    code: DataErrorCode,
    /** The file, URL or archive entry at fault. */
    readonly file: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(code, file, detail);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}
