/**
 * gm's error type and argument checks. Every bad input gets a {@link GmError} whose message names the file, field
 * or argument at fault and says what was expected and what was found; `code` and `where` carry the same facts for
 * programs, so callers branch without parsing messages.
 */

/** Why something was refused. Packages add their own codes (e.g. @gm/data's file errors). */
export type GmErrorCode =
  | 'BAD_ARGUMENT'
  | 'BAD_SHAPE'
  | 'NOT_FOUND'
  | 'CORRUPT'
  | 'CHECKSUM_MISMATCH'
  | 'UNSUPPORTED_VERSION'
  | 'WRONG_MODEL'
  | 'WRONG_KIND'
  | 'DIVERGED'
  | 'DISPOSED'
  | 'UNSUPPORTED'
  | (string & {});

/** The value as it appears in a message: JSON where that reads well, else its string form. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'function') return 'a function';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as ArrayLike<number>).length}`;
  try {
    const text = JSON.stringify(value);
    if (text !== undefined) return text.length > 120 ? `${text.slice(0, 117)}...` : text;
  } catch {
    // circular: fall through
  }
  return String(value);
}

/**
 * An error a user can act on.
 *
 * - `new GmError(code, where, detail)`: the message is `"<where>: <detail>"`.
 * - `new GmError(code, where, expected, got)`: the message is `"<where> must be <expected>, got <got>"`.
 *
 * @example
 * ```ts
 * throw new GmError('BAD_ARGUMENT', 'VAE config: latentDim', 'a positive integer', -3);
 * // VAE config: latentDim must be a positive integer, got -3
 * ```
 */
export class GmError extends Error {
  override name = 'GmError';
  /** The file, field or argument at fault. */
  readonly where: string;

  constructor(
    readonly code: GmErrorCode,
    where: string,
    detailOrExpected: string,
    ...got: [] | [unknown] | [unknown, { cause?: unknown }]
  ) {
    super(got.length === 0 ? `${where}: ${detailOrExpected}` : `${where} must be ${detailOrExpected}, got ${describeValue(got[0])}`, got[1]);
    this.where = where;
  }
}

/** Throws unless `value` is an object (not null, not an array). */
export function checkObject(where: string, value: unknown): asserts value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new GmError('BAD_ARGUMENT', where, 'an object', value);
}

/** Throws unless `value` is a finite number. */
export function checkFiniteNumber(where: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new GmError('BAD_ARGUMENT', where, 'a finite number', value);
}

/** Throws unless `value` is a finite number > 0. */
export function checkPositiveNumber(where: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !(value > 0)) throw new GmError('BAD_ARGUMENT', where, 'a positive number', value);
}

/** Throws unless `value` is a finite number ≥ 0. */
export function checkNonNegativeNumber(where: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !(value >= 0)) throw new GmError('BAD_ARGUMENT', where, 'a non-negative number', value);
}

/** Throws unless `value` is an integer. */
export function checkInteger(where: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new GmError('BAD_ARGUMENT', where, 'an integer', value);
}

/** Throws unless `value` is an integer ≥ 1. */
export function checkPositiveInt(where: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new GmError('BAD_ARGUMENT', where, 'a positive integer', value);
}

/** Throws unless `value` is an integer ≥ 0. */
export function checkNonNegativeInt(where: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new GmError('BAD_ARGUMENT', where, 'a non-negative integer', value);
}

/** Throws unless `value` is an integer in [lo, hi]. */
export function checkIntInRange(where: string, value: unknown, lo: number, hi: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) {
    throw new GmError('BAD_ARGUMENT', where, `an integer in [${lo}, ${hi}]`, value);
  }
}

/** Throws unless `value` is a boolean. */
export function checkBoolean(where: string, value: unknown): asserts value is boolean {
  if (typeof value !== 'boolean') throw new GmError('BAD_ARGUMENT', where, 'a boolean', value);
}

/** Throws unless `value` is one of `options`. */
export function checkOneOf<T extends string | number>(where: string, value: unknown, options: readonly T[]): asserts value is T {
  if (!(options as readonly unknown[]).includes(value)) {
    throw new GmError('BAD_ARGUMENT', where, `one of ${options.map((o) => (typeof o === 'string' ? `'${o}'` : String(o))).join(', ')}`, value);
  }
}

/** Throws unless `value` is an array of positive integers (non-empty unless `allowEmpty`); returns a copy. */
export function checkPositiveIntArray(where: string, value: unknown, options: { allowEmpty?: boolean } = {}): number[] {
  const ok = Array.isArray(value) && (options.allowEmpty === true || value.length > 0) && value.every((v) => typeof v === 'number' && Number.isInteger(v) && v > 0);
  if (!ok) throw new GmError('BAD_ARGUMENT', where, `${options.allowEmpty === true ? 'an' : 'a non-empty'} array of positive integers`, value);
  return [...(value as number[])];
}

/** A shape as text for messages: `[null, 28, 28, 1]`. */
export function formatShape(shape: readonly (number | null | undefined)[]): string {
  return `[${shape.map((d) => (d === null || d === undefined ? 'null' : String(d))).join(', ')}]`;
}
