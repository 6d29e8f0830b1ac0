/** File-system and download helpers: atomic writes, sha256, verified downloads into a cache. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { DataError } from './errors.js';
import { gunzipIfNamed, gzipIfNamed } from './gzip.js';
import { parseIdx, writeIdx, type IdxArray } from './idx.js';

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

/** Lower-case hex sha256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}


async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Reads an IDX file, gunzipping it when its name ends in `.gz`. Errors name the file. */
export async function readIdxFile(path: string): Promise<IdxArray> {
  return parseIdx(gunzipIfNamed(await readFile(path), path), path);
}

/** Writes an IDX file atomically, gzipped when its name ends in `.gz`. */
export async function writeIdxFile(path: string, array: IdxArray): Promise<void> {
  await atomicWriteFile(path, gzipIfNamed(writeIdx(array), path));
}

/** Options of {@link downloadVerified}. */
export interface DownloadOptions {
  /** The fetch to use (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /** Aborts the download; the partial file is removed. */
  signal?: AbortSignal;
}

/**
 * Downloads `url` to `dest`, streaming into a temporary file in the same folder while hashing, and renames it into
 * place only when its sha256 equals `expectedSha256`. On an HTTP error status, a network error, an abort or a
 * checksum mismatch it removes the temporary file and throws a {@link DataError} naming the URL, so nothing
 * half-written or unverified is ever left at `dest`.
 */
export async function downloadVerified(
  url: string,
  dest: string,
  expectedSha256: string,
  options: DownloadOptions = {},
): Promise<void> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const expected = expectedSha256.toLowerCase();
  await mkdir(dirname(dest), { recursive: true });
  let response: Response;
  try {
    response = await doFetch(url, options.signal ? { signal: options.signal } : {});
  } catch (cause) {
    throw new DataError('NETWORK_ERROR', url, `download failed: ${(cause as Error).message}`, { cause });
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel().catch(() => undefined);
    throw new DataError(
      'HTTP_ERROR',
      url,
      `download of ${basename(dest)} failed: expected HTTP 200, got ${response.status} ${response.statusText}`.trimEnd(),
    );
  }
  const tmp = tempPathFor(dest);
  const hash = createHash('sha256');
  try {
    const fh = await open(tmp, 'wx');
    try {
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          hash.update(chunk);
          await fh.write(chunk);
        }
      } catch (cause) {
        throw new DataError('NETWORK_ERROR', url, `download of ${basename(dest)} interrupted: ${(cause as Error).message}`, {
          cause,
        });
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    const actual = hash.digest('hex');
    if (actual !== expected) {
      throw new DataError(
        'CHECKSUM_MISMATCH',
        url,
        `sha256 mismatch for ${basename(dest)}: expected ${expected}, got ${actual}; the file was not saved`,
      );
    }
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
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
 * Makes sure `cacheDir/name` exists with the given sha256: reuses a cached copy whose hash matches, otherwise
 * downloads `mirror + name` with {@link downloadVerified} (replacing a stale or corrupt cached copy). Temporary
 * files left by a download that was killed are removed first.
 */
export async function ensureCached(
  name: string,
  mirror: string,
  cacheDir: string,
  expectedSha256: string,
  options: DownloadOptions = {},
): Promise<CachedFile> {
  const path = join(cacheDir, name);
  await removeStalePartials(cacheDir, name);
  if ((await exists(path)) && (await sha256File(path)) === expectedSha256.toLowerCase()) {
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

export { exists as fileExists };
