/** File-system and download helpers: atomic writes, sha256, verified downloads into a cache. */
import { createHash, randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { DataError } from './errors.js';
import { gunzipIdxWithin, gzipIfNamed } from './gzip.js';
import { parseIdx, writeIdx, type IdxArray } from './idx.js';
import { DEFAULT_MAX_FILE_BYTES, checkPositive, formatBytes, limitFrom, tooLarge, type Limit } from './limits.js';

/** A temporary name beside `path` (same folder, so the final rename is atomic on one file system). */
function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.partial`);
}

/**
 * Writes `bytes` to `path` atomically: to a temporary file in the same folder, flushed, then renamed over `path`.
 * A crash or error leaves either the old file or the new one, never a half-written one.
 */
export async function atomicWriteFile(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Lower-case hex sha256 of a regular file, streamed (a FIFO or device is refused, as by {@link readRegularFile}). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  const { fh } = await openRegularFile(path);
  try {
    for await (const chunk of fh.createReadStream({ start: 0, autoClose: false })) hash.update(chunk as Buffer);
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}


/** What a non-regular file is, for messages. */
function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'a folder';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}

/** Throws `NOT_REGULAR_FILE` unless `st` is a regular file. */
export function checkRegularFile(path: string, st: Stats): void {
  if (!st.isFile()) throw new DataError('NOT_REGULAR_FILE', path, `not a regular file (${kindOf(st)}): expected a regular file`);
}

/**
 * `stat` (following links) that returns undefined for a path that does not exist; anything else that exists
 * but is not a regular file (FIFO, device, socket, folder) is refused with `NOT_REGULAR_FILE`.
 */
export async function statRegularFile(path: string): Promise<Stats | undefined> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
  checkRegularFile(path, st);
  return st;
}

/**
 * Opens `path` for reading only if it is a regular file: checked before opening (so a FIFO is never opened, and
 * no open() can block waiting for a writer) and again on the open handle (so a file swapped in between is caught
 * too). Missing files are `MISSING_FILE`, FIFOs and devices `NOT_REGULAR_FILE`.
 */
export async function openRegularFile(path: string): Promise<{ fh: FileHandle; size: number }> {
  if ((await statRegularFile(path)) === undefined) throw new DataError('MISSING_FILE', path, 'file not found');
  // O_NONBLOCK: should a FIFO be swapped in after the check, open() returns at once instead of waiting forever.
  const fh = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const st = await fh.stat();
    checkRegularFile(path, st);
    return { fh, size: st.size };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** {@link readRegularFile} with a {@link Limit} (its note names the caller's option). */
export async function readRegularFileWithin(path: string, limit: Limit): Promise<Uint8Array> {
  const { fh, size } = await openRegularFile(path);
  try {
    if (size > limit.bytes) throw tooLarge(path, `the file has ${formatBytes(size)} bytes`, limit);
    const out = Buffer.allocUnsafeSlow(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await fh.read(out, at, size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return new Uint8Array(out.buffer, 0, at);
  } finally {
    await fh.close();
  }
}

/**
 * Reads a whole regular file, refusing anything else: a FIFO or a device (e.g. `/dev/zero`, which would be read
 * forever) is `NOT_REGULAR_FILE`, a missing file `MISSING_FILE`, and a file larger than `maxBytes` (default
 * {@link DEFAULT_MAX_FILE_BYTES}) `TOO_LARGE` without reading it. Only the size found when opening is read.
 */
export async function readRegularFile(path: string, options: { maxBytes?: number } = {}): Promise<Uint8Array> {
  return readRegularFileWithin(path, limitFrom(path, 'maxBytes', options.maxBytes, DEFAULT_MAX_FILE_BYTES));
}

/** Options of {@link readIdxFile}. */
export interface ReadIdxFileOptions {
  /**
   * The most bytes the file may have, on disk and inflated (default {@link DEFAULT_MAX_FILE_BYTES}, 256 MiB); a
   * gzipped file also may not inflate past what its IDX header declares.
   */
  maxBytes?: number;
}

/**
 * Reads an IDX file, gunzipping it when its name ends in `.gz`. Errors name the file. Only regular files are read
 * (see {@link readRegularFile}); a header declaring more than `maxBytes`, or gzip data inflating past its header,
 * is refused as `TOO_LARGE` without inflating the rest.
 */
export async function readIdxFile(path: string, options: ReadIdxFileOptions = {}): Promise<IdxArray> {
  const limit = limitFrom(path, 'maxBytes', options.maxBytes, DEFAULT_MAX_FILE_BYTES);
  return parseIdx(gunzipIdxWithin(await readRegularFileWithin(path, limit), path, limit), path);
}

/** Writes an IDX file atomically, gzipped when its name ends in `.gz`. */
export async function writeIdxFile(path: string, array: IdxArray): Promise<void> {
  await atomicWriteFile(path, gzipIfNamed(writeIdx(array), path));
}

/** The default overall deadline of one download: 30 minutes (the 170 MB CIFAR-10 archive at ~100 kB/s). */
export const DEFAULT_DOWNLOAD_TIMEOUT_MS = 30 * 60 * 1000;
/** The default idle timeout of a download: 60 s without a response or a byte of its body. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60 * 1000;
/** The default cap on a download whose size is not known in advance: 1 GiB. */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 1024 * 1024 * 1024;

/** Options of {@link downloadVerified}, {@link ensureCached} and the loaders that download. */
export interface DownloadOptions {
  /** The fetch to use (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /** Aborts the download; the partial file is removed. */
  signal?: AbortSignal;
  /**
   * Overall deadline of one file's download in milliseconds, from the request to the last byte (default
   * {@link DEFAULT_DOWNLOAD_TIMEOUT_MS}, 30 min; `Infinity` for none).
   */
  timeoutMs?: number;
  /**
   * The longest wait in milliseconds for the response, and then for each next piece of its body (default
   * {@link DEFAULT_IDLE_TIMEOUT_MS}, 60 s; `Infinity` for none).
   */
  idleTimeoutMs?: number;
  /**
   * The most bytes a download may have when its size is not known in advance (default
   * {@link DEFAULT_MAX_DOWNLOAD_BYTES}, 1 GiB; `Infinity` for no cap). Files of known size (the official MNIST
   * and CIFAR-10 files) are cut off as soon as they run past that size.
   */
  maxDownloadBytes?: number;
}

/** Options of {@link downloadVerified} and {@link ensureCached}: the download options and the file's size. */
export interface VerifiedDownloadOptions extends DownloadOptions {
  /** The file's exact size in bytes, when known: a response announcing or sending more is refused at once. */
  expectedBytes?: number;
}

/** setTimeout cannot wait longer than this (2^31 − 1 ms, ~24.8 days); longer waits count as no timeout. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `promise`, or a rejection with the signal's reason as soon as `signal` aborts (for fetches that ignore it). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

/**
 * Downloads `url` to `dest`, streaming into a temporary file in the same folder while hashing, and renames it into
 * place only when its sha256 equals `expectedSha256`. The download is bounded: an overall deadline (`timeoutMs`),
 * an idle timeout (`idleTimeoutMs`, for a server that stops sending or never answers) and a size (`expectedBytes`
 * when known, else `maxDownloadBytes`; a `Content-Length` above it is refused before the body is read). On an HTTP
 * error status, a network error, an abort, a timeout (`TIMEOUT`), too many bytes (`TOO_LARGE`) or a checksum
 * mismatch it removes the temporary file and throws a {@link DataError} naming the URL, so nothing half-written or
 * unverified is ever left at `dest`.
 */
export async function downloadVerified(
  url: string,
  dest: string,
  expectedSha256: string,
  options: VerifiedDownloadOptions = {},
): Promise<void> {
  const where = 'downloadVerified';
  checkPositive(where, 'timeoutMs', options.timeoutMs, 'milliseconds');
  checkPositive(where, 'idleTimeoutMs', options.idleTimeoutMs, 'milliseconds');
  checkPositive(where, 'expectedBytes', options.expectedBytes, 'bytes');
  const maxLimit = limitFrom(
    where,
    'maxDownloadBytes',
    options.maxDownloadBytes,
    DEFAULT_MAX_DOWNLOAD_BYTES,
    'the default cap for downloads of unknown size; pass { maxDownloadBytes } to allow more',
  );
  const expectedBytes = options.expectedBytes;
  const limit = expectedBytes !== undefined && expectedBytes <= maxLimit.bytes ? undefined : maxLimit;
  const name = basename(dest);
  const timeoutMs = options.timeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const doFetch = options.fetch ?? globalThis.fetch;
  const expected = expectedSha256.toLowerCase();
  await mkdir(dirname(dest), { recursive: true });

  // One controller for the user's signal, the deadline, the idle timer and the size cap; `failure` says why.
  const controller = new AbortController();
  let failure: DataError | undefined;
  const stop = (err: DataError): DataError => {
    failure ??= err;
    controller.abort(failure);
    return failure;
  };
  const onUserAbort = (): void => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) onUserAbort();
  options.signal?.addEventListener('abort', onUserAbort, { once: true });
  const deadline =
    timeoutMs <= MAX_TIMER_MS
      ? setTimeout(() => stop(new DataError('TIMEOUT', url, `download of ${name} did not finish within ${timeoutMs} ms (timeoutMs)`)), timeoutMs)
      : undefined;
  let idle: ReturnType<typeof setTimeout> | undefined;
  const touch = (): void => {
    if (idleTimeoutMs > MAX_TIMER_MS) return;
    clearTimeout(idle);
    idle = setTimeout(
      () => stop(new DataError('TIMEOUT', url, `download of ${name} stalled: no data for ${idleTimeoutMs} ms (idleTimeoutMs)`)),
      idleTimeoutMs,
    );
  };
  const tooMuch = (what: string): DataError =>
    limit === undefined
      ? new DataError('TOO_LARGE', url, `download of ${name} ${what} the ${formatBytes(expectedBytes!)} bytes expected; the file was not saved`)
      : new DataError('TOO_LARGE', url, `download of ${name} ${what} ${formatBytes(limit.bytes)} bytes (${limit.note}); the file was not saved`);

  let tmp: string | undefined;
  try {
    touch();
    let response: Response;
    try {
      response = await abortable(doFetch(url, { signal: controller.signal }), controller.signal);
    } catch (cause) {
      if (failure) throw failure;
      throw new DataError('NETWORK_ERROR', url, `download failed: ${(cause as Error).message}`, { cause });
    }
    const body = response.body;
    if (!response.ok || body === null) {
      await body?.cancel().catch(() => undefined);
      throw new DataError(
        'HTTP_ERROR',
        url,
        `download of ${name} failed: expected HTTP 200, got ${response.status} ${response.statusText}`.trimEnd(),
      );
    }
    const announced = Number(response.headers.get('content-length') ?? Number.NaN);
    const cap = limit?.bytes ?? expectedBytes!;
    if (Number.isFinite(announced) && announced > cap) {
      await body.cancel().catch(() => undefined);
      throw new DataError(
        'TOO_LARGE',
        url,
        limit === undefined
          ? `download of ${name} announces ${formatBytes(announced)} bytes, expected ${formatBytes(expectedBytes!)}; the file was not saved`
          : `download of ${name} announces ${formatBytes(announced)} bytes, more than ${formatBytes(limit.bytes)} (${limit.note}); the file was not saved`,
      );
    }
    tmp = tempPathFor(dest);
    const hash = createHash('sha256');
    const reader = body.getReader();
    const fh = await open(tmp, 'wx');
    try {
      let received = 0;
      try {
        for (;;) {
          touch();
          const { done, value } = await abortable(reader.read(), controller.signal);
          if (done) break;
          received += value.length;
          if (received > cap) throw stop(tooMuch('sent more than'));
          hash.update(value);
          await fh.write(value);
        }
      } catch (cause) {
        await reader.cancel().catch(() => undefined);
        if (failure) throw failure;
        throw new DataError('NETWORK_ERROR', url, `download of ${name} interrupted: ${(cause as Error).message}`, { cause });
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    const actual = hash.digest('hex');
    if (actual !== expected) {
      throw new DataError('CHECKSUM_MISMATCH', url, `sha256 mismatch for ${name}: expected ${expected}, got ${actual}; the file was not saved`);
    }
    await rename(tmp, dest);
  } catch (err) {
    if (tmp !== undefined) await rm(tmp, { force: true });
    throw err;
  } finally {
    clearTimeout(deadline);
    clearTimeout(idle);
    options.signal?.removeEventListener('abort', onUserAbort);
  }
}

/** Where {@link ensureCached} found or put a file. */
export interface CachedFile {
  path: string;
  /** False when a verified copy was already in the cache. */
  downloaded: boolean;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temporary files of `name` left in `dir` by processes that died mid-write (killed, power loss); those of
 * live processes, which may still be downloading, are kept.
 */
export async function removeStalePartials(dir: string, name: string): Promise<string[]> {
  const prefix = `.${name}.`;
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return removed;
  }
  for (const entry of entries) {
    if (!entry.startsWith(prefix) || !entry.endsWith('.partial')) continue;
    const pid = Number(entry.slice(prefix.length).split('.')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) {
      await rm(join(dir, entry), { force: true });
      removed.push(entry);
    }
  }
  return removed;
}

/**
 * Makes sure `cacheDir/name` exists with the given sha256: reuses a cached copy whose hash matches (and, with
 * `expectedBytes`, whose size does), otherwise downloads `mirror + name` with {@link downloadVerified} (replacing a
 * stale or corrupt cached copy). Temporary files left by a download that was killed are removed first.
 */
export async function ensureCached(
  name: string,
  mirror: string,
  cacheDir: string,
  expectedSha256: string,
  options: VerifiedDownloadOptions = {},
): Promise<CachedFile> {
  const path = join(cacheDir, name);
  await removeStalePartials(cacheDir, name);
  const cached = await stat(path).catch(() => undefined);
  if (
    cached?.isFile() &&
    (options.expectedBytes === undefined || cached.size === options.expectedBytes) &&
    (await sha256File(path)) === expectedSha256.toLowerCase()
  ) {
    return { path, downloaded: false };
  }
  const url = new URL(name, mirror.endsWith('/') ? mirror : `${mirror}/`).href;
  await downloadVerified(url, path, expectedSha256, options);
  return { path, downloaded: true };
}

/** `$XDG_CACHE_HOME/gm/<what>` or `~/.cache/gm/<what>`. */
export function defaultCacheDir(what: string): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'gm', what);
}

