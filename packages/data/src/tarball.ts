/**
 * Reading and extracting tar(.gz) archives with the `tar` package, refusing entries that would escape, device and
 * FIFO entries, hard links to nothing, and archives or entries larger than their caps (decided from the entries'
 * headers, before their bodies are inflated).
 */
import { mkdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, posix, win32 } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Parser, Unpack, type ReadEntry } from 'tar';
import { DataError } from './errors.js';
import { openRegularFile } from './files.js';
import { isGzip } from './idx.js';
import { DEFAULT_MAX_FILE_BYTES, formatBytes, limitFrom, tooLarge, type Limit } from './limits.js';

/** The default cap on all entries of an archive together (and, for extraction, on one entry): 4 GiB. */
export const DEFAULT_MAX_ARCHIVE_BYTES = 4 * 1024 * 1024 * 1024;

/** Caps of {@link readTarEntries} and {@link extractTarSafely}, checked against the sizes in the entries' headers. */
export interface TarLimits {
  /**
   * The most bytes one entry may have: for {@link readTarEntries} each entry it reads into memory (default
   * {@link DEFAULT_MAX_FILE_BYTES}, 256 MiB), for {@link extractTarSafely} every file (default
   * {@link DEFAULT_MAX_ARCHIVE_BYTES}, 4 GiB). `Infinity` for no cap.
   */
  maxEntryBytes?: number;
  /** The most bytes all entries together may have (default {@link DEFAULT_MAX_ARCHIVE_BYTES}, 4 GiB). */
  maxTotalBytes?: number;
}

/**
 * Why an archive entry path is unsafe to extract — absolute, or climbing out with `..` — or undefined when it is
 * safe. Both separators count, so Windows-style entries are caught too.
 */
export function unsafeTarPath(path: string): string | undefined {
  if (path.startsWith('/') || path.startsWith('\\') || isAbsolute(path) || win32.isAbsolute(path) || /^[A-Za-z]:/.test(path)) {
    return 'an absolute path';
  }
  if (path.split(/[\\/]+/).includes('..')) return 'a ".." segment';
  return undefined;
}

/** An entry path as extraction sees it: `./a//b/` is `a/b`. */
export function normalizeTarPath(path: string): string {
  return posix.normalize(path).replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}

/** Entry types refused outright, with their names for messages. */
const REFUSED_TYPES: Readonly<Record<string, string>> = {
  CharacterDevice: 'character device',
  BlockDevice: 'block device',
  FIFO: 'FIFO',
};
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/**
 * Checks entries in archive order: paths and link targets (no absolute paths, no `..`), types (no devices or
 * FIFOs), hard links (only to a file stored earlier: extraction could not make any other), sizes against a cap
 * and the running total of the entries' sizes.
 */
class EntryGuard {
  private total = 0;
  /** Normalized paths that hold a file (or a hard link to one) at this point of the archive. */
  private readonly files = new Set<string>();

  constructor(
    private readonly archive: string,
    private readonly totalLimit: Limit,
  ) {}

  check(entry: ReadEntry): void {
    const where = `${this.archive}: ${entry.path}`;
    const why = unsafeTarPath(entry.path);
    if (why !== undefined) {
      throw new DataError('UNSAFE_TAR_ENTRY', where, `refusing a tar entry with ${why}: expected a relative path inside the target folder`);
    }
    if ((entry.type === 'SymbolicLink' || entry.type === 'Link') && entry.linkpath !== undefined) {
      const linkWhy = unsafeTarPath(entry.linkpath);
      if (linkWhy !== undefined) {
        throw new DataError(
          'UNSAFE_TAR_ENTRY',
          where,
          `refusing a link to ${entry.linkpath} (${linkWhy}): expected a target inside the target folder`,
        );
      }
    }
    const kind = REFUSED_TYPES[entry.type];
    if (kind !== undefined) throw new DataError('UNSAFE_TAR_ENTRY', where, `refusing a ${kind} entry: expected files, folders and links`);
    if (entry.type === 'Link' && !this.files.has(normalizeTarPath(entry.linkpath ?? ''))) {
      throw new DataError(
        'UNSAFE_TAR_ENTRY',
        where,
        `refusing a hard link to ${entry.linkpath ?? '(no target)'}: expected a file stored earlier in the archive`,
      );
    }
    const path = normalizeTarPath(entry.path);
    if (FILE_TYPES.has(entry.type) || entry.type === 'Link') this.files.add(path);
    else this.files.delete(path);
  }

  /** Adds the entry's size to the running total, refusing it when the total passes the cap. */
  count(entry: ReadEntry): void {
    this.total += entry.size ?? 0;
    if (this.total > this.totalLimit.bytes) {
      throw new DataError(
        'TOO_LARGE',
        `${this.archive}: ${entry.path}`,
        `the archive's entries add up to more than ${formatBytes(this.totalLimit.bytes)} bytes (${this.totalLimit.note})`,
      );
    }
  }

  checkSize(entry: ReadEntry, limit: Limit): void {
    if ((entry.size ?? 0) > limit.bytes) {
      throw tooLarge(`${this.archive}: ${entry.path}`, `the entry declares ${formatBytes(entry.size ?? 0)} bytes`, limit);
    }
  }
}

async function checkGzipName(archive: string, fh: FileHandle): Promise<void> {
  if (!/\.(tgz|gz)$/i.test(archive)) return;
  const head = new Uint8Array(2);
  const { bytesRead } = await fh.read(head, 0, 2, 0);
  if (!isGzip(head.subarray(0, bytesRead))) {
    throw new DataError('NOT_GZIP', archive, 'the name ends in .gz but the data is not gzip: expected the gzip magic 1f 8b');
  }
}

/**
 * Streams a tar or tar.gz archive and returns the bytes of the file entries for which `wanted(path)` is true,
 * by entry path. Any entry (wanted or not) whose path is absolute or contains `..`, or a link pointing so, a
 * device or FIFO entry, or a hard link to no file stored before it makes it throw a `UNSAFE_TAR_ENTRY`
 * {@link DataError} naming the archive and the entry; so does a wanted file that appears twice (as `a/b` and
 * `./a/b`, say), where the last copy would otherwise silently win. A wanted entry larger than `maxEntryBytes`, or
 * entries adding up to more than `maxTotalBytes`, are `TOO_LARGE`, decided from the entry headers before the
 * bodies are inflated. A `.gz` name on data that is not gzip is `NOT_GZIP`; the archive must be a regular file.
 */
export async function readTarEntries(
  archive: string,
  wanted: (path: string) => boolean,
  options: TarLimits = {},
): Promise<Map<string, Uint8Array>> {
  return readEntriesWithin(
    archive,
    wanted,
    limitFrom(archive, 'maxEntryBytes', options.maxEntryBytes, DEFAULT_MAX_FILE_BYTES),
    limitFrom(archive, 'maxTotalBytes', options.maxTotalBytes, DEFAULT_MAX_ARCHIVE_BYTES),
  );
}

/**
 * {@link readTarEntries} with {@link Limit}s whose notes name the caller's options. With `limitEveryFile`, every
 * file entry is held to `entryLimit`, not only the wanted ones.
 */
export async function readEntriesWithin(
  archive: string,
  wanted: (path: string) => boolean,
  entryLimit: Limit,
  totalLimit: Limit,
  limitEveryFile = false,
): Promise<Map<string, Uint8Array>> {
  const { fh } = await openRegularFile(archive);
  const found = new Map<string, Uint8Array>();
  try {
    await checkGzipName(archive, fh);
    const guard = new EntryGuard(archive, totalLimit);
    const seen = new Set<string>();
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const source = fh.createReadStream({ start: 0, autoClose: false });
      const fail = (err: unknown): void => {
        if (failed) return;
        failed = true;
        source.destroy();
        reject(
          err instanceof DataError
            ? err
            : new DataError('TRUNCATED', archive, `cannot read the archive: ${(err as Error).message}`, { cause: err }),
        );
      };
      const parser = new Parser({
        strict: true,
        onReadEntry: (entry: ReadEntry) => {
          try {
            if (failed) {
              entry.resume();
              return;
            }
            guard.check(entry);
            const isFile = FILE_TYPES.has(entry.type);
            if (isFile && limitEveryFile) guard.checkSize(entry, entryLimit);
            if (!isFile || !wanted(entry.path)) {
              guard.count(entry);
              entry.resume();
              return;
            }
            const key = normalizeTarPath(entry.path);
            if (seen.has(key)) {
              throw new DataError(
                'UNSAFE_TAR_ENTRY',
                `${archive}: ${entry.path}`,
                'the entry appears twice in the archive: expected each wanted file once',
              );
            }
            seen.add(key);
            guard.checkSize(entry, entryLimit);
            guard.count(entry);
            const chunks: Buffer[] = [];
            entry.on('data', (c: Buffer) => chunks.push(c));
            entry.on('end', () => found.set(entry.path, new Uint8Array(Buffer.concat(chunks))));
          } catch (err) {
            fail(err);
            entry.resume();
          }
        },
      });
      parser.on('error', fail);
      parser.on('warn', (_code: string, message: string) => fail(new Error(message)));
      parser.on('end', () => {
        if (!failed) resolve();
      });
      source.on('error', fail);
      source.pipe(parser as unknown as NodeJS.WritableStream);
    });
  } finally {
    await fh.close();
  }
  return found;
}

/** tar's own errors (they carry a `tarCode`, and the entry when there is one) as DataErrors naming the archive. */
function asDataError(archive: string, err: unknown): unknown {
  if (err instanceof DataError || typeof err !== 'object' || err === null || !('tarCode' in err)) return err;
  const entry = (err as { entry?: { path?: unknown } }).entry?.path;
  const message = String((err as { message?: unknown }).message);
  return typeof entry === 'string'
    ? new DataError('UNSAFE_TAR_ENTRY', `${archive}: ${entry}`, `cannot extract the entry: ${message}`, { cause: err })
    : new DataError('TRUNCATED', archive, `cannot extract the archive: ${message}`, { cause: err });
}

/**
 * Extracts a tar(.gz) archive into `destDir`, first checking every entry as {@link readTarEntries} does (absolute
 * paths, `..`, devices, FIFOs and hard links to nothing are refused, so nothing can land outside `destDir`), and
 * that no file is larger than `maxEntryBytes` and all together no larger than `maxTotalBytes` (both default
 * {@link DEFAULT_MAX_ARCHIVE_BYTES}, 4 GiB). Extraction goes to a temporary folder beside `destDir` that is renamed
 * into place at the end, so an error leaves no half-extracted `destDir`; errors of tar itself become DataErrors
 * naming the archive and the entry. `destDir` must not exist yet.
 *
 * @returns the entry paths extracted.
 */
export async function extractTarSafely(archive: string, destDir: string, options: TarLimits = {}): Promise<string[]> {
  const entryLimit = limitFrom(archive, 'maxEntryBytes', options.maxEntryBytes, DEFAULT_MAX_ARCHIVE_BYTES);
  const totalLimit = limitFrom(archive, 'maxTotalBytes', options.maxTotalBytes, DEFAULT_MAX_ARCHIVE_BYTES);
  const paths: string[] = [];
  await readEntriesWithin(
    archive,
    (p) => {
      paths.push(p);
      return false;
    },
    entryLimit,
    totalLimit,
    true,
  );
  const tmp = `${destDir}.${randomBytes(6).toString('hex')}.partial`;
  await mkdir(tmp, { recursive: true });
  try {
    const { fh } = await openRegularFile(archive);
    try {
      // The same checks again while extracting, should the archive have changed since: a refused entry is
      // skipped and fails the extraction.
      const guard = new EntryGuard(archive, totalLimit);
      let refused: unknown;
      // preservePaths stays false and strict is on: tar's own guards remain as a further line of defence.
      const unpack = new Unpack({
        cwd: tmp,
        strict: true,
        filter: (_path, entry) => {
          if (refused !== undefined) return false;
          try {
            guard.check(entry as ReadEntry);
            if (FILE_TYPES.has((entry as ReadEntry).type)) guard.checkSize(entry as ReadEntry, entryLimit);
            guard.count(entry as ReadEntry);
            return true;
          } catch (err) {
            refused = err;
            return false;
          }
        },
      });
      await new Promise<void>((resolve, reject) => {
        const source = fh.createReadStream({ start: 0, autoClose: false });
        const fail = (err: unknown): void => {
          source.destroy();
          reject(err as Error);
        };
        unpack.on('error', fail);
        unpack.on('close', () => resolve());
        source.on('error', fail);
        source.pipe(unpack as unknown as NodeJS.WritableStream);
      });
      if (refused !== undefined) throw refused;
    } finally {
      await fh.close();
    }
    await rename(tmp, destDir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw asDataError(archive, err);
  }
  return paths.map((p) => posix.normalize(p)).map((p) => join(destDir, p));
}
