/** Reading and extracting tar(.gz) archives with the `tar` package, refusing entries that would escape. */
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { isAbsolute, join, posix, win32 } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Parser, extract, type ReadEntry } from 'tar';
import { DataError } from './errors.js';
import { isGzip } from './idx.js';

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

function checkEntry(archive: string, entry: ReadEntry): void {
  const why = unsafeTarPath(entry.path);
  if (why !== undefined) {
    throw new DataError(
      'UNSAFE_TAR_ENTRY',
      `${archive}: ${entry.path}`,
      `refusing a tar entry with ${why}: expected a relative path inside the target folder`,
    );
  }
  if ((entry.type === 'SymbolicLink' || entry.type === 'Link') && entry.linkpath !== undefined) {
    const linkWhy = unsafeTarPath(entry.linkpath);
    if (linkWhy !== undefined) {
      throw new DataError(
        'UNSAFE_TAR_ENTRY',
        `${archive}: ${entry.path}`,
        `refusing a link to ${entry.linkpath} (${linkWhy}): expected a target inside the target folder`,
      );
    }
  }
}

async function checkGzipName(archive: string): Promise<void> {
  if (!/\.(tgz|gz)$/i.test(archive)) return;
  const fh = await open(archive, 'r');
  try {
    const head = new Uint8Array(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    if (!isGzip(head.subarray(0, bytesRead))) {
      throw new DataError('NOT_GZIP', archive, 'the name ends in .gz but the data is not gzip: expected the gzip magic 1f 8b');
    }
  } finally {
    await fh.close();
  }
}

/**
 * Streams a tar or tar.gz archive and returns the bytes of the file entries for which `wanted(path)` is true,
 * by entry path. Any entry (wanted or not) whose path is absolute or contains `..`, or a link pointing so, makes
 * it throw a {@link DataError} naming the archive and the entry; so does a `.gz` name on data that is not gzip.
 */
export async function readTarEntries(
  archive: string,
  wanted: (path: string) => boolean,
): Promise<Map<string, Uint8Array>> {
  await checkGzipName(archive);
  const found = new Map<string, Uint8Array>();
  await new Promise<void>((resolve, reject) => {
    let failed = false;
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
          checkEntry(archive, entry);
        } catch (err) {
          fail(err);
          entry.resume();
          return;
        }
        if (entry.type === 'File' && wanted(entry.path)) {
          const chunks: Buffer[] = [];
          entry.on('data', (c: Buffer) => chunks.push(c));
          entry.on('end', () => found.set(entry.path, new Uint8Array(Buffer.concat(chunks))));
        } else {
          entry.resume();
        }
      },
    });
    parser.on('error', fail);
    parser.on('warn', (_code: string, message: string) => fail(new Error(message)));
    parser.on('end', () => {
      if (!failed) resolve();
    });
    const source = createReadStream(archive);
    source.on('error', fail);
    source.pipe(parser as unknown as NodeJS.WritableStream);
  });
  return found;
}

/**
 * Extracts a tar(.gz) archive into `destDir`, first checking every entry (absolute paths and `..` are refused,
 * so nothing can land outside `destDir`). Extraction goes to a temporary folder beside `destDir` that is renamed
 * into place at the end, so an error leaves no half-extracted `destDir`. `destDir` must not exist yet.
 *
 * @returns the entry paths extracted.
 */
export async function extractTarSafely(archive: string, destDir: string): Promise<string[]> {
  const paths: string[] = [];
  await readTarEntries(archive, (p) => {
    paths.push(p);
    return false;
  });
  const tmp = `${destDir}.${randomBytes(6).toString('hex')}.partial`;
  await mkdir(tmp, { recursive: true });
  try {
    // preservePaths stays false and strict is on: tar's own guards remain as a second line of defence.
    await extract({ file: archive, cwd: tmp, strict: true });
    await rename(tmp, destDir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return paths.map((p) => posix.normalize(p)).map((p) => join(destDir, p));
}
